//! Webhooks for municipal systems (Standard Webhooks 1.0): subscriptions to the events of
//! an org's subtree, signed deliveries from a transactional outbox, retries, and a log of
//! every attempt.
//!
//! Reading path: the handlers here → `rules` (allow-list, secrets, signatures, backoff) →
//! `queries`; changes elsewhere call [`outbox::emit`] in their own transaction; the
//! [`dispatch`]er sends what is queued.

pub mod dispatch;
pub mod model;
pub mod outbox;
pub mod queries;
pub mod rules;

use actix_web::{delete, get, patch, post, web, HttpResponse};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    CreateWebhook, Delivery, Redelivery, UpdateWebhook, Webhook, WebhookRow, WebhookWithSecret,
};
use self::queries::{NewWebhook, WebhookChanges};
pub use self::rules::{AllowedHost, EventType};
use crate::audit::{self, Event};
use crate::auth::{Action, Actor};
use crate::db::{self, DbConn};
use crate::error::{ApiError, ApiResult};
use crate::http::{created_at, JsonBody, Page, PageQuery};
use crate::state::AppState;
use crate::types::now;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_webhook)
        .service(list_webhooks)
        .service(get_webhook)
        .service(update_webhook)
        .service(delete_webhook)
        .service(rotate_secret)
        .service(list_deliveries)
        .service(redeliver);
}

/// A subscription the actor manages (404 otherwise, like a missing one).
fn managed(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<WebhookRow> {
    let row = queries::find_opt(conn, id)?.ok_or_else(ApiError::not_found)?;
    let path = crate::orgs::queries::path_of(conn, row.org_id)?;
    actor.authorize_webhook(&path)?;
    Ok(row)
}

fn checked_url(raw: &str, state: &AppState) -> ApiResult<String> {
    rules::check_url(raw, &state.settings.webhook_allowed_hosts)
        .map(|target| target.url.to_string())
        .map_err(|why| ApiError::field("url", why))
}

fn checked_events(events: &[EventType]) -> ApiResult<String> {
    if events.is_empty() {
        return Err(ApiError::field(
            "events",
            "must name at least one event type",
        ));
    }
    Ok(rules::stored_events(events))
}

fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: &str,
    row: &WebhookRow,
    summary: String,
) -> ApiResult<()> {
    audit::record(
        conn,
        actor,
        Event::new(action, "webhook", row.id, Some(row.org_id), summary),
    )
}

/// Subscribe a system to the events of an org's subtree (org admins and integration
/// accounts of the org). The answer holds the signing secret; it is never shown again.
#[utoipa::path(
    tag = "webhooks",
    request_body = CreateWebhook,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Subscribed; the secret is shown only now", body = WebhookWithSecret,
         headers(("Location" = String, description = "The subscription"))),
        (status = 403, description = "`forbidden`: the caller sees the org but does not manage subscriptions there", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a URL that is not http(s) or whose host is not allowed, no events, an unknown org", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks")]
async fn create_webhook(
    actor: Actor,
    state: web::Data<AppState>,
    body: JsonBody<CreateWebhook>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let url = checked_url(&body.url, &state)?;
    let events = checked_events(&body.events)?;
    let created = db::write(&state.pool, move |conn| {
        let org = crate::orgs::queries::find_referenced(conn, &actor, body.org_id, "org_id")?;
        actor.authorize(Action::ManageWebhooks, &org.path)?;
        let secret = rules::new_secret();
        let id = queries::insert(
            conn,
            &NewWebhook {
                org_id: org.id,
                url: &url,
                events: &events,
                secret: &secret,
                created_by: actor.user_id,
                at: now(),
            },
        )?;
        let row = queries::find_opt(conn, id)?.ok_or_else(ApiError::not_found)?;
        let summary = format!("subscribed {url} to {events} of {}", org.name);
        record(conn, &actor, "webhook.create", &row, summary)?;
        Ok(WebhookWithSecret::from(&row))
    })
    .await?;
    Ok(created_at(
        format!("/api/v1/webhooks/{}", created.id),
        &created,
    ))
}

/// The subscriptions the caller manages, by id.
#[utoipa::path(
    tag = "webhooks",
    params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of subscriptions", body = Page<Webhook>))
)]
#[get("/webhooks")]
async fn list_webhooks(
    actor: Actor,
    state: web::Data<AppState>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Webhook>>> {
    let page = page.into_inner().checked()?;
    let scope = actor.scope_for(Action::ManageWebhooks);
    let (rows, total) = db::read(&state.pool, move |conn| {
        queries::list(conn, &scope, page.offset(), page.per_page())
    })
    .await?;
    let items = rows.iter().map(Webhook::from).collect();
    Ok(web::Json(Page::new(items, total, &page)))
}

/// A subscription.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription", body = Webhook),
        (status = 404, description = "`not_found`: no such subscription among those the caller manages", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}")]
async fn get_webhook(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Webhook>> {
    let id = id.into_inner();
    let row = db::read(&state.pool, move |conn| managed(conn, &actor, id)).await?;
    Ok(web::Json(Webhook::from(&row)))
}

/// Change a subscription's URL or events, or disable and re-enable it. Re-enabling clears
/// the failure record; what waited is sent.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id")),
    request_body = UpdateWebhook,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The subscription as changed", body = Webhook),
        (status = 422, description = "`validation_failed`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/webhooks/{id}")]
async fn update_webhook(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: JsonBody<UpdateWebhook>,
) -> ApiResult<web::Json<Webhook>> {
    let (id, body) = (id.into_inner(), body.into_inner());
    let url = body
        .url
        .as_deref()
        .map(|u| checked_url(u, &state))
        .transpose()?;
    let events = body.events.as_deref().map(checked_events).transpose()?;
    let row = db::write(&state.pool, move |conn| {
        let row = managed(conn, &actor, id)?;
        let mut changes = WebhookChanges {
            url,
            events,
            updated_at: Some(now()),
            ..Default::default()
        };
        if let Some(enabled) = body.enabled {
            changes.enabled = Some(enabled);
            changes.disabled_reason = Some((!enabled).then(|| "disabled by hand".to_owned()));
            if enabled && !row.enabled {
                changes.failing_since = Some(None);
            }
        }
        queries::update(conn, id, &changes)?;
        let summary = format!("changed the webhook to {}", row.url);
        record(conn, &actor, "webhook.update", &row, summary)?;
        queries::find_opt(conn, id)?.ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(web::Json(Webhook::from(&row)))
}

/// Unsubscribe: the subscription, its queue and its log are removed.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Removed"))
)]
#[delete("/webhooks/{id}")]
async fn delete_webhook(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    db::write(&state.pool, move |conn| {
        let row = managed(conn, &actor, id)?;
        queries::delete(conn, id)?;
        let summary = format!("removed the webhook to {}", row.url);
        record(conn, &actor, "webhook.delete", &row, summary)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret, shown only in this answer. For 24 hours messages carry a signature
/// by the previous secret too, so the receiver can switch without losing any.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The subscription with its new secret", body = WebhookWithSecret))
)]
#[post("/webhooks/{id}/rotate-secret")]
async fn rotate_secret(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> ApiResult<web::Json<WebhookWithSecret>> {
    let id = id.into_inner();
    let rotated = db::write(&state.pool, move |conn| {
        let row = managed(conn, &actor, id)?;
        let at = now();
        let changes = WebhookChanges {
            secret: Some(rules::new_secret()),
            previous_secret: Some(Some(row.secret.clone())),
            previous_secret_until: Some(Some(at + rules::ROTATION_OVERLAP)),
            updated_at: Some(at),
            ..Default::default()
        };
        queries::update(conn, id, &changes)?;
        let summary = format!("rotated the secret of the webhook to {}", row.url);
        record(conn, &actor, "webhook.rotate_secret", &row, summary)?;
        let row = queries::find_opt(conn, id)?.ok_or_else(ApiError::not_found)?;
        Ok(WebhookWithSecret::from(&row))
    })
    .await?;
    Ok(web::Json(rotated))
}

/// Every attempt to deliver to the subscription, newest first.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = i64, Path, description = "Subscription id"), PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "One page of attempts, newest first", body = Page<Delivery>))
)]
#[get("/webhooks/{id}/deliveries")]
async fn list_deliveries(
    actor: Actor,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    page: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<Delivery>>> {
    let (id, page) = (id.into_inner(), page.into_inner().checked()?);
    let (rows, total) = db::read(&state.pool, move |conn| {
        managed(conn, &actor, id)?;
        queries::deliveries(conn, id, page.offset(), page.per_page())
    })
    .await?;
    let items = rows
        .into_iter()
        .map(Delivery::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(Page::new(items, total, &page)))
}

/// Send a delivery's event again, now (with the same `webhook-id`, so a receiver that got
/// it already can tell). An event already waiting is not queued twice.
#[utoipa::path(
    tag = "webhooks",
    params(
        ("id" = i64, Path, description = "Subscription id"),
        ("delivery_id" = i64, Path, description = "One of its deliveries"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued (or already waiting: `queued` false)", body = Redelivery),
        (status = 404, description = "`not_found`", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/redeliver")]
async fn redeliver(
    actor: Actor,
    state: web::Data<AppState>,
    path: web::Path<(i64, i64)>,
) -> ApiResult<HttpResponse> {
    let (id, delivery_id) = path.into_inner();
    let answer = db::write(&state.pool, move |conn| {
        let row = managed(conn, &actor, id)?;
        let (event_id, resource) =
            queries::delivery_event(conn, id, delivery_id)?.ok_or_else(ApiError::not_found)?;
        if queries::is_queued(conn, id, &event_id)? {
            return Ok(Redelivery {
                event_id,
                queued: false,
            });
        }
        queries::queue(conn, id, &event_id, &resource, now())?;
        let summary = format!("queued {event_id} again for {}", row.url);
        record(conn, &actor, "webhook.redeliver", &row, summary)?;
        Ok(Redelivery {
            event_id,
            queued: true,
        })
    })
    .await?;
    Ok(HttpResponse::Accepted().json(answer))
}
