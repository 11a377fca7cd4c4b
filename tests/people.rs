//! People: membership history on moves, masked phones, subtree lists, validation.

use serde_json::json;

use crate::common::fixtures::{admin_token, create_org, create_user_with_grant, ids, Tree};
use crate::db_test;

db_test!(moving_a_person_keeps_the_membership_history, |app| {
    let admin = admin_token(&app).await;
    let tree = Tree::build(&app, &admin).await;
    let created = app
        .post(
            "/api/v1/people",
            Some(&admin),
            json!({"org_id": tree.branch_a, "name": "李明", "member_type": "full", "position": "secretary", "joined_on": "2005-07-01", "phone": "13812345678", "external_id": "P-1"}),
        )
        .await;
    let person = created.assert_status(201);
    let id = person["id"].as_i64().unwrap();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/people/{id}").as_str())
    );
    assert_eq!(
        person["phone"], "13812345678",
        "the creator manages the person"
    );

    app.patch(
        &format!("/api/v1/orgs/{}", tree.branch_a),
        Some(&admin),
        json!({"secretary_id": id}),
    )
    .await
    .assert_status(200);
    let moved = app
        .patch(
            &format!("/api/v1/people/{id}"),
            Some(&admin),
            json!({"org_id": tree.general_a}),
        )
        .await
        .assert_status(200);
    assert_eq!(moved["org_id"], tree.general_a);
    let history = moved["memberships"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["org_id"], tree.branch_a);
    assert!(history[0]["ended_at"].is_string());
    assert_eq!(history[1]["org_id"], tree.general_a);
    assert!(history[1]["ended_at"].is_null());
    // Moving away also ends being the old branch's secretary.
    let branch = app
        .get(&format!("/api/v1/orgs/{}", tree.branch_a), Some(&admin))
        .await
        .assert_status(200);
    assert!(branch["secretary_id"].is_null());
});

db_test!(lists_mask_phones_and_follow_the_subtree, |app| {
    let admin = admin_token(&app).await;
    let tree = Tree::build(&app, &admin).await;
    let mut in_a = Vec::new();
    for (org, name) in [
        (tree.branch_a, "甲一"),
        (tree.general_a, "甲二"),
        (tree.branch_b, "乙一"),
    ] {
        let p = app
            .post(
                "/api/v1/people",
                Some(&admin),
                json!({"org_id": org, "name": name, "member_type": "full", "phone": "13812345678"}),
            )
            .await
            .assert_status(201);
        if org != tree.branch_b {
            in_a.push(p["id"].as_i64().unwrap());
        }
    }
    let (_, school_admin) =
        create_user_with_grant(&app, &admin, "school.a", tree.school_a, "org_admin").await;
    let list = app
        .get("/api/v1/people", Some(&school_admin))
        .await
        .assert_status(200);
    assert_eq!(ids(&list), in_a.iter().copied().collect());
    for item in list["items"].as_array().unwrap() {
        assert_eq!(item["phone"], "138****5678");
    }
    let direct = app
        .get(
            &format!("/api/v1/people?org_id={}", tree.general_a),
            Some(&school_admin),
        )
        .await
        .assert_status(200);
    assert_eq!(direct["total"], 1);
    let subtree = app
        .get(
            &format!("/api/v1/people?org_id={}&descendants=true", tree.general_a),
            Some(&school_admin),
        )
        .await
        .assert_status(200);
    assert_eq!(subtree["total"], 2);
    // Another school's branch is invisible.
    app.get(
        &format!("/api/v1/people?org_id={}", tree.branch_b),
        Some(&school_admin),
    )
    .await
    .assert_problem(404, "not_found");

    // A secretary reads people of the branch but sees phones masked and may not change them.
    let (_, secretary) =
        create_user_with_grant(&app, &admin, "sec.a", tree.branch_a, "secretary").await;
    let id = in_a[0];
    let one = app
        .get(&format!("/api/v1/people/{id}"), Some(&secretary))
        .await
        .assert_status(200);
    assert_eq!(one["phone"], "138****5678");
    app.patch(
        &format!("/api/v1/people/{id}"),
        Some(&secretary),
        json!({"name": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
});

db_test!(bad_people_are_refused_and_change_nothing, |app| {
    let admin = admin_token(&app).await;
    let org = create_org(&app, &admin, None, "市委", "committee").await;
    let before = app.count("people").await;
    let cases = [
        (
            json!({"org_id": org, "name": "", "member_type": "full"}),
            "name",
        ),
        (
            json!({"org_id": org, "name": "x", "member_type": "full", "phone": "call me"}),
            "phone",
        ),
        (
            json!({"org_id": 999_999, "name": "x", "member_type": "full"}),
            "org_id",
        ),
    ];
    for (body, field) in cases {
        let problem = app
            .post("/api/v1/people", Some(&admin), body)
            .await
            .assert_problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    app.post(
        "/api/v1/people",
        Some(&admin),
        json!({"org_id": org, "name": "x", "member_type": "veteran"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    assert_eq!(app.count("people").await, before);

    let id = app
        .post(
            "/api/v1/people",
            Some(&admin),
            json!({"org_id": org, "name": "x", "member_type": "full", "external_id": "E1"}),
        )
        .await
        .assert_status(201)["id"]
        .as_i64()
        .unwrap();
    app.post(
        "/api/v1/people",
        Some(&admin),
        json!({"org_id": org, "name": "y", "member_type": "full", "external_id": "E1"}),
    )
    .await
    .assert_problem(409, "conflict");
    app.delete(&format!("/api/v1/people/{id}"), Some(&admin))
        .await
        .assert_status(204);
    let archived = app
        .get(&format!("/api/v1/people/{id}"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(archived["status"], "archived");
    let active = app
        .get(&format!("/api/v1/people?org_id={org}"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(active["total"], 0);
});
