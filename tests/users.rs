//! Users: `/me` and its grants, accounts an org admin may not take over, and that no answer
//! ever carries a password hash.

use diesel::RunQueryDsl;
use serde_json::json;

use crate::common::fixtures::{
    admin_token, create_org, create_user_with_grant, grant, login, Tree, USER_PASSWORD,
};
use crate::common::{tokio_block, TestApp};
use crate::db_test;

/// The stored password hash of a user, straight from the database.
async fn stored_hash(app: &TestApp, username: &str) -> String {
    #[derive(diesel::QueryableByName)]
    struct Hash {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
    }
    let pool = app.pool.clone();
    let username = username.to_owned();
    tokio_block(move || {
        let mut conn = pool.get().unwrap();
        let row: Hash = diesel::sql_query(format!(
            "SELECT password_hash FROM users WHERE username = '{username}'"
        ))
        .get_result(&mut *conn)
        .unwrap();
        row.password_hash
    })
    .await
}

db_test!(me_lists_the_users_grants, |app| {
    let admin = admin_token(&app).await;
    let me = app.get("/api/v1/me", Some(&admin)).await.assert_status(200);
    assert_eq!(me["username"], "admin");
    let grants = me["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 1, "{me}");
    assert_eq!(grants[0]["role"], "admin");
    assert!(grants[0]["org_id"].is_null());
    assert!(grants[0]["id"].is_i64());

    let city = create_org(&app, &admin, None, "市委", "committee").await;
    let school = create_org(&app, &admin, Some(city), "甲校党委", "committee").await;
    let branch = create_org(&app, &admin, Some(school), "甲校第一党支部", "branch").await;
    let (user_id, token) =
        create_user_with_grant(&app, &admin, "chen.jing", school, "org_admin").await;
    let second = grant(&app, &admin, user_id, Some(branch), "secretary").await;

    let me = app.get("/api/v1/me", Some(&token)).await.assert_status(200);
    assert_eq!(me["id"], user_id);
    assert_eq!(me["username"], "chen.jing");
    assert_eq!(me["display_name"], "User chen.jing");
    assert_eq!(me["org_id"], school);
    let grants = me["grants"].as_array().unwrap();
    assert_eq!(grants.len(), 2, "{me}");
    assert_eq!(grants[0]["org_id"], school);
    assert_eq!(grants[0]["role"], "org_admin");
    assert_eq!(
        grants[1],
        json!({"id": second, "org_id": branch, "role": "secretary"})
    );

    // A revoked grant disappears from the list (and from what the token allows).
    let revoked = app
        .delete(
            &format!("/api/v1/users/{user_id}/grants/{second}"),
            Some(&admin),
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    // Taking a role back ends the user's sessions (issue 8): sign in again.
    app.get("/api/v1/me", Some(&token))
        .await
        .assert_problem(401, "unauthorized");
    let token = login(&app, "chen.jing", USER_PASSWORD).await;
    let me = app.get("/api/v1/me", Some(&token)).await.assert_status(200);
    assert_eq!(me["grants"].as_array().unwrap().len(), 1, "{me}");
});

db_test!(no_answer_carries_a_password_hash, |app| {
    let admin = admin_token(&app).await;
    let city = create_org(&app, &admin, None, "市委", "committee").await;
    let created = app
        .post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "sun.li", "display_name": "孙丽", "password": USER_PASSWORD, "org_id": city}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let user_id = created.json()["id"].as_i64().unwrap();
    let hash = stored_hash(&app, "sun.li").await;
    assert!(hash.starts_with("$argon2"), "stored as an argon2 hash");
    let admin_hash = stored_hash(&app, "admin").await;

    let user = login(&app, "sun.li", USER_PASSWORD).await;
    let mut answers = vec![created];
    answers.push(app.get("/api/v1/users", Some(&admin)).await);
    answers.push(
        app.get(&format!("/api/v1/users/{user_id}"), Some(&admin))
            .await,
    );
    answers.push(
        app.get(&format!("/api/v1/users/{user_id}"), Some(&user))
            .await,
    );
    answers.push(app.get("/api/v1/me", Some(&user)).await);
    answers.push(app.get("/api/v1/me", Some(&admin)).await);
    answers.push(
        app.patch(
            &format!("/api/v1/users/{user_id}"),
            Some(&admin),
            json!({"display_name": "孙丽丽", "password": "another long password"}),
        )
        .await,
    );
    answers.push(
        app.post(
            &format!("/api/v1/users/{user_id}/grants"),
            Some(&admin),
            json!({"org_id": city, "role": "member"}),
        )
        .await,
    );
    answers.push(app.get("/api/v1/audit-events", Some(&admin)).await);
    answers.push(
        app.get("/api/v1/users?q=sun&descendants=true", Some(&admin))
            .await,
    );
    let new_hash = stored_hash(&app, "sun.li").await;
    assert_ne!(new_hash, hash);

    for reply in &answers {
        assert!(reply.status.is_success(), "{} {}", reply.status, reply.text);
        for secret in [&hash, &new_hash, &admin_hash] {
            assert!(!reply.text.contains(secret.as_str()), "{}", reply.text);
        }
        assert!(!reply.text.contains("$argon2"), "{}", reply.text);
        assert!(!reply.text.contains("password_hash"), "{}", reply.text);
    }
    let audit = answers[8].json();
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "user.update"),
        "{audit}"
    );
});

db_test!(an_org_admin_cannot_take_over_a_stronger_account, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, token) =
        create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;
    // Accounts homed in the school that hold more than the school's org admin does.
    let (city_admin, _) =
        create_user_with_grant(&app, &admin, "city.admin", t.school_a, "org_admin").await;
    grant(&app, &admin, city_admin, Some(t.city), "org_admin").await;
    let (global_admin, _) =
        create_user_with_grant(&app, &admin, "second.admin", t.school_a, "admin").await;
    let (service, _) =
        create_user_with_grant(&app, &admin, "service", t.school_a, "integration").await;

    for victim in [city_admin, global_admin, service] {
        for change in [
            json!({"password": "taken over by a subordinate"}),
            json!({"disabled": true}),
        ] {
            let reply = app
                .patch(&format!("/api/v1/users/{victim}"), Some(&token), change)
                .await;
            reply.assert_problem(403, "forbidden");
        }
        // Still visible: the account is homed in the school.
        app.get(&format!("/api/v1/users/{victim}"), Some(&token))
            .await
            .assert_status(200);
    }
    login(&app, "city.admin", USER_PASSWORD).await;
    login(&app, "second.admin", USER_PASSWORD).await;

    // The administrator may; and the org admin may once the extra grants are gone.
    app.patch(
        &format!("/api/v1/users/{global_admin}"),
        Some(&admin),
        json!({"disabled": true}),
    )
    .await
    .assert_status(200);
    let user = app
        .get(&format!("/api/v1/users/{city_admin}"), Some(&admin))
        .await
        .assert_status(200);
    let city_grant = user["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["org_id"] == t.city)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let revoked = app
        .delete(
            &format!("/api/v1/users/{city_admin}/grants/{city_grant}"),
            Some(&admin),
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    app.patch(
        &format!("/api/v1/users/{city_admin}"),
        Some(&token),
        json!({"disabled": true}),
    )
    .await
    .assert_status(200);
});
