//! Background jobs: large or `Prefer: respond-async` imports answer 202 with a job whose
//! state, progress and outcome `GET /jobs/{id}` shows to its owner.

use actix_web::http::Method;
use serde_json::Value;

use crate::common::fixtures::{admin_token, create_org, create_user_with_grant};
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
