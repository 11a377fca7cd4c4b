use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::rules::CampaignStatus;
use crate::db::schema::campaigns;
use crate::error::{ApiError, ApiResult};
use crate::orgs::model::Domain;
use crate::templates::model::Template;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = campaigns)]
pub struct CampaignRow {
    pub id: i64,
    pub owner_org_id: i64,
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub template_id: i64,
    pub domain_templates: String,
    pub min_category_ballots: i32,
    pub low_satisfaction_threshold: f64,
    pub status: CampaignStatus,
    pub frozen_templates: Option<String>,
    pub publish_scope: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub commendation_share: f64,
}

impl CampaignRow {
    pub fn domain_templates(&self) -> ApiResult<BTreeMap<Domain, i64>> {
        stored_json(&self.domain_templates)
    }

    /// The templates frozen at activation (none before).
    pub fn frozen(&self) -> ApiResult<Option<FrozenTemplates>> {
        self.frozen_templates
            .as_deref()
            .map(stored_json)
            .transpose()
    }

    pub fn publish_scope(&self) -> ApiResult<Option<Vec<i64>>> {
        self.publish_scope.as_deref().map(stored_json).transpose()
    }
}

/// A JSON column: what cannot be read back is an error (500, logged), never a default.
fn stored_json<T: DeserializeOwned>(text: &str) -> ApiResult<T> {
    serde_json::from_str(text).map_err(|e| ApiError::internal(format!("stored campaign JSON: {e}")))
}

/// JSON text for a column.
pub fn to_stored_json<T: Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(ApiError::internal)
}

/// The templates a campaign uses, copied at activation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FrozenTemplates {
    pub default: Template,
    #[serde(default)]
    pub by_domain: BTreeMap<Domain, Template>,
}

impl FrozenTemplates {
    /// The template for an org of this domain (分类指导).
    pub fn for_domain(&self, domain: Domain) -> &Template {
        self.by_domain.get(&domain).unwrap_or(&self.default)
    }
}

/// An evaluation campaign (评议活动) over the owner org's subtree.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 3, "owner_org_id": 19, "title": "2011年度创先争优群众评议", "starts_on": "2011-12-28", "ends_on": "2012-01-09", "template_id": 1, "domain_templates": {}, "min_category_ballots": 5, "low_satisfaction_threshold": 0.8, "commendation_share": 0.1, "status": "draft", "publish_scope": null, "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z"}))]
pub struct Campaign {
    pub id: i64,
    pub owner_org_id: i64,
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    /// The template for orgs of every domain not listed in `domain_templates`.
    pub template_id: i64,
    #[schema(schema_with = domain_templates_schema)]
    pub domain_templates: BTreeMap<Domain, i64>,
    /// k (at least 3): a subject rated on fewer than k ballots shows only its ballot count,
    /// and a per-category breakdown shows only categories with at least k ballots.
    pub min_category_ballots: i32,
    /// Subjects under this satisfaction rate are flagged.
    pub low_satisfaction_threshold: f64,
    /// Commendation candidates (评先评优) are the top share of a ranking, unless flagged.
    pub commendation_share: f64,
    pub status: CampaignStatus,
    /// Orgs whose people may see the rankings once published.
    pub publish_scope: Option<Vec<i64>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<CampaignRow> for Campaign {
    type Error = ApiError;

    fn try_from(r: CampaignRow) -> ApiResult<Self> {
        Ok(Campaign {
            id: r.id,
            owner_org_id: r.owner_org_id,
            title: r.title.clone(),
            starts_on: r.starts_on,
            ends_on: r.ends_on,
            template_id: r.template_id,
            domain_templates: r.domain_templates()?,
            min_category_ballots: r.min_category_ballots,
            low_satisfaction_threshold: r.low_satisfaction_threshold,
            commendation_share: r.commendation_share,
            status: r.status,
            publish_scope: r.publish_scope()?,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        })
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"owner_org_id": 19, "title": "2011年度创先争优群众评议", "starts_on": "2011-12-28", "ends_on": "2012-01-09", "template_id": 1, "domain_templates": {"community": 4}, "min_category_ballots": 5, "low_satisfaction_threshold": 0.8}))]
pub struct CreateCampaign {
    pub owner_org_id: i64,
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub template_id: i64,
    #[serde(default)]
    #[schema(schema_with = domain_templates_schema)]
    pub domain_templates: BTreeMap<Domain, i64>,
    /// k, at least 3; default 5.
    #[schema(minimum = 3, maximum = 1000)]
    pub min_category_ballots: Option<i32>,
    /// Default 0.8.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub low_satisfaction_threshold: Option<f64>,
    /// The top share of a ranking that are commendation candidates; default 0.1.
    #[schema(minimum = 0.01, maximum = 1.0)]
    pub commendation_share: Option<f64>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"title": "2011年度创先争优群众评议(修订)", "ends_on": "2012-01-15"}))]
pub struct UpdateCampaign {
    #[schema(min_length = 1, max_length = 200)]
    pub title: Option<String>,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    /// Templates and k change only while the campaign is a draft.
    pub template_id: Option<i64>,
    #[schema(schema_with = nullable_domain_templates_schema)]
    pub domain_templates: Option<BTreeMap<Domain, i64>>,
    #[schema(minimum = 3, maximum = 1000)]
    pub min_category_ballots: Option<i32>,
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub low_satisfaction_threshold: Option<f64>,
    #[schema(minimum = 0.01, maximum = 1.0)]
    pub commendation_share: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"scope_org_ids": [19]}))]
pub struct PublishCampaign {
    /// Orgs (in the campaign's subtree) whose people may see the rankings.
    pub scope_org_ids: Vec<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignListQuery {
    pub owner_org_id: Option<i64>,
    pub status: Option<CampaignStatus>,
}

/// `domain_templates`: template ids keyed by a domain's wire name (utoipa would name the
/// keys only `string`, and a client would send keys the server refuses).
fn domain_templates_schema() -> utoipa::openapi::Object {
    domain_map(utoipa::openapi::schema::Type::Object.into())
}

fn nullable_domain_templates_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{SchemaType, Type};
    domain_map(SchemaType::from_iter([Type::Object, Type::Null]))
}

fn domain_map(schema_type: utoipa::openapi::schema::SchemaType) -> utoipa::openapi::Object {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    let template_id = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)));
    let domain = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(Domain::ALL.iter().map(|d| d.as_str())));
    ObjectBuilder::new()
        .schema_type(schema_type)
        .additional_properties(Some(template_id))
        .property_names(Some(domain))
        .build()
}
