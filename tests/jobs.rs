//! Background jobs: large or `Prefer: respond-async` imports answer 202 with a job whose
//! state, progress and outcome `GET /jobs/{id}` shows to its owner.

use actix_web::http::Method;
use serde_json::Value;

use crate::common::fixtures::{
    admin_token, campaign_around_today, create_org, create_user_with_grant, list_all, noon,
    set_external_ids, Tree,
};
use crate::common::{tokio_block, Reply, TestApp};
use crate::db_test;

const ORGS: &str = "external_id,parent_external_id,name,kind,domain,window_unit\n\
    C1,,大连市委,committee,institution,false\n\
    B1,C1,第一党支部,branch,institution,false\n";

async fn import_async(app: &TestApp, token: &str, what: &str, file: &str, query: &str) -> Reply {
    app.request_with(
        Method::POST,
        &format!("/api/v1/imports/{what}{query}"),
        Some(token),
        Some(("text/csv", file.as_bytes().to_vec())),
        &[("Prefer", "respond-async")],
    )
    .await
}

/// Sends an import as a job and follows it until it is over.
async fn import_job(app: &TestApp, token: &str, what: &str, file: &str) -> Value {
    let accepted = import_async(app, token, what, file, "").await;
    accepted.assert_status(202);
    let location = accepted.header("location").expect("a Location").to_owned();
    finished(app, token, &location).await
}

/// Polls the job until it is over.
async fn finished(app: &TestApp, token: &str, location: &str) -> Value {
    for _ in 0..200 {
        let job = app.get(location, Some(token)).await.assert_status(200);
        if job["state"] == "done" || job["state"] == "failed" {
            return job;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the job at {location} did not finish");
}

db_test!(
    an_import_asked_to_run_async_is_a_job_its_owner_follows,
    |app| {
        let admin = admin_token(&app).await;
        let accepted = import_async(&app, &admin, "orgs", ORGS, "").await;
        let job = accepted.assert_status(202);
        let location = accepted.header("location").expect("a Location").to_owned();
        assert_eq!(location, format!("/api/v1/jobs/{}", job["id"]));
        assert_eq!(accepted.header("preference-applied"), Some("respond-async"));
        assert_eq!(job["kind"], "import_orgs");

        let done = finished(&app, &admin, &location).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["result"]["created"], 2);
        assert_eq!(
            (done["rows_done"].as_i64(), done["rows_total"].as_i64()),
            (Some(2), Some(2))
        );
        assert!(done["finished_at"].is_string());
        assert_eq!(app.count("orgs").await, 2);

        let mine = app
            .get("/api/v1/jobs?mine=true", Some(&admin))
            .await
            .assert_status(200);
        assert_eq!(mine["total"], 1);
        assert_eq!(mine["items"][0]["id"], job["id"]);

        // Someone else sees neither the job nor it in their list, and may not list everyone's.
        let root = create_org(&app, &admin, None, "市委组织部", "committee").await;
        let (_, other) = create_user_with_grant(&app, &admin, "other", root, "org_admin").await;
        app.get(&location, Some(&other))
            .await
            .assert_problem(404, "not_found");
        let theirs = app
            .get("/api/v1/jobs", Some(&other))
            .await
            .assert_status(200);
        assert_eq!(theirs["total"], 0);
        app.get("/api/v1/jobs?mine=false", Some(&other))
            .await
            .assert_problem(403, "forbidden");

        // `wait=true` keeps the synchronous answer.
        let waited = import_async(&app, &admin, "orgs", ORGS, "?wait=true").await;
        assert_eq!(waited.assert_status(200)["unchanged"], 2);
    }
);

db_test!(a_failed_job_names_the_lines_and_writes_nothing, |app| {
    let admin = admin_token(&app).await;
    let bad = format!("{ORGS}X1,NOPE,孤行,branch,institution,false\n");
    let accepted = import_async(&app, &admin, "orgs", &bad, "").await;
    accepted.assert_status(202);
    let location = accepted.header("location").unwrap().to_owned();
    let failed = finished(&app, &admin, &location).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["errors"][0]["line"], 4, "{failed}");
    assert_eq!(failed["errors"][0]["field"], "parent_external_id");
    assert!(failed["result"].is_null());
    assert_eq!(app.count("orgs").await, 0);

    // A bad row found while reading the file fails the job the same way.
    let unreadable = format!("{ORGS}X2,C1,,branch,nowhere,false\n");
    let accepted = import_async(&app, &admin, "orgs", &unreadable, "").await;
    let location = accepted.header("location").unwrap().to_owned();
    let failed = finished(&app, &admin, &location).await;
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["errors"][0]["line"], 4, "{failed}");
});

db_test!(
    a_job_a_restart_interrupted_is_failed_and_wrote_nothing,
    |app| {
        let admin = admin_token(&app).await;
        let accepted = import_async(&app, &admin, "orgs", ORGS, "?dry_run=true").await;
        let location = accepted.header("location").unwrap().to_owned();
        let rehearsed = finished(&app, &admin, &location).await;
        assert_eq!(rehearsed["result"]["created"], 2);
        assert_eq!(app.count("orgs").await, 0, "a dry run writes nothing");

        // A job left `writing` by a process that died: the next start-up marks it failed.
        let pool = app.pool.clone();
        let id = rehearsed["id"].as_i64().unwrap();
        let marked = tokio_block(move || {
            use diesel::prelude::*;
            let mut conn = pool.get().unwrap();
            diesel::sql_query(format!(
            "UPDATE jobs SET state = 'writing', finished_at = NULL, result = NULL WHERE id = {id}"
        ))
            .execute(&mut *conn)
            .unwrap();
            pingyi::jobs::queries::fail_interrupted(&mut conn).unwrap()
        })
        .await;
        assert_eq!(marked, 1);
        let job = app.get(&location, Some(&admin)).await.assert_status(200);
        assert_eq!(job["state"], "failed");
        assert_eq!(job["errors"][0]["field"], "job");
    }
);

const PEOPLE_HEADER: &str =
    "external_id,org_external_id,name,member_type,position,joined_on,phone\n";

/// Everything an import of people may touch, row by row: people, memberships (open or
/// closed), orgs' secretaries, and how many audit rows there are.
async fn roster_state(app: &TestApp) -> Vec<String> {
    let pool = app.pool.clone();
    tokio_block(move || {
        use diesel::prelude::*;
        #[derive(diesel::QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text)]
            line: String,
        }
        let mut conn = pool.get().unwrap();
        let sql = "SELECT 'person ' || CAST(id AS TEXT) || ' ' || CAST(org_id AS TEXT) || ' ' || name || ' ' || status AS line FROM people \
             UNION ALL SELECT 'membership ' || CAST(id AS TEXT) || ' ' || CAST(person_id AS TEXT) || ' ' || CAST(org_id AS TEXT) || ' ' || CASE WHEN ended_at IS NULL THEN 'open' ELSE 'closed' END FROM memberships \
             UNION ALL SELECT 'org ' || CAST(id AS TEXT) || ' ' || COALESCE(CAST(secretary_id AS TEXT), '-') FROM orgs \
             UNION ALL SELECT 'audit ' || CAST(COUNT(*) AS TEXT) FROM audit_events \
             ORDER BY 1";
        let lines: Vec<Line> = diesel::sql_query(sql).load(&mut *conn).unwrap();
        lines.into_iter().map(|l| l.line).collect()
    })
    .await
}

/// Three orgs and one person, 旧名, the secretary of B1.
async fn small_city(app: &TestApp, admin: &str) {
    let orgs = format!("{ORGS}B2,C1,第二党支部,branch,institution,false\n");
    let imported = app
        .post_raw(
            "/api/v1/imports/orgs",
            Some(admin),
            "text/csv",
            orgs.as_bytes(),
        )
        .await;
    imported.assert_status(200);
    let people = format!("{PEOPLE_HEADER}OLD,B1,旧名,full,secretary,2001-07-01,\n");
    let imported = app
        .post_raw(
            "/api/v1/imports/people",
            Some(admin),
            "text/csv",
            people.as_bytes(),
        )
        .await;
    imported.assert_status(200);
}

/// 2,500 rows over five slices: 旧名 renamed and moved to B2 (first slice), new people in
/// B1 with a new secretary there, and `tail` last.
fn city_roster(tail: &str) -> String {
    let mut file = format!("{PEOPLE_HEADER}OLD,B2,新名,full,member,2001-07-01,\n");
    for i in 0..2499 {
        let position = if i == 1700 { "secretary" } else { "member" };
        file.push_str(&format!("N{i},B1,党员{i},full,{position},,\n"));
    }
    file.push_str(tail);
    file
}

db_test!(
    a_large_job_that_fails_in_its_last_slice_leaves_everything_as_it_was,
    |app| {
        let admin = admin_token(&app).await;
        small_city(&app, &admin).await;
        let before = roster_state(&app).await;

        // The last row names an org that does not exist: found only while writing, after
        // four slices (on SQLite) were committed.
        let bad = city_roster("N9999,NOPE,无处,full,member,,\n");
        let failed = import_job(&app, &admin, "people", &bad).await;
        assert_eq!(failed["state"], "failed", "{failed}");
        assert_eq!(failed["errors"][0]["line"], 2502, "{failed}");
        assert_eq!(failed["errors"][0]["field"], "org_external_id");
        assert_eq!(roster_state(&app).await, before, "nothing stays written");
        assert_eq!(app.count("job_journal").await, 0);

        // The same file without its bad row is written whole, and its journal forgotten.
        let done = import_job(&app, &admin, "people", &city_roster("")).await;
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(
            (&done["result"]["created"], &done["result"]["updated"]),
            (&2499.into(), &1.into())
        );
        assert_eq!(app.count("people").await, 2500);
        assert_eq!(app.count("job_journal").await, 0);
        let after = roster_state(&app).await;
        assert!(
            after.iter().any(|l| l.ends_with(" 新名 active")),
            "{after:?}"
        );
    }
);

db_test!(
    a_restart_takes_back_the_slices_an_interrupted_job_committed,
    |app| {
        let admin = admin_token(&app).await;
        small_city(&app, &admin).await;
        let before = roster_state(&app).await;

        // A job that wrote its five slices and died before recording itself done. The
        // server writes slices on SQLite only; here they are written on both databases.
        let pool = app.pool.clone();
        let marked = tokio_block(move || {
            use diesel::prelude::*;
            use pingyi::imports::{check_file, FileKind, Target};
            use pingyi::jobs::{queries, JobKind, JobState};
            let mut conn = pool.get().unwrap();
            let admin_id: i64 = pingyi::db::schema::users::table
                .filter(pingyi::db::schema::users::username.eq("admin"))
                .select(pingyi::db::schema::users::id)
                .first(&mut *conn)
                .unwrap();
            let job = queries::insert(&mut conn, JobKind::ImportPeople, false, admin_id)
                .unwrap()
                .id;
            queries::advance(&mut conn, job, JobState::Writing, Some(2500)).unwrap();
            let file = check_file(FileKind::People, &city_roster(""), 1_000_000).unwrap();
            let actor = pingyi::auth::Actor::administrator(admin_id, "admin");
            let mut target = Target::sliced(&pool, job, false);
            let report = file.write(&mut target, &actor, &|_| {}).unwrap();
            assert_eq!(report.created, 2499);
            queries::fail_interrupted(&mut conn).unwrap()
        })
        .await;
        assert_eq!(marked, 1);
        assert_eq!(
            roster_state(&app).await,
            before,
            "the restart took every slice back"
        );
        assert_eq!(app.count("job_journal").await, 0);
    }
);

db_test!(
    people_another_change_came_to_refer_to_stay_and_the_job_says_so,
    |app| {
        let admin = admin_token(&app).await;
        small_city(&app, &admin).await;
        let pool = app.pool.clone();
        let (kept, errors) = tokio_block(move || {
            use diesel::prelude::*;
            use pingyi::db::schema::{jobs, orgs, people, users};
            use pingyi::imports::{check_file, FileKind, Target};
            use pingyi::jobs::{queries, JobKind};
            let mut conn = pool.get().unwrap();
            let admin_id: i64 = users::table
                .filter(users::username.eq("admin"))
                .select(users::id)
                .first(&mut *conn)
                .unwrap();
            let job = queries::insert(&mut conn, JobKind::ImportPeople, false, admin_id)
                .unwrap()
                .id;
            let file = check_file(FileKind::People, &city_roster(""), 1_000_000).unwrap();
            let actor = pingyi::auth::Actor::administrator(admin_id, "admin");
            let mut target = Target::sliced(&pool, job, false);
            file.write(&mut target, &actor, &|_| {}).unwrap();
            // Meanwhile someone made a new person B2's secretary.
            let newcomer: i64 = people::table
                .filter(people::external_id.eq("N5"))
                .select(people::id)
                .first(&mut *conn)
                .unwrap();
            diesel::update(orgs::table.filter(orgs::external_id.eq("B2")))
                .set(orgs::secretary_id.eq(newcomer))
                .execute(&mut *conn)
                .unwrap();
            queries::fail_interrupted(&mut conn).unwrap();
            let errors: Option<String> = jobs::table
                .find(job)
                .select(jobs::errors)
                .first(&mut *conn)
                .unwrap();
            let left: Vec<String> = people::table
                .filter(people::external_id.like("N%"))
                .select(people::name)
                .load(&mut *conn)
                .unwrap();
            (left, errors.unwrap())
        })
        .await;
        assert_eq!(kept, ["党员5"], "only the person referred to stays");
        assert!(errors.contains("except 1 people"), "{errors}");
        assert_eq!(app.count("job_journal").await, 0);
    }
);

db_test!(
    bulk_scheduling_asked_to_run_async_is_a_job_that_answers_as_the_request_would,
    |app| {
        let admin = admin_token(&app).await;
        let t = Tree::build(&app, &admin).await;
        let campaign = campaign_around_today(&app, &admin, t.city, 1).await;
        let bulk = |at: String| {
            let body = serde_json::json!({"kind": "branch_meeting", "scheduled_at": at});
            let path = format!("/api/v1/campaigns/{campaign}/sessions/bulk");
            let app = &app;
            let admin = &admin;
            async move {
                app.request_with(
                    Method::POST,
                    &path,
                    Some(admin),
                    Some(("application/json", body.to_string().into_bytes())),
                    &[("Prefer", "respond-async")],
                )
                .await
            }
        };
        // A refusal is answered at once, not as a failed job.
        let outside = bulk(noon(30)).await;
        outside.assert_problem(422, "validation_failed");
        assert_eq!(app.count("jobs").await, 0);

        let accepted = bulk(noon(0)).await;
        let job = accepted.assert_status(202);
        assert_eq!(job["kind"], "schedule_sessions");
        assert_eq!(accepted.header("preference-applied"), Some("respond-async"));
        let location = accepted.header("location").unwrap().to_owned();
        let done = finished(&app, &admin, &location).await;
        assert_eq!(done["state"], "done", "{done}");
        let sessions = format!("/api/v1/sessions?campaign_id={campaign}");
        assert_eq!(
            done["result"],
            serde_json::json!({"created": 2, "sessions": sessions})
        );
        assert_eq!(
            (done["rows_done"].as_i64(), done["rows_total"].as_i64()),
            (Some(2), Some(2))
        );
        let listed = list_all(&app, &sessions, &admin).await;
        assert_eq!(listed["total"], 2);

        // `wait=true` keeps the synchronous answer: nothing is left to schedule.
        let path = format!("/api/v1/campaigns/{campaign}/sessions/bulk?wait=true");
        let body = serde_json::json!({"kind": "branch_meeting", "scheduled_at": noon(0)});
        let waited = app
            .request_with(
                Method::POST,
                &path,
                Some(&admin),
                Some(("application/json", body.to_string().into_bytes())),
                &[("Prefer", "respond-async")],
            )
            .await;
        assert_eq!(waited.assert_status(201)["created"], 0);
    }
);

db_test!(
    an_unchanged_row_outside_the_importers_subtree_is_still_refused,
    |app| {
        // Rows that match what is stored skip the write (and, in a job on SQLite, the
        // slice's transaction): the subtree check must hold on that path too.
        let admin = admin_token(&app).await;
        let tree = Tree::build(&app, &admin).await;
        let (_, school_admin) =
            create_user_with_grant(&app, &admin, "school.a", tree.school_a, "org_admin").await;
        set_external_ids(
            &app,
            &admin,
            &[(tree.branch_a, "BA"), (tree.branch_b, "BB")],
        )
        .await;
        let file = format!("{PEOPLE_HEADER}PA,BA,甲,full,member,,\nPB,BB,乙,full,member,,\n");
        app.post_raw(
            "/api/v1/imports/people",
            Some(&admin),
            "text/csv",
            file.as_bytes(),
        )
        .await
        .assert_status(200);
        let before = roster_state(&app).await;

        let refused = app
            .post_raw(
                "/api/v1/imports/people",
                Some(&school_admin),
                "text/csv",
                file.as_bytes(),
            )
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(refused["errors"][0]["line"], 3, "{refused}");
        assert_eq!(refused["errors"][0]["field"], "org_external_id");

        let failed = import_job(&app, &school_admin, "people", &file).await;
        assert_eq!(failed["state"], "failed", "{failed}");
        assert_eq!(failed["errors"][0]["line"], 3, "{failed}");
        assert_eq!(roster_state(&app).await, before);
    }
);
