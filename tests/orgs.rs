//! Orgs: moves that would make a cycle.

use serde_json::json;

use crate::common::fixtures::{admin_token, create_org};
use crate::db_test;

db_test!(opposite_moves_at_once_cannot_make_a_cycle, |app| {
    let admin = admin_token(&app).await;
    let root = create_org(&app, &admin, None, "市委", "committee").await;
    let a = create_org(&app, &admin, Some(root), "甲", "committee").await;
    let b = create_org(&app, &admin, Some(root), "乙", "committee").await;
    for _ in 0..5 {
        let (first, second) = futures_util::future::join(
            app.post(
                &format!("/api/v1/orgs/{a}/move"),
                Some(&admin),
                json!({"parent_id": b}),
            ),
            app.post(
                &format!("/api/v1/orgs/{b}/move"),
                Some(&admin),
                json!({"parent_id": a}),
            ),
        )
        .await;
        let mut statuses = [first.status.as_u16(), second.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{} / {}", first.text, second.text);
        // Put both back under the root for the next round.
        for id in [a, b] {
            let org = app
                .get(&format!("/api/v1/orgs/{id}"), Some(&admin))
                .await
                .assert_status(200);
            if org["parent_id"] != root {
                app.post(
                    &format!("/api/v1/orgs/{id}/move"),
                    Some(&admin),
                    json!({"parent_id": root}),
                )
                .await
                .assert_status(200);
            }
        }
    }
    let tree = app
        .get(&format!("/api/v1/orgs/{root}/tree"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(tree["children"].as_array().unwrap().len(), 2);
});
