//! Voting: codes, forms, ballots, paper ballots, turnout — one code one ballot under
//! concurrency, ballot secrecy in the stored data and the logs, throttling of guessing.

use std::collections::BTreeSet;

use chrono::Duration;
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::common::fixtures::{ballot_form, session_step, Meeting};
use crate::common::{logs, tokio_block, Backend, TestApp};
use crate::db_test;

/// A full ballot for a form: every subject on every criterion, with a varying level.
fn full_ratings(form: &Value, seed: usize) -> Vec<Value> {
    let levels = ["satisfied", "basically_satisfied", "dissatisfied"];
    let mut ratings = Vec::new();
    for (i, subject) in form["subjects"].as_array().unwrap().iter().enumerate() {
        let subject_type = subject["subject_type"].as_str().unwrap();
        for (j, criterion) in form["criteria"][subject_type]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            ratings.push(json!({
                "subject_id": subject["id"],
                "criterion_id": criterion["id"],
                "level": levels[(seed + i + j) % 3],
            }));
        }
    }
    ratings
}

db_test!(a_meeting_votes_from_codes_to_turnout, |app| {
    let m = Meeting::set_up(&app).await;
    let members = m.issue(&app, m.session, "party_member", 20).await;
    let public = m.issue(&app, m.session, "mass_representative", 10).await;
    assert_eq!(members.len(), 20);
    let all: BTreeSet<&String> = members.iter().chain(&public).collect();
    assert_eq!(all.len(), 30, "codes are distinct");
    for code in &all {
        assert_eq!(code.len(), 14);
        assert!(
            code.chars()
                .all(|c| c == '-' || "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)),
            "{code}"
        );
    }
    m.open(&app, m.session).await;

    let first = ballot_form(&app, &members[0]).await;
    assert_eq!(first["session"]["status"], "open");
    assert_eq!(first["session"]["title"], "年度群众评议");
    assert_eq!(first["category"], "party_member");
    let types: Vec<&str> = first["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subject_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec!["org", "secretary", "member", "member", "member"]
    );
    assert_eq!(first["criteria"]["org"].as_array().unwrap().len(), 4);
    assert_eq!(first["criteria"]["secretary"].as_array().unwrap().len(), 3);
    assert_eq!(first["criteria"]["member"].as_array().unwrap().len(), 3);
    assert_eq!(first["scale"][1]["label_zh"], "基本满意");
    assert_eq!(
        ballot_form(&app, &public[0]).await["category"],
        "mass_representative"
    );

    let mut receipts = BTreeSet::new();
    for (i, code) in all.iter().enumerate() {
        // Voters type codes in any case, with or without dashes.
        let typed = if i % 2 == 0 {
            code.to_lowercase()
        } else {
            code.replace('-', "")
        };
        let body = json!({"code": typed, "ratings": full_ratings(&first, i), "opinion": if i % 3 == 0 { Some("希望多开展志愿服务") } else { None }});
        let receipt = app
            .post("/api/v1/ballots", None, body)
            .await
            .assert_status(201);
        receipts.insert(receipt["receipt"].as_str().unwrap().to_owned());
    }
    assert_eq!(receipts.len(), 30);

    let turnout = m.turnout(&app).await;
    assert_eq!(
        (
            turnout["issued"].as_i64(),
            turnout["used"].as_i64(),
            turnout["void"].as_i64()
        ),
        (Some(30), Some(30), Some(0))
    );
    assert_eq!(turnout["categories"][0]["category"], "party_member");
    assert_eq!(turnout["categories"][0]["used"], 20);
    assert_eq!(turnout["categories"][1]["used"], 10);
    assert_eq!(app.count("ballots").await, 30);
    assert_eq!(app.stored_ratings().await, 30 * (4 + 3 + 3 * 3));
    assert_eq!(app.count("opinions").await, 10);

    // No results while the session is open.
    let results = app
        .get(
            &format!("/api/v1/sessions/{}/results", m.session),
            Some(&m.admin),
        )
        .await;
    assert!(
        results.status == 404 || results.status == 409,
        "{}",
        results.text
    );
    app.post(
        &format!("/api/v1/sessions/{}/close", m.session),
        Some(&m.admin),
        json!({}),
    )
    .await
    .assert_status(200);
    let _ = m.campaign;
});

enum Step {
    Revert,
    Apply,
}

/// Reverts the last migration or applies the next one on the test's database; the
/// migration's version.
async fn step_last_migration(app: &TestApp, step: Step) -> String {
    use diesel_migrations::MigrationHarness;
    use pingyi::db::{DbConn, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
    let pool = app.pool.clone();
    tokio_block(move || {
        let mut conn = pool.get().unwrap();
        let version = match (&mut *conn, step) {
            (DbConn::Pg(c), Step::Revert) => c.revert_last_migration(POSTGRES_MIGRATIONS),
            (DbConn::Pg(c), Step::Apply) => c.run_next_migration(POSTGRES_MIGRATIONS),
            (DbConn::Sqlite(c), Step::Revert) => c.revert_last_migration(SQLITE_MIGRATIONS),
            (DbConn::Sqlite(c), Step::Apply) => c.run_next_migration(SQLITE_MIGRATIONS),
        };
        version.unwrap().to_string()
    })
    .await
}

db_test!(
    stored_ratings_survive_the_migration_that_packs_them_both_ways,
    |app| {
        let m = Meeting::set_up(&app).await;
        let codes = m.issue(&app, m.session, "party_member", 6).await;
        let form = ballot_form(&app, &codes[0]).await;
        m.open(&app, m.session).await;
        for (i, code) in codes.iter().enumerate() {
            let body = json!({"code": code, "ratings": full_ratings(&form, i)});
            app.post("/api/v1/ballots", None, body)
                .await
                .assert_status(201);
        }
        let before = app.stored_ballots().await;
        assert_eq!(before.len(), 6);
        // Down to a row per rating, then packed again, on the live database.
        assert_eq!(
            step_last_migration(&app, Step::Revert).await,
            "20261202000015"
        );
        let unpacked_rows = app.count("ratings").await;
        step_last_migration(&app, Step::Apply).await;
        assert_eq!(unpacked_rows, 6 * full_ratings(&form, 0).len() as i64);
        assert_eq!(app.stored_ballots().await, before);
        // The repacked ballots count as they were cast.
        session_step(&app, &m.admin, m.session, "close")
            .await
            .assert_status(200);
        let results = m.results(&app).await;
        assert_eq!(results["subjects"][0]["ballots"], 6, "{results}");
    }
);

db_test!(
    fifty_clients_racing_one_code_cast_exactly_one_ballot,
    |app| {
        let m = Meeting::set_up(&app).await;
        let code = m.issue(&app, m.session, "party_member", 1).await.remove(0);
        m.open(&app, m.session).await;
        let form = ballot_form(&app, &code).await;
        let body = json!({"code": code, "ratings": full_ratings(&form, 0)});
        let attempts = (0..50).map(|_| app.post("/api/v1/ballots", None, body.clone()));
        let replies = join_all(attempts).await;
        let created = replies.iter().filter(|r| r.status == 201).count();
        let used: Vec<_> = replies.iter().filter(|r| r.status == 409).collect();
        assert_eq!(
            created,
            1,
            "{:?}",
            replies
                .iter()
                .map(|r| (r.status, r.text.clone()))
                .collect::<Vec<_>>()
        );
        assert_eq!(used.len(), 49);
        for reply in used {
            reply.assert_problem(409, "code_used");
        }
        assert_eq!(app.count("ballots").await, 1);
        assert_eq!(
            app.stored_ratings().await,
            full_ratings(&form, 0).len() as i64
        );
    }
);

db_test!(
    wrong_codes_sessions_and_ratings_get_their_errors_and_write_nothing,
    |app| {
        let m = Meeting::set_up(&app).await;
        let codes = m.issue(&app, m.session, "party_member", 3).await;
        let other_codes = m.issue(&app, m.other_session, "party_member", 1).await;
        m.open(&app, m.session).await;
        m.open(&app, m.other_session).await;
        let form = ballot_form(&app, &codes[0]).await;
        let good = full_ratings(&form, 0);
        let subject = form["subjects"][0]["id"].clone();

        // Unknown and malformed codes.
        for code in ["AAAA-BBBB-CCCC", "not a code", ""] {
            app.post(
                "/api/v1/ballots",
                None,
                json!({"code": code, "ratings": good}),
            )
            .await
            .assert_problem(404, "invalid_code");
            app.post("/api/v1/ballot-forms", None, json!({"code": code}))
                .await
                .assert_problem(404, "invalid_code");
        }
        // A code of another session cannot rate this session's subjects.
        let problem = app
            .post(
                "/api/v1/ballots",
                None,
                json!({"code": other_codes[0], "ratings": good}),
            )
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "ratings[0].subject_id");
        // Ratings outside the session's criteria or scale, twice the same, or none at all.
        let cases = [
            (
                json!([{"subject_id": subject, "criterion_id": 5, "level": "satisfied"}]),
                "ratings[0].criterion_id",
            ),
            (
                json!([{"subject_id": subject, "criterion_id": 1, "level": "great"}]),
                "ratings[0].level",
            ),
            (
                json!([{"subject_id": 999_999, "criterion_id": 1, "level": "satisfied"}]),
                "ratings[0].subject_id",
            ),
            (
                json!([{"subject_id": subject, "criterion_id": 1, "level": "satisfied"}, {"subject_id": subject, "criterion_id": 1, "level": "dissatisfied"}]),
                "ratings[1]",
            ),
            (json!([]), "ratings"),
        ];
        for (ratings, field) in cases {
            let problem = app
                .post(
                    "/api/v1/ballots",
                    None,
                    json!({"code": codes[0], "ratings": ratings}),
                )
                .await
                .assert_problem(422, "validation_failed");
            assert_eq!(problem["errors"][0]["field"], field);
        }
        assert_eq!(app.count("ballots").await, 0);
        assert_eq!(app.stored_ratings().await, 0);
        // None of this used the code up.
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": codes[0], "ratings": good}),
        )
        .await
        .assert_status(201);
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": codes[0], "ratings": good}),
        )
        .await
        .assert_problem(409, "code_used");
        app.post("/api/v1/ballot-forms", None, json!({"code": codes[0]}))
            .await
            .assert_problem(409, "code_used");

        // A voided code is as good as unknown.
        let batches = app
            .get(
                &format!("/api/v1/sessions/{}/voting-codes/batches", m.session),
                Some(&m.admin),
            )
            .await
            .assert_status(200);
        let batch = batches[0]["id"].as_i64().unwrap();
        let voided = app
            .post(
                &format!(
                    "/api/v1/sessions/{}/voting-codes/batches/{batch}/void",
                    m.session
                ),
                Some(&m.admin),
                json!({}),
            )
            .await
            .assert_status(200);
        // The batch holds fewer codes than k: its used count is not shown (issue 8).
        assert_eq!(
            (voided["used"].as_i64(), voided["void"].as_i64()),
            (None, Some(2))
        );
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": codes[1], "ratings": good}),
        )
        .await
        .assert_problem(404, "invalid_code");

        // A closed session takes no ballots.
        let late = m.issue(&app, m.session, "mass_representative", 1).await;
        app.post(
            &format!("/api/v1/sessions/{}/close", m.session),
            Some(&m.admin),
            json!({}),
        )
        .await
        .assert_status(200);
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": late[0], "ratings": good}),
        )
        .await
        .assert_problem(409, "session_not_open");
        assert_eq!(app.count("ballots").await, 1);
        let turnout = m.turnout(&app).await;
        assert_eq!(
            (
                turnout["issued"].as_i64(),
                turnout["used"].as_i64(),
                turnout["void"].as_i64()
            ),
            (Some(4), Some(1), Some(2))
        );
        // Codes are issued only before a session closes.
        app.post(
            &format!("/api/v1/sessions/{}/voting-codes", m.session),
            Some(&m.admin),
            json!({"category": "other", "count": 1}),
        )
        .await
        .assert_problem(409, "session_closed");
    }
);

#[derive(diesel::QueryableByName, Debug)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

async fn columns(app: &TestApp, table: &'static str) -> BTreeSet<String> {
    let pool = app.pool.clone();
    let backend = app.backend;
    crate::common::tokio_block(move || {
        use diesel::RunQueryDsl;
        let mut conn = pool.get().unwrap();
        let sql = match backend {
            Backend::Sqlite => format!("SELECT name FROM pragma_table_info('{table}')"),
            Backend::Postgres => format!(
                "SELECT column_name::text AS name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}'"
            ),
        };
        diesel::sql_query(sql).load::<Column>(&mut *conn).unwrap().into_iter().map(|c| c.name).collect()
    })
    .await
}

#[derive(diesel::QueryableByName, Debug)]
struct BallotRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Date)]
    cast_on: chrono::NaiveDate,
}

db_test!(secrecy_holds_in_the_schema_the_rows_and_the_logs, |app| {
    let m = Meeting::set_up(&app).await;
    let codes = m.issue(&app, m.session, "party_member", 12).await;
    m.open(&app, m.session).await;
    let form = ballot_form(&app, &codes[0]).await;
    let mut receipts = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        // Every other voter's app sends the ratings in reverse order.
        let mut ratings = full_ratings(&form, i);
        if i % 2 == 1 {
            ratings.reverse();
        }
        let body = json!({"code": code, "ratings": ratings, "opinion": format!("意见 {i}")});
        receipts.push(
            app.post("/api/v1/ballots", None, body)
                .await
                .assert_status(201)["receipt"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    // No column ties a ballot to a code or a voter, and none records a time of use.
    let set = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        columns(&app, "ballots").await,
        set(&[
            "id",
            "session_id",
            "category",
            "paper",
            "cast_on",
            "ratings"
        ])
    );
    // A ballot's ratings are only (subject, criterion, level) triples, sorted: the order a
    // client sent them in, which could tell one voting app from another, is not kept.
    for (_, ratings) in app.stored_ballots().await {
        assert!(!ratings.is_empty());
        assert!(ratings
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
    }
    assert_eq!(
        // The recorder and category are for opinions typed in from surveys and visits;
        // ballot opinions leave them empty (checked in tests/records.rs).
        columns(&app, "opinions").await,
        set(&[
            "id",
            "session_id",
            "content",
            "cast_on",
            "source",
            "category",
            "recorded_by"
        ])
    );
    assert_eq!(
        columns(&app, "voting_codes").await,
        set(&["code_hash", "session_id", "batch_id", "category", "state"])
    );

    // Ballot ids are random: sorted by id they are not in casting order, and no hidden
    // serial (SQLite's rowid) numbers them.
    let pool = app.pool.clone();
    let backend = app.backend;
    let (rows, rowid_refused) = crate::common::tokio_block(move || {
        use diesel::RunQueryDsl;
        let mut conn = pool.get().unwrap();
        let rows: Vec<BallotRow> = diesel::sql_query("SELECT id, cast_on FROM ballots")
            .load(&mut *conn)
            .unwrap();
        let rowid = match backend {
            Backend::Sqlite => diesel::sql_query("SELECT rowid AS id, cast_on FROM ballots")
                .load::<BallotRow>(&mut *conn)
                .is_err(),
            Backend::Postgres => true,
        };
        (rows, rowid)
    })
    .await;
    assert!(rowid_refused, "ballots must be a WITHOUT ROWID table");
    assert_eq!(rows.len(), 12);
    let today = pingyi::types::local_today();
    for row in &rows {
        assert_eq!(row.id.len(), 32, "{}", row.id);
        assert!(
            row.cast_on == today || row.cast_on == today - Duration::days(1),
            "only the day is kept"
        );
        assert!(!receipts.contains(&row.id), "a receipt is not a ballot id");
    }
    // The receipts reveal nothing: no endpoint answers one.
    for path in [
        format!("/api/v1/ballots/{}", receipts[0]),
        format!("/api/v1/receipts/{}", receipts[0]),
    ] {
        let reply = app.get(&path, Some(&m.admin)).await;
        assert!(
            reply.status == 404 || reply.status == 405,
            "{path}: {}",
            reply.status
        );
    }
    // The code is kept only as a keyed hash: the stored hashes are not the codes.
    let stored = app.count("voting_codes").await;
    assert_eq!(stored, 12);
    // No log line holds a code, in any typed form.
    let log = logs::text();
    assert!(
        log.contains("/api/v1/ballots"),
        "the access log is captured"
    );
    for code in &codes {
        assert!(!log.contains(code.as_str()), "a code reached the log");
        assert!(
            !log.contains(&code.replace('-', "")),
            "a code reached the log"
        );
    }
});

db_test!(guessing_codes_is_throttled_but_a_whole_hall_is_not, |app| {
    let m = Meeting::set_up(&app).await;
    let codes = m.issue(&app, m.session, "mass_representative", 100).await;
    m.open(&app, m.session).await;
    let form = ballot_form(&app, &codes[0]).await;
    // A hundred voters behind one address, fetching forms and voting, some mistyping once.
    for (i, code) in codes.iter().enumerate() {
        if i % 10 == 0 {
            app.post(
                "/api/v1/ballot-forms",
                None,
                json!({"code": "ZZZZ-ZZZZ-ZZZZ"}),
            )
            .await
            .assert_problem(404, "invalid_code");
        }
        app.post("/api/v1/ballot-forms", None, json!({"code": code}))
            .await
            .assert_status(200);
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": code, "ratings": full_ratings(&form, i)}),
        )
        .await
        .assert_status(201);
    }
    // Guessing: after 60 misses in ten minutes, the address is refused.
    let mut refused = None;
    for i in 0..60 {
        let reply = app
            .post(
                "/api/v1/ballots",
                None,
                json!({"code": format!("ZZZZ-ZZZZ-{:04}", i), "ratings": full_ratings(&form, 0)}),
            )
            .await;
        if reply.status == 429 {
            refused = Some(i);
            break;
        }
    }
    assert_eq!(refused, Some(50), "10 typos and 50 guesses make 60 misses");
    let reply = app
        .post(
            "/api/v1/ballot-forms",
            None,
            json!({"code": "ZZZZ-ZZZZ-ZZZZ"}),
        )
        .await;
    reply.assert_problem(429, "rate_limited");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry));
});

db_test!(paper_ballots_count_and_are_audited, |app| {
    let m = Meeting::set_up(&app).await;
    let codes = m.issue(&app, m.session, "party_member", 2).await;
    let form = ballot_form(&app, &codes[0]).await;
    let paper = json!({"category": "mass_representative", "ballots": [
        {"ratings": full_ratings(&form, 0)},
        {"ratings": full_ratings(&form, 1), "opinion": "纸质意见"},
    ]});
    app.post(
        &format!("/api/v1/sessions/{}/paper-ballots", m.session),
        Some(&m.admin),
        paper.clone(),
    )
    .await
    .assert_problem(409, "session_not_open");
    m.open(&app, m.session).await;
    let bad = json!({"category": "mass_representative", "ballots": [{"ratings": [{"subject_id": 1, "criterion_id": 999, "level": "satisfied"}]}]});
    let problem = app
        .post(
            &format!("/api/v1/sessions/{}/paper-ballots", m.session),
            Some(&m.admin),
            bad,
        )
        .await
        .assert_problem(422, "validation_failed");
    assert!(problem["errors"][0]["field"]
        .as_str()
        .unwrap()
        .starts_with("ballots[0].ratings[0]"));
    let entered = app
        .post(
            &format!("/api/v1/sessions/{}/paper-ballots", m.session),
            Some(&m.admin),
            paper,
        )
        .await
        .assert_status(201);
    assert_eq!(entered["created"], 2);
    app.post(
        "/api/v1/ballots",
        None,
        json!({"code": codes[0], "ratings": full_ratings(&form, 2)}),
    )
    .await
    .assert_status(201);
    let turnout = m.turnout(&app).await;
    assert_eq!(
        (
            turnout["issued"].as_i64(),
            turnout["used"].as_i64(),
            turnout["paper"].as_i64()
        ),
        (Some(2), Some(3), Some(2))
    );
    let representatives = &turnout["categories"][1];
    assert_eq!(representatives["category"], "mass_representative");
    assert_eq!(
        (
            representatives["issued"].as_i64(),
            representatives["used"].as_i64(),
            representatives["paper"].as_i64()
        ),
        (Some(0), Some(2), Some(2))
    );
    let audit = app
        .get(
            "/api/v1/audit-events?action=paper_ballots.enter",
            Some(&m.admin),
        )
        .await
        .assert_status(200);
    assert_eq!(audit["total"], 1);
    assert!(audit["items"][0]["summary"]
        .as_str()
        .unwrap()
        .contains("2 paper ballots"));
    // Only those who run the session may type ballots in: the voting endpoints need no token,
    // this one does.
    app.post(
        &format!("/api/v1/sessions/{}/paper-ballots", m.session),
        None,
        json!({}),
    )
    .await
    .assert_problem(401, "unauthorized");
    let _ = m.branch;
});

db_test!(
    codes_come_as_json_or_a_printable_sheet_and_batches_are_bounded,
    |app| {
        let m = Meeting::set_up(&app).await;
        let sheet = app
            .post(
                &format!("/api/v1/sessions/{}/voting-codes?format=html", m.session),
                Some(&m.admin),
                json!({"category": "deputy", "count": 3}),
            )
            .await;
        assert_eq!(sheet.status, 201);
        assert!(sheet.content_type().starts_with("text/html"));
        assert_eq!(sheet.header("cache-control"), Some("no-store"));
        assert_eq!(sheet.text.matches("<svg").count(), 3);
        // Made for the hall: the category in Chinese on every card, the address to type.
        assert_eq!(
            sheet.text.matches("两代表一委员").count(),
            4,
            "the intro and 3 cards"
        );
        assert!(!sheet.text.contains(">deputy<"));
        assert!(sheet.text.contains("/vote</b>"));
        assert_eq!(
            sheet.text.matches("/vote#code=").count(),
            0,
            "the link is inside the QR code, not the page text"
        );
        for count in [0, 1001] {
            app.post(
                &format!("/api/v1/sessions/{}/voting-codes", m.session),
                Some(&m.admin),
                json!({"category": "deputy", "count": count}),
            )
            .await
            .assert_problem(422, "validation_failed");
        }
        app.post(
            &format!("/api/v1/sessions/{}/voting-codes", m.session),
            Some(&m.admin),
            json!({"category": "nobody", "count": 1}),
        )
        .await
        .assert_problem(422, "validation_failed");
        let big = m.issue(&app, m.session, "party_member", 1000).await;
        assert_eq!(big.len(), 1000);
        let turnout = m.turnout(&app).await;
        assert_eq!(turnout["issued"], 1003);
    }
);

db_test!(
    the_secretary_rated_on_the_ballot_cannot_issue_codes_or_type_ballots,
    |app| {
        let m = Meeting::set_up(&app).await;
        let (_, secretary) = crate::common::fixtures::create_user_with_grant(
            &app,
            &m.admin,
            "branch.secretary",
            m.branch,
            "secretary",
        )
        .await;
        // The secretary runs the meeting…
        app.post(
            &format!("/api/v1/sessions/{}/open", m.session),
            Some(&secretary),
            json!({}),
        )
        .await
        .assert_status(200);
        // …but neither prints codes nor types in ballots.
        app.post(
            &format!("/api/v1/sessions/{}/voting-codes", m.session),
            Some(&secretary),
            json!({"category": "other", "count": 5}),
        )
        .await
        .assert_problem(403, "forbidden");
        let paper = json!({"category": "other", "ballots": [{"ratings": [{"subject_id": 1, "criterion_id": 1, "level": "satisfied"}]}]});
        app.post(
            &format!("/api/v1/sessions/{}/paper-ballots", m.session),
            Some(&secretary),
            paper,
        )
        .await
        .assert_problem(403, "forbidden");
        assert_eq!(app.count("voting_codes").await, 0);
        assert_eq!(app.count("ballots").await, 0);
    }
);

db_test!(
    control_characters_and_unstorable_values_are_refused_not_a_server_error,
    |app| {
        let m = Meeting::set_up(&app).await;
        let codes = m.issue(&app, m.session, "party_member", 1).await;
        m.open(&app, m.session).await;
        let form = ballot_form(&app, &codes[0]).await;
        let reply = app
            .post(
                "/api/v1/ballots",
                None,
                json!({"code": codes[0], "ratings": full_ratings(&form, 0), "opinion": "a\u{0}b"}),
            )
            .await;
        // PostgreSQL text cannot hold NUL, so neither backend takes it: 422 naming the
        // field, nothing written, and the code still works.
        let problem = reply.assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], "opinion");
        assert_eq!(app.count("ballots").await, 0);
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": codes[0], "ratings": full_ratings(&form, 0)}),
        )
        .await
        .assert_status(201);
        app.post(
        "/api/v1/people",
        Some(&m.admin),
        json!({"org_id": m.branch, "name": "远古", "member_type": "full", "joined_on": "+200000-01-01"}),
    )
    .await;
        let far = app
        .post(
            "/api/v1/campaigns",
            Some(&m.admin),
            json!({"owner_org_id": m.branch, "title": "远", "starts_on": "-4000-01-01", "ends_on": "+200000-01-01", "template_id": 1}),
        )
        .await;
        assert_ne!(far.status, 500, "{}", far.text);
    }
);

db_test!(
    a_burst_keeps_each_ballots_own_answer_and_a_close_comes_after_the_ballots_it_accepted,
    |app| {
        burst_then_close(&app).await;
    }
);

/// Thirty ballots at once (some twice, some refused inside their transaction), then forty
/// more with a close sent among them.
async fn burst_then_close(app: &TestApp) {
    let m = Meeting::set_up(app).await;
    let codes = m.issue(app, m.session, "party_member", 30).await;
    m.open(app, m.session).await;
    let form = ballot_form(app, &codes[0]).await;
    let good = full_ratings(&form, 0);
    // A criterion of another subject type: refused inside the transaction, after the
    // code was consumed (its savepoint rolls back).
    let bad =
        json!([{"subject_id": form["subjects"][0]["id"], "criterion_id": 5, "level": "satisfied"}]);
    // At once: ten codes twice, ten once, ten with a rating the session does not have.
    // Under group commit they share transactions; each keeps its own answer.
    let mut bodies = Vec::new();
    for code in codes[..10].iter().chain(&codes[..20]) {
        bodies.push(json!({"code": code, "ratings": good}));
    }
    for code in &codes[20..] {
        bodies.push(json!({"code": code, "ratings": bad}));
    }
    let replies = join_all(
        bodies
            .iter()
            .map(|body| app.post("/api/v1/ballots", None, body.clone())),
    )
    .await;
    let count = |status: u16| replies.iter().filter(|r| r.status == status).count();
    assert_eq!((count(201), count(409), count(422)), (20, 10, 10));
    for reply in replies.iter().filter(|r| r.status == 409) {
        reply.assert_problem(409, "code_used");
    }
    assert_eq!(app.count("ballots").await, 20);
    assert_eq!(m.turnout(app).await["used"], 20);
    // The refused ratings did not use their codes up.
    app.post(
        "/api/v1/ballots",
        None,
        json!({"code": codes[20], "ratings": good}),
    )
    .await
    .assert_status(201);

    // A close sent in the middle of a burst: every ballot is either cast (and counted
    // in the results the close tallies) or refused because the session closed.
    let burst = m.issue(app, m.session, "party_member", 40).await;
    let ballots = join_all(burst.iter().map(|code| {
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": code, "ratings": good}),
        )
    }));
    let close = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
        session_step(app, &m.admin, m.session, "close").await
    };
    let (replies, closed) = tokio::join!(ballots, close);
    closed.assert_status(200);
    let cast = replies.iter().filter(|r| r.status == 201).count();
    for reply in replies.iter().filter(|r| r.status != 201) {
        reply.assert_problem(409, "session_not_open");
    }
    let stored = app.count("ballots").await;
    assert_eq!(stored, 21 + cast as i64);
    assert_eq!(m.turnout(app).await["used"], stored);
    assert_eq!(m.results(app).await["ballots"], stored);
}

db_test!(
    every_code_cast_twice_at_once_is_stored_once_and_refused_once,
    |app| {
        // With several writers (PostgreSQL), batches holding the same codes in opposite
        // orders would wait on each other until one failed as a deadlock; a code's two
        // casts go to one writer instead.
        let m = Meeting::set_up(&app).await;
        let codes = m.issue(&app, m.session, "party_member", 120).await;
        m.open(&app, m.session).await;
        let form = ballot_form(&app, &codes[0]).await;
        let good = full_ratings(&form, 0);
        let replies = join_all(codes.iter().chain(codes.iter().rev()).map(|code| {
            app.post(
                "/api/v1/ballots",
                None,
                json!({"code": code, "ratings": good}),
            )
        }))
        .await;
        let count = |status: u16| replies.iter().filter(|r| r.status == status).count();
        assert_eq!((count(201), count(409)), (120, 120));
        assert_eq!(app.count("ballots").await, 120);
        assert_eq!(m.turnout(&app).await["used"], 120);
    }
);

db_test!(
    opinions_written_together_are_not_stored_in_their_ballots_order,
    |app| {
        // Ballots of one batch go in together; their opinions are rows apart that name only
        // the session, and they are stored shuffled, so that neither their ids nor their
        // place in the table pairs them with their ballots.
        let m = Meeting::set_up(&app).await;
        let codes = m.issue(&app, m.session, "party_member", 1).await;
        m.open(&app, m.session).await;
        let form = ballot_form(&app, &codes[0]).await;
        let ratings: Vec<pingyi::ballots::model::Rating> =
            serde_json::from_value(json!(full_ratings(&form, 0))).unwrap();
        let written: Vec<String> = (0..12).map(|n| format!("意见{n:02}")).collect();
        let (pool, session, backend) = (app.pool.clone(), m.session, app.backend);
        let stored = tokio_block(move || {
            use diesel::RunQueryDsl;
            let ballots: Vec<_> = written
                .iter()
                .map(|opinion| pingyi::ballots::queries::NewBallot {
                    session_id: session,
                    category: pingyi::ballots::model::ParticipantCategory::PartyMember,
                    paper: false,
                    ratings: &ratings,
                    opinion: Some(opinion),
                })
                .collect();
            let mut conn = pool.get().unwrap();
            pingyi::ballots::queries::write_ballots(&mut conn, &ballots).unwrap();
            #[derive(diesel::QueryableByName)]
            struct Content {
                #[diesel(sql_type = diesel::sql_types::Text)]
                content: String,
            }
            // Where the rows sit: SQLite keeps the table in the order of its random ids
            // (WITHOUT ROWID), PostgreSQL in its heap, in the order rows were written.
            let physical = match backend {
                Backend::Sqlite => "id",
                Backend::Postgres => "ctid",
            };
            let stored: Vec<String> =
                diesel::sql_query(format!("SELECT content FROM opinions ORDER BY {physical}"))
                    .load::<Content>(&mut *conn)
                    .unwrap()
                    .into_iter()
                    .map(|c| c.content)
                    .collect();
            (stored, written)
        })
        .await;
        let (stored, written) = stored;
        let mut sorted = stored.clone();
        sorted.sort();
        assert_eq!(sorted, written, "every opinion stored once");
        // 12! orders: the ballots' own comes back by chance once in 479 million runs.
        assert_ne!(stored, written, "opinions stored in their ballots' order");
    }
);
