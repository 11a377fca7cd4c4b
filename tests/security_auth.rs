//! Security hardening of identity (issue 8): token claims and immediate revocation,
//! throttled password checks, bounded usernames, the last administrator, bounded password
//! work, client identity behind a trusted reverse proxy.

use serde_json::{json, Value};

use crate::common::fixtures::{admin_token, create_org, create_user, grant, login, USER_PASSWORD};
use crate::common::{Reply, TestApp};
use crate::db_test;

use crate::common::JWT_SECRET as TEST_SECRET;

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

/// A login through a reverse proxy on 127.0.0.1 (trusted) for the client `client`.
async fn login_via_proxy(app: &TestApp, client: &str, username: &str, password: &str) -> Reply {
    let body = json!({"username": username, "password": password});
    post_via_proxy(app, client, "/api/v1/auth/login", body).await
}

/// A POST through a reverse proxy on 127.0.0.1 for the client `client`.
async fn post_via_proxy(app: &TestApp, client: &str, path: &str, body: Value) -> Reply {
    // The default client gives up after 5 s, which a loaded CI machine can exceed.
    let http = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .finish();
    let mut res = http
        .post(app.url(path))
        .insert_header(("X-Forwarded-For", format!("{client}, 127.0.0.1")))
        .send_json(&body)
        .await
        .expect("request sent");
    let bytes = res.body().await.expect("body read");
    let reply = Reply {
        status: res.status(),
        headers: res.headers().clone(),
        text: String::from_utf8_lossy(&bytes).into_owned(),
        bytes: bytes.to_vec(),
    };
    crate::common::contract::check("POST", path, &reply);
    reply
}

async fn spawn_behind_proxy(backend: crate::common::Backend) -> TestApp {
    TestApp::spawn_with(backend, |s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
}

db_test!(
    behind_a_trusted_proxy_a_flood_never_locks_the_owner_out,
    |app| {
        let app = spawn_behind_proxy(app.backend).await;
        let password = crate::common::ADMIN_PASSWORD;
        // The owner signs in from their usual machine.
        let owner = login_via_proxy(&app, "198.51.100.7", "admin", password)
            .await
            .assert_status(200);
        let admin = owner["access_token"].as_str().unwrap().to_owned();

        // 200 concurrent wrong passwords from one attacker: exactly the shared budget.
        let attempts = (0..200).map(|i| {
        let app = &app;
        async move {
            login_via_proxy(app, "203.0.113.66", "admin", &format!("guess {i}")).await
        }
    });
        let replies = futures_util::future::join_all(attempts).await;
        let count = |status: u16| replies.iter().filter(|r| r.status == status).count();
        assert_eq!(count(401), 5);
        assert_eq!(count(429), 195);

        // Distributed guessing from new clients shares that budget: still refused.
        login_via_proxy(&app, "192.0.2.1", "admin", "another guess")
            .await
            .assert_problem(429, "rate_limited");
        login_via_proxy(&app, "192.0.2.2", "admin", password)
            .await
            .assert_problem(429, "rate_limited");

        // The owner's machine keeps its own budget, and the proxy's address is nobody's.
        login_via_proxy(&app, "198.51.100.7", "admin", password)
            .await
            .assert_status(200);
        // Another user's login through the same proxy is not slowed by the flood; the
        // unfamiliar proxy itself (no header) shares the username's spent budget.
        attempt_login(&app, "admin", password)
            .await
            .assert_problem(429, "rate_limited");
        let org = create_org(&app, &admin, None, "市委", "committee").await;
        create_user(&app, &admin, "sun.li", Some(org)).await;
        login_via_proxy(&app, "192.0.2.3", "sun.li", USER_PASSWORD)
            .await
            .assert_status(200);
    }
);

db_test!(forwarded_headers_from_untrusted_peers_are_ignored, |app| {
    // No trusted proxy: X-Forwarded-For is the client's own claim, and changes nothing.
    for i in 0..5 {
        login_via_proxy(&app, &format!("192.0.2.{i}"), "admin", "wrong guess")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    for i in 0..30 {
        let reply =
            login_via_proxy(&app, &format!("192.0.2.{i}"), &format!("nobody{i}"), "x").await;
        if reply.status == 429 {
            // The peer's own budget (30) is used up: rotating the header did not help.
            assert!(i >= 25, "refused after {i}");
            return;
        }
    }
    panic!("rotating X-Forwarded-For escaped the per-client budget");
});

db_test!(
    behind_a_trusted_proxy_code_guessing_slows_only_the_guesser,
    |app| {
        let app = spawn_behind_proxy(app.backend).await;
        let m = crate::common::fixtures::Meeting::set_up(&app).await;
        let codes = m.issue(&app, m.session, "party_member", 2).await;
        m.open(&app, m.session).await;
        let form = |client: &'static str, code: String| {
            let app = &app;
            async move {
                post_via_proxy(app, client, "/api/v1/ballot-forms", json!({"code": code})).await
            }
        };
        let mut refused_at = None;
        for i in 0..1000 {
            let reply = form("203.0.113.66", format!("ZZZZ-ZZZZ-{:04}", i)).await;
            if reply.status == 429 {
                refused_at = Some(i);
                break;
            }
            reply.assert_problem(404, "invalid_code");
        }
        assert_eq!(
            refused_at,
            Some(60),
            "the guesser is slowed after its own 60 misses"
        );
        // Every other voter behind the same proxy votes as before.
        form("198.51.100.8", codes[0].clone())
            .await
            .assert_status(200);
        form("198.51.100.9", codes[1].clone())
            .await
            .assert_status(200);
        // The guesser is refused even with a valid code until its window ends.
        form("203.0.113.66", codes[0].clone())
            .await
            .assert_problem(429, "rate_limited");
    }
);
