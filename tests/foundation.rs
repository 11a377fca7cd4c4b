//! The service skeleton: health, docs, problem+json for every kind of bad request,
//! request ids, metrics, CORS, the OpenAPI snapshot and the two migration folders.

use std::collections::BTreeMap;

use awc::http::Method;
use diesel::RunQueryDsl;
use serde_json::json;

use crate::common::{tokio_block, Backend, TestApp, TestDb};
use crate::db_test;

db_test!(health_readiness_and_docs_answer, |app| {
    let health = app.get("/healthz", None).await;
    assert_eq!(health.assert_status(200)["status"], "ok");
    let ready = app.get("/readyz", None).await.assert_status(200);
    let expected = match app.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    assert_eq!(ready["database"], expected);

    let doc = app
        .get("/api/v1/openapi.json", None)
        .await
        .assert_status(200);
    assert_eq!(doc["openapi"], "3.1.0");
    let docs = app.get("/docs", None).await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.text.contains("<base href=\"/docs/\">"),
        "{}",
        docs.text
    );
    // The UI's assets are vendored in the binary: no network needed.
    let css = app.get("/docs/swagger-ui.css", None).await;
    assert_eq!(css.status, 200);
    let init = app.get("/docs/swagger-initializer.js", None).await;
    assert!(init.text.contains("/api/v1/openapi.json"));
});

db_test!(unknown_routes_and_wrong_methods_are_problems, |app| {
    let missing = app.get("/api/v1/nothing-here", None).await;
    missing.assert_problem(404, "not_found");

    let wrong = app.request(Method::DELETE, "/healthz", None, None).await;
    wrong.assert_problem(405, "method_not_allowed");
    assert_eq!(wrong.header("allow"), Some("GET, HEAD"));

    // HEAD is GET without the body, on every GET route.
    app.request(Method::HEAD, "/healthz", None, None)
        .await
        .assert_status(200);
    app.request(Method::HEAD, "/api/v1/nothing-here", None, None)
        .await
        .assert_status(404);
    // …and it passes the same access checks as that GET: no token, no answer.
    app.request(Method::HEAD, "/api/v1/orgs", None, None)
        .await
        .assert_status(401);
    let admin = crate::common::fixtures::admin_token(&app).await;
    app.request(Method::HEAD, "/api/v1/orgs", Some(&admin), None)
        .await
        .assert_status(200);

    // A literal route is not an item whose id is its name.
    let summary = app
        .request(Method::PATCH, "/api/v1/rectifications/summary", None, None)
        .await;
    summary.assert_problem(405, "method_not_allowed");
    assert_eq!(summary.header("allow"), Some("GET, HEAD"));
});

db_test!(request_ids_are_echoed_or_generated, |app| {
    let generated = app.get("/healthz", None).await;
    let id = generated.header("x-request-id").expect("a request id");
    assert_eq!(id.len(), 32);

    let reply = app
        .client_request(Method::GET, "/healthz", &[("X-Request-Id", "abc-123")])
        .await;
    assert_eq!(reply.header("x-request-id"), Some("abc-123"));

    // A header that could forge log lines is replaced.
    let reply = app
        .client_request(Method::GET, "/healthz", &[("X-Request-Id", "a b\"c")])
        .await;
    assert_ne!(reply.header("x-request-id"), Some("a b\"c"));
});

db_test!(metrics_count_requests_by_route_pattern, |app| {
    // The API listener serves metrics only with a token (issue 8; see security_ops).
    const TOKEN: &str = "Zr8nW3qK6vT1xM9bJ4cH7pL2sF5dG0aQ";
    let app = crate::common::TestApp::spawn_with(app.backend, |s| {
        s.metrics_token = Some(TOKEN.into());
    })
    .await;
    app.get("/readyz", None).await.assert_status(200);
    app.get("/nowhere", None).await;
    let metrics = app.get("/metrics", Some(TOKEN)).await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type().starts_with("text/plain"));
    assert!(
        metrics
            .text
            .contains(r#"pingyi_http_requests_total{method="GET",route="/readyz",status="200"} 1"#),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains(r#"route="unmatched",status="404""#));
    assert!(metrics
        .text
        .contains("pingyi_http_request_duration_seconds_bucket"));
    assert!(metrics.text.contains("pingyi_db_pool_max_connections 8"));
});

db_test!(cors_allows_only_listed_origins, |app| {
    let allowed = app
        .client_request(
            Method::OPTIONS,
            "/healthz",
            &[
                ("Origin", "https://frontend.example"),
                ("Access-Control-Request-Method", "GET"),
            ],
        )
        .await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://frontend.example")
    );

    let refused = app
        .client_request(
            Method::OPTIONS,
            "/healthz",
            &[
                ("Origin", "https://evil.example"),
                ("Access-Control-Request-Method", "GET"),
            ],
        )
        .await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
});

#[test]
fn openapi_document_is_committed_and_current() {
    let generated = pingyi::openapi::document_json();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        panic!(
            "openapi/openapi.json is stale: refresh it with \
             `cargo run -- openapi > openapi/openapi.json` (or `UPDATE_OPENAPI=1 cargo test`) \
             and commit it"
        );
    }
}

#[test]
fn every_operation_documents_its_errors_and_has_an_id() {
    let doc: serde_json::Value = serde_json::from_str(&pingyi::openapi::document_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{method} {path} lacks 500");
            assert!(responses.contains_key("400"), "{method} {path} lacks 400");
            if path.contains('{') {
                assert!(responses.contains_key("404"), "{method} {path} lacks 404");
            }
            if op.get("requestBody").is_some() {
                assert!(responses.contains_key("422"), "{method} {path} lacks 422");
            }
            assert!(
                op["operationId"].is_string(),
                "{method} {path} lacks an operationId"
            );
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path} is undescribed"
            );
        }
    }
}

fn migration_names(backend: &str) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn both_migration_folders_hold_the_same_migrations() {
    let pg = migration_names("postgres");
    assert!(!pg.is_empty());
    assert_eq!(pg, migration_names("sqlite"));
}

type Columns = BTreeMap<String, Vec<String>>;

#[derive(diesel::QueryableByName)]
struct TableColumn {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
}

async fn columns_of(backend: Backend) -> Columns {
    tokio_block(move || {
        let (db, url) = TestDb::create(backend);
        let manager = pingyi::db::ConnectionManager::new(url);
        let mut conn = diesel::r2d2::ManageConnection::connect(&manager).unwrap();
        pingyi::db::run_migrations(&mut conn).unwrap();
        let sql = match backend {
            Backend::Sqlite => {
                "SELECT m.name AS table_name, p.name AS column_name
                 FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
                   AND m.name <> '__diesel_schema_migrations'"
            }
            Backend::Postgres => {
                "SELECT table_name::text AS table_name, column_name::text AS column_name
                 FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'"
            }
        };
        let rows: Vec<TableColumn> = diesel::sql_query(sql).load(&mut conn).unwrap();
        drop(conn);
        drop(db);
        let mut columns = Columns::new();
        for row in rows {
            columns
                .entry(row.table_name)
                .or_default()
                .push(row.column_name);
        }
        columns.values_mut().for_each(|c| c.sort());
        columns
    })
    .await
}

#[actix_web::test]
async fn both_backends_get_the_same_tables_and_columns() {
    let sqlite = columns_of(Backend::Sqlite).await;
    assert!(sqlite.contains_key("orgs"), "{sqlite:?}");
    if !crate::common::postgres_enabled() {
        eprintln!("skipped the PostgreSQL half: TEST_DATABASE_URL is not set");
        return;
    }
    let postgres = columns_of(Backend::Postgres).await;
    assert_eq!(sqlite, postgres);
}

#[actix_web::test]
async fn bad_json_bodies_are_problems() {
    // Checked here against the login route, the first JSON route; the rules are shared.
    let app = TestApp::spawn(Backend::Sqlite).await;
    let malformed = app
        .post_raw(
            "/api/v1/auth/login",
            None,
            "application/json",
            b"{\"username\": ",
        )
        .await;
    malformed.assert_problem(400, "bad_request");

    let wrong_type = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": 5, "password": "x"}),
        )
        .await;
    wrong_type.assert_problem(422, "validation_failed");

    let not_json = app
        .post_raw("/api/v1/auth/login", None, "text/plain", b"hello")
        .await;
    not_json.assert_problem(415, "unsupported_media_type");

    let huge = format!(
        "{{\"username\": \"{}\", \"password\": \"x\"}}",
        "a".repeat(100 * 1024)
    );
    let too_big = app
        .post_raw(
            "/api/v1/auth/login",
            None,
            "application/json",
            huge.as_bytes(),
        )
        .await;
    too_big.assert_problem(413, "payload_too_large");
}

db_test!(bodies_are_the_objects_the_document_describes, |app| {
    use crate::common::fixtures::{admin_token, create_org, create_user};
    let admin = admin_token(&app).await;
    let org = create_org(&app, &admin, None, "市委", "committee").await;
    let user = create_user(&app, &admin, "li.ming", Some(org)).await;
    let grants_before = app.count("grants").await;

    // serde would read `[org_id, role]` into the struct: refused, nothing granted.
    let reply = app
        .post(
            &format!("/api/v1/users/{user}/grants"),
            Some(&admin),
            json!([org, "observer"]),
        )
        .await;
    let problem = reply.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "body");
    assert_eq!(app.count("grants").await, grants_before);

    // A field error names the field, with a message a person can act on.
    let reply = app
        .post(
            "/api/v1/people",
            Some(&admin),
            json!({"org_id": org, "name": "王芳", "member_type": "full", "joined_on": "yesterday"}),
        )
        .await;
    let problem = reply.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "joined_on");
    let reply = app
        .post(
            "/api/v1/orgs",
            Some(&admin),
            json!({"parent_id": org, "name": "支", "kind": "Branch", "domain": "rural"}),
        )
        .await;
    let problem = reply.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "kind");
    assert!(problem["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("branch"));
    // The limits the document states are the ones enforced.
    let reply = app
        .post(
            "/api/v1/orgs",
            Some(&admin),
            json!({"parent_id": org, "name": "长".repeat(201), "kind": "branch", "domain": "rural"}),
        )
        .await;
    let problem = reply.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "name");
    assert_eq!(
        problem["errors"][0]["message"],
        "length must be at most 200"
    );
    // Control characters, wherever they hide.
    let reply = app
        .post(
            "/api/v1/orgs",
            Some(&admin),
            json!({"parent_id": org, "name": "支部\u{0}", "kind": "branch", "domain": "rural"}),
        )
        .await;
    let problem = reply.assert_problem(422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "name");
    assert_eq!(app.count("orgs").await, 1);
});

db_test!(problems_speak_the_clients_language, |app| {
    let zh = app
        .client_request(
            Method::GET,
            "/api/v1/orgs/999",
            &[
                ("Authorization", "Bearer nonsense"),
                ("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8"),
            ],
        )
        .await;
    let body = zh.assert_problem(401, "unauthorized");
    assert_eq!(body["title"], "未登录");
    assert!(body["detail"].as_str().unwrap().contains("令牌"), "{body}");
    let en = app
        .client_request(
            Method::GET,
            "/api/v1/orgs/999",
            &[
                ("Authorization", "Bearer nonsense"),
                ("Accept-Language", "en-GB,zh;q=0.5"),
            ],
        )
        .await;
    let body = en.assert_problem(401, "unauthorized");
    assert_eq!(body["title"], "Unauthorized");
});
