//! Pingyi (评议): the server for mass-evaluation campaigns of grassroots Party organizations.
//!
//! Reading path for any endpoint: [`routes`] → the area's `routes` table → the handler →
//! the policy call → the query.

pub mod audit;
pub mod auth;
pub mod ballots;
pub mod calendar;
pub mod campaigns;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod http;
pub mod imports;
pub mod instant;
pub mod jobs;
pub mod openapi;
pub mod ops;
pub mod orgs;
pub mod people;
pub mod records;
pub mod rectifications;
pub mod results;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod templates;
pub mod types;
pub mod users;
pub mod voter;
pub mod webhooks;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub use startup::{serve, Shared};
pub use state::AppState;

/// The one place that mounts every area's routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.configure(ops::routes);
    cfg.service(scope::scope("/api/v1").configure(api_v1));
}

fn api_v1(cfg: &mut ServiceConfig) {
    cfg.configure(auth::routes::routes)
        .configure(users::routes)
        .configure(orgs::routes)
        .configure(people::routes)
        .configure(imports::routes)
        .configure(jobs::routes)
        .configure(templates::routes)
        .configure(campaigns::routes)
        .configure(sessions::routes)
        .configure(ballots::routes)
        .configure(results::routes)
        .configure(rectifications::routes)
        .configure(records::routes)
        .configure(instant::routes)
        .configure(calendar::routes)
        .configure(webhooks::routes)
        .configure(audit::routes);
}
