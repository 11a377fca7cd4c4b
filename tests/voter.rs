//! The voter's page served by the binary (strict headers, nothing from elsewhere) and the
//! receipts a voter checks theirs against after the meeting.

use serde_json::json;

use crate::common::fixtures::{ballot_form, Meeting};
use crate::db_test;
use crate::results::{close, ratings};

db_test!(the_voter_page_is_served_with_strict_headers, |app| {
    for (path, media_type) in [
        ("/vote", "text/html; charset=utf-8"),
        ("/vote/voter.js", "text/javascript; charset=utf-8"),
        ("/vote/voter.css", "text/css; charset=utf-8"),
    ] {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status.as_u16(), 200, "{path}");
        assert_eq!(reply.content_type(), media_type);
        let csp = reply.header("content-security-policy").unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert_eq!(reply.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(reply.header("cache-control"), Some("no-store"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
    let page = app.get("/vote", None).await;
    assert!(page.text.contains("/vote/voter.js"));
    assert!(page.text.contains("lang=\"zh-CN\""));
});

db_test!(
    receipts_are_published_sorted_after_close_and_nothing_else,
    |app| {
        let m = Meeting::set_up(&app).await;
        let codes = m.issue(&app, m.session, "party_member", 5).await;
        m.open(&app, m.session).await;
        let form = ballot_form(&app, &codes[0]).await;
        let path = format!("/api/v1/sessions/{}/receipts", m.session);
        let mut receipts = Vec::new();
        for code in &codes[..3] {
            let cast = app
                .post(
                    "/api/v1/ballots",
                    None,
                    json!({"code": code, "ratings": ratings(&form, |_, _| Some("satisfied"))}),
                )
                .await
                .assert_status(201);
            receipts.push(cast["receipt"].as_str().unwrap().to_owned());
        }
        // While open, the list would tell whose ballot came when.
        app.get(&path, None)
            .await
            .assert_problem(409, "session_not_closed");
        close(&app, &m.admin, m.session).await;
        let published = app.get(&path, None).await.assert_status(200);
        receipts.sort();
        assert_eq!(
            published,
            json!({"session_id": m.session, "receipts": receipts})
        );
        app.get("/api/v1/sessions/999999/receipts", None)
            .await
            .assert_problem(404, "not_found");
    }
);
