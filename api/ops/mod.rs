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
    cfg.service(healthz).service(readyz);
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

/// Prometheus metrics (requests by route pattern and status, latency, pool state) on the
/// separate metrics listener. Not part of the API document: the API listener answers it
/// only with `PINGYI_METRICS_TOKEN` (see `metrics_with_token`).
pub async fn metrics_open(state: web::Data<AppState>, metrics: web::Data<Metrics>) -> HttpResponse {
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

/// `/metrics` on the API listener: 404 (like any unknown path) unless
/// `PINGYI_METRICS_TOKEN` is set, then only with `Authorization: Bearer <token>`.
pub async fn metrics_with_token(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, crate::error::ApiError> {
    let Some(expected) = state.settings.metrics_token.as_deref() else {
        return Err(crate::error::ApiError::not_found());
    };
    let presented = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
        return Err(crate::error::ApiError::unauthorized(
            "The metrics token is missing or wrong.",
        ));
    }
    Ok(metrics_open(state, metrics).await)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

/// The readiness URL of a server bound to `bind` (an unspecified address asks loopback).
pub fn readiness_url(bind: std::net::SocketAddr) -> String {
    let host = match bind.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    format!("http://{host}:{}/readyz", bind.port())
}

/// `pingyi healthcheck`: GET `url` (plain HTTP/1.0) and succeed on a 200 answer.
pub fn probe(url: &str, timeout: std::time::Duration) -> Result<(), String> {
    use std::io::{Read, Write};
    use std::net::ToSocketAddrs;
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs can be probed"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = authority
        .to_socket_addrs()
        .map_err(|e| format!("{url}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url}: no address"))?;
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("{url}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("{url}: {e}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{url}: {e}"))?;
    let mut head = Vec::new();
    stream
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| format!("{url}: {e}"))?;
    let head = String::from_utf8_lossy(&head);
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("none");
    if status == "200" {
        Ok(())
    } else {
        Err(format!("{url} answered {status}: not ready"))
    }
}
