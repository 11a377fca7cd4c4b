//! Webhooks: subscriptions and who may make them, signed deliveries checked with the
//! reference algorithm (also during a rotation), the subtree filter, retries after a 500 and
//! after a timeout, order per resource, redirects not followed, the allow-list, the clock's
//! events once only, and redelivery by hand — against a receiver on 127.0.0.1.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{KeyInit, Mac};
use serde_json::{json, Value};

use crate::common::fixtures::{create_user_with_grant, session_step, Meeting};
use crate::common::{tokio_block, TestApp};
use crate::db_test;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// What the receiver answers, in turn; once the plan is spent, 204.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// Waits this long before answering 200.
    Slow(Duration),
    /// 302 to another address.
    Redirect,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    plan: Arc<Mutex<VecDeque<Answer>>>,
}

impl Receiver {
    fn spawn(plan: &[Answer]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/hook",
            listener.local_addr().unwrap().port()
        );
        let receiver = Receiver {
            url,
            seen: Arc::default(),
            plan: Arc::new(Mutex::new(plan.iter().copied().collect())),
        };
        let shared = receiver.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(receive))
        })
        .listen(listener)
        .unwrap()
        .workers(1)
        .run();
        actix_web::rt::spawn(server);
        receiver
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived (the dispatcher polls every 200 ms in the tests).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            let seen = self.seen();
            if seen.len() >= n {
                return seen;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("expected {n} deliveries, got {:?}", self.seen());
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, me: web::Data<Receiver>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    me.seen.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let answer = me.plan.lock().unwrap().pop_front();
    match answer {
        Some(Answer::Status(code)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).finish()
        }
        Some(Answer::Slow(wait)) => {
            actix_web::rt::time::sleep(wait).await;
            HttpResponse::Ok().finish()
        }
        Some(Answer::Redirect) => HttpResponse::Found()
            .insert_header(("location", "http://127.0.0.1:9/elsewhere"))
            .finish(),
        None => HttpResponse::NoContent().finish(),
    }
}

/// The Standard Webhooks reference verification, written apart from the server's code: any
/// one `v1,` signature of the header over "id.timestamp.body" with the decoded secret.
fn verifies(secret: &str, r: &Received) -> bool {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let signed = format!("{}.{}.{}", r.id, r.timestamp, r.body);
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    mac.update(signed.as_bytes());
    let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

async fn subscribe(app: &TestApp, token: &str, org_id: i64, url: &str, events: &[&str]) -> Value {
    app.post(
        "/api/v1/webhooks",
        Some(token),
        json!({"url": url, "events": events, "org_id": org_id}),
    )
    .await
    .assert_status(201)
}

async fn parent_of(app: &TestApp, token: &str, org: i64) -> i64 {
    app.get(&format!("/api/v1/orgs/{org}"), Some(token))
        .await
        .assert_status(200)["parent_id"]
        .as_i64()
        .unwrap()
}

async fn org_of_session(app: &TestApp, token: &str, session: i64) -> i64 {
    app.get(&format!("/api/v1/sessions/{session}"), Some(token))
        .await
        .assert_status(200)["org_id"]
        .as_i64()
        .unwrap()
}

async fn deliveries(app: &TestApp, token: &str, webhook: i64) -> Value {
    app.get(
        &format!("/api/v1/webhooks/{webhook}/deliveries"),
        Some(token),
    )
    .await
    .assert_status(200)
}

/// Waits until nothing waits in the queue.
async fn drained(app: &TestApp) {
    for _ in 0..500 {
        let pool = app.pool.clone();
        let pending = tokio_block(move || {
            let mut conn = pool.get().unwrap();
            pingyi::webhooks::queries::pending_count(&mut conn).unwrap()
        })
        .await;
        if pending == 0 {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the webhook queue never drained");
}

/// A rectification item of the meeting's branch, taken through `steps` by the administrator.
async fn rectification(app: &TestApp, m: &Meeting, steps: &[&str]) -> i64 {
    let today = pingyi::types::local_today();
    let item = app
        .post(
            "/api/v1/rectifications",
            Some(&m.admin),
            json!({"campaign_id": m.campaign, "org_id": m.branch, "problem": "办事效率低", "due_on": today}),
        )
        .await
        .assert_status(201)["id"]
        .as_i64()
        .unwrap();
    for step in steps {
        app.post(
            &format!("/api/v1/rectifications/{item}/{step}"),
            Some(&m.admin),
            json!({"note": "已整改"}),
        )
        .await
        .assert_status(200);
    }
    item
}

async fn close(app: &TestApp, token: &str, session: i64) {
    session_step(app, token, session, "open")
        .await
        .assert_status(200);
    session_step(app, token, session, "close")
        .await
        .assert_status(200);
}

db_test!(
    closing_a_session_signs_it_to_the_district_and_tells_the_sibling_nothing,
    |app| {
        let m = Meeting::set_up(&app).await;
        let general = parent_of(&app, &m.admin, m.branch).await;
        let sibling = org_of_session(&app, &m.admin, m.other_session).await;
        let district = Receiver::spawn(&[]);
        let elsewhere = Receiver::spawn(&[]);
        let hook = subscribe(&app, &m.admin, general, &district.url, &["session.closed"]).await;
        let secret = hook["secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("whsec_"));
        let other = subscribe(&app, &m.admin, sibling, &elsewhere.url, &["session.closed"]).await;
        // Shown once: never in a read.
        let read = app
            .get(&format!("/api/v1/webhooks/{}", hook["id"]), Some(&m.admin))
            .await
            .assert_status(200);
        assert!(read.get("secret").is_none(), "{read}");

        close(&app, &m.admin, m.session).await;
        let got = district.wait_for(1).await;
        drained(&app).await;
        assert_eq!(got.len(), 1);
        assert!(verifies(&secret, &got[0]), "{got:?}");
        assert!(!verifies(other["secret"].as_str().unwrap(), &got[0]));
        assert!(got[0].id.starts_with("msg_"));
        let body = got[0].json();
        assert_eq!(body["type"], "session.closed");
        assert_eq!(body["data"]["session_id"], m.session);
        assert_eq!(body["data"]["org_id"], m.branch);
        assert_eq!(body["data"]["campaign_id"], m.campaign);
        let mut keys: Vec<_> = body["data"].as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            ["campaign_id", "closed_at", "org_id", "session_id"],
            "ids only"
        );
        assert!(
            elsewhere.seen().is_empty(),
            "a sibling's subscriber hears nothing"
        );
        assert_eq!(
            deliveries(&app, &m.admin, other["id"].as_i64().unwrap()).await["total"],
            0
        );
        let log = deliveries(&app, &m.admin, hook["id"].as_i64().unwrap()).await;
        assert_eq!(log["total"], 1);
        assert_eq!(log["items"][0]["status_code"], 204);
        assert_eq!(log["items"][0]["attempt"], 1);
        assert_eq!(log["items"][0]["event_id"], got[0].id.as_str());
        assert_eq!(log["items"][0]["type"], "session.closed");
    }
);

db_test!(
    a_receiver_that_answers_500_twice_gets_the_event_on_the_third_try,
    |app| {
        let m = Meeting::set_up(&app).await;
        let receiver = Receiver::spawn(&[Answer::Status(500), Answer::Status(500)]);
        let hook = subscribe(&app, &m.admin, m.branch, &receiver.url, &["session.closed"]).await;
        close(&app, &m.admin, m.session).await;
        let got = receiver.wait_for(3).await;
        drained(&app).await;
        assert_eq!(
            receiver.seen().len(),
            3,
            "delivered once it was acknowledged"
        );
        assert!(
            got.iter().all(|r| r.id == got[0].id),
            "one webhook-id on every attempt"
        );
        assert!(got.iter().all(|r| r.body == got[0].body));
        let log = deliveries(&app, &m.admin, hook["id"].as_i64().unwrap()).await;
        let attempts: Vec<(i64, i64)> = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["attempt"].as_i64().unwrap(),
                    d["status_code"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(attempts, [(3, 204), (2, 500), (1, 500)], "newest first");
        // A success clears the failure record.
        let read = app
            .get(&format!("/api/v1/webhooks/{}", hook["id"]), Some(&m.admin))
            .await
            .assert_status(200);
        assert_eq!(read["failing_since"], Value::Null);
        assert_eq!(read["enabled"], true);
    }
);

mod a_receiver_that_times_out_gets_the_event_again {
    use super::*;

    async fn run(backend: crate::common::Backend) {
        let app = TestApp::spawn_with(backend, |s| s.webhook_timeout_ms = 300).await;
        let m = Meeting::set_up(&app).await;
        let receiver = Receiver::spawn(&[Answer::Slow(Duration::from_secs(2))]);
        let hook = subscribe(&app, &m.admin, m.branch, &receiver.url, &["session.closed"]).await;
        close(&app, &m.admin, m.session).await;
        let got = receiver.wait_for(2).await;
        drained(&app).await;
        assert_eq!(got[0].id, got[1].id);
        let log = deliveries(&app, &m.admin, hook["id"].as_i64().unwrap()).await;
        assert_eq!(log["total"], 2, "{log}");
        assert_eq!(log["items"][1]["error"], "timed out");
        assert_eq!(log["items"][1]["status_code"], Value::Null);
        assert_eq!(log["items"][0]["status_code"], 204);
    }

    #[actix_web::test]
    async fn sqlite() {
        run(crate::common::Backend::Sqlite).await;
    }

    #[actix_web::test]
    #[cfg_attr(
        not(pingyi_postgres_tests),
        ignore = "set TEST_DATABASE_URL to run on PostgreSQL"
    )]
    async fn postgres() {
        if crate::common::postgres_enabled() {
            run(crate::common::Backend::Postgres).await;
        }
    }
}

db_test!(
    one_resources_events_arrive_in_order_even_after_a_failure,
    |app| {
        let m = Meeting::set_up(&app).await;
        let receiver = Receiver::spawn(&[Answer::Status(503)]);
        subscribe(
            &app,
            &m.admin,
            m.branch,
            &receiver.url,
            &["rectification.submitted", "rectification.verified"],
        )
        .await;
        let item = rectification(&app, &m, &["progress", "submit", "verify"]).await;
        let got = receiver.wait_for(3).await;
        drained(&app).await;
        let types: Vec<String> = receiver
            .seen()
            .iter()
            .map(|r| r.json()["type"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            types,
            [
                "rectification.submitted",
                "rectification.submitted",
                "rectification.verified"
            ],
            "the verification waits for the submission to be acknowledged"
        );
        assert_eq!(got[2].json()["data"]["rectification_id"], item);
        assert_eq!(got[2].json()["data"]["status"], "verified");
    }
);

db_test!(
    during_a_rotation_both_secrets_sign_and_the_new_one_alone_after,
    |app| {
        let m = Meeting::set_up(&app).await;
        let receiver = Receiver::spawn(&[]);
        let hook = subscribe(&app, &m.admin, m.branch, &receiver.url, &["session.closed"]).await;
        let id = hook["id"].as_i64().unwrap();
        let old = hook["secret"].as_str().unwrap().to_owned();
        let rotated = app
            .post(
                &format!("/api/v1/webhooks/{id}/rotate-secret"),
                Some(&m.admin),
                json!({}),
            )
            .await
            .assert_status(200);
        let new = rotated["secret"].as_str().unwrap().to_owned();
        assert_ne!(old, new);
        assert!(rotated["previous_secret_until"].is_string());
        close(&app, &m.admin, m.session).await;
        let got = receiver.wait_for(1).await;
        assert!(verifies(&old, &got[0]), "the old secret still verifies");
        assert!(verifies(&new, &got[0]), "the new one too");
        assert_eq!(got[0].signature.split(' ').count(), 2);
        // Once the overlap ended, only the new secret signs.
        crate::results::execute(
            &app,
            "UPDATE webhooks SET previous_secret_until = created_at",
        )
        .await;
        app.patch(
            &format!("/api/v1/webhooks/{id}"),
            Some(&m.admin),
            json!({"events": ["session.closed", "rectification.submitted"]}),
        )
        .await
        .assert_status(200);
        rectification(&app, &m, &["progress", "submit"]).await;
        let got = receiver.wait_for(2).await;
        assert_eq!(got[1].json()["type"], "rectification.submitted");
        assert!(verifies(&new, &got[1]));
        assert!(!verifies(&old, &got[1]));
        assert_eq!(got[1].signature.split(' ').count(), 1);
    }
);

db_test!(
    only_listed_hosts_can_subscribe_and_redirects_are_not_followed,
    |app| {
        let m = Meeting::set_up(&app).await;
        let count = app.count("webhooks").await;
        for url in [
            "http://127.0.0.2:8080/hook",
            "http://localhost:8080/hook",
            "http://169.254.169.254/latest/meta-data",
            "ftp://127.0.0.1/hook",
            "http://user:pw@127.0.0.1/hook",
            "not a url",
        ] {
            let reply = app
                .post(
                    "/api/v1/webhooks",
                    Some(&m.admin),
                    json!({"url": url, "events": ["session.closed"], "org_id": m.branch}),
                )
                .await;
            crate::common::assert_only_field_error(&reply, "url");
        }
        let reply = app
        .post(
            "/api/v1/webhooks",
            Some(&m.admin),
            json!({"url": "http://127.0.0.1:9/hook", "events": ["no.such"], "org_id": m.branch}),
        )
        .await;
        crate::common::assert_field_error(&reply, "events[0]");
        let reply = app
            .post(
                "/api/v1/webhooks",
                Some(&m.admin),
                json!({"url": "http://127.0.0.1:9/hook", "events": [], "org_id": m.branch}),
            )
            .await;
        crate::common::assert_field_error(&reply, "events");
        let reply = app
        .post(
            "/api/v1/webhooks",
            Some(&m.admin),
            json!({"url": "http://127.0.0.1:9/hook", "events": ["session.closed"], "org_id": 999999}),
        )
        .await;
        crate::common::assert_only_field_error(&reply, "org_id");
        assert_eq!(app.count("webhooks").await, count, "nothing written");

        let receiver = Receiver::spawn(&[Answer::Redirect]);
        let hook = subscribe(&app, &m.admin, m.branch, &receiver.url, &["session.closed"]).await;
        close(&app, &m.admin, m.session).await;
        let got = receiver.wait_for(2).await;
        assert_eq!(
            got.len(),
            2,
            "the 302 was a failed attempt, retried here, not followed"
        );
        // The receiver counts the second attempt before the dispatcher records its answer.
        drained(&app).await;
        let log = deliveries(&app, &m.admin, hook["id"].as_i64().unwrap()).await;
        assert_eq!(log["items"][1]["status_code"], 302);
    }
);

db_test!(
    subscriptions_belong_to_those_who_manage_the_subtree,
    |app| {
        let m = Meeting::set_up(&app).await;
        let general = parent_of(&app, &m.admin, m.branch).await;
        let school = parent_of(&app, &m.admin, general).await;
        let sibling = org_of_session(&app, &m.admin, m.other_session).await;
        let (_, integration) =
            create_user_with_grant(&app, &m.admin, "hooks.bot", m.branch, "integration").await;
        let (_, secretary) =
            create_user_with_grant(&app, &m.admin, "branch.secretary", m.branch, "secretary").await;
        let (_, sibling_admin) =
            create_user_with_grant(&app, &m.admin, "sibling.admin", sibling, "org_admin").await;
        let receiver = Receiver::spawn(&[]);
        let mine = subscribe(
            &app,
            &integration,
            m.branch,
            &receiver.url,
            &["session.closed"],
        )
        .await;
        let id = mine["id"].as_i64().unwrap();
        // Above its grant, the integration sees the org but may not subscribe to it.
        let reply = app
            .post(
                "/api/v1/webhooks",
                Some(&integration),
                json!({"url": receiver.url, "events": ["session.closed"], "org_id": school}),
            )
            .await;
        assert!(matches!(reply.status.as_u16(), 403 | 422), "{}", reply.text);
        // A secretary of the org sees nothing of it; a sibling's admin neither.
        for token in [&secretary, &sibling_admin] {
            app.get(&format!("/api/v1/webhooks/{id}"), Some(token))
                .await
                .assert_problem(404, "not_found");
            app.delete(&format!("/api/v1/webhooks/{id}"), Some(token))
                .await
                .assert_problem(404, "not_found");
            let listed = app
                .get("/api/v1/webhooks", Some(token))
                .await
                .assert_status(200);
            assert_eq!(listed["total"], 0);
        }
        app.post(
            "/api/v1/webhooks",
            Some(&secretary),
            json!({"url": receiver.url, "events": ["session.closed"], "org_id": m.branch}),
        )
        .await
        .assert_problem(403, "forbidden");
        // The school's admin (here: the administrator) sees and removes it.
        let listed = app
            .get("/api/v1/webhooks", Some(&m.admin))
            .await
            .assert_status(200);
        assert_eq!(listed["total"], 1);
        let listed = app
            .get("/api/v1/webhooks", Some(&integration))
            .await
            .assert_status(200);
        assert_eq!(listed["items"][0]["id"], id);
        app.delete(&format!("/api/v1/webhooks/{id}"), Some(&integration))
            .await
            .assert_status(204);
        app.get(&format!("/api/v1/webhooks/{id}"), Some(&m.admin))
            .await
            .assert_problem(404, "not_found");
        // Every change is audited.
        let audit = app
            .get("/api/v1/audit-events?action=webhook.delete", Some(&m.admin))
            .await
            .assert_status(200);
        assert_eq!(audit["total"], 1, "{audit}");
    }
);

db_test!(
    a_disabled_subscription_queues_nothing_and_a_redelivery_sends_again,
    |app| {
        let m = Meeting::set_up(&app).await;
        let receiver = Receiver::spawn(&[]);
        let events = ["session.closed", "rectification.submitted"];
        let hook = subscribe(&app, &m.admin, m.branch, &receiver.url, &events).await;
        let id = hook["id"].as_i64().unwrap();
        close(&app, &m.admin, m.session).await;
        let got = receiver.wait_for(1).await;
        drained(&app).await;
        let log = deliveries(&app, &m.admin, id).await;
        let delivery = log["items"][0]["id"].as_i64().unwrap();
        let redeliver = format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver");
        let again = app
            .post(&redeliver, Some(&m.admin), json!({}))
            .await
            .assert_status(202);
        assert_eq!(again["queued"], true);
        assert_eq!(again["event_id"], got[0].id.as_str());
        let got_again = receiver.wait_for(2).await;
        assert_eq!(
            got_again[1].id, got[0].id,
            "the same webhook-id, so the receiver can tell"
        );
        app.post(
            &format!("/api/v1/webhooks/{id}/deliveries/999999/redeliver"),
            Some(&m.admin),
            json!({}),
        )
        .await
        .assert_problem(404, "not_found");

        let disabled = app
            .patch(
                &format!("/api/v1/webhooks/{id}"),
                Some(&m.admin),
                json!({"enabled": false}),
            )
            .await
            .assert_status(200);
        assert_eq!(disabled["enabled"], false);
        assert_eq!(disabled["disabled_reason"], "disabled by hand");
        let messages = app.count("webhook_messages").await;
        rectification(&app, &m, &["progress", "submit"]).await;
        assert_eq!(
            app.count("webhook_messages").await,
            messages,
            "nothing queued while disabled"
        );
        let enabled = app
            .patch(
                &format!("/api/v1/webhooks/{id}"),
                Some(&m.admin),
                json!({"enabled": true}),
            )
            .await
            .assert_status(200);
        assert_eq!(enabled["disabled_reason"], Value::Null);
    }
);

db_test!(overdue_and_missing_are_told_once_by_the_clock, |app| {
    let m = Meeting::set_up(&app).await;
    let receiver = Receiver::spawn(&[]);
    let general = parent_of(&app, &m.admin, m.branch).await;
    subscribe(
        &app,
        &m.admin,
        general,
        &receiver.url,
        &["rectification.overdue", "report_request.missing"],
    )
    .await;
    let today = pingyi::types::local_today();
    let item = rectification(&app, &m, &[]).await;
    let request = app
        .post(
            &format!("/api/v1/campaigns/{}/report-requests", m.campaign),
            Some(&m.admin),
            json!({"from_org_id": general, "title": "书面材料", "due_on": today}),
        )
        .await
        .assert_status(201)["id"]
        .as_i64()
        .unwrap();
    let produce = || {
        let pool = app.pool.clone();
        tokio_block(move || {
            pingyi::webhooks::outbox::produce_due_events(&pool, today + chrono::Duration::days(1))
                .unwrap()
        })
    };
    // Tomorrow: the item is overdue, and both branches of the general branch sent nothing.
    assert_eq!(produce().await, 3);
    assert_eq!(produce().await, 0, "once only");
    let got = receiver.wait_for(3).await;
    let mut told: Vec<(String, i64)> = got
        .iter()
        .map(|r| {
            let body = r.json();
            let about = body["data"]["rectification_id"]
                .as_i64()
                .or(body["data"]["org_id"].as_i64())
                .unwrap();
            (body["type"].as_str().unwrap().to_owned(), about)
        })
        .collect();
    told.sort();
    let sibling = org_of_session(&app, &m.admin, m.other_session).await;
    let mut expected = vec![
        ("rectification.overdue".to_owned(), item),
        ("report_request.missing".to_owned(), m.branch),
        ("report_request.missing".to_owned(), sibling),
    ];
    expected.sort();
    assert_eq!(told, expected);
    assert!(got
        .iter()
        .filter(|r| r.json()["type"] == "report_request.missing")
        .all(|r| r.json()["data"]["report_request_id"] == request));
});

db_test!(
    three_days_of_failures_disable_the_subscription_audited,
    |app| {
        let m = Meeting::set_up(&app).await;
        let receiver = Receiver::spawn(&[Answer::Status(500); 8]);
        let hook = subscribe(&app, &m.admin, m.branch, &receiver.url, &["session.closed"]).await;
        let path = format!("/api/v1/webhooks/{}", hook["id"]);
        // Every attempt has failed since long ago: the next failure gives up on the endpoint.
        crate::results::execute(
            &app,
            "UPDATE webhooks SET failing_since = '2000-01-01 00:00:00'",
        )
        .await;
        close(&app, &m.admin, m.session).await;
        receiver.wait_for(1).await;
        let mut read = Value::Null;
        for _ in 0..500 {
            read = app.get(&path, Some(&m.admin)).await.assert_status(200);
            if read["enabled"] == false {
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(read["enabled"], false, "{read}");
        assert_eq!(read["disabled_reason"], "every delivery failed for 3 days");
        let audit = app
            .get(
                "/api/v1/audit-events?action=webhook.disable",
                Some(&m.admin),
            )
            .await
            .assert_status(200);
        assert_eq!(audit["total"], 1, "{audit}");
        assert_eq!(
            audit["items"][0]["actor_id"],
            Value::Null,
            "done by the server itself"
        );
        // Nothing more is sent to a disabled endpoint.
        let seen = receiver.seen().len();
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.seen().len(), seen);
    }
);

db_test!(
    closing_and_publishing_a_campaign_tell_its_subscribers,
    |app| {
        let m = Meeting::set_up(&app).await;
        let general = parent_of(&app, &m.admin, m.branch).await;
        let school = parent_of(&app, &m.admin, general).await;
        let receiver = Receiver::spawn(&[]);
        let below = Receiver::spawn(&[]);
        subscribe(
            &app,
            &m.admin,
            school,
            &receiver.url,
            &["session.closed", "campaign.published"],
        )
        .await;
        // A subscriber inside the tree hears of its own sessions, not of the owner's campaign.
        subscribe(
            &app,
            &m.admin,
            m.branch,
            &below.url,
            &["campaign.published"],
        )
        .await;
        session_step(&app, &m.admin, m.session, "open")
            .await
            .assert_status(200);
        // Closing the campaign closes the session still open: that is a session.closed too.
        let campaign = format!("/api/v1/campaigns/{}", m.campaign);
        app.post(&format!("{campaign}/close"), Some(&m.admin), json!({}))
            .await
            .assert_status(200);
        app.post(
            &format!("{campaign}/publish"),
            Some(&m.admin),
            json!({"scope_org_ids": [school]}),
        )
        .await
        .assert_status(200);
        let got = receiver.wait_for(2).await;
        drained(&app).await;
        // Two resources: their events may arrive in either order.
        let mut told: Vec<(String, Value)> = got
            .iter()
            .map(|r| {
                let body = r.json();
                (
                    body["type"].as_str().unwrap().to_owned(),
                    body["data"].clone(),
                )
            })
            .collect();
        told.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(told.len(), 2, "{told:?}");
        assert_eq!(told[0].0, "campaign.published");
        assert_eq!(told[0].1["campaign_id"], m.campaign);
        assert_eq!(told[0].1["owner_org_id"], school);
        assert_eq!(told[1].0, "session.closed");
        assert_eq!(told[1].1["session_id"], m.session);
        assert!(below.seen().is_empty());
    }
);

db_test!(
    a_bad_review_opens_a_case_told_without_its_comment_or_contact,
    |app| {
        use crate::common::fixtures::{admin_token, create_org, create_org_with};
        let admin = admin_token(&app).await;
        let college = create_org(&app, &admin, None, "职业技术学院党委", "committee").await;
        let unit = create_org_with(
            &app,
            &admin,
            college,
            "后勤服务中心党支部",
            "branch",
            "institution",
            true,
        )
        .await;
        let receiver = Receiver::spawn(&[]);
        subscribe(
            &app,
            &admin,
            college,
            &receiver.url,
            &["instant_case.opened", "instant_case.overdue"],
        )
        .await;
        let point = app
            .post(
                &format!("/api/v1/orgs/{unit}/service-points"),
                Some(&admin),
                json!({"name": "1号窗口"}),
            )
            .await
            .assert_status(201)["id"]
            .as_i64()
            .unwrap();
        let mut tickets = Vec::new();
        for _ in 0..2 {
            tickets.push(
                app.post(
                    &format!("/api/v1/service-points/{point}/tickets"),
                    Some(&admin),
                    json!({"count": 1}),
                )
                .await
                .assert_status(201)["tickets"][0]["ticket"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        // A good review opens nothing; a bad one with a comment and a contact opens a case.
        app.post(
            "/api/v1/instant-ratings",
            None,
            json!({"ticket": tickets[0], "level": "satisfied"}),
        )
        .await
        .assert_status(201);
        app.post(
        "/api/v1/instant-ratings",
        None,
        json!({"ticket": tickets[1], "level": "very_dissatisfied", "comment": "态度差", "contact": "13800000000"}),
    )
    .await
    .assert_status(201);
        let got = receiver.wait_for(1).await;
        let body = got[0].json();
        assert_eq!(body["type"], "instant_case.opened");
        assert_eq!(body["data"]["org_id"], unit);
        assert_eq!(body["data"]["point_id"], point);
        assert_eq!(body["data"]["level"], "very_dissatisfied");
        assert!(!got[0].body.contains("态度差") && !got[0].body.contains("13800000000"));
        assert!(!got[0].body.contains(&tickets[1]));
        // Past its follow-up deadline the case is overdue, once.
        let today = pingyi::types::local_today();
        let produce = move |pool: pingyi::db::Pool| {
            tokio_block(move || {
                pingyi::webhooks::outbox::produce_due_events(
                    &pool,
                    today + chrono::Duration::days(30),
                )
                .unwrap()
            })
        };
        assert_eq!(produce(app.pool.clone()).await, 1);
        assert_eq!(produce(app.pool.clone()).await, 0);
        let got = receiver.wait_for(2).await;
        let overdue = got[1].json();
        assert_eq!(overdue["type"], "instant_case.overdue");
        assert_eq!(overdue["data"]["case_id"], body["data"]["case_id"]);
        assert_eq!(overdue["data"]["status"], "awaiting_follow_up");
    }
);

db_test!(a_host_taken_off_the_list_is_refused_at_send_time, |app| {
    let m = Meeting::set_up(&app).await;
    let receiver = Receiver::spawn(&[]);
    let hook = subscribe(&app, &m.admin, m.branch, &receiver.url, &["session.closed"]).await;
    // As if the operator took the host off PINGYI_WEBHOOK_ALLOWED_HOSTS after the
    // subscription was made: 127.0.0.2 stands for a host that is not on the list.
    let moved = receiver.url.replace("127.0.0.1", "127.0.0.2");
    let sql: &'static str =
        Box::leak(format!("UPDATE webhooks SET url = '{moved}'").into_boxed_str());
    crate::results::execute(&app, sql).await;
    close(&app, &m.admin, m.session).await;
    let path = format!("/api/v1/webhooks/{}/deliveries", hook["id"]);
    let mut log = Value::Null;
    for _ in 0..500 {
        log = app.get(&path, Some(&m.admin)).await.assert_status(200);
        if log["total"].as_i64() > Some(0) {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let error = log["items"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("not in PINGYI_WEBHOOK_ALLOWED_HOSTS"),
        "{log}"
    );
    assert_eq!(log["items"][0]["status_code"], Value::Null);
    assert!(receiver.seen().is_empty());
});
