//! The signed-in user, extracted from `Authorization: Bearer <access token>`.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use diesel::prelude::*;
use futures_util::future::LocalBoxFuture;

use super::policy::{
    Action, CampaignResultsView, CommitmentBy, Decision, Grant, Grants, Role, Scope,
    SessionResultsView,
};
use crate::db::schema::{grants, orgs, users};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::http::RequestId;
use crate::state::AppState;

/// Who is asking, with every grant they hold (and the path of each grant's org). The grants
/// stay private to `auth`: every question about them is asked through the methods below,
/// which answer with the policy's decisions.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    grants: Grants,
    pub request_id: String,
}

impl Actor {
    /// An administrator acting outside any request (the command line, the demo loader).
    pub fn administrator(user_id: i64, username: impl Into<String>) -> Self {
        Actor {
            user_id,
            username: username.into(),
            grants: Grants(vec![Grant {
                id: 0,
                org_id: None,
                role: Role::Admin,
                org_path: None,
            }]),
            request_id: String::new(),
        }
    }

    /// An enabled user acting outside any request, with their grants (the demo loader acts
    /// as its demo users).
    pub fn for_user(conn: &mut DbConn, user_id: i64) -> ApiResult<Self> {
        load_versioned(conn, user_id).map(|(actor, _)| actor)
    }

    /// 404 when the org at `org_path` is hidden from the actor, 403 when `action` is not
    /// allowed there.
    pub fn authorize(&self, action: Action, org_path: &str) -> ApiResult<()> {
        self.grants.decide(action, org_path).check()
    }

    pub fn allows(&self, action: Action, org_path: &str) -> bool {
        self.grants.allows(action, org_path)
    }

    /// Actions on no org in particular (root orgs, global grants): administrators only.
    pub fn authorize_global(&self) -> ApiResult<()> {
        self.grants.decide_global().check()
    }

    /// Campaigns and other things an org owns for its subtree.
    pub fn authorize_owned(&self, action: Action, owner_path: &str) -> ApiResult<()> {
        self.grants.decide_owned(action, owner_path).check()
    }

    pub fn may_see_owned(&self, owner_path: &str) -> bool {
        self.grants
            .decide_owned(Action::Read, owner_path)
            .is_allowed()
    }

    /// Criteria templates; `None` is the built-in one.
    pub fn authorize_template(&self, action: Action, owner_path: Option<&str>) -> ApiResult<()> {
        self.grants.decide_template(action, owner_path).check()
    }

    pub fn may_see_template(&self, owner_path: Option<&str>) -> bool {
        self.grants
            .decide_template(Action::Read, owner_path)
            .is_allowed()
    }

    /// A user account homed in the org at `home_path` (none: an administrator's).
    pub fn authorize_account(
        &self,
        action: Action,
        user_id: i64,
        home_path: Option<&str>,
    ) -> ApiResult<()> {
        self.grants
            .decide_account(action, user_id == self.user_id, home_path)
            .check()
    }

    /// A background job is seen by the one who started it, and by administrators.
    pub fn may_see_job(&self, started_by: i64) -> bool {
        started_by == self.user_id || self.grants.decide_global().is_allowed()
    }

    /// Whether the actor may see the account `user_id`, homed at `home_path`.
    pub fn may_see_account(&self, user_id: i64, home_path: Option<&str>) -> bool {
        self.grants
            .decide_account(Action::Read, user_id == self.user_id, home_path)
            .is_allowed()
    }

    /// Changing another account that holds the grants `held` (see [`grants_of`]).
    pub fn authorize_takeover(&self, held: &Grants) -> ApiResult<()> {
        self.grants
            .decide_takeover(held.0.iter().map(|g| (g.role, g.org_path.as_deref())))
            .check()
    }

    /// Removing or changing a session subject rating `subject_person`, as the account
    /// linked to `actor_person` (see [`super::policy::decide_subject_change`]).
    pub fn authorize_subject_change(
        &self,
        actor_person: Option<i64>,
        subject_person: Option<i64>,
    ) -> ApiResult<()> {
        super::policy::decide_subject_change(actor_person, subject_person).check()
    }

    /// How much of a closed session's results at `org_path` the actor sees (404 for none).
    pub fn session_results_view(&self, org_path: &str) -> ApiResult<SessionResultsView> {
        self.grants
            .decide_session_results(org_path)
            .map_err(Decision::refusal)
    }

    /// How much of a campaign's roll-up and rankings at `org_path` the actor sees.
    pub fn campaign_results_view(
        &self,
        org_path: &str,
        owner_path: &str,
        published_to: Option<&[String]>,
    ) -> ApiResult<CampaignResultsView> {
        self.grants
            .decide_campaign_results(org_path, owner_path, published_to)
            .map_err(Decision::refusal)
    }

    /// The highest org of the campaign owned at `owner_path` where the actor reads results.
    pub fn results_root(&self, owner_path: &str) -> Option<String> {
        self.grants.results_root(owner_path)
    }

    /// Verifying or returning a rectification item of the org at `org_path`: from above.
    pub fn authorize_sign_off(&self, org_path: &str) -> ApiResult<()> {
        self.grants.decide_sign_off(org_path).check()
    }

    /// Changing a rectification item's problem once it has been submitted: from above.
    pub fn authorize_problem_change(&self, org_path: &str, submitted_once: bool) -> ApiResult<()> {
        self.grants
            .decide_problem_change(org_path, submitted_once)
            .check()
    }

    /// Reading a record (rectification item, document, comment, commitment, report) of the
    /// org at `org_path` (404 when not allowed).
    pub fn authorize_record_read(&self, org_path: &str, about_self: bool) -> ApiResult<()> {
        self.grants.decide_record_read(org_path, about_self).check()
    }

    pub fn may_read_record(&self, org_path: &str, about_self: bool) -> bool {
        self.grants
            .decide_record_read(org_path, about_self)
            .is_allowed()
    }

    /// Writing a record of the org at `org_path`; `about_self`: the actor's own.
    pub fn authorize_record_write(&self, org_path: &str, about_self: bool) -> ApiResult<()> {
        self.grants
            .decide_record_write(org_path, about_self)
            .check()
    }

    /// Changing a document: its author only.
    pub fn authorize_document_edit(&self, is_author: bool) -> ApiResult<()> {
        super::policy::decide_document_edit(is_author).check()
    }

    /// Deciding an appeal against a bad review of the org at `org_path`: from above.
    pub fn authorize_appeal_decision(&self, org_path: &str) -> ApiResult<()> {
        self.grants.decide_appeal_decision(org_path).check()
    }

    /// A webhook subscription of the org at `org_path`: 404 unless the actor manages them there.
    pub fn authorize_webhook(&self, org_path: &str) -> ApiResult<()> {
        self.grants.decide_webhook(org_path).check()
    }

    /// Writing a leader comment on a session of the org at `org_path`: from above.
    pub fn authorize_leader_comment(&self, org_path: &str) -> ApiResult<()> {
        self.grants.decide_leader_comment(org_path).check()
    }

    /// Marking a commitment kept or not (see [`super::policy::CommitmentBy`]).
    pub fn authorize_commitment_check(
        &self,
        org_path: &str,
        made_by: CommitmentBy,
    ) -> ApiResult<()> {
        self.grants
            .decide_commitment_check(org_path, made_by)
            .check()
    }

    /// Submitting the report of the org at `org_path`: its own administrator or secretary.
    pub fn authorize_report_submission(&self, org_path: &str) -> ApiResult<()> {
        self.grants.decide_report_submission(org_path).check()
    }

    /// Reading one opinion of a session at `org_path`: 404 unless the actor lists them.
    pub fn authorize_opinion_read(&self, org_path: &str) -> ApiResult<()> {
        self.grants.decide_opinion_read(org_path).check()
    }

    /// Reading a session's opinions at `org_path`.
    pub fn authorize_opinions(&self, org_path: &str) -> ApiResult<()> {
        self.grants.decide_opinions(org_path).check()
    }

    pub fn can_see(&self, org_path: &str) -> bool {
        self.grants.can_see(org_path)
    }

    /// Changing the `domain` or `kind` of the org at `org_path`: from above only.
    pub fn authorize_org_profile(&self, org_path: &str) -> ApiResult<()> {
        self.grants.decide_org_profile(org_path).check()
    }

    /// What lists may contain.
    pub fn scope(&self) -> Scope {
        self.grants.scope()
    }

    /// The subtrees where the actor may do `action`.
    pub fn scope_for(&self, action: Action) -> Scope {
        self.grants.scope_for(action)
    }

    /// Orgs whose campaigns reach the actor from above (empty for administrators).
    pub fn orgs_at_or_above_grants(&self) -> Vec<i64> {
        self.grants.orgs_at_or_above_grants()
    }

    pub fn is_admin(&self) -> bool {
        self.grants.is_admin()
    }

    /// Reading the audit log at all (403 for those who may read it nowhere).
    pub fn authorize_audit_log(&self) -> ApiResult<()> {
        self.grants.decide_audit_log().check()
    }

    /// Creating an org under the one at `parent_path`, or moving one there (none: a root).
    pub fn authorize_place_under(&self, parent_path: Option<&str>) -> ApiResult<()> {
        self.grants.decide_place_under(parent_path).check()
    }

    /// Archiving or moving away a visible org whose superior is at `parent_path`.
    pub fn authorize_take_from(&self, parent_path: Option<&str>) -> ApiResult<()> {
        self.grants.decide_take_from(parent_path).check()
    }

    pub fn may_take_from(&self, parent_path: Option<&str>) -> bool {
        self.grants.decide_take_from(parent_path).is_allowed()
    }
}

/// The request id the middleware assigned.
pub fn request_id(req: &HttpRequest) -> String {
    req.extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Actor, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let request_id = request_id(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("AppState is not registered"))?;
            let token = token
                .ok_or_else(|| ApiError::unauthorized("A bearer access token is required."))?;
            let token = state.keys.verify(&token)?;
            let mut actor = crate::db::read(&state.pool, move |conn| {
                let (actor, version) = load_versioned(conn, token.user_id)?;
                if version != token.version {
                    return Err(ApiError::unauthorized(
                        "The access token has been revoked; sign in again.",
                    ));
                }
                Ok(actor)
            })
            .await?;
            actor.request_id = request_id;
            Ok(actor)
        })
    }
}

/// Loads an enabled user's grants; a disabled or deleted user is a 401.
/// With the actor, the user's current token version.
fn load_versioned(conn: &mut DbConn, user_id: i64) -> ApiResult<(Actor, i64)> {
    let (username, disabled, version): (String, bool, i64) = users::table
        .find(user_id)
        .select((users::username, users::disabled, users::token_version))
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::unauthorized("The account no longer exists."))?;
    if disabled {
        return Err(ApiError::unauthorized("The account is disabled."));
    }
    let grants = grants_of(conn, user_id)?;
    let actor = Actor {
        user_id,
        username,
        grants,
        request_id: String::new(),
    };
    Ok((actor, version))
}

/// Every grant a user holds, with the path of each grant's org.
pub fn grants_of(conn: &mut DbConn, user_id: i64) -> ApiResult<Grants> {
    let grants = grants::table
        .left_join(orgs::table)
        .filter(grants::user_id.eq(user_id))
        .select((
            grants::id,
            grants::org_id,
            grants::role,
            orgs::path.nullable(),
        ))
        .load::<(i64, Option<i64>, Role, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, org_id, role, org_path)| Grant {
            id,
            org_id,
            role,
            org_path,
        })
        .collect();
    Ok(Grants(grants))
}
