//! CSV imports: idempotent, all-or-nothing, errors by line, dry runs, access.

use crate::common::fixtures::{admin_token, create_user_with_grant, set_external_ids, Tree};
use crate::db_test;

const ORGS: &str = "external_id,parent_external_id,name,kind,domain,window_unit\n\
    B1,S1,第一党支部,branch,institution,false\n\
    C1,,大连市委,committee,institution,false\n\
    S1,C1,某学院党委,committee,institution,\n\
    G1,S1,机关党总支,general_branch,institution,no\n";

const PEOPLE: &str = "external_id,org_external_id,name,member_type,position,joined_on,phone\n\
    P1,B1,张三,full,secretary,2001-07-01,13812345678\n\
    P2,B1,李四,probationary,member,,\n\
    P3,G1,王五,full,,1999-05-04,\n";

db_test!(
    importing_the_same_files_twice_creates_nothing_the_second_time,
    |app| {
        let admin = admin_token(&app).await;
        let first = app
            .post_raw(
                "/api/v1/imports/orgs",
                Some(&admin),
                "text/csv",
                ORGS.as_bytes(),
            )
            .await
            .assert_status(200);
        assert_eq!(
            (first["created"].as_i64(), first["updated"].as_i64()),
            (Some(4), Some(0))
        );
        let people = app
            .post_raw(
                "/api/v1/imports/people",
                Some(&admin),
                "text/csv",
                PEOPLE.as_bytes(),
            )
            .await
            .assert_status(200);
        assert_eq!(people["created"], 3);
        let (orgs, persons) = (app.count("orgs").await, app.count("people").await);

        let again = app
            .post_raw(
                "/api/v1/imports/orgs",
                Some(&admin),
                "text/csv",
                ORGS.as_bytes(),
            )
            .await
            .assert_status(200);
        assert_eq!(
            (
                again["created"].as_i64(),
                again["updated"].as_i64(),
                again["unchanged"].as_i64()
            ),
            (Some(0), Some(0), Some(4))
        );
        let again = app
            .post_raw(
                "/api/v1/imports/people",
                Some(&admin),
                "text/csv",
                PEOPLE.as_bytes(),
            )
            .await
            .assert_status(200);
        assert_eq!(
            (again["created"].as_i64(), again["unchanged"].as_i64()),
            (Some(0), Some(3))
        );
        assert_eq!(
            (app.count("orgs").await, app.count("people").await),
            (orgs, persons)
        );

        // A changed row updates; a moved person keeps their history.
        let changed = PEOPLE.replace("P3,G1,王五", "P3,B1,王五");
        let update = app
            .post_raw(
                "/api/v1/imports/people",
                Some(&admin),
                "text/csv",
                changed.as_bytes(),
            )
            .await
            .assert_status(200);
        assert_eq!(
            (update["created"].as_i64(), update["updated"].as_i64()),
            (Some(0), Some(1))
        );
        assert_eq!(app.count("memberships").await, 4);
    }
);

db_test!(
    a_file_with_one_bad_row_writes_nothing_and_names_the_line,
    |app| {
        let admin = admin_token(&app).await;
        let bad = format!("{ORGS}X1,C1,坏行,branch,nowhere,false\n");
        let problem = app
            .post_raw(
                "/api/v1/imports/orgs",
                Some(&admin),
                "text/csv",
                bad.as_bytes(),
            )
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["line"], 6);
        assert_eq!(problem["errors"][0]["field"], "domain");
        assert_eq!(app.count("orgs").await, 0);

        // Errors found only against the database (an unknown parent) also roll back every row.
        let unknown_parent = format!("{ORGS}X2,NOPE,孤行,branch,institution,false\n");
        let problem = app
            .post_raw(
                "/api/v1/imports/orgs",
                Some(&admin),
                "text/csv",
                unknown_parent.as_bytes(),
            )
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["line"], 6);
        assert_eq!(problem["errors"][0]["field"], "parent_external_id");
        assert_eq!(app.count("orgs").await, 0);
        assert_eq!(
            app.count("audit_events").await,
            1,
            "only the bootstrap admin's creation"
        );

        let people_bad = "external_id,org_external_id,name,member_type,position,joined_on,phone\nP1,NOPE,张三,full,,,\n";
        let problem = app
            .post_raw(
                "/api/v1/imports/people",
                Some(&admin),
                "text/csv",
                people_bad.as_bytes(),
            )
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["line"], 2);
        assert_eq!(problem["errors"][0]["field"], "org_external_id");
    }
);

db_test!(dry_runs_count_and_write_nothing, |app| {
    let admin = admin_token(&app).await;
    let report = app
        .post_raw(
            "/api/v1/imports/orgs?dry_run=true",
            Some(&admin),
            "text/csv",
            ORGS.as_bytes(),
        )
        .await
        .assert_status(200);
    assert_eq!(report["created"], 4);
    assert_eq!(report["dry_run"], true);
    assert_eq!(app.count("orgs").await, 0);
    app.post_raw(
        "/api/v1/imports/orgs",
        Some(&admin),
        "application/json",
        b"{}",
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    app.post_raw("/api/v1/imports/orgs", None, "text/csv", ORGS.as_bytes())
        .await
        .assert_problem(401, "unauthorized");
});

db_test!(imports_stay_inside_the_importers_subtree, |app| {
    let admin = admin_token(&app).await;
    let tree = Tree::build(&app, &admin).await;
    let (_, school_admin) =
        create_user_with_grant(&app, &admin, "school.a", tree.school_a, "org_admin").await;
    set_external_ids(
        &app,
        &admin,
        &[(tree.school_a, "SA"), (tree.school_b, "SB")],
    )
    .await;
    let inside = "external_id,parent_external_id,name,kind,domain,window_unit\nNA,SA,甲校新支部,branch,institution,false\n";
    app.post_raw(
        "/api/v1/imports/orgs",
        Some(&school_admin),
        "text/csv",
        inside.as_bytes(),
    )
    .await
    .assert_status(200);
    let before = app.count("orgs").await;
    for outside in [
        "external_id,parent_external_id,name,kind,domain,window_unit\nNB,SB,乙校新支部,branch,institution,false\n",
        "external_id,parent_external_id,name,kind,domain,window_unit\nROOT,,新根,committee,institution,false\n",
        "external_id,parent_external_id,name,kind,domain,window_unit\nSB,SA,抢过来,committee,institution,false\n",
    ] {
        let problem = app
            .post_raw("/api/v1/imports/orgs", Some(&school_admin), "text/csv", outside.as_bytes())
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["line"], 2, "{problem}");
    }
    assert_eq!(app.count("orgs").await, before);
});

/// POSTs a CSV file to `/imports/{what}`.
async fn import_csv(
    app: &crate::common::TestApp,
    token: &str,
    what: &str,
    file: &str,
) -> crate::common::Reply {
    app.post_raw(
        &format!("/api/v1/imports/{what}"),
        Some(token),
        "text/csv",
        file.as_bytes(),
    )
    .await
}

/// The org found by (part of) its name, and the ids of its people by external id.
async fn org_and_people(
    app: &crate::common::TestApp,
    token: &str,
    name: &str,
) -> (serde_json::Value, std::collections::HashMap<String, i64>) {
    let query: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    let orgs = app
        .get(&format!("/api/v1/orgs?q={query}"), Some(token))
        .await
        .assert_status(200);
    let org = orgs["items"][0].clone();
    let people = app
        .get(&format!("/api/v1/people?org_id={}", org["id"]), Some(token))
        .await
        .assert_status(200);
    let ids = people["items"]
        .as_array()
        .expect("a page of people")
        .iter()
        .map(|p| {
            (
                p["external_id"].as_str().unwrap_or_default().to_owned(),
                p["id"].as_i64().expect("an id"),
            )
        })
        .collect();
    (org, ids)
}

db_test!(
    a_secretary_in_the_people_file_becomes_the_orgs_secretary,
    |app| {
        let admin = admin_token(&app).await;
        let import = |file: String| {
            let (app, admin) = (&app, admin.clone());
            async move { import_csv(app, &admin, "people", &file).await }
        };
        import_csv(&app, &admin, "orgs", ORGS)
            .await
            .assert_status(200);
        import(PEOPLE.to_owned()).await.assert_status(200);
        let (branch, ids) = org_and_people(&app, &admin, "第一党支部").await;
        assert_eq!(branch["secretary_id"], ids["P1"], "{branch}");

        // The same file again changes nothing.
        let again = import(PEOPLE.to_owned()).await.assert_status(200);
        assert_eq!(again["unchanged"], 3, "{again}");

        // Two secretaries for one org: the second row is an error and nothing is written.
        let header = "external_id,org_external_id,name,member_type,position,joined_on,phone\n";
        let two = format!("{header}P1,B1,张三,full,secretary,,\nP2,B1,李四,full,secretary,,\n");
        let problem = import(two).await.assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["line"], 3, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "position", "{problem}");
        let (branch, _) = org_and_people(&app, &admin, "第一党支部").await;
        assert_eq!(branch["secretary_id"], ids["P1"]);

        // The roster names a new secretary (the old one listed first, as a member): both
        // rows are updates and the org follows the file.
        let handover =
            format!("{header}P1,B1,张三,full,member,,\nP2,B1,李四,probationary,secretary,,\n");
        let report = import(handover).await.assert_status(200);
        assert_eq!(report["updated"], 2, "{report}");
        let (branch, _) = org_and_people(&app, &admin, "第一党支部").await;
        assert_eq!(branch["secretary_id"], ids["P2"]);

        // Listed again as a member, the secretary stops being one.
        let demoted = format!("{header}P2,B1,李四,probationary,member,,\n");
        import(demoted).await.assert_status(200);
        let (branch, _) = org_and_people(&app, &admin, "第一党支部").await;
        assert!(branch["secretary_id"].is_null(), "{branch}");
    }
);

db_test!(
    imports_have_their_own_body_limit_answered_as_a_problem,
    |app| {
        let app = crate::common::TestApp::spawn_with(app.backend, |s| {
            s.body_limit = 1024;
            s.import_limit = 4096;
        })
        .await;
        let admin = admin_token(&app).await;
        let file = |rows: usize| {
            let mut text =
                String::from("external_id,parent_external_id,name,kind,domain,window_unit\n");
            for i in 0..rows {
                text.push_str(&format!(
                    "R{i:03},,市委{i:03},committee,institution,false\n"
                ));
            }
            text.into_bytes()
        };
        // Over the JSON limit but within the import limit.
        let medium = file(30);
        assert!(medium.len() > 1024 && medium.len() < 4096);
        app.post_raw("/api/v1/imports/orgs", Some(&admin), "text/csv", &medium)
            .await
            .assert_status(200);
        let large = file(200);
        let problem = app
            .post_raw("/api/v1/imports/orgs", Some(&admin), "text/csv", &large)
            .await
            .assert_problem(413, "payload_too_large");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("4 KiB"),
            "the limit is named: {problem}"
        );
        assert_eq!(app.count("orgs").await, 30);
        // Not UTF-8: a clear 400, not a 500.
        app.post_raw(
            "/api/v1/imports/orgs",
            Some(&admin),
            "text/csv",
            b"\xff\xfe\x00",
        )
        .await
        .assert_problem(400, "bad_request");
    }
);

db_test!(
    a_bulk_import_refreshes_the_statistics_of_what_it_filled,
    |app| {
        let admin = admin_token(&app).await;
        import_csv(&app, &admin, "orgs", ORGS)
            .await
            .assert_status(200);
        let mut people =
            String::from("external_id,org_external_id,name,member_type,position,joined_on,phone\n");
        for i in 0..pingyi::imports::rules::BULK_ROWS {
            people.push_str(&format!("P{i:04},B1,党员{i:04},full,member,,\n"));
        }
        let report = app
            .post_raw(
                "/api/v1/imports/people",
                Some(&admin),
                "text/csv",
                people.as_bytes(),
            )
            .await
            .assert_status(200);
        assert_eq!(report["created"], pingyi::imports::rules::BULK_ROWS);
        if app.backend == crate::common::Backend::Postgres {
            // `last_analyze` is set by an explicit ANALYZE only (autovacuum sets its own column).
            let analyzed = |table: &'static str| app.count(table);
            assert_eq!(
                analyzed(
                    "pg_stat_user_tables WHERE relname = 'people' AND last_analyze IS NOT NULL"
                )
                .await,
                1,
                "the bulk import analyzed people"
            );
            assert_eq!(
                analyzed(
                    "pg_stat_user_tables WHERE relname = 'sessions' AND last_analyze IS NOT NULL"
                )
                .await,
                0,
                "tables it did not fill are left to autovacuum"
            );
        }
    }
);

db_test!(
    the_command_line_imports_a_file_and_refuses_a_bad_one,
    |app| {
        let dir = tempfile::tempdir().unwrap();
        let run = |what: &str, text: &str, extra: &[&str]| {
            let path = dir.path().join(format!("{what}.csv"));
            std::fs::write(&path, text).unwrap();
            std::process::Command::new(env!("CARGO_BIN_EXE_pingyi"))
                .arg("import")
                .arg(what)
                .arg(&path)
                .args(extra)
                .env("DATABASE_URL", app.settings.database_url.to_string())
                .env("PINGYI_LOG", "warn")
                .output()
                .expect("the binary runs")
        };
        admin_token(&app).await;
        let rehearsed = run("orgs", ORGS, &["--dry-run"]);
        assert!(rehearsed.status.success(), "{rehearsed:?}");
        assert_eq!(app.count("orgs").await, 0);
        let imported = run("orgs", ORGS, &[]);
        let stdout = String::from_utf8_lossy(&imported.stdout);
        assert!(imported.status.success(), "{imported:?}");
        assert!(stdout.contains("4 created"), "{stdout}");
        assert_eq!(app.count("orgs").await, 4);

        let bad = format!("{PEOPLE}P9,NOPE,赵六,full,,,\n");
        let refused = run("people", &bad, &[]);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success());
        assert!(stderr.contains("line 5, org_external_id"), "{stderr}");
        assert_eq!(app.count("people").await, 0);
    }
);

db_test!(
    a_roster_larger_than_one_statement_is_written_in_batches,
    |app| {
        let admin = admin_token(&app).await;
        import_csv(&app, &admin, "orgs", ORGS)
            .await
            .assert_status(200);
        let header = "external_id,org_external_id,name,member_type,position,joined_on,phone\n";
        // 2,500 people over three statements' worth of rows; B1's secretary comes in the
        // first thousand, G1's in the third.
        let roster = |extra: &str| {
            let mut file = header.to_owned();
            for i in 0..2500 {
                let org = if i % 2 == 0 { "B1" } else { "G1" };
                let position = match i {
                    10 | 2201 => "secretary",
                    _ => "member",
                };
                file.push_str(&format!("R{i},{org},党员{i},full,{position},,\n"));
            }
            file.push_str(extra);
            file
        };
        let audited = app.count("audit_events").await;
        let report = import_csv(&app, &admin, "people", &roster(""))
            .await
            .assert_status(200);
        assert_eq!(report["created"], 2500, "{report}");
        assert_eq!(app.count("people").await, 2500);
        assert_eq!(app.count("memberships").await, 2500);
        // One audit row a person, one an appointment.
        assert_eq!(app.count("audit_events").await, audited + 2502);
        for (branch, secretary) in [("第一党支部", "R10"), ("机关党总支", "R2201")] {
            let (org, _) = org_and_people(&app, &admin, branch).await;
            let person = app
                .get(
                    &format!("/api/v1/people/{}", org["secretary_id"]),
                    Some(&admin),
                )
                .await
                .assert_status(200);
            assert_eq!(person["external_id"], secretary, "{branch}: {person}");
        }

        // The same file again writes nothing, not even an audit row.
        let audited = app.count("audit_events").await;
        let again = import_csv(&app, &admin, "people", &roster(""))
            .await
            .assert_status(200);
        assert_eq!(again["unchanged"], 2500, "{again}");
        assert_eq!(app.count("audit_events").await, audited);

        // A renamed person, one moved to the other org, and a new one.
        let mut file = roster("R2500,B1,新党员,probationary,,,\n");
        file = file.replace("R3,G1,党员3,", "R3,G1,改名党员3,");
        file = file.replace("R4,B1,党员4,", "R4,G1,党员4,");
        let mixed = import_csv(&app, &admin, "people", &file)
            .await
            .assert_status(200);
        assert_eq!(
            (&mixed["created"], &mixed["updated"], &mixed["unchanged"]),
            (&1.into(), &2.into(), &2498.into()),
            "{mixed}"
        );
        // The move closed one membership and opened another.
        assert_eq!(app.count("memberships").await, 2502);
    }
);
