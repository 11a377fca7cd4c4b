//! Organizations (党组织): the tree everything else hangs from.

pub mod model;
pub mod queries;
pub mod rules;

use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::*;
pub use self::rules::escape_like;
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db::{self, DbConn};
use crate::error::{validate, ApiError, ApiResult};
use crate::http::{created, JsonBody, Page, PageQuery};
use crate::people::queries as people_queries;
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
/// org.
fn authorize_on_parent(conn: &mut DbConn, actor: &Actor, org: &OrgRow) -> ApiResult<()> {
    let parent_path = queries::parent_path(conn, org)?;
    actor.authorize_take_from(parent_path.as_deref())
}

/// Writes an audit event about an org or a person (`target`: type and id), filed under the
/// org `org_id`.
pub fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    target: (&str, i64),
    org_id: i64,
    summary: String,
) -> ApiResult<()> {
    let (target_type, id) = target;
    let target_id = Some(id.to_string());
    let org_id = Some(org_id);
    let event = Event {
        action,
        target_type,
        target_id,
        org_id,
        summary,
    };
    audit::record(conn, actor, event)
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
    body: JsonBody<CreateOrg>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    validate(&body)?;
    let org = db::write(&state.pool, move |conn| {
        db::lock_tree(conn)?;
        let parent = body
            .parent_id
            .map(|id| queries::find_referenced(conn, &actor, id, "parent_id"))
            .transpose()?;
        actor.authorize_place_under(parent.as_ref().map(|p| p.path.as_str()))?;
        rules::check_parent_active(parent.as_ref())?;
        let org = queries::insert(
            conn,
            queries::NewOrg {
                parent: parent.as_ref(),
                name: body.name.trim(),
                kind: body.kind,
                domain: body.domain,
                window_unit: body.window_unit,
                external_id: body.external_id.as_deref(),
            },
        )?;
        let summary = format!(
            "created {} ({}) under {:?}",
            org.name, org.kind, org.parent_id
        );
        record(conn, &actor, "org.create", ("org", org.id), org.id, summary)?;
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
        let (rows, total) = queries::list(conn, &scope, &filter, &page)?;
        let items = rows.into_iter().map(Org::from).collect();
        Ok(Page::new(items, total, &page))
    })
    .await?;
    Ok(web::Json(result))
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

/// Change an org's name, kind, domain, window-unit flag, external id or secretary. The kind
/// and domain are changed only from a superior org (403 for an org admin of the org itself).
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
    body: JsonBody<UpdateOrg>,
) -> ApiResult<web::Json<Org>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    validate(&body)?;
    rules::check_external_id_patch(&body.external_id)?;
    let org = db::write(&state.pool, move |conn| {
        let org = authorized(conn, &actor, id, Action::ManageOrgs)?;
        let profile_changes = body.kind.is_some_and(|k| k != org.kind)
            || body.domain.is_some_and(|d| d != org.domain);
        if profile_changes {
            actor.authorize_org_profile(&org.path)?;
        }
        if let Some(Some(person_id)) = body.secretary_id {
            let person = people_queries::find_opt(conn, person_id)?;
            rules::check_secretary(person.as_ref(), id)?;
        }
        let changes = OrgChanges::from_update(&body);
        queries::update(conn, id, &changes)?;
        let summary = format!("changed {}: {}", org.name, changes.describe());
        record(conn, &actor, "org.update", ("org", id), id, summary)?;
        queries::find(conn, id)
    })
    .await?;
    Ok(web::Json(org.into()))
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
        let active_children = queries::active_children(conn, id)?;
        if !rules::archiving_needed(&org, active_children)? {
            return Ok(());
        }
        queries::archive(conn, id)?;
        let summary = format!("archived {}", org.name);
        record(conn, &actor, "org.archive", ("org", id), id, summary)
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
    body: JsonBody<MoveOrg>,
) -> ApiResult<web::Json<Org>> {
    let (id, new_parent_id) = (id.into_inner(), body.parent_id);
    let org = db::write(&state.pool, move |conn| {
        db::lock_tree(conn)?;
        let org = authorized(conn, &actor, id, Action::Read)?;
        authorize_on_parent(conn, &actor, &org)?;
        let new_parent = queries::find_referenced(conn, &actor, new_parent_id, "parent_id")?;
        actor.authorize_place_under(Some(&new_parent.path))?;
        rules::check_move(&org, &new_parent)?;
        if org.parent_id != Some(new_parent.id) {
            queries::move_subtree(conn, &org, &new_parent)?;
            let summary = format!(
                "moved {} from {:?} to {}",
                org.name, org.parent_id, new_parent.id
            );
            record(conn, &actor, "org.move", ("org", id), id, summary)?;
        }
        queries::find(conn, id)
    })
    .await?;
    Ok(web::Json(org.into()))
}
