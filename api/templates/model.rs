use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::db::schema::{template_criteria, template_levels};
use crate::text_enum;

text_enum! {
    /// What a rating is about: the org (党组织), its secretary (书记) or a member (党员).
    pub enum SubjectType {
        Org => "org",
        Secretary => "secretary",
        Member => "member",
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[schema(example = json!({"id": 1, "label_zh": "深入开展创先争优活动,切实兑现公开承诺的情况", "label_en": "Carrying out the excellence campaign and keeping public commitments"}))]
pub struct Criterion {
    pub id: i64,
    pub label_zh: String,
    pub label_en: String,
}

/// The criteria of each subject type.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct Criteria {
    pub org: Vec<Criterion>,
    pub secretary: Vec<Criterion>,
    pub member: Vec<Criterion>,
}

impl Criteria {
    pub fn of(&self, subject_type: SubjectType) -> &[Criterion] {
        match subject_type {
            SubjectType::Org => &self.org,
            SubjectType::Secretary => &self.secretary,
            SubjectType::Member => &self.member,
        }
    }

    /// Appends a stored criterion to the list of its subject type.
    pub fn push(&mut self, row: CriterionRow) {
        let list = match row.subject_type {
            SubjectType::Org => &mut self.org,
            SubjectType::Secretary => &mut self.secretary,
            SubjectType::Member => &mut self.member,
        };
        list.push(Criterion {
            id: row.id,
            label_zh: row.label_zh,
            label_en: row.label_en,
        });
    }
}

/// A stored criterion; an unknown stored subject type fails the query.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = template_criteria)]
pub struct CriterionRow {
    pub id: i64,
    pub subject_type: SubjectType,
    pub label_zh: String,
    pub label_en: String,
}

/// One level of the rating scale.
#[derive(
    Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Validate, Queryable, Selectable,
)]
#[diesel(table_name = template_levels)]
#[schema(example = json!({"level": "satisfied", "label_zh": "满意", "label_en": "Satisfied", "score": 100, "satisfied": true}))]
pub struct Level {
    /// The key ballots use, e.g. `satisfied`.
    #[schema(min_length = 1, max_length = 40)]
    pub level: String,
    #[schema(min_length = 1, max_length = 40)]
    pub label_zh: String,
    #[schema(min_length = 1, max_length = 40)]
    pub label_en: String,
    /// 0 to 100.
    #[schema(minimum = 0, maximum = 100)]
    pub score: i32,
    /// Whether the level counts toward the satisfaction rate (满意 and 基本满意 do).
    pub satisfied: bool,
}

/// A criteria template: what is rated, on which scale.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[schema(example = json!({"id": 1, "name": "创先争优群众评议(通知默认)", "owner_org_id": null, "builtin": true, "criteria": {"org": [{"id": 1, "label_zh": "深入开展创先争优活动,切实兑现公开承诺的情况", "label_en": "Carrying out the excellence campaign and keeping public commitments"}], "secretary": [], "member": []}, "scale": [{"level": "satisfied", "label_zh": "满意", "label_en": "Satisfied", "score": 100, "satisfied": true}, {"level": "basically_satisfied", "label_zh": "基本满意", "label_en": "Basically satisfied", "score": 60, "satisfied": true}, {"level": "dissatisfied", "label_zh": "不满意", "label_en": "Dissatisfied", "score": 0, "satisfied": false}]}))]
pub struct Template {
    pub id: i64,
    pub name: String,
    /// The org whose admins own it; none for the built-in template.
    pub owner_org_id: Option<i64>,
    pub builtin: bool,
    pub criteria: Criteria,
    pub scale: Vec<Level>,
}

impl Template {
    pub fn level(&self, key: &str) -> Option<&Level> {
        self.scale.iter().find(|l| l.level == key)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, Validate)]
pub struct NewCriterion {
    #[schema(min_length = 1, max_length = 500)]
    pub label_zh: String,
    #[schema(min_length = 1, max_length = 500)]
    pub label_en: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema, Validate)]
pub struct NewCriteria {
    #[serde(default)]
    #[schema(max_items = 30)]
    pub org: Vec<NewCriterion>,
    #[serde(default)]
    #[schema(max_items = 30)]
    pub secretary: Vec<NewCriterion>,
    #[serde(default)]
    #[schema(max_items = 30)]
    pub member: Vec<NewCriterion>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[schema(example = json!({"owner_org_id": 3, "name": "社区窗口单位评议", "criteria": {"org": [{"label_zh": "服务态度", "label_en": "Service attitude"}], "secretary": [], "member": [{"label_zh": "联系群众", "label_en": "Close to the people"}]}, "scale": [{"level": "good", "label_zh": "好", "label_en": "Good", "score": 100, "satisfied": true}, {"level": "bad", "label_zh": "差", "label_en": "Bad", "score": 0, "satisfied": false}]}))]
pub struct CreateTemplate {
    /// The org whose admins own the template (and whose subtree may use it).
    pub owner_org_id: i64,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub criteria: NewCriteria,
    /// 2 to 5 levels with distinct keys.
    #[schema(min_items = 2, max_items = 5)]
    pub scale: Vec<Level>,
}

#[derive(Debug, Deserialize, ToSchema, Validate)]
#[schema(example = json!({"name": "社区窗口单位评议(修订)"}))]
pub struct UpdateTemplate {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Replaces every criterion (campaigns already active keep the old ones).
    pub criteria: Option<NewCriteria>,
    #[schema(min_items = 2, max_items = 5)]
    pub scale: Option<Vec<Level>>,
}

impl NewCriteria {
    pub fn of(&self, subject_type: SubjectType) -> &[NewCriterion] {
        match subject_type {
            SubjectType::Org => &self.org,
            SubjectType::Secretary => &self.secretary,
            SubjectType::Member => &self.member,
        }
    }
}
