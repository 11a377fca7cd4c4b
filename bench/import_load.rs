//! City-scale imports through the API, reported as ratios against baselines measured in the
//! same run on the same kind of database:
//!
//! - **first upload**: a people file (default 500,000 rows over 10,000 orgs, one secretary
//!   per branch) sent as a job and polled until done, against the raw bulk load of what it
//!   stores — the people, their memberships, one audit row each and the branches'
//!   secretaries — with COPY on PostgreSQL and one prepared INSERT per row in one
//!   transaction on SQLite (what the sqlite3 shell's `.import` does), into a database of its
//!   own holding the same orgs;
//! - **unchanged re-upload**: the same file again, against a plain read of the roster;
//! - **bulk scheduling**: a branch meeting for every branch of the city in one request,
//!   against the same sessions and subjects (each branch, its secretary, its members)
//!   inserted by three set-based SQL statements in the raw database.
//!
//!     cargo run --release --example import_load -- --help

#[path = "support.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use clap::Parser;
use diesel::prelude::*;
use pingyi::db::schema::{audit_events, memberships, orgs, people};
use pingyi::db::{DbConn, Pool};
use pingyi::people::model::PersonRow;
use serde_json::Value;
use support::Which;

#[derive(Parser, Debug)]
#[command(about = "City import driver: the API's import jobs against same-run raw loads")]
struct Args {
    #[command(flatten)]
    databases: support::Databases,
    /// Orgs of the city: one committee, general branches of 99 branches each, branches.
    #[arg(long, default_value_t = 10_000)]
    orgs: usize,
    /// People of the city, spread evenly over the branches.
    #[arg(long, default_value_t = 500_000)]
    people: usize,
}

fn main() {
    let args = Args::parse();
    // RUST_LOG=info shows the server's own timing of each import job's phases.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut report = String::new();
    for backend in args.databases.chosen() {
        report.push_str(&run_backend(&args, backend == Which::Sqlite));
    }
    println!("\n{report}");
}

fn run_backend(args: &Args, sqlite: bool) -> String {
    let name = if sqlite { "SQLite" } else { "PostgreSQL" };
    let city = support::city(args.orgs, args.people);
    let (raw_url, _raw_guard) = support::fresh_database(&args.databases.postgres, sqlite);
    let (raw_base, raw_pool) = support::start_server(&raw_url, 4);
    let (url, _guard) = support::fresh_database(&args.databases.postgres, sqlite);
    let (base, pool) = support::start_server(&url, 8);
    actix_web::rt::System::new().block_on(async {
        let client = support::client();
        for base in [&raw_base, &base] {
            let token = support::admin_token(&client, base).await;
            let orgs = city.orgs_csv.clone();
            let started = Instant::now();
            let (status, _) =
                support::post_csv(&client, base, &token, "orgs?wait=true", orgs, false).await;
            assert_eq!(status, 200, "orgs");
            eprintln!("{name}: orgs file {:.2} s", started.elapsed().as_secs_f64());
        }
        eprintln!(
            "{name}: {} orgs, {} people in {} branches",
            args.orgs, args.people, city.branches
        );

        let raw = raw_load(&raw_pool, &city);
        eprintln!("{name}: raw load {:.2} s", raw.as_secs_f64());

        let token = support::admin_token(&support::client(), &base).await;
        let (first, first_report) = support::import_job(&base, &token, &city.people_csv).await;
        eprintln!(
            "{name}: import {:.2} s: {first_report}",
            first.as_secs_f64()
        );
        assert_eq!(first_report["created"], args.people, "{first_report}");
        let secretaries: i64 = orgs::table
            .filter(orgs::secretary_id.is_not_null())
            .count()
            .get_result(&mut pool.get().unwrap())
            .unwrap();
        assert_eq!(secretaries as usize, city.branches.min(args.people));

        let (again, again_report) = support::import_job(&base, &token, &city.people_csv).await;
        eprintln!(
            "{name}: re-upload {:.2} s: {again_report}",
            again.as_secs_f64()
        );
        assert_eq!(again_report["unchanged"], args.people, "{again_report}");
        let read = time(|| {
            let roster: Vec<PersonRow> = people::table
                .select(PersonRow::as_select())
                .load(&mut pool.get().unwrap())
                .unwrap();
            assert_eq!(roster.len(), args.people);
        });
        eprintln!("{name}: roster read {:.2} s", read.as_secs_f64());

        let (bulk, raw_bulk) = schedule_city(&base, &raw_base, &pool, &raw_pool).await;
        eprintln!(
            "{name}: bulk scheduling {:.2} s, raw inserts {:.2} s",
            bulk.as_secs_f64(),
            raw_bulk.as_secs_f64()
        );

        let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
        format!(
            "### {name}: {} people in {} orgs\n\n\
             | | API (job, polled) s | baseline s | API ÷ baseline |\n|---|---:|---:|---:|\n\
             | first upload vs raw bulk load | {:.2} | {:.2} | {:.2}× |\n\
             | unchanged re-upload vs roster read | {:.2} | {:.2} | {:.2}× |\n\
             | bulk scheduling ({} sessions) vs raw inserts | {:.2} | {:.2} | {:.2}× |\n\n",
            args.people,
            args.orgs,
            first.as_secs_f64(),
            raw.as_secs_f64(),
            ratio(first, raw),
            again.as_secs_f64(),
            read.as_secs_f64(),
            ratio(again, read),
            city.branches,
            bulk.as_secs_f64(),
            raw_bulk.as_secs_f64(),
            ratio(bulk, raw_bulk),
        )
    })
}

/// An active campaign owned by the city's committee, on the server at `base`: its id.
async fn active_campaign(client: &awc::Client, base: &str, pool: &Pool) -> (i64, String) {
    let token = support::admin_token(client, base).await;
    let city: i64 = orgs::table
        .filter(orgs::external_id.eq("C0"))
        .select(orgs::id)
        .first(&mut pool.get().unwrap())
        .unwrap();
    let today = chrono::Utc::now().date_naive();
    let body = serde_json::json!({
        "owner_org_id": city, "title": "全市评议", "template_id": 1,
        "starts_on": today - chrono::Duration::days(1), "ends_on": today + chrono::Duration::days(30),
    });
    let campaign = support::call(
        client,
        "POST",
        format!("{base}/api/v1/campaigns"),
        Some(&token),
        body,
    )
    .await;
    let id = campaign["id"].as_i64().unwrap();
    let activate = format!("{base}/api/v1/campaigns/{id}/activate");
    support::call(client, "POST", activate, Some(&token), Value::Null).await;
    (id, token)
}

/// Schedules every branch's meeting through the API and, in the raw database, with two
/// statements: both times.
async fn schedule_city(
    base: &str,
    raw_base: &str,
    pool: &Pool,
    raw_pool: &Pool,
) -> (Duration, Duration) {
    let client = support::client();
    let (campaign, token) = active_campaign(&client, base, pool).await;
    let at = chrono::Utc::now().to_rfc3339();
    let bulk = format!("{base}/api/v1/campaigns/{campaign}/sessions/bulk?wait=true");
    let body = serde_json::json!({"kind": "branch_meeting", "scheduled_at": at});
    let started = Instant::now();
    let answer = support::call(&client, "POST", bulk, Some(&token), body).await;
    let api = started.elapsed();
    eprintln!("  bulk scheduling: {answer}");

    let (campaign, _) = active_campaign(&client, raw_base, raw_pool).await;
    let at = chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S");
    let sessions = format!(
        "INSERT INTO sessions (campaign_id, org_id, domain, kind, status, scheduled_at, created_at, updated_at) \
         SELECT {campaign}, id, domain, 'branch_meeting', 'scheduled', '{at}', '{at}', '{at}' \
         FROM orgs WHERE kind = 'branch' AND status = 'active'"
    );
    let org_subjects = format!(
        "INSERT INTO session_subjects (session_id, subject_type, org_id, person_id, name, position) \
         SELECT s.id, 'org', o.id, NULL, o.name, 1 FROM sessions s JOIN orgs o ON o.id = s.org_id \
         WHERE s.campaign_id = {campaign}"
    );
    let people_subjects = format!(
        "INSERT INTO session_subjects (session_id, subject_type, org_id, person_id, name, position) \
         SELECT s.id, CASE WHEN p.id = o.secretary_id THEN 'secretary' ELSE 'member' END, o.id, p.id, p.name, \
         1 + ROW_NUMBER() OVER (PARTITION BY s.id ORDER BY CASE WHEN p.id = o.secretary_id THEN 0 ELSE 1 END, p.id) \
         FROM sessions s JOIN orgs o ON o.id = s.org_id JOIN people p ON p.org_id = o.id AND p.status = 'active' \
         WHERE s.campaign_id = {campaign}"
    );
    let mut conn = raw_pool.get().unwrap();
    let raw = time(|| {
        pingyi::db::write_transaction(&mut conn, |conn| {
            for sql in [&sessions, &org_subjects, &people_subjects] {
                diesel::sql_query(sql.as_str()).execute(conn)?;
            }
            Ok::<(), diesel::result::Error>(())
        })
        .unwrap()
    });
    (api, raw)
}

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

#[derive(Insertable)]
#[diesel(table_name = people, treat_none_as_default_value = false)]
struct RawPerson {
    id: i64,
    org_id: i64,
    name: String,
    member_type: &'static str,
    position: Option<&'static str>,
    joined_on: Option<chrono::NaiveDate>,
    external_id: Option<String>,
    phone: Option<String>,
    status: &'static str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = memberships, treat_none_as_default_value = false)]
struct RawMembership {
    person_id: i64,
    org_id: i64,
    started_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
struct RawAudit {
    actor_id: Option<i64>,
    action: &'static str,
    target_type: &'static str,
    target_id: Option<String>,
    org_id: Option<i64>,
    at: NaiveDateTime,
    request_id: Option<String>,
    summary: String,
}

/// What the import stores for the people file, loaded as fast as the database takes rows,
/// in one transaction: the rows are built before the clock starts (as COPY's input file
/// would be), the ids given.
fn raw_load(pool: &Pool, city: &support::City) -> Duration {
    let mut conn = pool.get().unwrap();
    let org_ids: HashMap<String, i64> = orgs::table
        .select((orgs::external_id.assume_not_null(), orgs::id))
        .load::<(String, i64)>(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    let first_id: i64 = people::table
        .select(diesel::dsl::max(people::id))
        .first::<Option<i64>>(&mut conn)
        .unwrap()
        .unwrap_or(0)
        + 1;
    let at = chrono::Utc::now().naive_utc();
    let mut persons = Vec::new();
    let mut opened = Vec::new();
    let mut audits = Vec::new();
    let mut reader = csv::Reader::from_reader(city.people_csv.as_bytes());
    for (i, row) in reader.records().enumerate() {
        let row = row.unwrap();
        let id = first_id + i as i64;
        let org_id = org_ids[&row[1]];
        persons.push(RawPerson {
            id,
            org_id,
            name: row[2].to_owned(),
            member_type: "full",
            position: Some(if &row[4] == "secretary" {
                "secretary"
            } else {
                "member"
            }),
            joined_on: chrono::NaiveDate::parse_from_str(&row[5], "%Y-%m-%d").ok(),
            external_id: Some(row[0].to_owned()),
            phone: Some(row[6].to_owned()),
            status: "active",
            created_at: at,
            updated_at: at,
        });
        opened.push(RawMembership {
            person_id: id,
            org_id,
            started_at: at,
        });
        audits.push(RawAudit {
            actor_id: Some(1),
            action: "person.import",
            target_type: "person",
            target_id: Some(id.to_string()),
            org_id: Some(org_id),
            at,
            request_id: None,
            summary: format!("imported {}", &row[2]),
        });
    }
    let appoint = "UPDATE orgs SET secretary_id = (SELECT p.id FROM people p \
                   WHERE p.org_id = orgs.id AND p.position = 'secretary') \
                   WHERE EXISTS (SELECT 1 FROM people p WHERE p.org_id = orgs.id \
                   AND p.position = 'secretary')";
    time(|| match &mut *conn {
        DbConn::Pg(pg) => pg
            .transaction(|pg| {
                diesel::copy_from(people::table)
                    .from_insertable(&persons)
                    .execute(pg)?;
                diesel::copy_from(memberships::table)
                    .from_insertable(&opened)
                    .execute(pg)?;
                diesel::copy_from(audit_events::table)
                    .from_insertable(&audits)
                    .execute(pg)?;
                diesel::sql_query(appoint).execute(pg)
            })
            .map(drop)
            .unwrap(),
        DbConn::Sqlite(lite) => lite
            .immediate_transaction(|lite| {
                for row in &persons {
                    diesel::insert_into(people::table)
                        .values(row)
                        .execute(lite)?;
                }
                for row in &opened {
                    diesel::insert_into(memberships::table)
                        .values(row)
                        .execute(lite)?;
                }
                for row in &audits {
                    diesel::insert_into(audit_events::table)
                        .values(row)
                        .execute(lite)?;
                }
                diesel::sql_query(appoint).execute(lite)
            })
            .map(drop)
            .unwrap(),
    })
}
