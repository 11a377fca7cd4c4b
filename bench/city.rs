//! Results at city scale, reported as ratios against baselines measured in the same run.
//!
//!     cargo run --release --example city -- --help
//!
//! Generates a city on a fresh database — districts → committees → branches, their
//! members, one campaign with a session per branch, ballots written in bulk and every
//! session closed through the same queries the API's close uses (tallies, rewrite) — then
//! times, through the API of a server running in this process, the whole-city roll-up, a
//! district's drill-down, the org ranking, coverage, one session's results and an xlsx
//! export; and, in the same run, on the same database, the same roll-up as one SQL
//! aggregate over the tally table and over the raw ratings (what a system without tallies
//! would do), and one session's results read directly (no HTTP).

use std::net::TcpListener;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use clap::{Parser, ValueEnum};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use pingyi::ballots::model::Rating;
use pingyi::ballots::rules::pack_ratings;
use pingyi::config::{LogFormat, Settings};
use pingyi::db::schema::{ballots, orgs, people, session_subjects, sessions};
use pingyi::db::{DatabaseUrl, DbConn, PoolOptions};
use pingyi::insert_batch;

#[derive(Parser, Debug)]
#[command(about = "Results at city scale: API timings against same-run SQL baselines")]
struct Args {
    #[arg(long, value_enum, default_value = "postgres")]
    backend: Backend,
    /// Districts under the city.
    #[arg(long, default_value_t = 20)]
    districts: usize,
    /// Committees per district.
    #[arg(long, default_value_t = 25)]
    committees: usize,
    /// Branches per committee.
    #[arg(long, default_value_t = 19)]
    branches: usize,
    /// Members in all (spread over the branches).
    #[arg(long, default_value_t = 500_000)]
    members: usize,
    /// Average ballots per session (each session gets 10 to 2×avg−10).
    #[arg(long, default_value_t = 20)]
    ballots: usize,
    /// Timed repetitions of each read.
    #[arg(long, default_value_t = 15)]
    repeat: usize,
    /// A PostgreSQL server where the user may create databases.
    #[arg(
        long,
        env = "BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// Keep the generated database (its URL is printed).
    #[arg(long)]
    keep: bool,
    /// Measure a city generated before (kept with --keep): a postgres:// or sqlite:// URL.
    #[arg(long)]
    existing: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

const ADMIN_PASSWORD: &str = "bench-admin-password";
const DOMAINS: [&str; 6] = [
    "rural",
    "enterprise",
    "institution",
    "community",
    "new_economic",
    "new_social",
];

fn main() {
    let args = Args::parse();
    let (url, guard): (DatabaseUrl, Box<dyn std::any::Any>) = match &args.existing {
        Some(existing) => (existing.parse().expect("--existing"), Box::new(())),
        None => fresh_database(&args),
    };
    let pool = pingyi::db::connect(
        &url,
        &PoolOptions {
            max_size: 8,
            connection_timeout: Duration::from_secs(60),
            writes: Default::default(),
            postgres_writers: pingyi::db::DEFAULT_POSTGRES_WRITERS,
        },
    )
    .expect("connect and migrate");
    let started = Instant::now();
    let city = match args.existing {
        Some(_) => find_city(&mut pool.get().unwrap()),
        None => generate(&args, &mut pool.get().unwrap()),
    };
    let generated = started.elapsed();
    eprintln!("generated in {:.0} s", generated.as_secs_f64());
    if let DbConn::Pg(pg) = &mut *pool.get().unwrap() {
        pg.batch_execute("VACUUM ANALYZE").unwrap();
    }

    let base = serve(&url, pool.clone());
    let report = measure(&args, &base, &pool, &city);
    let counts = counts(&mut pool.get().unwrap());
    println!(
        "\n### {:?}: {} orgs, {} members, {} closed sessions, {} ballots, {} ratings \
         (generated in {:.0} s)\n\n{report}",
        args.backend,
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        counts[4],
        generated.as_secs_f64()
    );
    if args.keep {
        println!("kept: {url}");
        std::mem::forget(guard);
    }
}

// ---- The city ----

/// What the measurements refer to.
struct City {
    root: i64,
    district: i64,
    campaign: i64,
    session: i64,
}

/// A small deterministic generator: the same city every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

type OrgTuple = (
    i64,
    Option<i64>,
    String,
    &'static str,
    &'static str,
    String,
    i32,
    NaiveDateTime,
);

fn generate(args: &Args, conn: &mut DbConn) -> City {
    let now = Utc::now().naive_utc();
    // Orgs with ids chosen here, so that their paths are known without reading back.
    let mut orgs_rows: Vec<OrgTuple> = vec![(
        1,
        None,
        "大连市委".into(),
        "committee",
        "institution",
        "/1/".into(),
        0,
        now,
    )];
    let mut branches = Vec::new();
    let mut next_id = 2i64;
    for d in 0..args.districts {
        let district = next_id;
        next_id += 1;
        let district_path = format!("/1/{district}/");
        orgs_rows.push((
            district,
            Some(1),
            format!("第{}区委", d + 1),
            "committee",
            "community",
            district_path.clone(),
            1,
            now,
        ));
        for c in 0..args.committees {
            let committee = next_id;
            next_id += 1;
            let committee_path = format!("{district_path}{committee}/");
            let domain = DOMAINS[(d * args.committees + c) % DOMAINS.len()];
            orgs_rows.push((
                committee,
                Some(district),
                format!("第{}区第{}党委", d + 1, c + 1),
                "committee",
                domain,
                committee_path.clone(),
                2,
                now,
            ));
            for b in 0..args.branches {
                let branch = next_id;
                next_id += 1;
                orgs_rows.push((
                    branch,
                    Some(committee),
                    format!("第{}区第{}党委第{}支部", d + 1, c + 1, b + 1),
                    "branch",
                    domain,
                    format!("{committee_path}{branch}/"),
                    3,
                    now,
                ));
                branches.push(branch);
            }
        }
    }
    eprintln!("orgs: {}", orgs_rows.len());
    pingyi::db::write_transaction(conn, |conn| -> QueryResult<()> {
        for chunk in orgs_rows.chunks(2000) {
            let values: Vec<_> = chunk
                .iter()
                .map(|(id, parent, name, kind, domain, path, depth, at)| {
                    (
                        orgs::id.eq(*id),
                        orgs::parent_id.eq(*parent),
                        orgs::name.eq(name.as_str()),
                        orgs::kind.eq(*kind),
                        orgs::domain.eq(*domain),
                        orgs::window_unit.eq(false),
                        orgs::status.eq("active"),
                        orgs::path.eq(path.as_str()),
                        orgs::depth.eq(*depth),
                        orgs::created_at.eq(*at),
                        orgs::updated_at.eq(*at),
                    )
                })
                .collect();
            insert_batch!(&mut *conn, orgs::table, values)?;
        }
        // Members, spread over the branches; each branch's first is its secretary.
        let mut person = 0i64;
        let per_branch = args.members / branches.len().max(1);
        let extra = args.members % branches.len().max(1);
        let mut rows = Vec::with_capacity(2000);
        let mut secretaries = Vec::with_capacity(branches.len());
        for (i, &branch) in branches.iter().enumerate() {
            secretaries.push((branch, person + 1));
            for _ in 0..per_branch + usize::from(i < extra) {
                person += 1;
                rows.push((
                    people::id.eq(person),
                    people::org_id.eq(branch),
                    people::name.eq(format!("党员{person}")),
                    people::member_type.eq("full"),
                    people::status.eq("active"),
                    people::created_at.eq(now),
                    people::updated_at.eq(now),
                ));
                if rows.len() == 2000 {
                    insert_batch!(&mut *conn, people::table, std::mem::take(&mut rows))?;
                }
            }
        }
        insert_batch!(&mut *conn, people::table, rows)?;
        for (branch, secretary) in secretaries {
            diesel::update(orgs::table.find(branch))
                .set(orgs::secretary_id.eq(secretary))
                .execute(conn)?;
        }
        if let DbConn::Pg(pg) = conn {
            pg.batch_execute(
                "SELECT setval('orgs_id_seq', (SELECT MAX(id) FROM orgs));
                 SELECT setval('people_id_seq', (SELECT MAX(id) FROM people));",
            )?;
        }
        Ok(())
    })
    .unwrap();
    eprintln!("members: {}", args.members);

    let today = Utc::now().date_naive();
    let (campaign, org_rows) = pingyi::db::write_transaction(conn, |conn| {
        let city = pingyi::orgs::queries::find(conn, 1)?;
        let campaign = pingyi::demo::evaluation::active_campaign(
            conn,
            &city,
            "城市规模基准",
            today - chrono::Duration::days(1),
            today + chrono::Duration::days(30),
        )?;
        let rows: Vec<pingyi::orgs::model::OrgRow> = orgs::table
            .filter(orgs::kind.eq("branch"))
            .order(orgs::id)
            .select(pingyi::orgs::model::OrgRow::as_select())
            .load(conn)?;
        Ok::<_, pingyi::error::ApiError>((campaign, rows))
    })
    .unwrap();
    let at = Utc::now();
    let mut session_ids = Vec::with_capacity(org_rows.len());
    for chunk in org_rows.chunks(500) {
        pingyi::db::write_transaction(conn, |conn| {
            for org in chunk {
                session_ids.push(pingyi::demo::evaluation::schedule(
                    conn,
                    campaign,
                    org,
                    pingyi::sessions::model::SessionKind::BranchMeeting,
                    at,
                )?);
            }
            Ok::<_, pingyi::error::ApiError>(())
        })
        .unwrap();
    }
    eprintln!("sessions: {}", session_ids.len());

    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let template = pingyi::campaigns::queries::find(conn, campaign)
        .unwrap()
        .frozen()
        .unwrap()
        .unwrap()
        .default;
    let cast_on = today;
    let write_started = Instant::now();
    for (n, chunk) in session_ids.chunks(100).enumerate() {
        pingyi::db::write_transaction(conn, |conn| -> QueryResult<()> {
            for &session in chunk {
                let subjects: Vec<(i64, String)> = session_subjects::table
                    .filter(session_subjects::session_id.eq(session))
                    .select((session_subjects::id, session_subjects::subject_type))
                    .load(conn)?;
                // Each branch has its own mood; some fall under the 0.8 line.
                let quality = 0.55 + 0.45 * rng.unit();
                let count = 10 + (rng.next() as usize % (2 * args.ballots - 19).max(1));
                let mut ballot_rows = Vec::with_capacity(count);
                for v in 0..count {
                    let id = pingyi::auth::random_token(16);
                    let mut ratings = Vec::with_capacity(subjects.len() * 3);
                    let category = match v % 10 {
                        0..=5 => "party_member",
                        6..=8 => "mass_representative",
                        _ => "service_recipient",
                    };
                    for (subject, subject_type) in &subjects {
                        let criteria = match subject_type.as_str() {
                            "org" => &template.criteria.org,
                            "secretary" => &template.criteria.secretary,
                            _ => &template.criteria.member,
                        };
                        for criterion in criteria {
                            let x = rng.unit();
                            let level = if x < quality * 0.75 {
                                "satisfied"
                            } else if x < quality {
                                "basically_satisfied"
                            } else {
                                "dissatisfied"
                            };
                            ratings.push(Rating {
                                subject_id: *subject,
                                criterion_id: criterion.id,
                                level: level.into(),
                            });
                        }
                    }
                    ballot_rows.push((
                        ballots::id.eq(id),
                        ballots::session_id.eq(session),
                        ballots::category.eq(category),
                        ballots::paper.eq(true),
                        ballots::cast_on.eq(cast_on),
                        ballots::ratings.eq(pack_ratings(&ratings).unwrap()),
                    ));
                }
                diesel::update(sessions::table.find(session))
                    .set(sessions::status.eq("open"))
                    .execute(conn)?;
                insert_batch!(&mut *conn, ballots::table, ballot_rows)?;
            }
            Ok(())
        })
        .unwrap();
        if n % 10 == 9 {
            eprintln!(
                "ballots: {} sessions written ({:.0} s)",
                (n + 1) * 100,
                write_started.elapsed().as_secs_f64()
            );
        }
    }
    // Statistics for the bulk-loaded tables (autovacuum would get there later): without
    // them PostgreSQL plans each close's read of a session's ballots as a scan of them all.
    if let DbConn::Pg(pg) = conn {
        pg.batch_execute("ANALYZE ballots; ANALYZE session_subjects;")
            .unwrap();
    }
    let close_started = Instant::now();
    for (n, chunk) in session_ids.chunks(100).enumerate() {
        pingyi::db::write_transaction(conn, |conn| {
            for &session in chunk {
                // The API's close: status, tallies, rewrite in random order.
                pingyi::demo::evaluation::close(conn, session)?;
            }
            Ok::<_, pingyi::error::ApiError>(())
        })
        .unwrap();
        if n % 10 == 9 {
            eprintln!(
                "closed: {} sessions ({:.0} s)",
                (n + 1) * 100,
                close_started.elapsed().as_secs_f64()
            );
        }
    }
    City {
        root: 1,
        district: 2,
        campaign,
        session: session_ids[session_ids.len() / 2],
    }
}

/// The city a previous run generated: its root and first district, its campaign, and the
/// session of the middle branch.
fn find_city(conn: &mut DbConn) -> City {
    use pingyi::db::schema::campaigns;
    let campaign: i64 = campaigns::table
        .select(campaigns::id)
        .order(campaigns::id.desc())
        .first(conn)
        .expect("a generated campaign");
    let closed: Vec<i64> = sessions::table
        .filter(sessions::campaign_id.eq(campaign))
        .order(sessions::id)
        .select(sessions::id)
        .load(conn)
        .unwrap();
    City {
        root: 1,
        district: 2,
        campaign,
        session: closed[closed.len() / 2],
    }
}

fn counts(conn: &mut DbConn) -> [i64; 5] {
    [
        orgs::table.count().get_result(conn).unwrap(),
        people::table.count().get_result(conn).unwrap(),
        sessions::table
            .filter(sessions::status.eq("closed"))
            .count()
            .get_result(conn)
            .unwrap(),
        ballots::table.count().get_result(conn).unwrap(),
        stored_ratings(conn),
    ]
}

/// The ratings stored in the ballots' rows (each a JSON array).
fn stored_ratings(conn: &mut DbConn) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = match conn {
        DbConn::Pg(_) => "SELECT CAST(COALESCE(SUM(json_array_length(ratings::json)), 0) AS BIGINT) AS n FROM ballots",
        DbConn::Sqlite(_) => "SELECT CAST(COALESCE(SUM(json_array_length(ratings)), 0) AS BIGINT) AS n FROM ballots",
    };
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

// ---- Measuring ----

/// Starts the server in this process on the generated database; its base URL.
fn serve(url: &DatabaseUrl, pool: pingyi::db::Pool) -> String {
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
        db_pool_size: 8,
        workers: None,
        trusted_proxies: vec![],
        metrics_bind: None,
        metrics_token: None,
        import_max_rows: 50_000,
        sqlite_synchronous: Default::default(),
        commit_batch: 64,
        commit_queue: 1024,
        sqlite_cache_mib: 64,
        postgres_writers: pingyi::db::DEFAULT_POSTGRES_WRITERS,
        webhook_allowed_hosts: vec![],
        webhook_timeout_ms: 10_000,
        webhook_retry_ms: 5_000,
        webhook_poll_ms: 1_000,
    };
    let shared = pingyi::Shared::bootstrap(pool, settings).expect("bootstrap");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        actix_web::rt::System::new()
            .block_on(async move { pingyi::serve(listener, shared).unwrap().await })
    });
    base
}

/// Median and 95th percentile of a set of timings, in milliseconds.
struct Timing {
    median: f64,
    p95: f64,
}

fn timing(mut samples: Vec<Duration>) -> Timing {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let p95 = ((samples.len() as f64 * 0.95).ceil() as usize).clamp(1, samples.len()) - 1;
    Timing {
        median: ms(samples[samples.len() / 2]),
        p95: ms(samples[p95]),
    }
}

/// Times `f` `repeat` times after one warm-up run.
fn time<T>(repeat: usize, mut f: impl FnMut() -> T) -> Timing {
    std::hint::black_box(f());
    timing(
        (0..repeat)
            .map(|_| {
                let started = Instant::now();
                std::hint::black_box(f());
                started.elapsed()
            })
            .collect(),
    )
}

fn measure(args: &Args, base: &str, pool: &pingyi::db::Pool, city: &City) -> String {
    let system = actix_web::rt::System::new();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(300))
        .finish();
    let token = system.block_on(async {
        let mut res = client
            .post(format!("{base}/api/v1/auth/login"))
            .send_json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
            .await
            .unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    });
    let get = |path: String| -> Duration {
        system.block_on(async {
            let started = Instant::now();
            let mut res = client
                .get(format!("{base}{path}"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .send()
                .await
                .unwrap();
            let body = res.body().limit(512 * 1024 * 1024).await.unwrap();
            assert!(
                res.status().is_success(),
                "{path}: {} {}",
                res.status(),
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
            started.elapsed()
        })
    };
    let api = |path: String| time(args.repeat, || get(path.clone()));
    let c = city.campaign;
    let rows = [
        (
            "whole-city roll-up (orgs)",
            format!("/api/v1/campaigns/{c}/results"),
        ),
        (
            "whole-city roll-up (members)",
            format!("/api/v1/campaigns/{c}/results?subject_type=member"),
        ),
        (
            "one district's drill-down",
            format!("/api/v1/campaigns/{c}/results?org_id={}", city.district),
        ),
        (
            "org ranking (first page of 50)",
            format!("/api/v1/campaigns/{c}/rankings?subject_type=org"),
        ),
        ("coverage", format!("/api/v1/campaigns/{c}/coverage")),
        (
            "one session's results",
            format!("/api/v1/sessions/{}/results", city.session),
        ),
        (
            "xlsx export (org ranking, every branch)",
            format!("/api/v1/campaigns/{c}/export?report=rankings&format=xlsx"),
        ),
    ];
    let mut measured = Vec::new();
    for (name, path) in rows {
        eprintln!("timing {name}");
        measured.push((name, api(path)));
    }

    // Baselines: the same figures straight from the database, no HTTP.
    let mut conn = pool.get().unwrap();
    eprintln!("timing the SQL baselines");
    let over_tallies = time(args.repeat, || {
        load_sums(&mut conn, TALLY_ROLL_UP, city.root, c)
    });
    let ratings_roll_up = ratings_roll_up(&conn);
    let over_ratings = time(args.repeat.min(5), || {
        load_sums(&mut conn, &ratings_roll_up, city.root, c)
    });
    // The two aggregates agree with each other (rates per district).
    let (a, b) = (
        load_sums(&mut conn, TALLY_ROLL_UP, city.root, c),
        load_sums(&mut conn, &ratings_roll_up, city.root, c),
    );
    assert_eq!(a, b, "the tally and ratings aggregates differ");
    let session = city.session;
    let direct_session = time(args.repeat, || {
        (
            pingyi::results::queries::subjects(&mut conn, session).unwrap(),
            pingyi::results::queries::stored(&mut conn, session).unwrap(),
            pingyi::results::queries::ballots_cast(&mut conn, session).unwrap(),
        )
    });

    let mut out = String::from("| read | API median ms | API p95 ms |\n|---|---|---|\n");
    for (name, t) in &measured {
        out.push_str(&format!("| {name} | {:.1} | {:.1} |\n", t.median, t.p95));
    }
    let city_roll_up = measured[0].1.median;
    out.push_str(&format!(
        "\nBaselines, same run, same database (median ms):\n\n\
         | baseline | median ms | API whole-city roll-up / baseline |\n|---|---|---|\n\
         | SQL aggregate over the tally table (districts' subtrees) | {:.1} | {:.2}× |\n\
         | SQL aggregate over the raw ratings (same figures) | {:.1} | {:.3}× |\n",
        over_tallies.median,
        city_roll_up / over_tallies.median,
        over_ratings.median,
        city_roll_up / over_ratings.median,
    ));
    out.push_str(&format!(
        "\nOne session's results: API {:.1} ms against {:.1} ms for the same reads without HTTP ({:.2}×).\n",
        measured[5].1.median,
        direct_session.median,
        measured[5].1.median / direct_session.median
    ));
    out
}

/// A district's subtree figures, as the roll-up computes them (k = 5).
#[derive(Debug, PartialEq, QueryableByName)]
struct DistrictSums {
    #[diesel(sql_type = BigInt)]
    district: i64,
    #[diesel(sql_type = BigInt)]
    evaluated: i64,
    #[diesel(sql_type = BigInt)]
    ballots: i64,
    #[diesel(sql_type = BigInt)]
    valid: i64,
    #[diesel(sql_type = BigInt)]
    satisfied: i64,
    #[diesel(sql_type = BigInt)]
    points: i64,
}

/// The roll-up at the city over the tally table: per district, its subtree's org units.
const TALLY_ROLL_UP: &str = "
    SELECT d.id AS district,
        CAST(SUM(CASE WHEN st.ballots > 0 THEN 1 ELSE 0 END) AS BIGINT) AS evaluated,
        CAST(SUM(st.ballots) AS BIGINT) AS ballots,
        CAST(SUM(CASE WHEN st.ballots >= 5 THEN st.valid ELSE 0 END) AS BIGINT) AS valid,
        CAST(SUM(CASE WHEN st.ballots >= 5 THEN st.satisfied ELSE 0 END) AS BIGINT) AS satisfied,
        CAST(SUM(CASE WHEN st.ballots >= 5 THEN st.points ELSE 0 END) AS BIGINT) AS points
    FROM orgs d
    JOIN orgs o ON o.path >= d.path AND o.path < substr(d.path, 1, length(d.path) - 1) || '0'
    JOIN subject_tallies st ON st.org_id = o.id
    WHERE d.parent_id = $1 AND st.campaign_id = $2 AND st.subject_type = 'org'
    GROUP BY d.id ORDER BY d.id";

/// The same from the ratings, unpacked from the ballots' rows in SQL: per org subject first
/// (the k floor is per subject), then per district.
fn ratings_roll_up(conn: &DbConn) -> String {
    // Each rating as a row `r`, and its subject id and level.
    let (unpack, subject, level) = match conn {
        DbConn::Pg(_) => (
            "CROSS JOIN LATERAL json_array_elements(b.ratings::json) AS r(value)",
            "(r.value ->> 0)::bigint",
            "r.value ->> 2",
        ),
        // `->>` rather than `json_extract(…, '$[0]')`: `load_sql!` numbers `$` parameters.
        DbConn::Sqlite(_) => (
            "JOIN json_each(b.ratings) AS r",
            "r.value ->> 0",
            "r.value ->> 2",
        ),
    };
    format!(
        "
    SELECT district,
        CAST(SUM(CASE WHEN ballots > 0 THEN 1 ELSE 0 END) AS BIGINT) AS evaluated,
        CAST(SUM(ballots) AS BIGINT) AS ballots,
        CAST(SUM(CASE WHEN ballots >= 5 THEN valid ELSE 0 END) AS BIGINT) AS valid,
        CAST(SUM(CASE WHEN ballots >= 5 THEN satisfied ELSE 0 END) AS BIGINT) AS satisfied,
        CAST(SUM(CASE WHEN ballots >= 5 THEN points ELSE 0 END) AS BIGINT) AS points
    FROM (
        SELECT district, subject,
            COUNT(DISTINCT ballot) AS ballots,
            COUNT(*) AS valid,
            SUM(CASE WHEN level IN ('satisfied', 'basically_satisfied') THEN 1 ELSE 0 END)
                AS satisfied,
            SUM(CASE level WHEN 'satisfied' THEN 100 WHEN 'basically_satisfied' THEN 60
                ELSE 0 END) AS points
        FROM (
            SELECT d.id AS district, ss.id AS subject, b.id AS ballot, {level} AS level
            FROM orgs d
            JOIN orgs o ON o.path >= d.path
                AND o.path < substr(d.path, 1, length(d.path) - 1) || '0'
            JOIN sessions s ON s.org_id = o.id
            JOIN session_subjects ss ON ss.session_id = s.id AND ss.subject_type = 'org'
            JOIN ballots b ON b.session_id = s.id
            {unpack}
            WHERE d.parent_id = $1 AND s.campaign_id = $2 AND s.status = 'closed'
                AND {subject} = ss.id
        ) org_ratings
        GROUP BY district, subject
    ) per_subject
    GROUP BY district ORDER BY district"
    )
}

fn load_sums(conn: &mut DbConn, sql: &str, root: i64, campaign: i64) -> Vec<DistrictSums> {
    pingyi::load_sql!(conn, DistrictSums, sql, BigInt => root, BigInt => campaign).unwrap()
}

// ---- Databases ----

/// A database of its own: a temporary SQLite file, or a new PostgreSQL database that is
/// dropped at the end (unless --keep).
fn fresh_database(args: &Args) -> (DatabaseUrl, Box<dyn std::any::Any>) {
    if args.backend == Backend::Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::Sqlite(dir.path().join("city.db"));
        return (url, Box::new(dir));
    }
    struct DropDb(String, String);
    impl Drop for DropDb {
        fn drop(&mut self) {
            if let Ok(mut c) = PgConnection::establish(&self.0) {
                let _ =
                    c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.1));
            }
        }
    }
    let name = format!(
        "pingyi_city_{}",
        pingyi::auth::random_token(4).to_lowercase()
    );
    let mut admin = PgConnection::establish(&args.postgres).expect("connect to --postgres");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = format!("{}/{name}", args.postgres.rsplit_once('/').unwrap().0);
    (
        DatabaseUrl::Postgres(url),
        Box::new(DropDb(args.postgres.clone(), name)),
    )
}
