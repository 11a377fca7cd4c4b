use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::db::schema::orgs;
use crate::text_enum;

text_enum! {
    /// 党委 committee · 党工委 working_committee · 党总支 general_branch · 党支部 branch.
    pub enum OrgKind {
        Committee => "committee",
        WorkingCommittee => "working_committee",
        GeneralBranch => "general_branch",
        Branch => "branch",
    }
}

text_enum! {
    /// 农村 rural · 国有集体企业 enterprise · 机关事业单位 institution · 街道社区 community ·
    /// 新经济组织 new_economic · 新社会组织 new_social · other.
    pub enum Domain {
        Rural => "rural",
        Enterprise => "enterprise",
        Institution => "institution",
        Community => "community",
        NewEconomic => "new_economic",
        NewSocial => "new_social",
        Other => "other",
    }
}

text_enum! {
    pub enum OrgStatus {
        Active => "active",
        Archived => "archived",
    }
}

/// A row of `orgs`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = orgs)]
pub struct OrgRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub kind: OrgKind,
    pub domain: Domain,
    pub window_unit: bool,
    pub external_id: Option<String>,
    pub secretary_id: Option<i64>,
    pub status: OrgStatus,
    pub path: String,
    pub depth: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An organization (党组织) of the tree.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 7, "parent_id": 3, "name": "机电工程学院第一党支部", "kind": "branch",
    "domain": "institution", "window_unit": false, "external_id": "DLVTC-JD-01",
    "secretary_id": 41, "status": "active", "depth": 3,
    "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z"
}))]
pub struct Org {
    pub id: i64,
    /// The superior org (隶属关系); none for a root.
    pub parent_id: Option<i64>,
    pub name: String,
    pub kind: OrgKind,
    pub domain: Domain,
    /// 窗口单位: a unit serving the public directly.
    pub window_unit: bool,
    /// The id in another system (unique), used by imports.
    pub external_id: Option<String>,
    /// The person who is this org's secretary (书记).
    pub secretary_id: Option<i64>,
    pub status: OrgStatus,
    /// 0 for a root, 1 for its children, …
    pub depth: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<OrgRow> for Org {
    fn from(r: OrgRow) -> Self {
        Org {
            id: r.id,
            parent_id: r.parent_id,
            name: r.name,
            kind: r.kind,
            domain: r.domain,
            window_unit: r.window_unit,
            external_id: r.external_id,
            secretary_id: r.secretary_id,
            status: r.status,
            depth: r.depth,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

impl OrgRow {
    pub fn is_active(&self) -> bool {
        self.status == OrgStatus::Active
    }
}

/// An org with its subtree.
#[derive(Debug, Serialize, ToSchema)]
#[schema(no_recursion)]
pub struct OrgNode {
    #[serde(flatten)]
    pub org: Org,
    pub children: Vec<OrgNode>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"parent_id": 3, "name": "机电工程学院第一党支部", "kind": "branch", "domain": "institution", "window_unit": false, "external_id": "DLVTC-JD-01"}))]
pub struct CreateOrg {
    /// The superior org; omit only for a root (administrators only).
    pub parent_id: Option<i64>,
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub kind: OrgKind,
    pub domain: Domain,
    #[serde(default)]
    pub window_unit: bool,
    #[schema(min_length = 1, max_length = 100)]
    pub external_id: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"name": "机电工程学院第一党支部", "secretary_id": 41}))]
pub struct UpdateOrg {
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    pub kind: Option<OrgKind>,
    pub domain: Option<Domain>,
    pub window_unit: Option<bool>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub external_id: Option<Option<String>>,
    /// A person of this org; `null` clears it.
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<i64>)]
    pub secretary_id: Option<Option<i64>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"parent_id": 5}))]
pub struct MoveOrg {
    /// The new superior org.
    pub parent_id: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrgListQuery {
    /// Direct children of this org.
    pub parent_id: Option<i64>,
    pub kind: Option<OrgKind>,
    pub domain: Option<Domain>,
    /// Part of the name.
    #[serde(default, deserialize_with = "crate::types::search_text")]
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// `active` (default) or `archived`.
    pub status: Option<OrgStatus>,
    /// Only window units (or only others, with `false`).
    pub window_unit: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TreeQuery {
    /// Levels below the org to include (default: all).
    #[param(minimum = 0, example = 2)]
    pub depth: Option<i32>,
}

/// The columns a PATCH (or an import row) may change; `None` leaves a column as it is.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = orgs)]
pub struct OrgChanges<'a> {
    pub name: Option<&'a str>,
    pub kind: Option<OrgKind>,
    pub domain: Option<Domain>,
    pub window_unit: Option<bool>,
    pub external_id: Option<Option<&'a str>>,
    pub secretary_id: Option<Option<i64>>,
    pub updated_at: NaiveDateTime,
}

impl<'a> OrgChanges<'a> {
    pub fn from_update(body: &'a UpdateOrg) -> Self {
        OrgChanges {
            name: body.name.as_deref().map(str::trim),
            kind: body.kind,
            domain: body.domain,
            window_unit: body.window_unit,
            external_id: body.external_id.as_ref().map(|e| e.as_deref()),
            secretary_id: body.secretary_id,
            updated_at: crate::types::now(),
        }
    }

    /// The changed fields, for the audit summary.
    pub fn describe(&self) -> String {
        let mut fields = Vec::new();
        if let Some(v) = self.name {
            fields.push(format!("name={v}"));
        }
        if let Some(v) = self.kind {
            fields.push(format!("kind={v}"));
        }
        if let Some(v) = self.domain {
            fields.push(format!("domain={v}"));
        }
        if let Some(v) = self.window_unit {
            fields.push(format!("window_unit={v}"));
        }
        if let Some(v) = self.external_id {
            fields.push(format!("external_id={v:?}"));
        }
        if let Some(v) = self.secretary_id {
            fields.push(format!("secretary_id={v:?}"));
        }
        fields.join(", ")
    }
}
