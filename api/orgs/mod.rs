//! Organizations (党组织): the tree everything else hangs from.

pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db::schema::{orgs, people};
use crate::db::{self, DbConn, MultiBackend};
use crate::error::{validate, ApiError, ApiResult, ErrorCode};
use crate::http::{created, Page, PageQuery};
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_org)
        .service(list_orgs)
        .service(get_org)
        .service(update_org)
        .service(archive_org)
        .service(org_tree)
        .service(move_org);
}

/// Loads an org the actor may see (404 otherwise) and checks the action on it.
pub fn authorized(conn: &mut DbConn, actor: &Actor, id: i64, action: Action) -> ApiResult<OrgRow> {
    let org = queries::find(conn, id)?;
    actor.authorize(action, &org.path)?;
    Ok(org)
}

/// Archiving and moving an org changes its superior's tree: they need the right to manage
/// the parent (administrators for a root). The caller has checked that the actor sees the
/// org, so a refusal is 403 even when the parent itself is out of sight.
fn authorize_on_parent(conn: &mut DbConn, actor: &Actor, org: &OrgRow) -> ApiResult<()> {
    match org.parent_id {
        Some(parent_id) => {
            let parent_path = queries::path_of(conn, parent_id)?;
            if actor.allows(Action::ManageOrgs, &parent_path) {
                Ok(())
            } else {
                Err(ApiError::forbidden())
            }
        }
        None => actor.authorize_global(),
    }
}

/// Create an org under a parent the actor manages.
#[utoipa::path(
    tag = "orgs",
    request_body = CreateOrg,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `Location` names it", body = Org),
        (status = 409, description = "`external_id` already used, or the parent is archived", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orgs")]
async fn create_org(
    actor: Actor,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CreateOrg>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    let org = db::write(&state.pool, move |conn| {
        db::lock_tree(conn)?;
        let parent = match body.parent_id {
            Some(parent_id) => {
                let parent = queries::find_referenced(conn, &actor, parent_id, "parent_id")?;
                actor.authorize(Action::ManageOrgs, &parent.path)?;
                if !parent.is_active() {
                    return Err(ApiError::conflict(
                        ErrorCode::ParentArchived,
                        "The parent org is archived.",
                    ));
                }
                Some(parent)
            }
            None => {
                actor.authorize_global()?;
                None
            }
        };
        let org = queries::insert(
            conn,
            queries::NewOrg {
                parent: parent.as_ref(),
                name: body.name.trim(),
                kind: body.kind.as_str(),
                domain: body.domain.as_str(),
                window_unit: body.window_unit,
                external_id: body.external_id.as_deref(),
            },
        )?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "org.create",
                target_type: "org",
                target_id: Some(org.id.to_string()),
                org_id: Some(org.id),
                summary: format!(
                    "created {} ({}) under {:?}",
                    org.name, org.kind, org.parent_id
                ),
            },
        )?;
        Ok(org)
    })
    .await?;
    Ok(created(&req, org.id, &Org::from(org)))
}

/// List the orgs the actor can see.
#[utoipa::path(
    tag = "orgs",
    params(OrgListQuery, PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "Visible orgs, in tree order", body = Page<Org>))
)]
#[get("/orgs")]
async fn list_orgs(
    actor: Actor,
    state: web::Data<AppState>,
    filter: web::Query<OrgListQuery>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Org>>> {
    let page = page.into_inner().checked()?;
    let filter = filter.into_inner();
    let scope = actor.scope();
    let result = db::read(&state.pool, move |conn| {
        let build = || {
            let mut q = orgs::table
                .filter(queries::in_scope(&scope))
                .filter(orgs::status.eq(filter.status.unwrap_or(OrgStatus::Active).as_str()))
                .into_boxed::<MultiBackend>();
            if let Some(parent_id) = filter.parent_id {
                q = q.filter(orgs::parent_id.eq(parent_id));
            }
            if let Some(kind) = filter.kind {
                q = q.filter(orgs::kind.eq(kind.as_str()));
            }
            if let Some(domain) = filter.domain {
                q = q.filter(orgs::domain.eq(domain.as_str()));
            }
            if let Some(window_unit) = filter.window_unit {
                q = q.filter(orgs::window_unit.eq(window_unit));
            }
            if let Some(text) = filter.q.as_deref().and_then(crate::types::non_blank) {
                q = q.filter(
                    orgs::name
                        .like(format!("%{}%", escape_like(&text)))
                        .escape('\\'),
                );
            }
            q
        };
        let total = build().count().get_result(conn)?;
        let items = build()
            .select(OrgRow::as_select())
            .order(orgs::path.asc())
            .limit(page.per_page())
            .offset(page.offset())
            .load(conn)?
            .into_iter()
            .map(Org::from)
            .collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
}

/// `%` and `_` match themselves in a name search.
pub fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// One org.
#[utoipa::path(
    tag = "orgs",
    params(("id" = i64, Path, description = "Org id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The org", body = Org))
)]
#[get("/orgs/{id}")]
async fn get_org(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Org>> {
    let id = id.into_inner();
    let org = db::read(&state.pool, move |conn| {
        authorized(conn, &actor, id, Action::Read)
    })
    .await?;
    Ok(web::Json(org.into()))
}

/// Change an org's name, kind, domain, window-unit flag, external id or secretary.
#[utoipa::path(
    tag = "orgs",
    params(("id" = i64, Path, description = "Org id")),
    request_body = UpdateOrg,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed org", body = Org),
        (status = 409, description = "`external_id` already used", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/orgs/{id}")]
async fn update_org(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<UpdateOrg>,
) -> ApiResult<web::Json<Org>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    if let Some(Some(external_id)) = &body.external_id {
        if external_id.trim().is_empty() || external_id.len() > 100 {
            return Err(ApiError::field(
                "external_id",
                "length must be between 1 and 100",
            ));
        }
    }
    let org = db::write(&state.pool, move |conn| {
        let org = authorized(conn, &actor, id, Action::ManageOrgs)?;
        if let Some(Some(person_id)) = body.secretary_id {
            let person_org: Option<(i64, String)> = people::table
                .find(person_id)
                .select((people::org_id, people::status))
                .first(conn)
                .optional()?;
            if !matches!(person_org, Some((org_id, ref status)) if org_id == id && status == "active") {
                return Err(ApiError::field("secretary_id", "must be an active person of this org"));
            }
        }
        let changes = OrgChanges {
            name: body.name.as_deref().map(str::trim),
            kind: body.kind.map(OrgKind::as_str),
            domain: body.domain.map(Domain::as_str),
            window_unit: body.window_unit,
            external_id: body.external_id.as_ref().map(|e| e.as_deref()),
            secretary_id: body.secretary_id,
            updated_at: crate::types::now(),
        };
        diesel::update(orgs::table.find(id)).set(&changes).execute(conn)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "org.update",
                target_type: "org",
                target_id: Some(id.to_string()),
                org_id: Some(id),
                summary: format!("changed {}: {}", org.name, changes.describe()),
            },
        )?;
        queries::find(conn, id)
    })
    .await?;
    Ok(web::Json(org.into()))
}

/// The columns a PATCH may change; `None` leaves a column as it is.
#[derive(AsChangeset)]
#[diesel(table_name = orgs)]
struct OrgChanges<'a> {
    name: Option<&'a str>,
    kind: Option<&'a str>,
    domain: Option<&'a str>,
    window_unit: Option<bool>,
    external_id: Option<Option<&'a str>>,
    secretary_id: Option<Option<i64>>,
    updated_at: chrono::NaiveDateTime,
}

impl OrgChanges<'_> {
    /// The changed fields, for the audit summary.
    fn describe(&self) -> String {
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

/// Archive an org. Refused (409 `has_active_children`) while it has active children.
#[utoipa::path(
    tag = "orgs",
    params(("id" = i64, Path, description = "Org id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Archived"),
        (status = 409, description = "The org still has active children", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/orgs/{id}")]
async fn archive_org(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::write(&state.pool, move |conn| {
        db::lock_tree(conn)?;
        let org = authorized(conn, &actor, id, Action::Read)?;
        authorize_on_parent(conn, &actor, &org)?;
        if org.status == OrgStatus::Archived.as_str() {
            return Ok(());
        }
        if queries::active_children(conn, id)? > 0 {
            return Err(ApiError::conflict(
                ErrorCode::HasActiveChildren,
                "Archive or move the org's children first.",
            ));
        }
        diesel::update(orgs::table.find(id))
            .set((
                orgs::status.eq(OrgStatus::Archived.as_str()),
                orgs::updated_at.eq(crate::types::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            &actor,
            Event {
                action: "org.archive",
                target_type: "org",
                target_id: Some(id.to_string()),
                org_id: Some(id),
                summary: format!("archived {}", org.name),
            },
        )
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The org and its subtree, nested.
#[utoipa::path(
    tag = "orgs",
    params(("id" = i64, Path, description = "Org id"), TreeQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The subtree, active orgs only", body = OrgNode))
)]
#[get("/orgs/{id}/tree")]
async fn org_tree(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    query: web::Query<TreeQuery>,
) -> ApiResult<web::Json<OrgNode>> {
    let id = id.into_inner();
    if query.depth.is_some_and(|d| d < 0) {
        return Err(ApiError::bad_request("depth must be 0 or more"));
    }
    let depth = query.depth;
    let tree = db::read(&state.pool, move |conn| {
        let root = authorized(conn, &actor, id, Action::Read)?;
        let max_depth = depth.map(|d| root.depth.saturating_add(d));
        let rows = queries::subtree(conn, &root, max_depth)?;
        rules::build_tree(rows).ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(web::Json(tree))
}

/// Move an org, with its whole subtree, under another parent.
#[utoipa::path(
    tag = "orgs",
    params(("id" = i64, Path, description = "Org id")),
    request_body = MoveOrg,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The moved org", body = Org),
        (status = 409, description = "`cycle`: the new parent is inside the org's own subtree; `parent_archived`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orgs/{id}/move")]
async fn move_org(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: web::Json<MoveOrg>,
) -> ApiResult<web::Json<Org>> {
    let (id, new_parent_id) = (id.into_inner(), body.parent_id);
    let org = db::write(&state.pool, move |conn| {
        db::lock_tree(conn)?;
        let org = authorized(conn, &actor, id, Action::Read)?;
        authorize_on_parent(conn, &actor, &org)?;
        let new_parent = queries::find_referenced(conn, &actor, new_parent_id, "parent_id")?;
        actor.authorize(Action::ManageOrgs, &new_parent.path)?;
        if rules::is_cycle(&org.path, &new_parent.path) {
            return Err(ApiError::conflict(
                ErrorCode::Cycle,
                "An org cannot move into its own subtree.",
            ));
        }
        if !new_parent.is_active() {
            return Err(ApiError::conflict(
                ErrorCode::ParentArchived,
                "The new parent org is archived.",
            ));
        }
        if org.parent_id != Some(new_parent.id) {
            queries::move_subtree(conn, &org, &new_parent)?;
            audit::record(
                conn,
                &actor,
                Event {
                    action: "org.move",
                    target_type: "org",
                    target_id: Some(id.to_string()),
                    org_id: Some(id),
                    summary: format!(
                        "moved {} from {:?} to {}",
                        org.name, org.parent_id, new_parent.id
                    ),
                },
            )?;
        }
        queries::find(conn, id)
    })
    .await?;
    Ok(web::Json(org.into()))
}
