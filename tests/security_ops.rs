//! Issue 8, inputs, operations and smaller holes: control characters in query strings and
//! CSV cells, no database text in answers, log lines that cannot be forged or coloured.

use serde_json::json;

use crate::common::fixtures::admin_token;
use crate::common::logs;
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
        let forged = "mallory\n2026-11-29T21:00:00.000000Z  INFO request_id=x login succeeded";
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
            log.contains("mallory\\n2026-11-29t21:00:00.000000z"),
            "the line break is escaped in the login failure line"
        );
        assert!(
            !log.lines()
                .any(|l| l.starts_with("2026-11-29T21:00:00.000000Z  INFO request_id=x")),
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
