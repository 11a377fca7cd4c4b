//! Operations endpoints: liveness, readiness, Prometheus metrics.

mod metrics;

pub use metrics::Metrics;

use actix_web::{get, web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiResult;
use crate::state::AppState;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(healthz).service(readyz).service(metrics_text);
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The database backend, on `/readyz` (null on `/healthz`).
    #[schema(example = "sqlite")]
    pub database: Option<String>,
}

/// The process is alive.
#[utoipa::path(tag = "operations", responses((status = 200, description = "Alive", body = Health)))]
#[get("/healthz")]
async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok",
        database: None,
    })
}

/// The database answers: route traffic here.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "The database is unreachable", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
async fn readyz(state: web::Data<AppState>) -> ApiResult<web::Json<Health>> {
    let backend = crate::db::read(&state.pool, |conn| {
        conn.batch_execute("SELECT 1")?;
        Ok(conn.backend())
    })
    .await?;
    Ok(web::Json(Health {
        status: "ok",
        database: Some(backend.to_string()),
    }))
}

/// Prometheus metrics: requests by route pattern and status, latency, pool state.
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
async fn metrics_text(state: web::Data<AppState>, metrics: web::Data<Metrics>) -> HttpResponse {
    let pool = state.pool.state();
    metrics.set_pool(
        pool.connections,
        pool.idle_connections,
        state.pool.max_size(),
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}

/// Swagger UI at `/docs` itself: its page with a `<base>` so that its relative asset links
/// resolve under `/docs/`, where the vendored files are served (no network needed).
pub async fn docs_index() -> HttpResponse {
    let config = std::sync::Arc::new(utoipa_swagger_ui::Config::from("/api/v1/openapi.json"));
    match utoipa_swagger_ui::serve("index.html", config) {
        Ok(Some(file)) if !file.gzpipped => {
            let page = String::from_utf8_lossy(&file.bytes).replacen(
                "<head>",
                "<head>\n    <base href=\"/docs/\">",
                1,
            );
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body(page)
        }
        _ => HttpResponse::TemporaryRedirect()
            .insert_header((actix_web::http::header::LOCATION, "/docs/"))
            .finish(),
    }
}
