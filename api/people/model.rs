use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use crate::db::schema::people;
use crate::text_enum;

text_enum! {
    /// 正式党员 full · 预备党员 probationary.
    pub enum MemberType {
        Full => "full",
        Probationary => "probationary",
    }
}

text_enum! {
    /// 书记 secretary · 副书记 deputy_secretary · 委员 committee_member · 党员 member.
    pub enum Position {
        Secretary => "secretary",
        DeputySecretary => "deputy_secretary",
        CommitteeMember => "committee_member",
        Member => "member",
    }
}

text_enum! {
    /// An archived person's membership has ended.
    pub enum PersonStatus {
        Active => "active",
        Archived => "archived",
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = people)]
pub struct PersonRow {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub member_type: MemberType,
    pub position: Option<Position>,
    pub joined_on: Option<NaiveDate>,
    pub external_id: Option<String>,
    pub phone: Option<String>,
    pub status: PersonStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A Party member (党员).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 41, "org_id": 7, "name": "李明", "member_type": "full", "position": "secretary", "joined_on": "2005-07-01", "external_id": "P-0041", "phone": "138****5678", "status": "active", "memberships": [{"org_id": 7, "started_at": "2005-07-01T00:00:00Z", "ended_at": null}], "created_at": "2026-11-29T10:00:00Z", "updated_at": "2026-11-29T10:00:00Z"}))]
pub struct Person {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub member_type: MemberType,
    pub position: Option<Position>,
    pub joined_on: Option<NaiveDate>,
    pub external_id: Option<String>,
    /// Masked (`138****5678`) in lists and for readers who cannot manage the person.
    pub phone: Option<String>,
    /// `active` or `archived`.
    pub status: PersonStatus,
    /// Which org the person belonged to, and when (on single-person answers; null in lists).
    pub memberships: Option<Vec<Membership>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Person {
    pub fn new(row: PersonRow, show_phone: bool) -> Self {
        Person {
            id: row.id,
            org_id: row.org_id,
            name: row.name,
            member_type: row.member_type,
            position: row.position,
            joined_on: row.joined_on,
            external_id: row.external_id,
            phone: row.phone.map(|p| {
                if show_phone {
                    p
                } else {
                    crate::types::mask_phone(&p)
                }
            }),
            status: row.status,
            memberships: None,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema, Queryable)]
pub struct Membership {
    pub org_id: i64,
    #[serde(serialize_with = "crate::types::serialize_utc")]
    #[schema(value_type = DateTime<Utc>)]
    pub started_at: NaiveDateTime,
    #[serde(serialize_with = "crate::types::serialize_utc_opt")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub ended_at: Option<NaiveDateTime>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"org_id": 7, "name": "李明", "member_type": "full", "position": "secretary", "joined_on": "2005-07-01", "external_id": "P-0041", "phone": "13812345678"}))]
pub struct CreatePerson {
    pub org_id: i64,
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    pub member_type: MemberType,
    pub position: Option<Position>,
    pub joined_on: Option<NaiveDate>,
    #[schema(min_length = 1, max_length = 100)]
    pub external_id: Option<String>,
    /// Digits with an optional leading `+`, spaces or dashes; 5 to 20 characters.
    #[validate(custom(function = "valid_phone"))]
    #[schema(pattern = r"^\+?[0-9 -]*$", min_length = 5, max_length = 20)]
    pub phone: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"org_id": 8, "position": "member"}))]
pub struct UpdatePerson {
    /// Moving a person to another org keeps the old membership in their history.
    pub org_id: Option<i64>,
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    pub member_type: Option<MemberType>,
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<Position>)]
    pub position: Option<Option<Position>>,
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<NaiveDate>)]
    pub joined_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub external_id: Option<Option<String>>,
    /// Digits with an optional leading `+`, spaces or dashes; 5 to 20 characters.
    #[serde(default, deserialize_with = "crate::types::patch")]
    #[schema(value_type = Option<String>, pattern = r"^\+?[0-9 -]*$", min_length = 5, max_length = 20)]
    pub phone: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PersonListQuery {
    /// People of this org…
    pub org_id: Option<i64>,
    /// …and of its whole subtree.
    #[serde(default)]
    pub descendants: bool,
    /// Part of the name.
    #[serde(default, deserialize_with = "crate::types::search_text")]
    #[param(max_length = 200)]
    pub q: Option<String>,
    pub member_type: Option<MemberType>,
    /// `active` (default) or `archived`.
    pub status: Option<PersonStatus>,
}

/// Digits with an optional leading `+`, spaces or dashes; 5 to 20 characters.
pub fn valid_phone(phone: &str) -> Result<(), validator::ValidationError> {
    let ok = (5..=20).contains(&phone.len())
        && phone
            .strip_prefix('+')
            .unwrap_or(phone)
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(validator::ValidationError::new("phone").with_message("must be a phone number".into()))
    }
}

/// The columns a PATCH (or an import row) may change; `None` leaves a column as it is.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = people)]
pub struct PersonChanges<'a> {
    pub name: Option<&'a str>,
    pub member_type: Option<MemberType>,
    pub position: Option<Option<Position>>,
    pub joined_on: Option<Option<NaiveDate>>,
    pub external_id: Option<Option<&'a str>>,
    pub phone: Option<Option<&'a str>>,
    pub status: Option<PersonStatus>,
    pub updated_at: NaiveDateTime,
}

impl<'a> PersonChanges<'a> {
    pub fn from_update(body: &'a UpdatePerson) -> Self {
        PersonChanges {
            name: body.name.as_deref().map(str::trim),
            member_type: body.member_type,
            position: body.position,
            joined_on: body.joined_on,
            external_id: body.external_id.as_ref().map(|e| e.as_deref()),
            phone: body.phone.as_ref().map(|p| p.as_deref()),
            status: None,
            updated_at: crate::types::now(),
        }
    }

    /// The names of the changed fields, for the audit summary.
    pub fn changed_fields(&self) -> impl Iterator<Item = &'static str> {
        [
            ("name", self.name.is_some()),
            ("member_type", self.member_type.is_some()),
            ("position", self.position.is_some()),
            ("joined_on", self.joined_on.is_some()),
            ("external_id", self.external_id.is_some()),
            ("phone", self.phone.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, changed)| changed.then_some(field))
    }
}
