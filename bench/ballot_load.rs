//! Ballot submission under load, reported as ratios against baselines measured in the
//! same run on the same database:
//!
//! - PostgreSQL: pgbench running the API's own SQL transaction;
//! - SQLite: the API's own statements (the same query functions) run directly, no HTTP, by
//!   one writer: one ballot per transaction, and — as the server's group commit does —
//!   `--batch` ballots per transaction, each under its own savepoint.
//!
//! Two scenarios: **one session** (a branch meeting voting after "please vote now"), and a
//! **meeting day** (`--sessions` sessions open at once, ballots spread over all of them).
//! With `--during-import N`, ballots are also cast while an N-person roster is imported as
//! a job, beside the same import alone (what a roster upload on a meeting afternoon costs).
//!
//!     cargo run --release --example ballot_load -- --help
//!
//! The server runs in this process on its own threads (as `pingyi serve` would), on a
//! fresh database; the load comes from concurrent HTTP clients on 127.0.0.1.

#[path = "support.rs"]
mod support;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use clap::{Parser, ValueEnum};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pingyi::ballots::model::Rating;
use pingyi::ballots::queries::{consume_codes, write_ballot, write_ballots, NewBallot};
use pingyi::ballots::rules::pack_ratings;
use pingyi::db::schema::{ballots, sessions, voting_codes};
use pingyi::db::{DatabaseUrl, DbConn, Pool};
use pingyi::error::ApiError;
use serde_json::{json, Value};
use support::{call, Level, Which};

#[derive(Parser, Debug)]
#[command(about = "Ballot submission load driver: API throughput against same-run baselines")]
struct Args {
    #[command(flatten)]
    databases: support::Databases,
    /// Which scenarios to run.
    #[arg(long, value_enum, default_value = "both")]
    scenario: Scenario,
    /// Ballots submitted at each concurrency level.
    #[arg(long, default_value_t = 3000)]
    ballots: usize,
    /// Concurrency levels (parallel clients).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Sessions open at once in the meeting-day scenario.
    #[arg(long, default_value_t = 2000)]
    sessions: usize,
    /// Ballots per transaction in SQLite's batched direct loop (the server's batch size).
    #[arg(long, default_value_t = pingyi::db::WriteTuning::default().batch_size)]
    batch: usize,
    /// People in a city roster imported as a job while clients cast ballots (0: not run).
    /// The same import alone, into the same database, is the baseline.
    #[arg(long, default_value_t = 0)]
    during_import: usize,
    /// Clients casting ballots during the import.
    #[arg(long, default_value_t = 16)]
    import_clients: usize,
    /// Codes set aside for the ballots cast during the import (casting stops when the
    /// import is done).
    #[arg(long, default_value_t = 60_000)]
    import_ballots: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Scenario {
    OneSession,
    MeetingDay,
    Both,
    /// Neither (to run only `--during-import`).
    None,
}

/// Members of each branch: with the branch itself, 4 + 9 × 3 = 31 ratings a ballot.
const MEMBERS: usize = 9;

/// Calls in flight while setting up.
const SET_UP_WIDTH: usize = 16;

/// What the clients cast: codes, each with the ratings of its session's form.
struct Workload {
    /// The open sessions, in id order; their ids are consecutive.
    sessions: Vec<i64>,
    /// Codes in casting order (spread over the sessions), with their ratings.
    codes: Vec<(String, Arc<String>)>,
    /// The first session's (subject, criterion) pairs, for the baselines' ratings.
    subjects: Vec<(i64, i64)>,
}

fn main() {
    let args = Args::parse();
    let mut report = String::new();
    for backend in args.databases.chosen() {
        report.push_str(&run_backend(&args, backend));
    }
    println!("\n{report}");
}

fn run_backend(args: &Args, backend: Which) -> String {
    let (url, _guard) = support::fresh_database(&args.databases.postgres, backend == Which::Sqlite);
    let (base, pool) = support::start_server(&url, 32);
    let name = match backend {
        Which::Sqlite => "SQLite",
        _ => "PostgreSQL",
    };
    let highest = args.concurrency.iter().max().copied().unwrap_or(1);
    let warm_up = 2 * highest;
    let needed = args.concurrency.len() * args.ballots + warm_up;
    actix_web::rt::System::new().block_on(async {
        let client = support::client();
        let token = support::admin_token(&client, &base).await;
        let mut out = String::new();
        let scenarios = [
            (Scenario::OneSession, "one session"),
            (Scenario::MeetingDay, "meeting day"),
        ];
        for (scenario, title) in scenarios {
            if args.scenario != Scenario::Both && args.scenario != scenario {
                continue;
            }
            // A fresh client: the last one's kept-alive connections sat idle through the
            // direct loops, and the server has closed them since.
            let client = support::client();
            let workload = match scenario {
                Scenario::OneSession => set_up(&client, &base, &token, 1, needed).await,
                _ => set_up(&client, &base, &token, args.sessions, needed).await,
            };
            eprintln!(
                "{name}, {title}: {} open sessions, {} codes",
                workload.sessions.len(),
                workload.codes.len()
            );
            let mut codes = workload.codes.iter().cloned();
            support::settle(&pool);
            eprint!("warm-up: ");
            load(&base, highest, codes.by_ref().take(warm_up).collect()).await;
            let mut levels = Vec::new();
            for &c in &args.concurrency {
                levels.push(load(&base, c, codes.by_ref().take(args.ballots).collect()).await);
            }
            out.push_str(&format!(
                "### {name}, {title} ({} open sessions)\n\n",
                workload.sessions.len()
            ));
            support::settle(&pool);
            out.push_str(&match backend {
                Which::Sqlite => sqlite_report(&pool, &workload, &levels, args),
                _ => postgres_report(&url, &pool, &workload, &levels, args),
            });
            out.push('\n');
        }
        if args.during_import > 0 {
            out.push_str(&during_import(&base, &token, name, args).await);
        }
        let stored: i64 = ballots::table
            .count()
            .get_result(&mut pool.get().unwrap())
            .unwrap();
        eprintln!("{name}: {stored} ballots stored");
        out
    })
}

/// Ballots cast while a city's roster is imported as a job, beside the same import alone:
/// what a roster upload on a meeting afternoon costs the voters, and the import.
async fn during_import(base: &str, token: &str, name: &str, args: &Args) -> String {
    let people = args.during_import;
    let orgs = (people / 50).max(3);
    let client = support::client();
    let workload = set_up(&client, base, token, 1, args.import_ballots).await;
    let alone = support::city_named("A", orgs, people);
    let under = support::city_named("U", orgs, people);
    for city in [&alone, &under] {
        import(&client, base, token, "orgs", city.orgs_csv.clone()).await;
    }
    eprintln!("{name}: {people} people imported alone");
    let (alone_took, _) = support::import_job(base, token, &alone.people_csv).await;
    eprintln!("{name}: {people} people imported while ballots are cast");
    let going = Arc::new(AtomicBool::new(true));
    let bodies = workload
        .codes
        .iter()
        .map(|(code, ratings)| format!("{{\"code\":\"{code}\",\"ratings\":{ratings}}}"))
        .collect();
    let url = format!("{base}/api/v1/ballots");
    let casting = {
        let going = going.clone();
        let clients = args.import_clients;
        actix_web::rt::spawn(async move {
            support::load_while(&url, clients, bodies, "ballots", going).await
        })
    };
    let (under_took, _) = support::import_job(base, token, &under.people_csv).await;
    going.store(false, Ordering::Relaxed);
    let level = casting.await.unwrap();
    let cast = level.per_second * under_took.as_secs_f64();
    assert!(
        cast < args.import_ballots as f64 * 0.99,
        "the ballots ran out before the import ended: raise --import-ballots"
    );
    format!(
        "### {name}, ballots while a {people}-person import job runs\n\n\
         | clients | ballots/s | p50 ms | p99 ms | import alone s | import under ballots s | under / alone |\n\
         |---|---|---|---|---|---|---|\n\
         | {} | {:.0} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2}× |\n\n",
        level.concurrency,
        level.per_second,
        level.p50_ms,
        level.p99_ms,
        alone_took.as_secs_f64(),
        under_took.as_secs_f64(),
        under_took.as_secs_f64() / alone_took.as_secs_f64()
    )
}

fn postgres_report(
    url: &DatabaseUrl,
    pool: &Pool,
    workload: &Workload,
    levels: &[Level],
    args: &Args,
) -> String {
    let baseline = pgbench(url, pool, workload, &args.concurrency, args.ballots);
    support::pgbench_table("ballots", levels, &baseline)
}

fn sqlite_report(pool: &Pool, workload: &Workload, levels: &[Level], args: &Args) -> String {
    let (single, batched) = sqlite_direct(pool, workload, args.ballots, args.batch);
    let mut out = format!(
        "direct loop, same statements, no HTTP: one ballot per transaction {single:.0} ballots/s; {} per transaction {batched:.0} ballots/s\n\n",
        args.batch
    );
    out.push_str("| clients | API ballots/s | p50 ms | p99 ms | API / per-ballot loop | API / batched loop |\n|---|---|---|---|---|---|\n");
    for level in levels {
        out.push_str(&format!(
            "| {} | {:.0} | {:.1} | {:.1} | {:.0}% | {:.0}% |\n",
            level.concurrency,
            level.per_second,
            level.p50_ms,
            level.p99_ms,
            100.0 * level.per_second / single,
            100.0 * level.per_second / batched
        ));
    }
    out
}

/// Runs `call` over `items` with `width` calls in flight; the answers in item order.
async fn in_parallel<T, R, F, Fut>(items: Vec<T>, width: usize, call: F) -> Vec<R>
where
    T: 'static,
    R: 'static,
    F: Fn(T) -> Fut + Clone + 'static,
    Fut: Future<Output = R> + 'static,
{
    let count = items.len();
    let queue = Arc::new(Mutex::new(items.into_iter().enumerate()));
    let workers: Vec<_> = (0..width.min(count.max(1)))
        .map(|_| {
            let (queue, call) = (queue.clone(), call.clone());
            actix_web::rt::spawn(async move {
                let mut done = Vec::new();
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some((i, item)) = next else { break };
                    done.push((i, call(item).await));
                }
                done
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(count);
    for w in workers {
        answers.extend(w.await.unwrap());
    }
    answers.sort_by_key(|(i, _)| *i);
    answers.into_iter().map(|(_, r)| r).collect()
}

/// Through the API, as clients would: a committee with `sessions` branches of 9 members
/// each (CSV imports), an active campaign with a session for every branch (bulk
/// scheduling), `codes` codes spread evenly over the sessions, every session open.
async fn set_up(
    client: &awc::Client,
    base: &str,
    token: &str,
    sessions: usize,
    codes: usize,
) -> Workload {
    let t = Some(token);
    let tag = pingyi::auth::random_token(4);
    let mut orgs_csv = format!(
        "external_id,parent_external_id,name,kind,domain,window_unit\n{tag},,基准测试党委{tag},committee,institution,false\n"
    );
    for i in 0..sessions {
        orgs_csv.push_str(&format!(
            "{tag}-{i},{tag},基准测试第{i}党支部,branch,institution,false\n"
        ));
    }
    import(client, base, token, "orgs", orgs_csv).await;
    // People in files of 1,000 branches each, under the default body limit.
    for first in (0..sessions).step_by(1000) {
        let mut people_csv =
            String::from("external_id,org_external_id,name,member_type,position,joined_on,phone\n");
        for i in first..(first + 1000).min(sessions) {
            for j in 0..MEMBERS {
                people_csv.push_str(&format!("{tag}-{i}-{j},{tag}-{i},党员{j},full,member,,\n"));
            }
        }
        import(client, base, token, "people", people_csv).await;
    }
    let committee = call(
        client,
        "GET",
        format!("{base}/api/v1/orgs?kind=committee&q={tag}"),
        t,
        Value::Null,
    )
    .await["items"][0]["id"]
        .as_i64()
        .unwrap();
    let today = Utc::now().date_naive();
    let campaign = call(client, "POST", format!("{base}/api/v1/campaigns"), t, json!({"owner_org_id": committee, "title": format!("基准{tag}"), "starts_on": today - chrono::Duration::days(1), "ends_on": today + chrono::Duration::days(1), "template_id": 1})).await;
    let campaign_id = campaign["id"].as_i64().unwrap();
    call(
        client,
        "POST",
        format!("{base}/api/v1/campaigns/{campaign_id}/activate"),
        t,
        json!({}),
    )
    .await;
    call(
        client,
        "POST",
        format!("{base}/api/v1/campaigns/{campaign_id}/sessions/bulk?wait=true"),
        t,
        json!({"kind": "branch_meeting", "scheduled_at": Utc::now()}),
    )
    .await;
    let mut ids = Vec::new();
    loop {
        let page = call(
            client,
            "GET",
            format!(
                "{base}/api/v1/sessions?campaign_id={campaign_id}&per_page=100&page={}",
                ids.len() / 100 + 1
            ),
            t,
            Value::Null,
        )
        .await;
        let items = page["items"].as_array().unwrap();
        ids.extend(items.iter().map(|s| s["id"].as_i64().unwrap()));
        if items.len() < 100 {
            break;
        }
    }
    ids.sort_unstable();
    assert_eq!(ids.len(), sessions, "one session per branch");
    assert_eq!(
        ids[ids.len() - 1] - ids[0] + 1,
        sessions as i64,
        "bulk scheduling numbers the sessions consecutively"
    );
    let per_session = codes.div_ceil(sessions);
    let (client, base, token) = (client.clone(), base.to_owned(), token.to_owned());
    let issued: Vec<(Vec<String>, Arc<String>)> =
        in_parallel(ids.clone(), SET_UP_WIDTH, move |session_id| {
            let (client, base, token) = (client.clone(), base.clone(), token.clone());
            async move {
                let t = Some(token.as_str());
                // At most 1,000 codes a batch.
                let mut codes: Vec<String> = Vec::with_capacity(per_session);
                while codes.len() < per_session {
                    let issued = call(
                        &client,
                        "POST",
                        format!("{base}/api/v1/sessions/{session_id}/voting-codes"),
                        t,
                        json!({"category": "party_member", "count": (per_session - codes.len()).min(1000)}),
                    )
                    .await;
                    codes.extend(
                        issued["codes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|c| c.as_str().unwrap().to_owned()),
                    );
                }
                call(
                    &client,
                    "POST",
                    format!("{base}/api/v1/sessions/{session_id}/open"),
                    t,
                    json!({}),
                )
                .await;
                // Reading the form does not use the code up.
                let form = call(
                    &client,
                    "POST",
                    format!("{base}/api/v1/ballot-forms"),
                    None,
                    json!({"code": codes[0]}),
                )
                .await;
                (codes, Arc::new(ratings_json(&ballot_ratings(&form))))
            }
        })
        .await;
    let subjects = serde_json::from_str::<Vec<Value>>(&issued[0].1)
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["subject_id"].as_i64().unwrap(),
                r["criterion_id"].as_i64().unwrap(),
            )
        })
        .collect();
    // Round robin: consecutive ballots go to different sessions.
    let mut spread = Vec::with_capacity(codes);
    for round in 0..per_session {
        for (session_codes, ratings) in &issued {
            if let Some(code) = session_codes.get(round) {
                spread.push((code.clone(), ratings.clone()));
            }
        }
    }
    Workload {
        sessions: ids,
        codes: spread,
        subjects,
    }
}

async fn import(client: &awc::Client, base: &str, token: &str, what: &str, csv: String) {
    // wait=true: the meeting day's files are large enough to run as jobs otherwise.
    let path = format!("{what}?wait=true");
    let (status, answer) = support::post_csv(client, base, token, &path, csv, false).await;
    assert_eq!(status, 200, "import {what}: {answer}");
}

/// Every subject on every criterion of its type: 4 + 9 × 3 = 31 ratings.
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

/// `concurrency` clients submit the ballots as fast as answers come back.
async fn load(base: &str, concurrency: usize, codes: Vec<(String, Arc<String>)>) -> Level {
    let bodies = codes
        .iter()
        .map(|(code, ratings)| format!("{{\"code\":\"{code}\",\"ratings\":{ratings}}}"))
        .collect();
    let url = format!("{base}/api/v1/ballots");
    support::load(&url, concurrency, bodies, "ballots").await
}

/// `count` codes named `bench-1`… spread over the workload's sessions as the API's are
/// (code n in session n mod S), in a batch of their own per session, category `other`.
fn insert_bench_codes(conn: &mut DbConn, workload: &Workload, count: usize) {
    let first = workload.sessions[0];
    let spread = workload.sessions.len();
    let numbers = match conn {
        DbConn::Pg(_) => format!("SELECT n FROM generate_series(1, {count}) AS g(n)"),
        DbConn::Sqlite(_) => format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {count}) SELECT n FROM g"
        ),
    };
    conn.batch_execute(&format!(
        "INSERT INTO voting_code_batches (session_id, category, count, created_at)
         SELECT id, 'other', {per}, CURRENT_TIMESTAMP FROM sessions WHERE id BETWEEN {first} AND {last};
         INSERT INTO voting_codes (code_hash, session_id, batch_id, category, state)
         SELECT 'bench-' || g.n, b.session_id, b.id, 'other', 'unused'
         FROM ({numbers}) g JOIN voting_code_batches b
           ON b.session_id = {first} + g.n % {spread} AND b.category = 'other';",
        per = count.div_ceil(spread),
        last = first + spread as i64 - 1,
    ))
    .unwrap();
    if let DbConn::Pg(_) = conn {
        conn.batch_execute("ANALYZE voting_codes; ANALYZE voting_code_batches;")
            .unwrap();
    }
}

/// pgbench running the API's own transaction: consume a code with the conditional update
/// (locking only the code's own session), insert the ballot with its packed ratings from
/// arrays. Each transaction picks a random code; with 20 times more codes
/// than transactions, at least 95% find theirs unused (the others skip the row update,
/// which only makes the baseline faster).
fn pgbench(
    url: &DatabaseUrl,
    pool: &Pool,
    workload: &Workload,
    levels: &[usize],
    per_level: usize,
) -> Vec<support::Pgbench> {
    let transactions: usize = levels.iter().map(|c| per_level.div_ceil(*c) * c).sum();
    let total = 20 * (transactions + 100);
    let mut conn = pool.get().unwrap();
    conn.batch_execute("DELETE FROM voting_codes WHERE code_hash LIKE 'bench-%'")
        .unwrap();
    insert_bench_codes(&mut conn, workload, total);
    // The ballot's ratings, packed as the API packs them (no quote to escape in them).
    let packed = pack_ratings(&bench_ratings(workload)).unwrap();
    let first = workload.sessions[0];
    let spread = workload.sessions.len();
    let script = format!(
        "\\set b random(1, 9000000000000000000)\n\
         \\set n random(1, {total})\n\
         \\set s {first} + :n % {spread}\n\
         BEGIN;\n\
         UPDATE voting_codes SET state = 'used' WHERE code_hash = ANY(ARRAY['bench-' || :n]) AND state = 'unused' AND session_id IN (SELECT id FROM sessions WHERE id IN (SELECT code.session_id FROM voting_codes AS code WHERE code.code_hash = ANY(ARRAY['bench-' || :n])) AND status = 'open' FOR KEY SHARE) RETURNING code_hash, session_id, category;\n\
         INSERT INTO ballots (id, session_id, category, paper, cast_on, ratings) SELECT unnest(ARRAY['b' || :b]), unnest(ARRAY[:s]::bigint[]), unnest(ARRAY['other']), unnest(ARRAY[false]), CURRENT_DATE, unnest(ARRAY['{packed}']);\n\
         COMMIT;\n",
    );
    let rates: Vec<support::Pgbench> = levels
        .iter()
        .map(|&c| support::pgbench(url, &script, c, per_level))
        .collect();
    let consumed: i64 = voting_codes::table
        .filter(voting_codes::code_hash.like("bench-%"))
        .filter(voting_codes::state.eq("used"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    eprintln!("pgbench consumed a code in {consumed} of {transactions} transactions");
    rates
}

/// The ratings the baselines write for every ballot: the first session's subjects and
/// criteria (the same rows to write whatever the code's session).
fn bench_ratings(workload: &Workload) -> Vec<Rating> {
    workload
        .subjects
        .iter()
        .enumerate()
        .map(|(i, (s, c))| Rating {
            subject_id: *s,
            criterion_id: *c,
            level: ["satisfied", "basically_satisfied", "dissatisfied"][i % 3].into(),
        })
        .collect()
}

/// The API's statements on SQLite (the same query functions), no HTTP, one writer: `n`
/// ballots one per transaction, then `n` more `batch` per transaction, their codes consumed
/// then their ballots written as the server's group commit writes a batch. Ballots per
/// second of each.
fn sqlite_direct(pool: &Pool, workload: &Workload, n: usize, batch: usize) -> (f64, f64) {
    let mut conn = pool.get().unwrap();
    conn.batch_execute("DELETE FROM voting_codes WHERE code_hash LIKE 'bench-%'")
        .unwrap();
    insert_bench_codes(&mut conn, workload, 2 * n);
    let ratings = bench_ratings(workload);
    let ballot = |(session_id, category)| NewBallot {
        session_id,
        category,
        paper: false,
        ratings: &ratings,
        opinion: None,
    };
    let cast = |conn: &mut DbConn, i: usize| -> Result<(), ApiError> {
        let hash = format!("bench-{i}");
        let consumed = consume_codes(conn, &[&hash])?[&hash];
        write_ballot(conn, &ballot(consumed))?;
        Ok(())
    };
    let started = Instant::now();
    for i in 1..=n {
        pingyi::db::write_transaction(&mut conn, |conn| cast(conn, i)).unwrap();
    }
    let single = n as f64 / started.elapsed().as_secs_f64();
    // As the server's writer runs a batch: all its codes consumed, then all its ballots.
    let started = Instant::now();
    let codes: Vec<String> = (n + 1..=2 * n).map(|i| format!("bench-{i}")).collect();
    for chunk in codes.chunks(batch.max(1)) {
        pingyi::db::write_transaction(&mut conn, |conn| {
            let hashes: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let consumed = consume_codes(conn, &hashes)?;
            let ballots: Vec<NewBallot> =
                hashes.iter().map(|hash| ballot(consumed[*hash])).collect();
            write_ballots(conn, &ballots)?;
            Ok::<_, ApiError>(())
        })
        .unwrap();
    }
    let batched = n as f64 / started.elapsed().as_secs_f64();
    let open: i64 = sessions::table
        .filter(sessions::status.eq("open"))
        .count()
        .get_result(&mut *conn)
        .unwrap();
    eprintln!(
        "SQLite direct ({open} open sessions): {single:.0} ballots/s one per transaction, {batched:.0} ballots/s {batch} per transaction"
    );
    (single, batched)
}
