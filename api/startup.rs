//! Startup: resolving secrets, creating the first administrator, and serving HTTP.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{middleware, web, App, HttpServer};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::throttle::FailureThrottle;
use crate::auth::tokens::TokenKeys;
use crate::ballots::codes::CodeKey;
use crate::config::Settings;
use crate::db::Pool;
use crate::http::RouteTable;
use crate::ops::Metrics;
use crate::state::AppState;
use crate::{http, openapi, ops, routes, users};

/// Everything the server shares between workers.
#[derive(Clone)]
pub struct Shared {
    pub state: web::Data<AppState>,
    pub metrics: web::Data<Metrics>,
    pub route_table: web::Data<RouteTable>,
    pub openapi: Arc<utoipa::openapi::OpenApi>,
}

impl Shared {
    /// Everything a server needs, ready: the signing secret resolved, the first
    /// administrator created on an empty database.
    pub fn bootstrap(pool: Pool, settings: Settings) -> Result<Self, String> {
        let secret = settings.resolve_jwt_secret()?;
        if let Some(code_secret) = &settings.code_secret {
            crate::config::check_secret("PINGYI_CODE_SECRET", code_secret)?;
        }
        if let Some(token) = &settings.metrics_token {
            crate::config::check_secret("PINGYI_METRICS_TOKEN", token)?;
        }
        {
            let mut conn = pool
                .get()
                .map_err(|e| format!("cannot use the database: {e}"))?;
            let generated = users::bootstrap_admin(&mut conn, settings.admin_password.as_deref())
                .map_err(|e| {
                format!(
                    "cannot create the first administrator: {}",
                    e.detail_with_fields()
                )
            })?;
            if let Some(password) = generated {
                // Shown once, on the console only: it is not kept anywhere.
                println!("Created the administrator 'admin' with password: {password}");
                println!("Sign in and change it; set PINGYI_ADMIN_PASSWORD to choose it instead.");
            }
            let tallied = crate::results::queries::tally_untallied(&mut conn)
                .map_err(|e| format!("cannot tally closed sessions: {}", e.detail_with_fields()))?;
            if tallied > 0 {
                tracing::info!(
                    sessions = tallied,
                    "tallied sessions closed before tallies existed"
                );
            }
            let interrupted = crate::jobs::queries::fail_interrupted(&mut conn).map_err(|e| {
                format!("cannot close interrupted jobs: {}", e.detail_with_fields())
            })?;
            if interrupted > 0 {
                tracing::warn!(
                    jobs = interrupted,
                    "jobs interrupted by a restart marked failed"
                );
            }
        }
        let openapi = openapi::document();
        http::use_document_for_bodies(&openapi);
        let settings_code_secret = settings.code_secret.clone();
        let state = AppState {
            pool,
            settings,
            keys: TokenKeys::new(&secret)?,
            login_failures_by_user: FailureThrottle::new(5, Duration::from_secs(15 * 60)),
            login_failures_by_address: FailureThrottle::new(30, Duration::from_secs(15 * 60)),
            familiar_clients: Default::default(),
            password_gate: crate::auth::password::PasswordGate::sized_to_cores(),
            code_key: CodeKey::derive(settings_code_secret.as_deref().unwrap_or(&secret)),
            ballot_contexts: Default::default(),
            // 60 misses per 10 minutes: a whole hall's typos stay far below, and with 2^60
            // codes guessing is hopeless at that pace.
            code_failures_by_address: FailureThrottle::new(60, Duration::from_secs(10 * 60)),
            ticket_failures_by_address: FailureThrottle::new(60, Duration::from_secs(10 * 60)),
            open_ratings_by_client: FailureThrottle::new(10, Duration::from_secs(60 * 60)),
            running_jobs: Default::default(),
        };
        Ok(Self {
            route_table: web::Data::new(RouteTable::from_openapi(&openapi)),
            state: web::Data::new(state),
            metrics: web::Data::new(Metrics::new()),
            openapi: Arc::new(openapi),
        })
    }
}

/// Starts the HTTP server on a bound listener; the returned server stops gracefully on
/// SIGTERM or SIGINT, finishing requests in flight.
pub fn serve(listener: TcpListener, shared: Shared) -> std::io::Result<Server> {
    let workers = shared.state.settings.workers;
    crate::webhooks::dispatch::start(shared.state.clone());
    let mut server = HttpServer::new(move || {
        let settings = &shared.state.settings;
        let cors = settings
            .cors_origins
            .iter()
            .filter(|o| !o.trim().is_empty())
            .fold(Cors::default(), |cors, origin| {
                cors.allowed_origin(origin.trim())
            })
            .allowed_methods(["GET", "POST", "PATCH", "PUT", "DELETE"])
            .allowed_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::ACCEPT_LANGUAGE,
            ])
            .expose_headers([header::LOCATION, header::RETRY_AFTER, http::REQUEST_ID])
            .max_age(3600);
        let openapi = (*shared.openapi).clone();
        let (app, _) = App::new()
            .app_data(shared.state.clone())
            .app_data(shared.metrics.clone())
            .app_data(shared.route_table.clone())
            .app_data(http::json_config(settings.body_limit))
            .app_data(web::Data::new(http::BodyLimit(settings.body_limit)))
            .app_data(web::Data::new(http::ImportLimit(settings.import_limit)))
            .app_data(http::payload_config(settings.body_limit))
            .app_data(http::path_config())
            .app_data(http::query_config())
            // Before the /api/v1 scope, which would otherwise claim this path.
            .service(SwaggerUi::new("/docs/{_:.*}").url("/api/v1/openapi.json", openapi))
            .into_utoipa_app()
            .configure(routes)
            .split_for_parts();
        app.configure(crate::voter::mount)
            .route("/docs", web::get().to(ops::docs_index))
            .route("/metrics", web::get().to(ops::metrics_with_token))
            .default_service(web::to(http::fallback))
            .wrap(cors)
            .wrap(middleware::from_fn(http::observe))
    })
    .listen(listener)?
    .shutdown_timeout(30);
    if let Some(workers) = workers {
        server = server.workers(workers);
    }
    Ok(server.run())
}

/// The separate metrics listener (`PINGYI_METRICS_BIND`): `/metrics` and nothing else.
pub fn serve_metrics(listener: TcpListener, shared: Shared) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.state.clone())
            .app_data(shared.metrics.clone())
            .route("/metrics", web::get().to(ops::metrics_open))
    })
    .listen(listener)?
    .workers(1)
    .shutdown_timeout(5);
    Ok(server.run())
}
