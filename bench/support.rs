//! What the load drivers share: a fresh database, the real server in this process, JSON
//! calls, pgbench, latency percentiles.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pingyi::config::{LogFormat, Settings};
use pingyi::db::{DatabaseUrl, DbConn, Pool, PoolOptions, Synchronous, WriteTuning};
use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "bench-admin-password";

/// The databases a load driver measures (`#[command(flatten)]` into its arguments).
#[derive(clap::Args, Debug)]
pub struct Databases {
    /// Which backends to measure.
    #[arg(long, value_enum, default_value = "both")]
    pub backend: Which,
    /// A PostgreSQL server where the user may create databases.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres: String,
}

#[derive(Clone, Copy, Debug, PartialEq, clap::ValueEnum)]
pub enum Which {
    Sqlite,
    Postgres,
    Both,
}

impl Databases {
    /// The backends asked for, SQLite first.
    pub fn chosen(&self) -> impl Iterator<Item = Which> + '_ {
        [Which::Sqlite, Which::Postgres]
            .into_iter()
            .filter(|&b| self.backend == Which::Both || self.backend == b)
    }
}

/// A database of its own: a temporary SQLite file, or a new PostgreSQL database on the
/// server at `postgres` that is dropped with the guard.
pub fn fresh_database(postgres: &str, sqlite: bool) -> (DatabaseUrl, Box<dyn std::any::Any>) {
    if sqlite {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("bench.db"));
        return (url, Box::new(dir));
    }
    struct DropDb(String, String);
    impl Drop for DropDb {
        fn drop(&mut self) {
            // BENCH_KEEP=1 keeps the database to look into afterwards (EXPLAIN, psql).
            if std::env::var_os("BENCH_KEEP").is_some() {
                eprintln!("kept database {}", self.1);
                return;
            }
            if let Ok(mut c) = PgConnection::establish(&self.0) {
                let _ =
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.1));
            }
        }
    }
    let name = format!(
        "pingyi_bench_{}",
        pingyi::auth::random_token(4).to_lowercase()
    );
    let mut admin = PgConnection::establish(postgres).expect("connect to --postgres");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = format!("{}/{name}", postgres.rsplit_once('/').unwrap().0);
    (
        DatabaseUrl::Postgres(url),
        Box::new(DropDb(postgres.to_owned(), name)),
    )
}

/// Starts the server on its own threads (as `pingyi serve` runs it) on 127.0.0.1: its base
/// URL and a pool of the same database for the driver's own reads.
pub fn start_server(url: &DatabaseUrl, pool_size: u32) -> (String, Pool) {
    let settings = Settings {
        database_url: url.clone(),
        bind: "127.0.0.1:0".parse().unwrap(),
        jwt_secret: Some("Qm7xV2kP9rW4tZ8nC3bH6jF1sL5dG0aY-bench".into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        log: "warn".into(),
        log_format: LogFormat::Human,
        cors_origins: vec![],
        code_secret: None,
        public_url: None,
        body_limit: 1024 * 1024,
        import_limit: pingyi::http::ImportLimit::DEFAULT,
        db_pool_size: pool_size,
        workers: None,
        trusted_proxies: vec![],
        metrics_bind: None,
        metrics_token: None,
        import_max_rows: env_number(
            "PINGYI_IMPORT_MAX_ROWS",
            Settings::default_import_max_rows(),
        ),
        // The SQLite settings may be varied from the environment to measure what each trades.
        sqlite_synchronous: match std::env::var("PINGYI_SQLITE_SYNCHRONOUS").as_deref() {
            Ok("normal") => Synchronous::Normal,
            _ => Synchronous::Full,
        },
        commit_batch: env_number("PINGYI_COMMIT_BATCH", WriteTuning::default().batch_size),
        commit_queue: env_number("PINGYI_COMMIT_QUEUE", WriteTuning::default().queue_capacity),
        sqlite_cache_mib: env_number("PINGYI_SQLITE_CACHE_MIB", WriteTuning::default().cache_mib),
        postgres_writers: env_number("PINGYI_PG_WRITERS", pingyi::db::DEFAULT_POSTGRES_WRITERS),
        webhook_allowed_hosts: vec![],
        webhook_timeout_ms: 10_000,
        webhook_retry_ms: 5_000,
        webhook_poll_ms: 1_000,
    };
    let pool = pingyi::db::connect(
        url,
        &PoolOptions {
            max_size: pool_size,
            connection_timeout: Duration::from_secs(30),
            ..settings.pool_options()
        },
    )
    .expect("connect and migrate");
    let shared = pingyi::Shared::bootstrap(pool.clone(), settings).expect("bootstrap");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        actix_web::rt::System::new()
            .block_on(async move { pingyi::serve(listener, shared).unwrap().await })
    });
    (base, pool)
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Lets the database catch up before a measured phase: SQLite's log is copied back into the
/// database file and emptied, PostgreSQL writes a checkpoint. A scenario's set-up (thousands
/// of sessions and codes written a second before, as no meeting day's are) is then not what
/// its ballots pay for, nor its baseline.
pub fn settle(pool: &Pool) {
    let mut conn = pool.get().expect("a connection");
    let sql = match &*conn {
        DbConn::Sqlite(_) => "PRAGMA wal_checkpoint(TRUNCATE)",
        DbConn::Pg(_) => "CHECKPOINT",
    };
    conn.batch_execute(sql).expect("settled");
}

pub fn client() -> awc::Client {
    awc::Client::builder()
        .timeout(Duration::from_secs(120))
        .finish()
}

/// A JSON call that must succeed; its answer (null when empty).
pub async fn call(
    client: &awc::Client,
    method: &str,
    url: String,
    token: Option<&str>,
    body: Value,
) -> Value {
    let mut req = match method {
        "GET" => client.get(url),
        "PATCH" => client.patch(url),
        _ => client.post(url),
    };
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    let mut res = if method == "GET" {
        req.send().await.unwrap()
    } else {
        req.send_json(&body).await.unwrap()
    };
    let bytes = res.body().limit(64 * 1024 * 1024).await.unwrap();
    assert!(
        res.status().is_success(),
        "{}: {}",
        res.status(),
        String::from_utf8_lossy(&bytes)
    );
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// POSTs a CSV file to `path` (under `/api/v1/imports/`), preferring a job when
/// `prefer_async`: the status and the answer (null when it is not JSON).
pub async fn post_csv(
    client: &awc::Client,
    base: &str,
    token: &str,
    path: &str,
    csv: String,
    prefer_async: bool,
) -> (u16, Value) {
    let mut req = client
        .post(format!("{base}/api/v1/imports/{path}"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .insert_header(("Content-Type", "text/csv"));
    if prefer_async {
        req = req.insert_header(("Prefer", "respond-async"));
    }
    let mut res = req.send_body(csv).await.unwrap();
    let body = res.body().limit(64 * 1024 * 1024).await.unwrap();
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (res.status().as_u16(), value)
}

/// The administrator's access token.
pub async fn admin_token(client: &awc::Client, base: &str) -> String {
    let login = call(
        client,
        "POST",
        format!("{base}/api/v1/auth/login"),
        None,
        serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    login["access_token"].as_str().unwrap().to_owned()
}

/// What pgbench measured at one concurrency level: its rate and its own transactions'
/// latencies, from its per-transaction log (the database's own tail under the same load).
pub struct Pgbench {
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Runs `script` with pgbench (prepared statements, `clients` clients, `transactions` in
/// all) against PostgreSQL.
pub fn pgbench(url: &DatabaseUrl, script: &str, clients: usize, transactions: usize) -> Pgbench {
    let DatabaseUrl::Postgres(url) = url else {
        panic!("pgbench runs against PostgreSQL")
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("script.sql");
    std::fs::write(&path, script).unwrap();
    let log_prefix = dir.path().join("tx");
    let output = Command::new("pgbench")
        .args([
            "-n",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
        ])
        .args(["-t", &transactions.div_ceil(clients).to_string(), "-f"])
        .arg(&path)
        .arg("--log")
        .arg(format!("--log-prefix={}", log_prefix.display()))
        .arg(url)
        .output()
        .expect("pgbench runs (Debian package postgresql-client)");
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or_else(|| {
            panic!(
                "pgbench failed: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    // One log per pgbench thread; each line: client, transaction, latency in µs, ….
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let entry = entry.unwrap();
        if !entry.file_name().to_string_lossy().starts_with("tx") {
            continue;
        }
        let log = std::fs::read_to_string(entry.path()).unwrap();
        latencies.extend(log.lines().filter_map(|line| {
            let micros = line.split_whitespace().nth(2)?.parse::<u64>().ok()?;
            Some(Duration::from_micros(micros))
        }));
    }
    let (p50_ms, p99_ms) = percentiles(&mut latencies);
    eprintln!("pgbench c={clients}: {tps:.0} tx/s, p50 {p50_ms:.1} ms, p99 {p99_ms:.1} ms");
    Pgbench {
        per_second: tps,
        p50_ms,
        p99_ms,
    }
}

/// The API against pgbench at each level: rates, both sides' latencies, the ratio.
pub fn pgbench_table(what: &str, levels: &[Level], baseline: &[Pgbench]) -> String {
    let mut out = format!(
        "| clients | API {what}/s | p50 ms | p99 ms | pgbench tx/s | pgbench p50 / p99 ms | API / pgbench |\n|---|---|---|---|---|---|---|\n"
    );
    for (level, base) in levels.iter().zip(baseline) {
        out.push_str(&format!(
            "| {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.1} / {:.1} | {:.0}% |\n",
            level.concurrency,
            level.per_second,
            level.p50_ms,
            level.p99_ms,
            base.per_second,
            base.p50_ms,
            base.p99_ms,
            100.0 * level.per_second / base.per_second
        ));
    }
    out
}

/// The 50th and 99th percentiles of latencies, in milliseconds.
pub fn percentiles(latencies: &mut [Duration]) -> (f64, f64) {
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)].as_secs_f64()
            * 1000.0
    };
    (pct(0.50), pct(0.99))
}

#[derive(QueryableByName)]
pub struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub id: i64,
}

/// One concurrency level of a load run.
pub struct Level {
    pub concurrency: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// POSTs one JSON body that must be answered 201; how long the answer took.
async fn post_created(client: &awc::Client, url: &str, body: String) -> Duration {
    let started = Instant::now();
    let mut res = client
        .post(url)
        .insert_header(("Content-Type", "application/json"))
        .send_body(body)
        .await
        .expect("request sent");
    let answer = res.body().await.unwrap();
    assert_eq!(
        res.status().as_u16(),
        201,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    started.elapsed()
}

/// `concurrency` clients POST the bodies (serialized beforehand: the client's own work is
/// not what is measured) to `url` as fast as answers come back, each answered 201.
pub async fn load(url: &str, concurrency: usize, bodies: Vec<String>, what: &str) -> Level {
    load_while(
        url,
        concurrency,
        bodies,
        what,
        Arc::new(AtomicBool::new(true)),
    )
    .await
}

/// [`load`], stopping early once `going` turns false (the bodies left are not sent).
pub async fn load_while(
    url: &str,
    concurrency: usize,
    bodies: Vec<String>,
    what: &str,
    going: Arc<AtomicBool>,
) -> Level {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    // Every client connects before the clock starts, as pgbench's clients do: the figures
    // are the ballots' and not 64 TCP handshakes at once.
    let connected = Arc::new(tokio::sync::Barrier::new(concurrency + 1));
    let health = format!("{}/healthz", url.split("/api/").next().unwrap_or(url));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (bodies, next, url) = (bodies.clone(), next.clone(), url.to_owned());
            let (going, connected, health) = (going.clone(), connected.clone(), health.clone());
            actix_web::rt::spawn(async move {
                let client = client();
                let mut res = client.get(&health).send().await.expect("connected");
                res.body().await.expect("health answered");
                connected.wait().await;
                let mut latencies = Vec::new();
                while going.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    latencies.push(post_created(&client, &url, body.clone()).await);
                }
                latencies
            })
        })
        .collect();
    connected.wait().await;
    let started = Instant::now();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    let (p50_ms, p99_ms) = percentiles(&mut latencies);
    let level = Level {
        concurrency,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms,
        p99_ms,
    };
    eprintln!(
        "API c={concurrency}: {:.0} {what}/s, p50 {p50_ms:.1} ms, p99 {p99_ms:.1} ms",
        level.per_second
    );
    level
}

/// The city's files: orgs (external ids `C0`, `G…`, `B…`) and people (`P…`).
pub struct City {
    pub orgs_csv: String,
    pub people_csv: String,
    pub branches: usize,
}

pub fn city(orgs: usize, people: usize) -> City {
    city_named("", orgs, people)
}

/// [`city`] with every external id starting with `prefix` (a second city beside the first).
pub fn city_named(prefix: &str, orgs: usize, people: usize) -> City {
    let generals = orgs.div_ceil(100).max(1);
    let branches = orgs.saturating_sub(1 + generals).max(1);
    let mut orgs_csv =
        String::from("external_id,parent_external_id,name,kind,domain,window_unit\n");
    orgs_csv.push_str(&format!(
        "{prefix}C0,,市委{prefix},committee,institution,false\n"
    ));
    for g in 0..generals {
        orgs_csv.push_str(&format!(
            "{prefix}G{g},{prefix}C0,第{g}党总支,general_branch,institution,false\n"
        ));
    }
    for b in 0..branches {
        let g = b % generals;
        orgs_csv.push_str(&format!(
            "{prefix}B{b},{prefix}G{g},第{b}党支部,branch,institution,false\n"
        ));
    }
    let mut people_csv =
        String::from("external_id,org_external_id,name,member_type,position,joined_on,phone\n");
    for p in 0..people {
        let b = p % branches;
        // The first person of each branch is its secretary.
        let position = if p < branches { "secretary" } else { "member" };
        people_csv.push_str(&format!(
            "{prefix}P{p},{prefix}B{b},党员{p},full,{position},2001-07-01,138{:08}\n",
            p % 100_000_000
        ));
    }
    City {
        orgs_csv,
        people_csv,
        branches,
    }
}

/// Imports people as a job, polling it (and printing its progress) until it is done: the
/// time from sending the file to seeing the job done, and the job's report.
pub async fn import_job(base: &str, token: &str, csv: &str) -> (Duration, Value) {
    // A fresh client: connections kept alive from before may have idled out on the server.
    let client = &client();
    let started = Instant::now();
    let (status, job) = post_csv(client, base, token, "people", csv.to_owned(), true).await;
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_i64().unwrap();
    let mut last_state = String::new();
    loop {
        let job = call(
            client,
            "GET",
            format!("{base}/api/v1/jobs/{id}"),
            Some(token),
            Value::Null,
        )
        .await;
        let state = job["state"].as_str().unwrap_or_default().to_owned();
        if state != last_state {
            eprintln!(
                "  {:>6.2} s {state} ({} of {} rows)",
                started.elapsed().as_secs_f64(),
                job["rows_done"],
                job["rows_total"]
            );
            last_state = state.clone();
        }
        match state.as_str() {
            "done" => return (started.elapsed(), job["result"].clone()),
            "failed" => panic!("the import failed: {job}"),
            _ => actix_web::rt::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
