//! Security hardening of identity (issue 8): token claims and immediate revocation,
//! throttled password checks, bounded usernames, the last administrator, bounded password
//! work, client identity behind a trusted reverse proxy.

use serde_json::{json, Value};

use crate::common::fixtures::{admin_token, create_org, create_user, grant, login, USER_PASSWORD};
use crate::common::{Reply, TestApp};
use crate::db_test;

const TEST_SECRET: &str = "test-secret-test-secret-test-secret-0123";

async fn attempt_login(app: &TestApp, username: &str, password: &str) -> Reply {
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

/// An HS256 token under the test server's secret with exactly these claims.
fn signed(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(TEST_SECRET.as_bytes()).unwrap(),
    )
    .unwrap()
}

fn claims(user_id: i64, version: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": "pingyi", "aud": "pingyi-api", "sub": user_id.to_string(), "exp": now + 600,
           "iat": now, "nbf": now, "jti": "t", "ver": version})
}

async fn me_id(app: &TestApp, token: &str) -> i64 {
    app.get("/api/v1/me", Some(token)).await.assert_status(200)["id"]
        .as_i64()
        .unwrap()
}

db_test!(tokens_need_nbf_and_the_current_version, |app| {
    let admin = admin_token(&app).await;
    let id = me_id(&app, &admin).await;

    // Well-formed and current: accepted.
    me_id(&app, &signed(&claims(id, 0))).await;

    // Not yet valid, or without nbf: refused.
    let mut early = claims(id, 0);
    early["nbf"] = json!(chrono::Utc::now().timestamp() + 600);
    app.get("/api/v1/me", Some(&signed(&early)))
        .await
        .assert_problem(401, "unauthorized");
    let mut no_nbf = claims(id, 0);
    no_nbf.as_object_mut().unwrap().remove("nbf");
    app.get("/api/v1/me", Some(&signed(&no_nbf)))
        .await
        .assert_problem(401, "unauthorized");

    // Another version than the user's, or none: refused.
    app.get("/api/v1/me", Some(&signed(&claims(id, 1))))
        .await
        .assert_problem(401, "unauthorized");
    let mut no_ver = claims(id, 0);
    no_ver.as_object_mut().unwrap().remove("ver");
    app.get("/api/v1/me", Some(&signed(&no_ver)))
        .await
        .assert_problem(401, "unauthorized");
});

db_test!(revocation_of_access_tokens_is_immediate, |app| {
    let admin = admin_token(&app).await;
    let org = create_org(&app, &admin, None, "市委", "committee").await;
    let user = create_user(&app, &admin, "li.na", Some(org)).await;

    // Logout everywhere.
    let token = login(&app, "li.na", USER_PASSWORD).await;
    let other_device = login(&app, "li.na", USER_PASSWORD).await;
    app.post("/api/v1/auth/logout-all", Some(&token), json!({}))
        .await
        .assert_status(204);
    for t in [&token, &other_device] {
        app.get("/api/v1/me", Some(t))
            .await
            .assert_problem(401, "unauthorized");
    }

    // A grant taken back (a grant given signs nobody out).
    let token = login(&app, "li.na", USER_PASSWORD).await;
    let grant_id = grant(&app, &admin, user, Some(org), "org_admin").await;
    me_id(&app, &token).await;
    app.delete(
        &format!("/api/v1/users/{user}/grants/{grant_id}"),
        Some(&admin),
    )
    .await
    .assert_status(204);
    app.get("/api/v1/me", Some(&token))
        .await
        .assert_problem(401, "unauthorized");

    // A new password (set by the user, or by an administrator).
    let token = login(&app, "li.na", USER_PASSWORD).await;
    let spare = login(&app, "li.na", USER_PASSWORD).await;
    app.patch(
        &format!("/api/v1/users/{user}"),
        Some(&token),
        json!({"password": "a brand new password", "current_password": USER_PASSWORD}),
    )
    .await
    .assert_status(200);
    app.get("/api/v1/me", Some(&spare))
        .await
        .assert_problem(401, "unauthorized");
    let token = login(&app, "li.na", "a brand new password").await;
    app.patch(
        &format!("/api/v1/users/{user}"),
        Some(&admin),
        json!({"password": USER_PASSWORD}),
    )
    .await
    .assert_status(200);
    app.get("/api/v1/me", Some(&token))
        .await
        .assert_problem(401, "unauthorized");

    // Disabling, then enabling again: the old token stays dead.
    let token = login(&app, "li.na", USER_PASSWORD).await;
    for disabled in [true, false] {
        app.patch(
            &format!("/api/v1/users/{user}"),
            Some(&admin),
            json!({"disabled": disabled}),
        )
        .await
        .assert_status(200);
    }
    app.get("/api/v1/me", Some(&token))
        .await
        .assert_problem(401, "unauthorized");

    // A display name change revokes nothing; the administrator's token still works.
    let token = login(&app, "li.na", USER_PASSWORD).await;
    app.patch(
        &format!("/api/v1/users/{user}"),
        Some(&admin),
        json!({"display_name": "李娜"}),
    )
    .await
    .assert_status(200);
    me_id(&app, &token).await;
    me_id(&app, &admin).await;
});

db_test!(own_password_checks_are_throttled_like_logins, |app| {
    let admin = admin_token(&app).await;
    let org = create_org(&app, &admin, None, "市委", "committee").await;
    let user = create_user(&app, &admin, "wang.fang", Some(org)).await;
    let token = login(&app, "wang.fang", USER_PASSWORD).await;
    let change = |current: &'static str| json!({"password": "another long password", "current_password": current});
    for _ in 0..5 {
        let reply = app
            .patch(
                &format!("/api/v1/users/{user}"),
                Some(&token),
                change("wrong guess"),
            )
            .await;
        crate::common::assert_field_error(&reply, "current_password");
    }
    let reply = app
        .patch(
            &format!("/api/v1/users/{user}"),
            Some(&token),
            change("wrong guess"),
        )
        .await;
    reply.assert_problem(429, "rate_limited");
    assert!(reply.header("retry-after").is_some());
    // The right password is throttled too now, and so is a login as the same user.
    app.patch(
        &format!("/api/v1/users/{user}"),
        Some(&token),
        change(USER_PASSWORD),
    )
    .await
    .assert_problem(429, "rate_limited");
});

db_test!(login_usernames_are_at_most_64_characters, |app| {
    let long = "a".repeat(65);
    for _ in 0..8 {
        let reply = attempt_login(&app, &long, "whatever password").await;
        crate::common::assert_only_field_error(&reply, "username");
    }
    // Refused before any throttle: nothing was counted, for that name or the client.
    attempt_login(&app, &"a".repeat(64), "whatever password")
        .await
        .assert_problem(401, "invalid_credentials");
    crate::common::fixtures::login(&app, "admin", crate::common::ADMIN_PASSWORD).await;
    let reply = attempt_login(&app, "admin", &"p".repeat(257)).await;
    crate::common::assert_only_field_error(&reply, "password");
});

db_test!(
    the_last_active_admin_cannot_be_disabled_or_lose_the_role,
    |app| {
        let admin = admin_token(&app).await;
        let me = app.get("/api/v1/me", Some(&admin)).await.assert_status(200);
        let admin_id = me["id"].as_i64().unwrap();
        let admin_grant = me["grants"][0]["id"].as_i64().unwrap();

        let disable = |token: String, user: i64| {
            let app = &app;
            async move {
                app.patch(
                    &format!("/api/v1/users/{user}"),
                    Some(&token),
                    json!({"disabled": true}),
                )
                .await
            }
        };
        let revoke = |token: String, user: i64, grant_id: i64| {
            let app = &app;
            async move {
                app.delete(
                    &format!("/api/v1/users/{user}/grants/{grant_id}"),
                    Some(&token),
                )
                .await
            }
        };

        disable(admin.clone(), admin_id)
            .await
            .assert_problem(409, "last_admin");
        revoke(admin.clone(), admin_id, admin_grant)
            .await
            .assert_problem(409, "last_admin");

        // A second administrator who is disabled does not count.
        let second = create_user(&app, &admin, "second.admin", None).await;
        let second_grant = grant(&app, &admin, second, None, "admin").await;
        disable(admin.clone(), second).await.assert_status(200);
        disable(admin.clone(), admin_id)
            .await
            .assert_problem(409, "last_admin");
        revoke(admin.clone(), admin_id, admin_grant)
            .await
            .assert_problem(409, "last_admin");

        // Enabled again, it does: now either may go, but not both.
        app.patch(
            &format!("/api/v1/users/{second}"),
            Some(&admin),
            json!({"disabled": false}),
        )
        .await
        .assert_status(200);
        revoke(admin.clone(), admin_id, admin_grant)
            .await
            .assert_status(204);
        let second_token = login(&app, "second.admin", USER_PASSWORD).await;
        revoke(second_token.clone(), second, second_grant)
            .await
            .assert_problem(409, "last_admin");
        disable(second_token.clone(), second)
            .await
            .assert_problem(409, "last_admin");
        me_id(&app, &second_token).await;
    }
);

db_test!(
    a_burst_of_bad_logins_gets_exactly_the_budget_of_401s,
    |app| {
        let admin = admin_token(&app).await;
        let org = create_org(&app, &admin, None, "市委", "committee").await;
        create_user(&app, &admin, "zhao.lei", Some(org)).await;
        let attempts = (0..60).map(|i| {
            let app = &app;
            async move { attempt_login(app, "zhao.lei", &format!("wrong password {i}")).await }
        });
        let replies = futures_util::future::join_all(attempts).await;
        let count = |status: u16| replies.iter().filter(|r| r.status == status).count();
        assert_eq!(count(401), 5, "exactly the username's budget is hashed");
        assert_eq!(count(429), 55);
        for r in replies.iter().filter(|r| r.status == 429) {
            r.assert_problem(429, "rate_limited");
            assert!(r.header("retry-after").is_some());
        }
        // The client's own budget (30) only counted the five that were tried.
        login(&app, "admin", crate::common::ADMIN_PASSWORD).await;
    }
);
