//! The test harness: each test gets a fresh database (a temporary SQLite file, or its own
//! PostgreSQL database cloned from a migrated template when `TEST_DATABASE_URL` is set)
//! and the real server on a free port of 127.0.0.1.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::Path;
use std::sync::OnceLock;

use awc::http::{Method, StatusCode};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use pingyi::config::{LogFormat, Settings};
use pingyi::db::{DatabaseUrl, Pool};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The secret that signs the test servers' access tokens (random enough to be accepted).
pub const JWT_SECRET: &str = "Hk3vR9qZ2mT8wX5nB1cF7jL4pD6sG0aY-tests";

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// Runs a test body once per backend: `sqlite` always, `postgres` when
/// `TEST_DATABASE_URL` is set. Without it the `postgres` variant is ignored (build.rs sets
/// `cfg(pingyi_postgres_tests)` from the variable at build time); the runtime guard stays
/// for `--include-ignored` runs.
#[macro_export]
macro_rules! db_test {
    ($(#[$meta:meta])* $name:ident, |$app:ident| $body:block) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[actix_web::test]
            async fn sqlite() {
                let $app = $crate::common::TestApp::spawn($crate::common::Backend::Sqlite).await;
                $body
            }

            #[actix_web::test]
            #[cfg_attr(
                not(pingyi_postgres_tests),
                ignore = "set TEST_DATABASE_URL to run on PostgreSQL"
            )]
            async fn postgres() {
                if !$crate::common::postgres_enabled() {
                    eprintln!("skipped: TEST_DATABASE_URL is not set");
                    return;
                }
                let $app = $crate::common::TestApp::spawn($crate::common::Backend::Postgres).await;
                $body
            }
        }
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn postgres_enabled() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty())
}

fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL is set")
}

/// A database that disappears with the test.
pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { name: String },
}

impl TestDb {
    pub fn create(backend: Backend) -> (TestDb, DatabaseUrl) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = DatabaseUrl::Sqlite(dir.path().join("pingyi.db"));
                (TestDb::Sqlite(dir), url)
            }
            Backend::Postgres => {
                let template = postgres_template();
                let name = format!("pingyi_test_{}", pingyi::auth::random_token(8));
                let mut admin =
                    PgConnection::establish(&admin_url()).expect("connect to TEST_DATABASE_URL");
                admin
                    .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                    .expect("clone the template database");
                let url = DatabaseUrl::Postgres(with_database(&admin_url(), &name));
                (TestDb::Postgres { name }, url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { name } = self {
            if let Ok(mut admin) = PgConnection::establish(&admin_url()) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A migrated template database named after a hash of the migrations, created once per
/// schema (under a temporary name, then renamed, so a crashed run never leaves a
/// half-migrated template behind).
fn postgres_template() -> &'static str {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let name = format!("pingyi_tpl_{}", migrations_hash());
        let mut admin =
            PgConnection::establish(&admin_url()).expect("connect to TEST_DATABASE_URL");
        let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"
        )))
        .get_result(&mut admin)
        .expect("query pg_database");
        if !exists {
            let building = format!("pingyi_tpl_build_{}", pingyi::auth::random_token(6));
            admin
                .batch_execute(&format!("CREATE DATABASE {building}"))
                .expect("create the template database");
            {
                let url = DatabaseUrl::Postgres(with_database(&admin_url(), &building));
                let manager = pingyi::db::ConnectionManager::new(url);
                let mut conn =
                    diesel::r2d2::ManageConnection::connect(&manager).expect("connect to template");
                pingyi::db::run_migrations(&mut conn).expect("migrate the template");
            }
            let renamed =
                admin.batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"));
            if renamed.is_err() {
                // Another process finished first: use theirs.
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"));
            }
        }
        name
    })
}

// Templates of other schemas are left in place: another run (a second checkout, an
// older branch) may be cloning one right now, and dropping it fails all of its tests.
// They are small; `DROP DATABASE pingyi_tpl_…` by hand when they pile up.

use diesel::RunQueryDsl;

fn migrations_hash() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = walk(&root);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(
            file.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .as_bytes(),
        );
        hasher.update(std::fs::read(&file).unwrap());
    }
    pingyi::auth::hex(&hasher.finalize()[..6])
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

pub fn test_settings(url: DatabaseUrl) -> Settings {
    Settings {
        database_url: url,
        bind: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some(JWT_SECRET.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        log: "warn".into(),
        log_format: LogFormat::Human,
        cors_origins: vec!["https://frontend.example".into()],
        code_secret: None,
        public_url: None,
        body_limit: 64 * 1024,
        import_limit: pingyi::http::ImportLimit::DEFAULT,
        db_pool_size: 8,
        workers: Some(2),
        trusted_proxies: vec![],
        metrics_bind: None,
        metrics_token: None,
        import_max_rows: 50_000,
        sqlite_synchronous: Default::default(),
        commit_batch: 64,
        commit_queue: 1024,
        sqlite_cache_mib: 64,
        postgres_writers: pingyi::db::DEFAULT_POSTGRES_WRITERS,
        webhook_allowed_hosts: vec!["127.0.0.1".parse().unwrap()],
        webhook_timeout_ms: 2_000,
        webhook_retry_ms: 50,
        // Quick enough for the webhook tests' waits, light beside the other tests.
        webhook_poll_ms: 200,
    }
}

/// The real server on a free port, over its own fresh database.
pub struct TestApp {
    pub base: String,
    pub backend: Backend,
    pub pool: Pool,
    pub settings: Settings,
    client: awc::Client,
    handle: actix_web::dev::ServerHandle,
    _db: TestDb,
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub text: String,
    /// The body as sent (files).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        assert!(
            self.content_type().starts_with("application/problem+json"),
            "content type {:?}, body {}",
            self.content_type(),
            self.text
        );
        let body = self.json();
        assert_eq!(body["code"], code, "body: {}", self.text);
        assert_eq!(body["status"], status);
        body
    }

    #[track_caller]
    pub fn assert_status(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        if self.text.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }
}

/// Asserts a 422 `validation_failed` answer with an error on `field` (among others).
#[track_caller]
pub fn assert_field_error(reply: &Reply, field: &str) {
    let body = reply.assert_problem(422, "validation_failed");
    let fields = error_fields(&body);
    assert!(
        fields.contains(&field),
        "expected an error on {field}: {body}"
    );
}

/// Asserts a 422 `validation_failed` answer whose only error is on `field`.
#[track_caller]
pub fn assert_only_field_error(reply: &Reply, field: &str) {
    let body = reply.assert_problem(422, "validation_failed");
    assert_eq!(error_fields(&body), vec![field], "{body}");
}

/// The fields named by a validation problem's errors.
fn error_fields(body: &Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default()
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        logs::capture();
        let (db, url) = tokio_block(move || TestDb::create(backend)).await;
        let mut settings = test_settings(url);
        adjust(&mut settings);
        let pool = {
            let (url, options) = (settings.database_url.clone(), settings.pool_options());
            tokio_block(move || pingyi::db::connect(&url, &options).expect("connect and migrate"))
                .await
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = {
            let (pool, settings) = (pool.clone(), settings.clone());
            tokio_block(move || pingyi::Shared::bootstrap(pool, settings).expect("bootstrap")).await
        };
        let server = pingyi::serve(listener, shared).expect("server starts");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            base: format!("http://127.0.0.1:{port}"),
            backend,
            pool,
            settings,
            client: awc::Client::builder()
                .timeout(std::time::Duration::from_secs(60))
                .finish(),
            handle,
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        self.request_with(method, path, token, body, &[]).await
    }

    /// [`Self::request`] with extra headers.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method_name = method.clone();
        let mut req = self.client.request(method, self.url(path));
        for &(name, value) in headers {
            req = req.insert_header((name, value));
        }
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut res = match body {
            Some((content_type, bytes)) => req
                .insert_header(("Content-Type", content_type))
                .send_body(bytes)
                .await
                .expect("request sent"),
            None => req.send().await.expect("request sent"),
        };
        let bytes = res.body().limit(64 * 1024 * 1024).await.expect("body read");
        let reply = Reply {
            status: res.status(),
            headers: res.headers().clone(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        };
        contract::check(method_name.as_str(), path, &reply);
        reply
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(Method::GET, path, token, None).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.request(Method::DELETE, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send_json(Method::POST, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.send_json(Method::PATCH, path, token, body).await
    }

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Reply {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.request(method, path, token, Some(("application/json", bytes)))
            .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
    ) -> Reply {
        self.request(
            Method::POST,
            path,
            token,
            Some((content_type, body.to_vec())),
        )
        .await
    }

    /// Counts the rows of a table, straight from the database.
    pub async fn count(&self, table: &'static str) -> i64 {
        let pool = self.pool.clone();
        tokio_block(move || {
            #[derive(diesel::QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let mut conn = pool.get().unwrap();
            let row: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result(&mut *conn)
                .unwrap();
            row.n
        })
        .await
    }

    /// Every ballot's id with its stored ratings, by id, straight from the database.
    pub async fn stored_ballots(&self) -> Vec<(String, Vec<pingyi::ballots::rules::StoredRating>)> {
        let pool = self.pool.clone();
        tokio_block(move || {
            #[derive(diesel::QueryableByName)]
            struct Stored {
                #[diesel(sql_type = diesel::sql_types::Text)]
                id: String,
                #[diesel(sql_type = diesel::sql_types::Text)]
                ratings: String,
            }
            let mut conn = pool.get().unwrap();
            let rows: Vec<Stored> =
                diesel::sql_query("SELECT id, ratings FROM ballots ORDER BY id")
                    .load(&mut *conn)
                    .unwrap();
            rows.into_iter()
                .map(|row| {
                    let ratings = pingyi::ballots::rules::unpack_ratings(&row.ratings).unwrap();
                    (row.id, ratings)
                })
                .collect()
        })
        .await
    }

    /// Counts the ratings stored in the ballots' rows.
    pub async fn stored_ratings(&self) -> i64 {
        let ballots = self.stored_ballots().await;
        ballots
            .iter()
            .map(|(_, ratings)| ratings.len() as i64)
            .sum()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the database is dropped after (TestDb's own Drop).
        drop(self.handle.stop(false));
    }
}

/// Runs blocking work (database setup) off the test's async thread.
pub async fn tokio_block<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    actix_web::rt::task::spawn_blocking(f)
        .await
        .expect("blocking task")
}

impl TestApp {
    /// A request with arbitrary headers and no body.
    pub async fn client_request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method_name = method.clone();
        let mut req = self.client.request(method, self.url(path));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let mut res = req.send().await.expect("request sent");
        let bytes = res.body().await.expect("body read");
        let reply = Reply {
            status: res.status(),
            headers: res.headers().clone(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        };
        contract::check(method_name.as_str(), path, &reply);
        reply
    }
}
pub mod contract;
pub mod fixtures;
pub mod logs;
