//! Issue 8, ballot integrity and storage secrecy: the rated cannot edit the ballot, the
//! ballot is fixed once codes are issued, a session opens only with a complete ballot.

use serde_json::{json, Value};

use crate::common::fixtures::{ballot_form, grant, login, session_step, Meeting, USER_PASSWORD};
use crate::common::TestApp;
use crate::db_test;

async fn subjects(app: &TestApp, token: &str, session: i64) -> Vec<Value> {
    app.get(&format!("/api/v1/sessions/{session}/subjects"), Some(token))
        .await
        .assert_status(200)
        .as_array()
        .expect("a subject list")
        .clone()
}

/// The id of the session's first subject of `subject_type`.
async fn subject_of(app: &TestApp, token: &str, session: i64, subject_type: &str) -> Value {
    subjects(app, token, session)
        .await
        .into_iter()
        .find(|s| s["subject_type"] == subject_type)
        .unwrap_or_else(|| panic!("a {subject_type} subject"))
}

/// Signs in an account linked to `person` holding the secretary grant on `org`.
async fn linked_secretary(app: &TestApp, admin: &str, org: i64, person: i64) -> String {
    let user = app
        .post(
            "/api/v1/users",
            Some(admin),
            json!({"username": "rated.secretary", "display_name": "李书记", "password": USER_PASSWORD, "org_id": org, "person_id": person}),
        )
        .await
        .assert_status(201)["id"]
        .as_i64()
        .unwrap();
    grant(app, admin, user, Some(org), "secretary").await;
    login(app, "rated.secretary", USER_PASSWORD).await
}

db_test!(the_rated_secretary_cannot_remove_their_own_subject, |app| {
    let m = Meeting::set_up(&app).await;
    let own = subject_of(&app, &m.admin, m.session, "secretary").await;
    let person = own["person_id"].as_i64().unwrap();
    let secretary = linked_secretary(&app, &m.admin, m.branch, person).await;
    let path = format!("/api/v1/sessions/{}/subjects/{}", m.session, own["id"]);

    // As in the issue: the secretary deletes their own subject before opening. Refused.
    app.delete(&format!("{path}?reason=mistake"), Some(&secretary))
        .await
        .assert_problem(403, "forbidden");
    assert!(subjects(&app, &secretary, m.session)
        .await
        .iter()
        .any(|s| s["id"] == own["id"]));
    // A member subject they may remove, with a reason (none or a blank one is refused).
    let member = subject_of(&app, &m.admin, m.session, "member").await;
    let member_path = format!("/api/v1/sessions/{}/subjects/{}", m.session, member["id"]);
    app.delete(&member_path, Some(&secretary))
        .await
        .assert_problem(400, "bad_request");
    app.delete(&format!("{member_path}?reason=%20"), Some(&secretary))
        .await
        .assert_problem(422, "validation_failed");
    // Control characters in any query string are refused before the handler.
    app.delete(&format!("{member_path}?reason=%01x"), Some(&secretary))
        .await
        .assert_problem(400, "bad_request");
    app.delete(
        &format!("{member_path}?reason=%E5%B7%B2%E8%BD%AC%E5%87%BA"),
        Some(&secretary),
    )
    .await
    .assert_status(204);
    // The removal is audited with its reason.
    let events = app
        .get(
            &format!(
                "/api/v1/audit-events?action=subject.delete&target_id={}",
                m.session
            ),
            Some(&m.admin),
        )
        .await
        .assert_status(200);
    let summary = events["items"][0]["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("已转出"), "{summary}");

    // Without a secretary subject the session does not open, even for the administrator.
    app.delete(&format!("{path}?reason=wrong%20person"), Some(&m.admin))
        .await
        .assert_status(204);
    session_step(&app, &secretary, m.session, "open")
        .await
        .assert_problem(409, "secretary_subject_missing");
    app.post(
        &format!("/api/v1/sessions/{}/subjects", m.session),
        Some(&m.admin),
        json!({"subject_type": "secretary", "person_id": person}),
    )
    .await
    .assert_status(201);
    session_step(&app, &secretary, m.session, "open")
        .await
        .assert_status(200);
});

db_test!(a_session_opens_only_with_its_org_on_the_ballot, |app| {
    let m = Meeting::set_up(&app).await;
    let org = subject_of(&app, &m.admin, m.session, "org").await;
    app.delete(
        &format!(
            "/api/v1/sessions/{}/subjects/{}?reason=test",
            m.session, org["id"]
        ),
        Some(&m.admin),
    )
    .await
    .assert_status(204);
    session_step(&app, &m.admin, m.session, "open")
        .await
        .assert_problem(409, "org_subject_missing");
    // The other branch has no secretary: the org alone is enough.
    session_step(&app, &m.admin, m.other_session, "open")
        .await
        .assert_status(200);
});

db_test!(subjects_are_fixed_once_codes_are_issued, |app| {
    let m = Meeting::set_up(&app).await;
    let member = subject_of(&app, &m.admin, m.session, "member").await;
    let person = member["person_id"].clone();
    app.post(
        &format!("/api/v1/sessions/{}/voting-codes", m.session),
        Some(&m.admin),
        json!({"category": "mass_representative", "count": 1}),
    )
    .await
    .assert_status(201);
    let before = subjects(&app, &m.admin, m.session).await;
    app.delete(
        &format!(
            "/api/v1/sessions/{}/subjects/{}?reason=late",
            m.session, member["id"]
        ),
        Some(&m.admin),
    )
    .await
    .assert_problem(409, "subjects_fixed");
    app.post(
        &format!("/api/v1/sessions/{}/subjects", m.session),
        Some(&m.admin),
        json!({"subject_type": "org"}),
    )
    .await
    .assert_problem(409, "subjects_fixed");
    assert_eq!(subjects(&app, &m.admin, m.session).await, before);
    let _ = person;
    // The other session, without codes, still changes.
    let other = subject_of(&app, &m.admin, m.other_session, "org").await;
    app.delete(
        &format!(
            "/api/v1/sessions/{}/subjects/{}?reason=test",
            m.other_session, other["id"]
        ),
        Some(&m.admin),
    )
    .await
    .assert_status(204);
});

/// One rating per subject and criterion of the form, all `satisfied`.
fn ratings(form: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for subject in form["subjects"].as_array().unwrap() {
        let subject_type = subject["subject_type"].as_str().unwrap();
        for criterion in form["criteria"][subject_type].as_array().unwrap() {
            out.push(json!({"subject_id": subject["id"], "criterion_id": criterion["id"], "level": "satisfied"}));
        }
    }
    out
}

db_test!(paper_ballots_stop_at_the_forms_handed_out, |app| {
    let m = Meeting::set_up(&app).await;
    let session = format!("/api/v1/sessions/{}", m.session);
    let changed = app
        .patch(
            &session,
            Some(&m.admin),
            json!({"expected_voters": 40, "paper_forms": 2}),
        )
        .await
        .assert_status(200);
    assert_eq!(
        (&changed["expected_voters"], &changed["paper_forms"]),
        (&json!(40), &json!(2))
    );
    app.patch(&session, Some(&m.admin), json!({"expected_voters": 0}))
        .await
        .assert_problem(422, "validation_failed");
    let codes = m.issue(&app, m.session, "party_member", 1).await;
    let form = ballot_form(&app, &codes[0]).await;
    m.open(&app, m.session).await;
    // Once open, the forms handed out no longer change.
    app.patch(&session, Some(&m.admin), json!({"paper_forms": 50}))
        .await
        .assert_problem(409, "session_not_scheduled");
    let paper = |n: usize| json!({"category": "mass_representative", "ballots": vec![json!({"ratings": ratings(&form)}); n]});
    let path = format!("{session}/paper-ballots");
    app.post(&path, Some(&m.admin), paper(3))
        .await
        .assert_problem(409, "paper_forms_exceeded");
    app.post(&path, Some(&m.admin), paper(2))
        .await
        .assert_status(201);
    app.post(&path, Some(&m.admin), paper(1))
        .await
        .assert_problem(409, "paper_forms_exceeded");
    app.post(
        "/api/v1/ballots",
        None,
        json!({"code": codes[0], "ratings": ratings(&form)}),
    )
    .await
    .assert_status(201);
    // Turnout: expected (应到), issued, cast (实到).
    let turnout = m.turnout(&app).await;
    assert_eq!(
        (&turnout["expected"], &turnout["issued"], &turnout["cast"]),
        (&json!(40), &json!(1), &json!(3)),
        "{turnout}"
    );
});

db_test!(a_small_batch_does_not_show_who_voted, |app| {
    let m = Meeting::set_up(&app).await;
    // k is the campaign's min_category_ballots (5 by default).
    let single = m.issue(&app, m.session, "party_member", 1).await;
    let five = m.issue(&app, m.session, "mass_representative", 5).await;
    let form = ballot_form(&app, &single[0]).await;
    m.open(&app, m.session).await;
    for code in [&single[0], &five[0]] {
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": code, "ratings": ratings(&form)}),
        )
        .await
        .assert_status(201);
    }
    let batches = app
        .get(
            &format!("/api/v1/sessions/{}/voting-codes/batches", m.session),
            Some(&m.admin),
        )
        .await
        .assert_status(200);
    let used: Vec<Value> = batches
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["used"].clone())
        .collect();
    assert_eq!(used, vec![Value::Null, json!(1)], "{batches}");
});

/// Runs SQL on the test database and answers the first column of each row as text.
async fn texts(app: &TestApp, sql: &'static str) -> Vec<String> {
    let pool = app.pool.clone();
    crate::common::tokio_block(move || {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            t: String,
        }
        let mut conn = pool.get().unwrap();
        let rows: Vec<Row> = diesel::sql_query(sql).load(&mut *conn).unwrap();
        rows.into_iter().map(|r| r.t).collect()
    })
    .await
}

/// Transaction ids shared by exactly one ballot and exactly one used code, or exactly one
/// opinion and exactly one used code: each such id names a voter.
const LINKING_XIDS: &str = "\
    WITH b AS (SELECT xmin::text AS x, count(*) AS n FROM ballots GROUP BY 1), \
         o AS (SELECT xmin::text AS x, count(*) AS n FROM opinions GROUP BY 1), \
         c AS (SELECT xmin::text AS x, count(*) AS n FROM voting_codes WHERE state = 'used' GROUP BY 1) \
    SELECT c.x AS t FROM c JOIN b ON b.x = c.x WHERE b.n = 1 AND c.n = 1 \
    UNION ALL SELECT c.x FROM c JOIN o ON o.x = c.x WHERE o.n = 1 AND c.n = 1";

db_test!(
    a_closed_session_keeps_no_link_between_code_and_ballot_in_storage,
    |app| {
        if app.backend != crate::common::Backend::Postgres {
            // SQLite: the ballot tables are keyed by random ids (a ballot row never references
            // its code) and have no transaction ids in their rows: nothing to rewrite.
            return;
        }
        let m = Meeting::set_up(&app).await;
        let codes = m.issue(&app, m.session, "mass_representative", 12).await;
        let form = ballot_form(&app, &codes[0]).await;
        m.open(&app, m.session).await;
        for (i, code) in codes.iter().enumerate() {
            app.post(
                "/api/v1/ballots",
                None,
                json!({"code": code, "ratings": ratings(&form), "opinion": format!("意见 {i}")}),
            )
            .await
            .assert_status(201);
        }
        // While open, the shared xmin names each voter (what the issue found), and heap order
        // is casting order.
        assert_eq!(texts(&app, LINKING_XIDS).await.len(), 24);
        let cast_order = texts(&app, "SELECT content AS t FROM opinions ORDER BY ctid").await;
        let expected: Vec<String> = (0..12).map(|i| format!("意见 {i}")).collect();
        assert_eq!(cast_order, expected);
        let ballots_before = texts(&app, "SELECT id AS t FROM ballots ORDER BY ctid").await;

        session_step(&app, &m.admin, m.session, "close")
            .await
            .assert_status(200);
        for table in ["ballots", "opinions", "voting_codes"] {
            let sql: &'static str = Box::leak(format!("VACUUM {table}").into_boxed_str());
            let pool = app.pool.clone();
            crate::common::tokio_block(move || {
                use diesel::RunQueryDsl;
                diesel::sql_query(sql)
                    .execute(&mut *pool.get().unwrap())
                    .unwrap();
            })
            .await;
        }

        assert_eq!(texts(&app, LINKING_XIDS).await, Vec::<String>::new());
        // Every rewritten row carries the closing transaction's id.
        let xids = texts(&app, "SELECT DISTINCT xmin::text AS t FROM ballots UNION SELECT DISTINCT xmin::text FROM opinions UNION SELECT DISTINCT xmin::text FROM voting_codes WHERE state = 'used'").await;
        assert_eq!(xids.len(), 1, "{xids:?}");
        // Nothing lost, and heap order is no longer casting order (12! orders: a repeat is
        // a one in 479 million chance).
        let after = texts(&app, "SELECT content AS t FROM opinions ORDER BY ctid").await;
        assert_ne!(after, expected);
        let mut sorted = after.clone();
        sorted.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(sorted, want);
        let ballots_after = texts(&app, "SELECT id AS t FROM ballots ORDER BY ctid").await;
        assert_ne!(ballots_after, ballots_before);
        assert_eq!(ballots_after.len(), 12);
        assert_eq!(
            texts(
                &app,
                "SELECT code_hash AS t FROM voting_codes WHERE state = 'used'"
            )
            .await
            .len(),
            12
        );
        // Results still count every ballot.
        let turnout = m.turnout(&app).await;
        assert_eq!(turnout["cast"], 12, "{turnout}");
    }
);
