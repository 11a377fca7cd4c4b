//! Ballot submission under load, reported as ratios against a baseline measured in the
//! same run: pgbench running the same SQL transaction against the same PostgreSQL, and
//! for SQLite the same statements run directly (no HTTP) in a single-writer loop.
//!
//!     cargo run --release --example ballot_load -- --help
//!
//! The server runs in this process on its own threads (as `pingyi serve` would), on a
//! fresh database; the load comes from concurrent HTTP clients on 127.0.0.1.

#[path = "support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::{Parser, ValueEnum};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pingyi::db::schema::{ballots, ratings, sessions, voting_codes};
use pingyi::db::DatabaseUrl;
use serde_json::{json, Value};
use support::{call, Id};

#[derive(Parser, Debug)]
#[command(about = "Ballot submission load driver: API throughput against a same-run baseline")]
struct Args {
    /// Which backends to measure.
    #[arg(long, value_enum, default_value = "both")]
    backend: Which,
    /// Ballots submitted at each concurrency level.
    #[arg(long, default_value_t = 3000)]
    ballots: usize,
    /// Concurrency levels (parallel clients).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// A PostgreSQL server where the user may create databases.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Which {
    Sqlite,
    Postgres,
    Both,
}

/// The ballot: the branch, its secretary and 8 members; 4, 3 and 3 criteria.
const MEMBERS: usize = 8;

struct Level {
    concurrency: usize,
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn main() {
    let args = Args::parse();
    let mut report = String::new();
    for backend in [Which::Sqlite, Which::Postgres] {
        if args.backend != Which::Both && args.backend != backend {
            continue;
        }
        report.push_str(&run_backend(&args, backend));
    }
    println!("\n{report}");
}

fn run_backend(args: &Args, backend: Which) -> String {
    let (url, _guard) = support::fresh_database(&args.postgres, backend == Which::Sqlite);
    let (base, pool) = support::start_server(&url, 32);

    let warm_up = 2 * args.concurrency.iter().max().copied().unwrap_or(1);
    let total: usize = args.concurrency.len() * args.ballots + warm_up + 1;
    let concurrency = args.concurrency.clone();
    let per_level = args.ballots;
    let base_for_client = base.clone();
    let (levels, session_id, subjects) = actix_web::rt::System::new().block_on(async move {
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let (session_id, codes, form) = set_up(&client, &base_for_client, total).await;
        let ratings = ballot_ratings(&form);
        // Warm up at the highest concurrency: every pooled connection, every cache.
        let mut codes = codes.into_iter();
        let highest = concurrency.iter().max().copied().unwrap_or(1);
        eprint!("warm-up: ");
        load(
            &base_for_client,
            highest,
            codes.by_ref().take(warm_up).collect(),
            &ratings,
        )
        .await;
        let mut levels = Vec::new();
        for c in concurrency {
            let batch: Vec<String> = codes.by_ref().take(per_level).collect();
            levels.push(load(&base_for_client, c, batch, &ratings).await);
        }
        let subjects: Vec<(i64, i64)> = ratings
            .iter()
            .map(|r| {
                (
                    r["subject_id"].as_i64().unwrap(),
                    r["criterion_id"].as_i64().unwrap(),
                )
            })
            .collect();
        (levels, session_id, subjects)
    });

    let name = if backend == Which::Sqlite {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    let mut out = format!("### {name}\n\n");
    let stored: i64 = ballots::table
        .count()
        .get_result(&mut pool.get().unwrap())
        .unwrap();
    out.push_str(&format!(
        "ballots stored: {stored}; ratings per ballot: {}\n\n",
        subjects.len()
    ));
    match backend {
        Which::Postgres => {
            let baseline = pgbench(
                &url,
                &pool,
                session_id,
                &subjects,
                &args.concurrency,
                args.ballots,
            );
            out.push_str("| clients | API ballots/s | p50 ms | p99 ms | pgbench tx/s | API / pgbench |\n|---|---|---|---|---|---|\n");
            for (level, base) in levels.iter().zip(baseline) {
                out.push_str(&format!(
                    "| {} | {:.0} | {:.1} | {:.1} | {:.0} | {:.0}% |\n",
                    level.concurrency,
                    level.per_second,
                    level.p50_ms,
                    level.p99_ms,
                    base,
                    100.0 * level.per_second / base
                ));
            }
        }
        _ => {
            let direct = sqlite_direct(&pool, session_id, &subjects, args.ballots);
            out.push_str(&format!(
                "direct single-writer loop (same statements, no HTTP): {direct:.0} ballots/s\n\n"
            ));
            out.push_str("| clients | API ballots/s | p50 ms | p99 ms | API / direct |\n|---|---|---|---|---|\n");
            for level in &levels {
                out.push_str(&format!(
                    "| {} | {:.0} | {:.1} | {:.1} | {:.0}% |\n",
                    level.concurrency,
                    level.per_second,
                    level.p50_ms,
                    level.p99_ms,
                    100.0 * level.per_second / direct
                ));
            }
        }
    }
    out.push('\n');
    out
}

/// Through the API, as a client would: a branch with a secretary and members, an active
/// campaign, a session with `codes` codes, open. Answers the session, its codes and a form.
async fn set_up(client: &awc::Client, base: &str, codes: usize) -> (i64, Vec<String>, Value) {
    let token = support::admin_token(client, base).await;
    let t = Some(token.as_str());
    let org = call(
        client,
        "POST",
        format!("{base}/api/v1/orgs"),
        t,
        json!({"name": "基准测试党支部", "kind": "branch", "domain": "institution"}),
    )
    .await;
    let org_id = org["id"].as_i64().unwrap();
    let mut people = Vec::new();
    for i in 0..=MEMBERS {
        let p = call(
            client,
            "POST",
            format!("{base}/api/v1/people"),
            t,
            json!({"org_id": org_id, "name": format!("党员{i}"), "member_type": "full"}),
        )
        .await;
        people.push(p["id"].as_i64().unwrap());
    }
    call(
        client,
        "PATCH",
        format!("{base}/api/v1/orgs/{org_id}"),
        t,
        json!({"secretary_id": people[0]}),
    )
    .await;
    let today = Utc::now().date_naive();
    let campaign = call(client, "POST", format!("{base}/api/v1/campaigns"), t, json!({"owner_org_id": org_id, "title": "基准", "starts_on": today - chrono::Duration::days(1), "ends_on": today + chrono::Duration::days(1), "template_id": 1})).await;
    let campaign_id = campaign["id"].as_i64().unwrap();
    call(
        client,
        "POST",
        format!("{base}/api/v1/campaigns/{campaign_id}/activate"),
        t,
        json!({}),
    )
    .await;
    let session = call(
        client,
        "POST",
        format!("{base}/api/v1/campaigns/{campaign_id}/sessions"),
        t,
        json!({"org_id": org_id, "kind": "branch_meeting", "scheduled_at": Utc::now()}),
    )
    .await;
    let session_id = session["id"].as_i64().unwrap();
    let mut all = Vec::with_capacity(codes);
    while all.len() < codes {
        let count = (codes - all.len()).min(1000);
        let issued = call(
            client,
            "POST",
            format!("{base}/api/v1/sessions/{session_id}/voting-codes"),
            t,
            json!({"category": "party_member", "count": count}),
        )
        .await;
        all.extend(
            issued["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_str().unwrap().to_owned()),
        );
    }
    call(
        client,
        "POST",
        format!("{base}/api/v1/sessions/{session_id}/open"),
        t,
        json!({}),
    )
    .await;
    let form = call(
        client,
        "POST",
        format!("{base}/api/v1/ballot-forms"),
        None,
        json!({"code": all[0]}),
    )
    .await;
    (session_id, all, form)
}

/// Every subject on every criterion of its type: 4 + 3 + 8 × 3 = 31 ratings.
fn ballot_ratings(form: &Value) -> Vec<Value> {
    let levels = ["satisfied", "basically_satisfied", "dissatisfied"];
    let mut out = Vec::new();
    for (i, s) in form["subjects"].as_array().unwrap().iter().enumerate() {
        for (j, c) in form["criteria"][s["subject_type"].as_str().unwrap()]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            out.push(json!({"subject_id": s["id"], "criterion_id": c["id"], "level": levels[(i + j) % 3]}));
        }
    }
    out
}

/// The ratings as JSON, serialized once: the client's own work is not what is measured.
fn ratings_json(ratings: &[Value]) -> String {
    serde_json::to_string(ratings).unwrap()
}

async fn submit(client: &awc::Client, base: &str, code: &str, ratings_json: &str) -> Duration {
    let body = format!("{{\"code\":\"{code}\",\"ratings\":{ratings_json}}}");
    let started = Instant::now();
    let mut res = client
        .post(format!("{base}/api/v1/ballots"))
        .insert_header(("Content-Type", "application/json"))
        .send_body(body)
        .await
        .expect("ballot sent");
    let body = res.body().await.unwrap();
    assert_eq!(
        res.status().as_u16(),
        201,
        "{}",
        String::from_utf8_lossy(&body)
    );
    started.elapsed()
}

/// `concurrency` clients submit the ballots as fast as answers come back.
async fn load(base: &str, concurrency: usize, codes: Vec<String>, ratings: &[Value]) -> Level {
    let codes = Arc::new(codes);
    let next = Arc::new(AtomicUsize::new(0));
    let ratings = Arc::new(ratings_json(ratings));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (codes, next, ratings, base) = (
                codes.clone(),
                next.clone(),
                ratings.clone(),
                base.to_owned(),
            );
            actix_web::rt::spawn(async move {
                let client = awc::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .finish();
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(code) = codes.get(i) else { break };
                    latencies.push(submit(&client, &base, code, &ratings).await);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.unwrap());
    }
    let elapsed = started.elapsed();
    let (p50_ms, p99_ms) = support::percentiles(&mut latencies);
    let level = Level {
        concurrency,
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms,
        p99_ms,
    };
    eprintln!(
        "API c={concurrency}: {:.0} ballots/s, p50 {:.1} ms, p99 {:.1} ms",
        level.per_second, level.p50_ms, level.p99_ms
    );
    level
}

/// pgbench running the API's own transaction: consume a code with the conditional update,
/// insert the ballot, insert its ratings in one statement (from arrays, as the API does).
fn pgbench(
    url: &DatabaseUrl,
    pool: &pingyi::db::Pool,
    session_id: i64,
    subjects: &[(i64, i64)],
    levels: &[usize],
    per_level: usize,
) -> Vec<f64> {
    // pgbench keeps no counter between transactions, so each picks a random code; with
    // 20 times more codes than transactions, at least 95% of them find theirs unused (the
    // others skip the row update, which only makes the baseline faster).
    let total = 20
        * (levels
            .iter()
            .map(|c| per_level.div_ceil(*c) * c)
            .sum::<usize>()
            + 100);
    let mut conn = pool.get().unwrap();
    let batch: i64 = diesel::sql_query(format!(
        "INSERT INTO voting_code_batches (session_id, category, count, created_at) VALUES ({session_id}, 'party_member', {total}, now()) RETURNING id"
    ))
    .get_result::<Id>(&mut *conn)
    .unwrap()
    .id;
    conn.batch_execute(&format!(
        "INSERT INTO voting_codes (code_hash, session_id, batch_id, category, state)
         SELECT 'bench-' || n, {session_id}, {batch}, 'party_member', 'unused' FROM generate_series(1, {total}) n;
         ANALYZE voting_codes;"
    ))
    .unwrap();
    let column = |f: &dyn Fn(usize, &(i64, i64)) -> String| {
        subjects
            .iter()
            .enumerate()
            .map(|(i, sc)| f(i, sc))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let subject_ids = column(&|_, (s, _)| s.to_string());
    let criterion_ids = column(&|_, (_, c)| c.to_string());
    let level_keys = column(&|i, _| {
        format!(
            "'{}'",
            ["satisfied", "basically_satisfied", "dissatisfied"][i % 3]
        )
    });
    let script = format!(
        "\\set b random(1, 9000000000000000000)\n\
         \\set n random(1, {total})\n\
         BEGIN;\n\
         UPDATE voting_codes SET state = 'used' WHERE code_hash = 'bench-' || :n AND state = 'unused' AND session_id IN (SELECT id FROM sessions WHERE status = 'open' FOR KEY SHARE) RETURNING session_id, category;\n\
         INSERT INTO ballots (id, session_id, category, paper, cast_on) VALUES ('b' || :b, {session_id}, 'party_member', false, CURRENT_DATE);\n\
         INSERT INTO ratings (ballot_id, subject_id, criterion_id, level) SELECT 'b' || :b, unnest(ARRAY[{subject_ids}]::bigint[]), unnest(ARRAY[{criterion_ids}]::bigint[]), unnest(ARRAY[{level_keys}]::text[]);\n\
         COMMIT;\n"
    );
    let rates: Vec<f64> = levels
        .iter()
        .map(|&c| support::pgbench(url, &script, c, per_level))
        .collect();
    let consumed: i64 = voting_codes::table
        .filter(voting_codes::code_hash.like("bench-%"))
        .filter(voting_codes::state.eq("used"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    let transactions: usize = levels.iter().map(|c| per_level.div_ceil(*c) * c).sum();
    eprintln!("pgbench consumed a code in {consumed} of {transactions} transactions");
    rates
}

/// The API's statements on SQLite, in one writer's loop with no HTTP in between.
fn sqlite_direct(
    pool: &pingyi::db::Pool,
    session_id: i64,
    subjects: &[(i64, i64)],
    n: usize,
) -> f64 {
    let mut conn = pool.get().unwrap();
    let batch: i64 = diesel::sql_query(format!(
        "INSERT INTO voting_code_batches (session_id, category, count, created_at) VALUES ({session_id}, 'party_member', {n}, '2026-01-01 00:00:00') RETURNING id"
    ))
    .get_result::<Id>(&mut *conn)
    .unwrap()
    .id;
    conn.batch_execute(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         INSERT INTO voting_codes (code_hash, session_id, batch_id, category, state)
         SELECT 'bench-' || i, {session_id}, {batch}, 'party_member', 'unused' FROM n;"
    ))
    .unwrap();
    let started = Instant::now();
    for i in 1..=n {
        pingyi::db::write_transaction(&mut conn, |conn| -> QueryResult<()> {
            let (sid, category): (i64, String) = diesel::update(voting_codes::table)
                .filter(voting_codes::code_hash.eq(format!("bench-{i}")))
                .filter(voting_codes::state.eq("unused"))
                .filter(
                    voting_codes::session_id.eq_any(
                        sessions::table
                            .filter(sessions::status.eq("open"))
                            .select(sessions::id),
                    ),
                )
                .set(voting_codes::state.eq("used"))
                .returning((voting_codes::session_id, voting_codes::category))
                .get_result(conn)?;
            let id = pingyi::auth::random_token(16);
            diesel::insert_into(ballots::table)
                .values((
                    ballots::id.eq(&id),
                    ballots::session_id.eq(sid),
                    ballots::category.eq(&category),
                    ballots::paper.eq(false),
                    ballots::cast_on.eq(Utc::now().date_naive()),
                ))
                .execute(conn)?;
            let rows: Vec<_> = subjects
                .iter()
                .map(|(s, c)| {
                    (
                        ratings::ballot_id.eq(id.as_str()),
                        ratings::subject_id.eq(*s),
                        ratings::criterion_id.eq(*c),
                        ratings::level.eq("satisfied"),
                    )
                })
                .collect();
            pingyi::insert_batch!(conn, ratings::table, &rows)?;
            Ok(())
        })
        .unwrap();
    }
    let per_second = n as f64 / started.elapsed().as_secs_f64();
    eprintln!("SQLite direct: {per_second:.0} ballots/s");
    per_second
}
