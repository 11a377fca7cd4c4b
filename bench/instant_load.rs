//! Instant evaluation under load, reported as ratios against baselines measured in the same
//! run:
//!
//! - **ingest**: ratings submitted with one-time tickets by concurrent HTTP clients, against
//!   pgbench running the same transaction (consume the ticket with the conditional update,
//!   insert the rating, count it) on the same PostgreSQL; on SQLite against the same
//!   statements run directly (no HTTP) in a single-writer loop;
//! - **figures** (PostgreSQL): a month of 1,000 service points × 30 days × 200 ratings a day
//!   (6 million ratings), read through the API (the ranking of 100 window units, a unit's
//!   month, a point's month), against the raw SQL aggregate over the ratings themselves.
//!
//!     cargo run --release --example instant_load -- --help

#[path = "support.rs"]
mod support;

use std::time::{Duration, Instant};

use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use pingyi::db::{DatabaseUrl, Pool};
use pingyi::instant::model::InstantLevel;
use serde_json::{json, Value};
use support::{call, client, Level, Which};

#[derive(Parser, Debug)]
#[command(about = "Instant evaluation load driver: API against same-run baselines")]
struct Args {
    /// The databases (the monthly figures run on PostgreSQL only).
    #[command(flatten)]
    databases: support::Databases,
    /// Ratings submitted at each concurrency level.
    #[arg(long, default_value_t = 3000)]
    ratings: usize,
    /// Concurrency levels (parallel clients).
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    concurrency: Vec<usize>,
    /// Service points the ingest tickets are spread over.
    #[arg(long, default_value_t = 50)]
    points: usize,
    /// Window units of the figures' data set (each with `--points-per-unit` points).
    #[arg(long, default_value_t = 100)]
    units: usize,
    #[arg(long, default_value_t = 10)]
    points_per_unit: usize,
    /// Ratings per point and day in the figures' data set (30 days).
    #[arg(long, default_value_t = 200)]
    per_day: usize,
    /// Skip the figures (the 6-million-rating data set takes a few minutes to build).
    #[arg(long)]
    no_figures: bool,
}

/// The figures' month: October 2026, days 1 to 30.
const MONTH: &str = "2026-10";
const FIRST_DAY: &str = "2026-10-01";
const DAYS: usize = 30;

fn main() {
    let args = Args::parse();
    let mut report = String::new();
    for backend in args.databases.chosen() {
        report.push_str(&run_backend(&args, backend));
    }
    println!("\n{report}");
}

/// What the set-up made: the ingest unit, its points, the tickets, a token.
struct Desk {
    token: String,
    root: i64,
    unit: i64,
    points: Vec<i64>,
    tickets: Vec<String>,
}

fn run_backend(args: &Args, backend: Which) -> String {
    let sqlite = backend == Which::Sqlite;
    let (url, _guard) = support::fresh_database(&args.databases.postgres, sqlite);
    let (base, pool) = support::start_server(&url, 32);
    let warm_up = 2 * args.concurrency.iter().max().copied().unwrap_or(1);
    let total = args.concurrency.len() * args.ratings + warm_up;
    let (levels, desk) = actix_web::rt::System::new().block_on(async {
        let client = client();
        let mut desk = set_up(&client, &base, args.points, total).await;
        let mut tickets = std::mem::take(&mut desk.tickets).into_iter();
        let highest = args.concurrency.iter().max().copied().unwrap_or(1);
        eprint!("warm-up: ");
        load(&base, highest, tickets.by_ref().take(warm_up).collect()).await;
        let mut levels = Vec::new();
        for &c in &args.concurrency {
            levels.push(load(&base, c, tickets.by_ref().take(args.ratings).collect()).await);
        }
        (levels, desk)
    });
    let name = if sqlite { "SQLite" } else { "PostgreSQL" };
    let mut out = format!("### {name}: ingest\n\n");
    if sqlite {
        let direct = sqlite_direct(&pool, &desk, args.ratings);
        out.push_str(&format!(
            "direct single-writer loop (same statements, no HTTP): {direct:.0} ratings/s\n\n\
             | clients | API ratings/s | p50 ms | p99 ms | API / direct |\n|---|---|---|---|---|\n"
        ));
        for l in &levels {
            out.push_str(&format!(
                "| {} | {:.0} | {:.1} | {:.1} | {:.0}% |\n",
                l.concurrency,
                l.per_second,
                l.p50_ms,
                l.p99_ms,
                100.0 * l.per_second / direct
            ));
        }
        out.push('\n');
        return out;
    }
    let baseline = pgbench_ingest(&url, &pool, &desk, &args.concurrency, args.ratings);
    out.push_str(&support::pgbench_table("ratings", &levels, &baseline));
    out.push('\n');
    if !args.no_figures {
        out.push_str(&figures(args, &base, &pool, &desk));
    }
    out
}

/// Through the API: a root org, a window unit with `points` service points, `tickets`
/// tickets issued round-robin over them.
async fn set_up(client: &awc::Client, base: &str, points: usize, tickets: usize) -> Desk {
    let token = support::admin_token(client, base).await;
    let t = Some(token.as_str());
    let root = call(
        client,
        "POST",
        format!("{base}/api/v1/orgs"),
        t,
        json!({"name": "基准测试市委", "kind": "committee", "domain": "institution"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let unit = call(client, "POST", format!("{base}/api/v1/orgs"), t,
        json!({"name": "基准服务中心党支部", "kind": "branch", "domain": "institution", "parent_id": root, "window_unit": true}))
        .await["id"]
        .as_i64()
        .unwrap();
    let mut ids = Vec::new();
    for i in 0..points {
        let p = call(
            client,
            "POST",
            format!("{base}/api/v1/orgs/{unit}/service-points"),
            t,
            json!({"name": format!("{}号窗口", i + 1)}),
        )
        .await;
        ids.push(p["id"].as_i64().unwrap());
    }
    let mut all = Vec::with_capacity(tickets);
    let mut i = 0;
    while all.len() < tickets {
        let point = ids[i % ids.len()];
        i += 1;
        let count = (tickets - all.len()).min(100);
        let issued = call(
            client,
            "POST",
            format!("{base}/api/v1/service-points/{point}/tickets"),
            t,
            json!({"count": count}),
        )
        .await;
        all.extend(
            issued["tickets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["ticket"].as_str().unwrap().to_owned()),
        );
    }
    // Consecutive ratings go to different points, as at a busy service hall.
    let per_point = all.len().div_ceil(ids.len());
    let mut spread = Vec::with_capacity(all.len());
    for k in 0..per_point {
        spread.extend(all.iter().skip(k).step_by(per_point).cloned());
    }
    Desk {
        token,
        root,
        unit,
        points: ids,
        tickets: spread,
    }
}

/// `concurrency` clients rate with the tickets as fast as answers come back.
async fn load(base: &str, concurrency: usize, tickets: Vec<String>) -> Level {
    let bodies = tickets
        .iter()
        .map(|ticket| format!("{{\"ticket\":\"{ticket}\",\"level\":\"satisfied\"}}"))
        .collect();
    let url = format!("{base}/api/v1/instant-ratings");
    support::load(&url, concurrency, bodies, "ratings").await
}

/// `n` tickets named `bench-1` … spread over the desk's points.
fn seed_tickets(conn: &mut pingyi::db::DbConn, desk: &Desk, n: usize, sqlite: bool) {
    let points = desk.points.iter().map(i64::to_string).collect::<Vec<_>>();
    let count = points.len();
    let (series, point_of, from) = if sqlite {
        (
            format!(
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}), \
                 p(id, k) AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 FROM service_points WHERE org_id = {})",
                desk.unit
            ),
            "p.id".to_owned(),
            format!("s JOIN p ON p.k = s.n % {count}"),
        )
    } else {
        (
            format!("WITH s AS (SELECT generate_series(1, {n}) AS n)"),
            format!("(ARRAY[{}]::bigint[])[1 + n % {count}]", points.join(",")),
            "s".to_owned(),
        )
    };
    conn.batch_execute(&format!(
        "{series} INSERT INTO service_tickets (ticket_hash, point_id, org_id, state, expires_at)
         SELECT 'bench-' || n, {point_of}, {}, 'unused', '2100-01-01 00:00:00' FROM {from};
         ANALYZE service_tickets;",
        desk.unit
    ))
    .unwrap();
}

/// pgbench running the API's transaction: the conditional update of the ticket, the
/// rating's insert, its count's upsert. pgbench keeps no counter, so each transaction picks a
/// random ticket out of 20 times more than it needs; a few find theirs used already (the
/// driver prints how many), which only spares them a row update.
fn pgbench_ingest(
    url: &DatabaseUrl,
    pool: &Pool,
    desk: &Desk,
    levels: &[usize],
    per_level: usize,
) -> Vec<support::Pgbench> {
    let transactions: usize = levels.iter().map(|c| per_level.div_ceil(*c) * c).sum();
    let total = 20 * (transactions + 100);
    let mut conn = pool.get().unwrap();
    seed_tickets(&mut conn, desk, total, false);
    let points = desk
        .points
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let count = desk.points.len();
    let unit = desk.unit;
    let script = format!(
        "\\set n random(1, {total})\n\
         \\set r random(1, 9000000000000000000)\n\
         BEGIN;\n\
         UPDATE service_tickets SET state = 'used' WHERE ticket_hash = ANY(ARRAY['bench-' || :n]) AND state = 'unused' AND expires_at > now() RETURNING ticket_hash, point_id, org_id;\n\
         INSERT INTO instant_ratings (id, point_id, org_id, rated_on, level, verified, comment, excluded) SELECT unnest(ARRAY['r' || :r]), unnest(ARRAY[(ARRAY[{points}]::bigint[])[1 + :n % {count}]]), unnest(ARRAY[{unit}]::bigint[]), unnest(ARRAY[CURRENT_DATE]), unnest(ARRAY['satisfied']), unnest(ARRAY[true]), unnest(ARRAY[NULL]::text[]), false;\n\
         INSERT INTO instant_counts (point_id, rated_on, level, verified, org_id, ratings) SELECT * FROM unnest(ARRAY[(ARRAY[{points}]::bigint[])[1 + :n % {count}]], ARRAY[CURRENT_DATE], ARRAY['satisfied'], ARRAY[true], ARRAY[{unit}]::bigint[], ARRAY[1]::bigint[]) ON CONFLICT (point_id, rated_on, level, verified) DO UPDATE SET ratings = instant_counts.ratings + EXCLUDED.ratings;\n\
         COMMIT;\n"
    );
    let rates = levels
        .iter()
        .map(|&c| support::pgbench(url, &script, c, per_level))
        .collect();
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let used: N = diesel::sql_query(
        "SELECT COUNT(*) AS n FROM service_tickets WHERE ticket_hash LIKE 'bench-%' AND state = 'used'",
    )
    .get_result(&mut *conn)
    .unwrap();
    eprintln!(
        "pgbench used a ticket in {} of {transactions} transactions",
        used.n
    );
    rates
}

/// The API's statements on SQLite (the ticket's conditional update, the rating, its count),
/// in one writer's loop with no HTTP in between.
fn sqlite_direct(pool: &Pool, desk: &Desk, n: usize) -> f64 {
    use pingyi::instant::queries::{consume_tickets, write_rating, NewRating};
    let mut conn = pool.get().unwrap();
    seed_tickets(&mut conn, desk, n, true);
    let started = Instant::now();
    for i in 1..=n {
        pingyi::db::write_transaction(&mut conn, |conn| -> Result<(), pingyi::error::ApiError> {
            let ticket = format!("bench-{i}");
            let (point_id, org_id) =
                consume_tickets(conn, &[&ticket], pingyi::types::now())?[&ticket];
            let rating = NewRating {
                point_id,
                org_id,
                day: pingyi::types::local_today(),
                level: InstantLevel::Satisfied,
                verified: true,
                comment: None,
                items: &[],
            };
            write_rating(conn, &rating)?;
            Ok(())
        })
        .unwrap();
    }
    let per_second = n as f64 / started.elapsed().as_secs_f64();
    eprintln!("SQLite direct: {per_second:.0} ratings/s");
    per_second
}

/// Builds the month of 1,000 points (through the API for the tree, in SQL for the ratings)
/// and times the figures' reads against the raw aggregate over the ratings.
fn figures(args: &Args, base: &str, pool: &Pool, desk: &Desk) -> String {
    let (college, units, points) = actix_web::rt::System::new().block_on(async {
        let client = client();
        let t = Some(desk.token.as_str());
        let college = call(&client, "POST", format!("{base}/api/v1/orgs"), t,
            json!({"name": "窗口单位基准党委", "kind": "committee", "domain": "institution", "parent_id": desk.root}))
            .await["id"].as_i64().unwrap();
        let mut units = Vec::new();
        let mut points = Vec::new();
        for u in 0..args.units {
            let unit = call(&client, "POST", format!("{base}/api/v1/orgs"), t,
                json!({"name": format!("服务中心{u}党支部"), "kind": "branch", "domain": "institution", "parent_id": college, "window_unit": true}))
                .await["id"].as_i64().unwrap();
            units.push(unit);
            for p in 0..args.points_per_unit {
                let point = call(&client, "POST", format!("{base}/api/v1/orgs/{unit}/service-points"), t,
                    json!({"name": format!("{}号窗口", p + 1)})).await;
                points.push(point["id"].as_i64().unwrap());
            }
        }
        (college, units, points)
    });
    let per_day = args.per_day;
    let started = Instant::now();
    let mut conn = pool.get().unwrap();
    let (first, last) = (points[0], points[points.len() - 1]);
    // Levels: 45% 非常满意, 30% 满意, 15% 基本满意, 8% 不满意, 2% 非常不满意; one in 25 unticketed.
    conn.batch_execute(&format!(
        "INSERT INTO instant_ratings (id, point_id, org_id, rated_on, level, verified, comment, excluded)
         SELECT 'f' || p.id || '-' || d || '-' || n, p.id, p.org_id, DATE '{FIRST_DAY}' + d,
                CASE WHEN (n * 7 + d) % 100 < 45 THEN 'very_satisfied'
                     WHEN (n * 7 + d) % 100 < 75 THEN 'satisfied'
                     WHEN (n * 7 + d) % 100 < 90 THEN 'basically_satisfied'
                     WHEN (n * 7 + d) % 100 < 98 THEN 'dissatisfied'
                     ELSE 'very_dissatisfied' END,
                n % 25 <> 0, NULL, false
         FROM service_points p, generate_series(0, {days}) d, generate_series(1, {per_day}) n
         WHERE p.id BETWEEN {first} AND {last};
         INSERT INTO instant_counts (point_id, rated_on, level, verified, org_id, ratings)
         SELECT point_id, rated_on, level, verified, org_id, COUNT(*) FROM instant_ratings
         WHERE point_id BETWEEN {first} AND {last} GROUP BY point_id, rated_on, level, verified, org_id;
         INSERT INTO instant_cases (rating_id, point_id, org_id, level, verified, status, opened_on, resolve_due_on)
         SELECT id, point_id, org_id, level, verified,
                CASE WHEN rated_on < DATE '{FIRST_DAY}' + 20 THEN 'resolved' ELSE 'in_handling' END,
                rated_on, rated_on + 7
         FROM instant_ratings WHERE point_id BETWEEN {first} AND {last} AND level IN ('dissatisfied', 'very_dissatisfied');
         ANALYZE;",
        days = DAYS - 1
    ))
    .unwrap();
    // The cases were written around the queries: count them as the queries would.
    conn.batch_execute(pingyi::instant::queries::RECOUNT_CASES_SQL)
        .unwrap();
    conn.batch_execute("ANALYZE instant_case_counts").unwrap();
    let ratings = points.len() * DAYS * per_day;
    eprintln!(
        "figures: {ratings} ratings stored in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let month_first: chrono::NaiveDate = FIRST_DAY.parse().unwrap();
    let month_last = month_first + chrono::Duration::days(30);
    // The raw aggregate: the ranking's figures straight from the ratings.
    let raw = median_ms(|| {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            _org: i64,
        }
        let sql = format!(
            "SELECT org_id AS _org FROM instant_ratings r
             WHERE r.point_id BETWEEN {first} AND {last} AND r.rated_on BETWEEN '{month_first}' AND '{month_last}'
               AND r.verified AND NOT r.excluded
             GROUP BY org_id, level"
        );
        diesel::sql_query(sql).load::<Row>(&mut *conn).unwrap();
    });
    let (unit, point) = (units[0], points[0]);
    let reads = [
        (
            "ranking of 100 window units (1,000 points)",
            format!("/api/v1/orgs/{college}/instant-rankings?month={MONTH}&per_page=100"),
        ),
        (
            "one unit's month (10 points, by day and point)",
            format!("/api/v1/orgs/{unit}/instant-figures?month={MONTH}"),
        ),
        (
            "one point's month (by day)",
            format!("/api/v1/service-points/{point}/figures?month={MONTH}"),
        ),
    ];
    let mut out = format!(
        "### PostgreSQL: monthly figures\n\n{} points × {DAYS} days × {per_day} ratings a day = {ratings} ratings; \
         raw SQL aggregate of the ranking over the ratings (median of 7): {raw:.0} ms\n\n\
         | read | API median ms | API max ms | API / raw aggregate |\n|---|---|---|---|\n",
        points.len()
    );
    actix_web::rt::System::new().block_on(async {
        let client = client();
        for (what, path) in reads {
            let mut times = Vec::new();
            for i in 0..9 {
                let started = Instant::now();
                let answer: Value = call(
                    &client,
                    "GET",
                    format!("{base}{path}"),
                    Some(&desk.token),
                    Value::Null,
                )
                .await;
                if i == 0 {
                    check_answer(what, &answer);
                }
                times.push(started.elapsed());
            }
            // The first two warm the caches.
            let mut timed: Vec<Duration> = times.split_off(2);
            timed.sort();
            let median = timed[timed.len() / 2].as_secs_f64() * 1000.0;
            let max = timed[timed.len() - 1].as_secs_f64() * 1000.0;
            eprintln!("{what}: median {median:.1} ms, max {max:.1} ms");
            out.push_str(&format!(
                "| {what} | {median:.1} | {max:.1} | {:.1}% |\n",
                100.0 * median / raw
            ));
        }
    });
    out.push('\n');
    out
}

/// The answers hold what was stored (a figure that reads nothing is not measured).
fn check_answer(what: &str, answer: &Value) {
    let ratings = answer["items"][0]["figures"]["ratings"]
        .as_i64()
        .or_else(|| answer["total"]["verified"]["ratings"].as_i64())
        .unwrap_or(0);
    assert!(ratings > 0, "{what}: {answer}");
}

/// The median of 7 timed runs after one untimed, in milliseconds.
fn median_ms(mut run: impl FnMut()) -> f64 {
    run();
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[3]
}
