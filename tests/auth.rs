//! Signing in and tokens: access and refresh tokens (rotation, reuse, logout), what a new
//! password or a disabled account does to them, throttling of failed logins.

use awc::http::Method;
use diesel::RunQueryDsl;
use serde_json::json;

use crate::common::fixtures::{
    admin_token, create_org, create_user, login, login_pair, USER_PASSWORD,
};
use crate::common::{tokio_block, Reply, TestApp, ADMIN_PASSWORD};
use crate::db_test;

async fn refresh(app: &TestApp, refresh_token: &str) -> Reply {
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
}

async fn logout(app: &TestApp, refresh_token: &str) -> Reply {
    app.post(
        "/api/v1/auth/logout",
        None,
        json!({"refresh_token": refresh_token}),
    )
    .await
}

async fn attempt_login(app: &TestApp, username: &str, password: &str) -> Reply {
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

fn str_field(value: &serde_json::Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string {field} in {value}"))
        .to_owned()
}

db_test!(login_returns_a_bearer_token_pair, |app| {
    let pair = login_pair(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(pair["token_type"], "Bearer", "{pair}");
    assert_eq!(pair["expires_in"], 900, "{pair}");
    let access = str_field(&pair, "access_token");
    let refresh_token = str_field(&pair, "refresh_token");
    assert_eq!(access.split('.').count(), 3, "a JWT: {access}");
    assert!(refresh_token.len() >= 32, "{refresh_token}");
    assert_ne!(access, refresh_token);

    let me = app
        .get("/api/v1/me", Some(&access))
        .await
        .assert_status(200);
    assert_eq!(me["username"], "admin");

    // The username is not case sensitive; each login is a new pair.
    let again = login_pair(&app, " ADMIN ", ADMIN_PASSWORD).await;
    assert_ne!(again["refresh_token"], pair["refresh_token"]);

    // Only a hash of the refresh token is kept.
    let pool = app.pool.clone();
    let raw = refresh_token.clone();
    let stored_raw = tokio_block(move || {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = pool.get().unwrap();
        let row: Count = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM refresh_tokens WHERE token_hash = '{raw}'"
        ))
        .get_result(&mut *conn)
        .unwrap();
        row.n
    })
    .await;
    assert_eq!(stored_raw, 0, "the refresh token itself is never stored");
    assert_eq!(app.count("refresh_tokens").await, 2);
});

db_test!(wrong_credentials_are_invalid_credentials, |app| {
    let wrong = attempt_login(&app, "admin", "not-the-password").await;
    let body = wrong.assert_problem(401, "invalid_credentials");
    assert!(body["detail"].is_string());

    // An unknown username gets exactly the same answer.
    let unknown = attempt_login(&app, "nobody-here", "not-the-password").await;
    let unknown_body = unknown.assert_problem(401, "invalid_credentials");
    assert_eq!(unknown_body["detail"], body["detail"]);

    let empty = attempt_login(&app, "admin", "").await;
    empty.assert_problem(401, "invalid_credentials");
});

db_test!(me_needs_a_valid_access_token, |app| {
    let admin = admin_token(&app).await;
    let city = create_org(&app, &admin, None, "市委", "committee").await;
    create_user(&app, &admin, "li.ming", Some(city)).await;
    let user = login(&app, "li.ming", USER_PASSWORD).await;
    app.get("/api/v1/me", Some(&user)).await.assert_status(200);

    app.get("/api/v1/me", None)
        .await
        .assert_problem(401, "unauthorized");
    app.get("/api/v1/me", Some("not-a-jwt"))
        .await
        .assert_problem(401, "unauthorized");
    let basic = app
        .client_request(
            Method::GET,
            "/api/v1/me",
            &[("Authorization", "Basic YWRtaW46YWRtaW4=")],
        )
        .await;
    basic.assert_problem(401, "unauthorized");

    // A changed signature.
    let (head, signature) = user.rsplit_once('.').unwrap();
    let mut bytes = signature.as_bytes().to_vec();
    bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{head}.{}", String::from_utf8(bytes).unwrap());
    app.get("/api/v1/me", Some(&tampered))
        .await
        .assert_problem(401, "unauthorized");

    // The administrator's claims under the user's signature: no escalation by editing `sub`.
    let admin_parts: Vec<&str> = admin.split('.').collect();
    let user_parts: Vec<&str> = user.split('.').collect();
    let spliced = format!("{}.{}.{}", user_parts[0], admin_parts[1], user_parts[2]);
    app.get("/api/v1/me", Some(&spliced))
        .await
        .assert_problem(401, "unauthorized");

    // A well-formed token for the administrator, signed with another secret.
    let admin_id = app.get("/api/v1/me", Some(&admin)).await.assert_status(200)["id"]
        .as_i64()
        .unwrap();
    let forged = pingyi::auth::tokens::TokenKeys::new("someone-elses-secret-0123456789abcdef")
        .unwrap()
        .issue(admin_id, 0)
        .unwrap()
        .0;
    app.get("/api/v1/me", Some(&forged))
        .await
        .assert_problem(401, "unauthorized");
});

db_test!(refresh_rotates_the_pair, |app| {
    let first = login_pair(&app, "admin", ADMIN_PASSWORD).await;
    let old = str_field(&first, "refresh_token");

    let rotated = refresh(&app, &old).await.assert_status(200);
    assert_eq!(rotated["token_type"], "Bearer");
    assert_eq!(rotated["expires_in"], 900);
    let new = str_field(&rotated, "refresh_token");
    assert_ne!(new, old);
    let access = str_field(&rotated, "access_token");
    app.get("/api/v1/me", Some(&access))
        .await
        .assert_status(200);

    // The old refresh token stops working.
    refresh(&app, &old)
        .await
        .assert_problem(401, "unauthorized");
    refresh(&app, "never-issued")
        .await
        .assert_problem(401, "unauthorized");
});

db_test!(a_reused_refresh_token_revokes_its_chain, |app| {
    let first = login_pair(&app, "admin", ADMIN_PASSWORD).await;
    let other_session = login_pair(&app, "admin", ADMIN_PASSWORD).await;
    let a = str_field(&first, "refresh_token");

    let b = str_field(&refresh(&app, &a).await.assert_status(200), "refresh_token");
    let c = str_field(&refresh(&app, &b).await.assert_status(200), "refresh_token");

    // `a` is presented again (stolen, or a broken client): the whole chain dies.
    refresh(&app, &a).await.assert_problem(401, "unauthorized");
    refresh(&app, &c).await.assert_problem(401, "unauthorized");
    refresh(&app, &b).await.assert_problem(401, "unauthorized");

    // Another login's chain is not touched.
    let other = str_field(&other_session, "refresh_token");
    refresh(&app, &other).await.assert_status(200);
});

db_test!(a_refresh_token_used_twice_kills_its_successor, |app| {
    let first = login_pair(&app, "admin", ADMIN_PASSWORD).await;
    let old = str_field(&first, "refresh_token");
    let successor = str_field(
        &refresh(&app, &old).await.assert_status(200),
        "refresh_token",
    );

    refresh(&app, &old)
        .await
        .assert_problem(401, "unauthorized");
    refresh(&app, &successor)
        .await
        .assert_problem(401, "unauthorized");
});

db_test!(logout_kills_the_refresh_token, |app| {
    let pair = login_pair(&app, "admin", ADMIN_PASSWORD).await;
    let token = str_field(&pair, "refresh_token");
    assert_eq!(logout(&app, &token).await.status, 204);
    refresh(&app, &token)
        .await
        .assert_problem(401, "unauthorized");
    // Logging out twice, or with nonsense, is still 204.
    assert_eq!(logout(&app, &token).await.status, 204);
    assert_eq!(logout(&app, "never-issued").await.status, 204);

    // Logging out with a rotated token ends its chain too.
    let pair = login_pair(&app, "admin", ADMIN_PASSWORD).await;
    let a = str_field(&pair, "refresh_token");
    let b = str_field(&refresh(&app, &a).await.assert_status(200), "refresh_token");
    assert_eq!(logout(&app, &b).await.status, 204);
    refresh(&app, &b).await.assert_problem(401, "unauthorized");
});

db_test!(a_new_password_kills_the_users_refresh_tokens, |app| {
    let admin = admin_token(&app).await;
    let city = create_org(&app, &admin, None, "市委", "committee").await;
    let user_id = create_user(&app, &admin, "wang.fang", Some(city)).await;
    let one = str_field(
        &login_pair(&app, "wang.fang", USER_PASSWORD).await,
        "refresh_token",
    );
    let two = str_field(
        &login_pair(&app, "wang.fang", USER_PASSWORD).await,
        "refresh_token",
    );
    let admins_own = str_field(
        &login_pair(&app, "admin", ADMIN_PASSWORD).await,
        "refresh_token",
    );

    // Too short a password is refused with a field error, and changes nothing.
    let short = app
        .patch(
            &format!("/api/v1/users/{user_id}"),
            Some(&admin),
            json!({"password": "short"}),
        )
        .await;
    let body = short.assert_problem(422, "validation_failed");
    assert_eq!(body["errors"][0]["field"], "password", "{body}");
    refresh(&app, &one).await.assert_status(200);
    let one = str_field(
        &login_pair(&app, "wang.fang", USER_PASSWORD).await,
        "refresh_token",
    );

    app.patch(
        &format!("/api/v1/users/{user_id}"),
        Some(&admin),
        json!({"password": "a brand new passphrase"}),
    )
    .await
    .assert_status(200);
    refresh(&app, &one)
        .await
        .assert_problem(401, "unauthorized");
    refresh(&app, &two)
        .await
        .assert_problem(401, "unauthorized");
    // Only that user's tokens.
    refresh(&app, &admins_own).await.assert_status(200);

    attempt_login(&app, "wang.fang", USER_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let pair = login_pair(&app, "wang.fang", "a brand new passphrase").await;

    // Users may change their own password; their sessions end too.
    let own_access = str_field(&pair, "access_token");
    let own_refresh = str_field(&pair, "refresh_token");
    app.patch(
        &format!("/api/v1/users/{user_id}"),
        Some(&own_access),
        json!({"password": "my own choice of words"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.patch(
        &format!("/api/v1/users/{user_id}"),
        Some(&own_access),
        json!({"password": "my own choice of words", "current_password": "wrong"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    app.patch(
        &format!("/api/v1/users/{user_id}"),
        Some(&own_access),
        json!({"password": "my own choice of words", "current_password": "a brand new passphrase"}),
    )
    .await
    .assert_status(200);
    refresh(&app, &own_refresh)
        .await
        .assert_problem(401, "unauthorized");
    login(&app, "wang.fang", "my own choice of words").await;
});

db_test!(a_disabled_user_is_signed_out, |app| {
    let admin = admin_token(&app).await;
    let city = create_org(&app, &admin, None, "市委", "committee").await;
    let user_id = create_user(&app, &admin, "zhao.lei", Some(city)).await;
    let pair = login_pair(&app, "zhao.lei", USER_PASSWORD).await;
    let access = str_field(&pair, "access_token");
    let refresh_token = str_field(&pair, "refresh_token");
    app.get("/api/v1/me", Some(&access))
        .await
        .assert_status(200);

    let disabled = app
        .patch(
            &format!("/api/v1/users/{user_id}"),
            Some(&admin),
            json!({"disabled": true}),
        )
        .await
        .assert_status(200);
    assert_eq!(disabled["disabled"], true);

    // The still unexpired access token no longer works, nor does anything else.
    app.get("/api/v1/me", Some(&access))
        .await
        .assert_problem(401, "unauthorized");
    app.get("/api/v1/orgs", Some(&access))
        .await
        .assert_problem(401, "unauthorized");
    refresh(&app, &refresh_token)
        .await
        .assert_problem(401, "unauthorized");
    attempt_login(&app, "zhao.lei", USER_PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");

    // Enabled again: a new login works, the old refresh token stays dead.
    app.patch(
        &format!("/api/v1/users/{user_id}"),
        Some(&admin),
        json!({"disabled": false}),
    )
    .await
    .assert_status(200);
    let fresh = login(&app, "zhao.lei", USER_PASSWORD).await;
    app.get("/api/v1/me", Some(&fresh)).await.assert_status(200);
    refresh(&app, &refresh_token)
        .await
        .assert_problem(401, "unauthorized");
});

db_test!(repeated_failed_logins_are_throttled_per_username, |app| {
    let admin = admin_token(&app).await;
    let city = create_org(&app, &admin, None, "市委", "committee").await;
    create_user(&app, &admin, "target", Some(city)).await;
    create_user(&app, &admin, "bystander", Some(city)).await;

    for attempt in 1..=5 {
        let reply = attempt_login(&app, "target", &format!("guess number {attempt}")).await;
        reply.assert_problem(401, "invalid_credentials");
    }
    let refused = attempt_login(&app, "target", "guess number 6").await;
    refused.assert_problem(429, "rate_limited");
    let wait: u64 = refused
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=15 * 60).contains(&wait), "Retry-After {wait}");

    // Even the right password waits, whatever the case of the username.
    attempt_login(&app, "target", USER_PASSWORD)
        .await
        .assert_problem(429, "rate_limited");
    attempt_login(&app, "TARGET", USER_PASSWORD)
        .await
        .assert_problem(429, "rate_limited");

    // Other usernames are not affected.
    login(&app, "bystander", USER_PASSWORD).await;
    login(&app, "admin", ADMIN_PASSWORD).await;

    // A success forgets earlier failures.
    for _ in 0..4 {
        attempt_login(&app, "bystander", "wrong password")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    login(&app, "bystander", USER_PASSWORD).await;
    for _ in 0..4 {
        attempt_login(&app, "bystander", "wrong password")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    login(&app, "bystander", USER_PASSWORD).await;
});
