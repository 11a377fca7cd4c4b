//! One integration-test binary: every module below runs against the real server. The
//! modules follow the API's areas (api/); `access` holds what crosses them (the tree and
//! the authorization matrix), `foundation` the service skeleton.

mod common;

mod access;
mod audit;
mod auth;
mod ballots;
mod campaigns;
mod foundation;
mod imports;
mod instant;
mod jobs;
mod orgs;
mod people;
mod records;
mod rectifications;
mod results;
mod security_auth;
mod security_ops;
mod security_voting;
mod sessions;
mod templates;
mod users;
mod voter;
mod webhooks;
