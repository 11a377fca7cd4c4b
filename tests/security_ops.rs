//! Issue 8, inputs, operations and smaller holes: control characters in query strings and
//! CSV cells, no database text in answers, log lines that cannot be forged or coloured.

use serde_json::json;

use crate::common::fixtures::admin_token;
use crate::common::{logs, tokio_block, TestApp};
use crate::db_test;

db_test!(query_strings_with_control_characters_are_400, |app| {
    let admin = admin_token(&app).await;
    for path in [
        "/api/v1/orgs?q=a%00b",
        "/api/v1/users?q=x%0Aforged",
        "/api/v1/people?q=%1B%5B31m",
        "/api/v1/audit?limit=5&action=%C2%85",
    ] {
        let reply = app.get(path, Some(&admin)).await;
        let body = reply.assert_problem(400, "bad_request");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("control characters"),
            "{path}: {body}"
        );
    }
    // Ordinary text, encoded or not, still searches.
    app.get("/api/v1/orgs?q=%E5%85%9A+x", Some(&admin))
        .await
        .assert_status(200);
});

db_test!(paths_with_control_characters_are_400, |app| {
    let admin = admin_token(&app).await;
    for path in ["/api/v1/opinions/%00", "/api/v1/opinions/a%0Ab"] {
        let reply = app.get(path, Some(&admin)).await;
        let body = reply.assert_problem(400, "bad_request");
        assert!(
            body["detail"].as_str().unwrap().contains("path"),
            "{path}: {body}"
        );
    }
    // An ordinary id that is not there is still 404.
    app.get("/api/v1/opinions/no-such-opinion", Some(&admin))
        .await
        .assert_status(404);
});

db_test!(long_name_searches_are_400_not_a_database_error, |app| {
    let admin = admin_token(&app).await;
    // 201 characters is over the limit; escaping would make this 50,000+ bytes of LIKE
    // pattern if it were longer, which SQLite refuses outright.
    let long = "%".repeat(201);
    for list in ["orgs", "people", "users"] {
        let reply = app
            .get(
                &format!("/api/v1/{list}?q={}", long.replace('%', "%25")),
                Some(&admin),
            )
            .await;
        let body = reply.assert_problem(400, "bad_request");
        assert!(
            body["detail"].as_str().unwrap().contains("at most 200"),
            "{list}: {body}"
        );
        let at_limit = "%E5%85%9A".repeat(200); // 党 × 200, as long as an org's name
        app.get(&format!("/api/v1/{list}?q={at_limit}"), Some(&admin))
            .await
            .assert_status(200);
    }
});

db_test!(
    csv_cells_with_control_characters_are_422_naming_the_column,
    |app| {
        let admin = admin_token(&app).await;
        let orgs = app.count("orgs").await;
        let csv = "external_id,parent_external_id,name,kind,domain,window_unit\n\
        C1,,大连\u{0}市委,committee,institution,false\n";
        let reply = app
            .post_raw(
                "/api/v1/imports/orgs",
                Some(&admin),
                "text/csv",
                csv.as_bytes(),
            )
            .await;
        let body = reply.assert_problem(422, "validation_failed");
        assert_eq!(body["errors"][0]["field"], "name", "{body}");
        assert_eq!(body["errors"][0]["line"], 2, "{body}");
        // No database's words in the answer (PostgreSQL said `invalid byte sequence`).
        assert!(
            !reply.text.contains("byte sequence") && !reply.text.contains("UTF8"),
            "{}",
            reply.text
        );
        assert_eq!(app.count("orgs").await, orgs);
    }
);

db_test!(
    a_username_with_a_line_break_cannot_forge_a_log_line,
    |app| {
        // At most 64 characters: longer usernames are refused before anything is logged.
        let forged = "mallory\n2026-11-29T21:00:00Z  INFO request_id=x login ok";
        app.post(
            "/api/v1/auth/login",
            None,
            json!({"username": forged, "password": "wrong-password-1"}),
        )
        .await
        .assert_problem(401, "invalid_credentials");
        let log = logs::text();
        assert!(
            // (usernames are compared in lower case)
            log.contains("mallory\\n2026-11-29t21:00:00z"),
            "the line break is escaped in the login failure line"
        );
        assert!(
            !log.lines()
                .any(|l| l.starts_with("2026-11-29T21:00:00Z  INFO request_id=x")),
            "a forged line reached the log"
        );
    }
);

/// Human lines carry no escape sequence when colours are off, not even one a client sent.
#[test]
fn human_log_lines_escape_control_characters_and_carry_no_colour() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = pingyi::telemetry::human_subscriber(move || writer.clone(), false);
    tracing::subscriber::with_default(subscriber, || {
        let username = "eve\u{1b}[31m\r\nfake line\u{0}";
        tracing::warn!(%username, other = ?"x\ny", "login failed for {username}");
    });
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!text.contains('\u{1b}') && !text.contains('\0'), "{text:?}");
    assert!(
        text.contains("username=eve\\u{1b}[31m\\r\\nfake line\\u{0}"),
        "{text}"
    );
}

// ---- Operations: metrics, secrets, health check, demo, image and compose files ----

/// A secret that passes the startup checks.
const GOOD_TOKEN: &str = "Zr8nW3qK6vT1xM9bJ4cH7pL2sF5dG0aQ";

db_test!(
    metrics_are_not_served_on_the_api_listener_by_default,
    |app| {
        let reply = app.get("/metrics", None).await;
        assert_eq!(reply.status.as_u16(), 404, "{}", reply.text);
        assert!(!reply.text.contains("pingyi_http_requests_total"));
    }
);

db_test!(a_metrics_token_opens_metrics_on_the_api_listener, |app| {
    let app = TestApp::spawn_with(app.backend, |s| {
        s.metrics_token = Some(GOOD_TOKEN.into());
    })
    .await;
    let admin = admin_token(&app).await;
    app.get("/api/v1/orgs/424242", Some(&admin)).await;
    app.get("/api/v1/sessions/424242", Some(&admin)).await;
    assert_eq!(app.get("/metrics", None).await.status.as_u16(), 401);
    assert_eq!(
        app.get("/metrics", Some("wrong-token"))
            .await
            .status
            .as_u16(),
        401
    );
    let reply = app.get("/metrics", Some(GOOD_TOKEN)).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    assert!(reply.text.contains("pingyi_http_requests_total"));
    // Labels name route patterns, never a session, an org or any other id.
    assert!(!reply.text.contains("424242"), "{}", reply.text);
    assert!(reply.text.contains(r#"route="/api/v1/sessions/{id}""#));
});

db_test!(
    the_metrics_listener_serves_metrics_and_nothing_else,
    |app| {
        let (pool, settings) = (app.pool.clone(), app.settings.clone());
        let shared = tokio_block(move || pingyi::Shared::bootstrap(pool, settings).unwrap()).await;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = pingyi::startup::serve_metrics(listener, shared).unwrap();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let client = awc::Client::default();
        let mut res = client.get(format!("{base}/metrics")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let body = res.body().await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("pingyi_db_pool_max_connections"));
        let res = client
            .get(format!("{base}/api/v1/orgs"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 404);
        handle.stop(false).await;
    }
);

db_test!(
    placeholder_and_low_entropy_secrets_are_refused_at_startup,
    |app| {
        let cases = [
            (
                "PINGYI_JWT_SECRET",
                "change-me-change-me-change-me-change-me",
            ),
            ("PINGYI_JWT_SECRET", "abababababababababababababababababab"),
            ("PINGYI_CODE_SECRET", "qwerty-qwerty-qwerty-qwerty-qwerty"),
            ("PINGYI_METRICS_TOKEN", "metrics"),
        ];
        for (name, value) in cases {
            let mut settings = app.settings.clone();
            let value = Some(value.to_owned());
            match name {
                "PINGYI_JWT_SECRET" => settings.jwt_secret = value,
                "PINGYI_CODE_SECRET" => settings.code_secret = value,
                _ => settings.metrics_token = value,
            }
            let pool = app.pool.clone();
            let result =
                tokio_block(move || pingyi::Shared::bootstrap(pool, settings).map(|_| ())).await;
            let message = result.expect_err("a weak secret is refused");
            assert!(message.contains(name), "{message}");
        }
    }
);

db_test!(the_healthcheck_command_probes_readyz, |app| {
    let ready = app.url("/readyz");
    let missing = app.url("/no-such-probe");
    let results = tokio_block(move || {
        let timeout = std::time::Duration::from_secs(3);
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            drop(l);
            pingyi::ops::readiness_url(addr)
        };
        (
            pingyi::ops::probe(&ready, timeout),
            pingyi::ops::probe(&missing, timeout),
            pingyi::ops::probe(&closed, timeout),
        )
    })
    .await;
    assert!(results.0.is_ok(), "{:?}", results.0);
    assert!(results.1.is_err());
    assert!(results.2.is_err());
    assert_eq!(
        pingyi::ops::readiness_url("0.0.0.0:8080".parse().unwrap()),
        "http://127.0.0.1:8080/readyz"
    );
});

db_test!(
    the_demo_refuses_a_database_holding_data_unless_forced,
    |app| {
        let pool = app.pool.clone();
        let empty = tokio_block(move || {
            let mut conn = pool.get().unwrap();
            pingyi::demo::ensure_empty(&mut conn, false).is_ok()
        })
        .await;
        assert!(empty, "a fresh database takes the demo");
        let admin = admin_token(&app).await;
        crate::common::fixtures::create_org(&app, &admin, None, "市委", "committee").await;
        let pool = app.pool.clone();
        let (refused, forced) = tokio_block(move || {
            let mut conn = pool.get().unwrap();
            (
                pingyi::demo::ensure_empty(&mut conn, false).map_err(|e| e.status.as_u16()),
                pingyi::demo::ensure_empty(&mut conn, true).is_ok(),
            )
        })
        .await;
        assert_eq!(refused, Err(409));
        assert!(forced);
    }
);

/// The compose file holds no secret, requires each one, and probes readiness; the image's
/// build context leaves out build output, data and history.
#[test]
fn compose_requires_secrets_and_the_build_context_is_clean() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let compose = std::fs::read_to_string(root.join("docker-compose.yml")).unwrap();
    for variable in [
        "PINGYI_JWT_SECRET",
        "PINGYI_ADMIN_PASSWORD",
        "PINGYI_DB_NAME",
        "PINGYI_DB_USER",
        "PINGYI_DB_PASSWORD",
        "PINGYI_DATABASE_URL",
    ] {
        assert!(
            compose.contains(&format!("${{{variable}:?")),
            "{variable} is required"
        );
    }
    assert!(!compose.contains("change-me"));
    assert!(
        compose.contains("DATABASE_URL: ${PINGYI_DATABASE_URL:?"),
        "the database URL is a required variable"
    );
    assert!(
        !compose.contains("://"),
        "no URL written in the compose file"
    );
    assert!(compose.contains("PGPASSWORD: ${PINGYI_DB_PASSWORD:?"));
    // Whatever names a password or a secret and is followed by a value (a comment too) takes
    // that value from a required variable.
    for line in compose.lines() {
        let lower = line.to_lowercase();
        let Some(at) = ["password", "secret"].iter().find_map(|w| lower.find(w)) else {
            continue;
        };
        if let Some(colon) = line[at..].find(':') {
            let value = line[at + colon + 1..].trim();
            assert!(
                value.starts_with("${") && value.contains(":?"),
                "a literal value after a password or secret: {line}"
            );
        }
    }
    assert!(compose.contains(r#"["CMD", "/usr/local/bin/pingyi", "healthcheck"]"#));
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).expect(".dockerignore");
    for entry in [
        "target/",
        "data/",
        ".git/",
        "node_modules/",
        "clients/*/build/",
    ] {
        assert!(
            ignore.lines().any(|l| l.trim().ends_with(entry)),
            "{entry} is ignored"
        );
    }
}

// ---- Smaller holes ----

db_test!(
    an_org_admin_cannot_change_the_domain_or_kind_of_their_own_org,
    |app| {
        use crate::common::fixtures::{create_user_with_grant, Tree};
        let admin = admin_token(&app).await;
        let tree = Tree::build(&app, &admin).await;
        let (_, school_admin) =
            create_user_with_grant(&app, &admin, "school_admin", tree.school_a, "org_admin").await;
        let own = format!("/api/v1/orgs/{}", tree.school_a);
        let current = app.get(&own, Some(&school_admin)).await.assert_status(200);
        let other_domain = if current["domain"] == "enterprise" {
            "rural"
        } else {
            "enterprise"
        };
        for change in [
            json!({"domain": other_domain}),
            json!({"kind": "general_branch"}),
        ] {
            app.patch(&own, Some(&school_admin), change)
                .await
                .assert_problem(403, "forbidden");
        }
        // Unchanged values and other fields are still theirs to set.
        app.patch(
            &own,
            Some(&school_admin),
            json!({"name": "甲校党委（新）", "domain": current["domain"], "kind": current["kind"]}),
        )
        .await
        .assert_status(200);
        // Below their own org they are the superior; above it, the administrator is.
        let below = format!("/api/v1/orgs/{}", tree.general_a);
        app.patch(&below, Some(&school_admin), json!({"domain": other_domain}))
            .await
            .assert_status(200);
        let changed = app
            .patch(&own, Some(&admin), json!({"domain": other_domain}))
            .await
            .assert_status(200);
        assert_eq!(changed["domain"], other_domain);
    }
);

db_test!(imports_refuse_archived_parents_and_orgs, |app| {
    let admin = admin_token(&app).await;
    let csv = |text: &str| text.as_bytes().to_vec();
    app.post_raw(
        "/api/v1/imports/orgs",
        Some(&admin),
        "text/csv",
        &csv(
            "external_id,parent_external_id,name,kind,domain,window_unit\n\
             C1,,大连市委,committee,institution,false\n\
             S1,C1,某学院党委,committee,institution,false\n",
        ),
    )
    .await
    .assert_status(200);
    let found = app
        .get("/api/v1/orgs?q=%E6%9F%90%E5%AD%A6%E9%99%A2", Some(&admin))
        .await
        .assert_status(200);
    let s1 = found["items"][0]["id"].as_i64().expect("S1");
    app.delete(&format!("/api/v1/orgs/{s1}"), Some(&admin))
        .await
        .assert_status(204);
    let orgs = app.count("orgs").await;

    let reply = app
        .post_raw(
            "/api/v1/imports/orgs",
            Some(&admin),
            "text/csv",
            &csv(
                "external_id,parent_external_id,name,kind,domain,window_unit\n\
                 B9,S1,新支部,branch,institution,false\n",
            ),
        )
        .await;
    let body = reply.assert_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "parent_external_id", "{body}");
    assert_eq!(app.count("orgs").await, orgs);

    let reply = app
        .post_raw(
            "/api/v1/imports/people",
            Some(&admin),
            "text/csv",
            &csv(
                "external_id,org_external_id,name,member_type,position,joined_on,phone\n\
                 P1,S1,张三,full,member,,\n",
            ),
        )
        .await;
    let body = reply.assert_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "org_external_id", "{body}");
    assert_eq!(app.count("people").await, 0);
});

db_test!(imports_cap_their_rows, |app| {
    let app = TestApp::spawn_with(app.backend, |s| s.import_max_rows = 3).await;
    let admin = admin_token(&app).await;
    let file = |rows: usize| {
        let mut text =
            String::from("external_id,parent_external_id,name,kind,domain,window_unit\n");
        for i in 0..rows {
            text.push_str(&format!("R{i},,市委{i},committee,institution,false\n"));
        }
        text.into_bytes()
    };
    app.post_raw("/api/v1/imports/orgs", Some(&admin), "text/csv", &file(4))
        .await
        .assert_problem(413, "payload_too_large");
    assert_eq!(app.count("orgs").await, 0);
    app.post_raw("/api/v1/imports/orgs", Some(&admin), "text/csv", &file(3))
        .await
        .assert_status(200);
    assert_eq!(
        pingyi::config::Settings::default_import_max_rows(),
        1_000_000
    );
});

/// A 50,000-row chain listed children first resolves in linear time (it took quadratic).
#[test]
fn import_parents_resolve_in_linear_time() {
    let rows = 50_000;
    let mut text = String::from("external_id,parent_external_id,name,kind,domain,window_unit\n");
    for i in (0..rows).rev() {
        let parent = if i == 0 {
            String::new()
        } else {
            format!("O{}", i - 1)
        };
        text.push_str(&format!(
            "O{i},{parent},组织{i},committee,institution,false\n"
        ));
    }
    let (records, errors) = pingyi::imports::csv_rows::parse_orgs(&text);
    assert!(errors.is_empty());
    let started = std::time::Instant::now();
    let (ordered, cyclic) = pingyi::imports::rules::parents_first(records);
    let elapsed = started.elapsed();
    assert!(cyclic.is_empty());
    assert_eq!(ordered.len(), rows);
    assert!(ordered
        .iter()
        .enumerate()
        .all(|(i, r)| r.external_id == format!("O{i}")));
    assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
}

db_test!(
    an_invisible_observer_answers_like_an_ineligible_one,
    |app| {
        use crate::common::fixtures::{campaign_around_today, create_user_with_grant, noon, Tree};
        let admin = admin_token(&app).await;
        let t = Tree::build(&app, &admin).await;
        let (_, school_admin) =
            create_user_with_grant(&app, &admin, "school_b_admin", t.school_b, "org_admin").await;
        // Eligible by grant (on the city, above branch B) but out of the school admin's sight.
        let (hidden_observer, _) =
            create_user_with_grant(&app, &admin, "city_observer", t.city, "observer").await;
        // Visible but not from above.
        let (branch_member, _) =
            create_user_with_grant(&app, &admin, "branch_b_user", t.branch_b, "secretary").await;
        // Visible and eligible.
        let (school_observer, _) =
            create_user_with_grant(&app, &admin, "school_b_observer", t.school_b, "observer").await;
        let campaign = campaign_around_today(&app, &admin, t.school_b, 1).await;
        let path = format!("/api/v1/campaigns/{campaign}/sessions");
        let body = |observer: i64| json!({"org_id": t.branch_b, "kind": "branch_meeting", "scheduled_at": noon(0), "observer_user_id": observer});
        let mut answers = Vec::new();
        for observer in [hidden_observer, branch_member, 999_999] {
            let reply = app.post(&path, Some(&school_admin), body(observer)).await;
            let problem = reply.assert_problem(422, "validation_failed");
            answers.push(problem["errors"].clone());
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
        assert_eq!(app.count("sessions").await, 0);
        app.post(&path, Some(&school_admin), body(school_observer))
            .await
            .assert_status(201);
    }
);
