//! Shared setup for the identity and access tests: signing in, building orgs, users and
//! grants through the public API (as a client would), and the org tree most access tests
//! start from.

use serde_json::{json, Value};

use super::{TestApp, ADMIN_PASSWORD};

/// The password every user made by these fixtures gets (at least 10 characters).
pub const USER_PASSWORD: &str = "user-password-for-tests";

/// Signs in and returns the whole token pair.
pub async fn login_pair(app: &TestApp, username: &str, password: &str) -> Value {
    let reply = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": username, "password": password}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        200,
        "login of {username} failed: {}",
        reply.text
    );
    reply.json()
}

/// Signs in and returns the access token.
pub async fn login(app: &TestApp, username: &str, password: &str) -> String {
    login_pair(app, username, password).await["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// The bootstrap administrator's access token.
pub async fn admin_token(app: &TestApp) -> String {
    login(app, "admin", ADMIN_PASSWORD).await
}

/// Creates an org (a root when `parent_id` is none) and returns its id.
pub async fn create_org(
    app: &TestApp,
    token: &str,
    parent_id: Option<i64>,
    name: &str,
    kind: &str,
) -> i64 {
    let reply = app
        .post(
            "/api/v1/orgs",
            Some(token),
            json!({"parent_id": parent_id, "name": name, "kind": kind, "domain": "institution"}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        201,
        "creating org {name}: {}",
        reply.text
    );
    reply.json()["id"].as_i64().expect("an org id")
}

/// Creates a user homed in `org_id` (none: an account only administrators manage), with
/// [`USER_PASSWORD`], and returns its id.
pub async fn create_user(app: &TestApp, token: &str, username: &str, org_id: Option<i64>) -> i64 {
    let reply = app
        .post(
            "/api/v1/users",
            Some(token),
            json!({
                "username": username,
                "display_name": format!("User {username}"),
                "password": USER_PASSWORD,
                "org_id": org_id,
            }),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        201,
        "creating user {username}: {}",
        reply.text
    );
    reply.json()["id"].as_i64().expect("a user id")
}

/// Grants `role` on `org_id` (none for `admin`) and returns the grant's id.
pub async fn grant(
    app: &TestApp,
    token: &str,
    user_id: i64,
    org_id: Option<i64>,
    role: &str,
) -> i64 {
    let reply = app
        .post(
            &format!("/api/v1/users/{user_id}/grants"),
            Some(token),
            json!({"org_id": org_id, "role": role}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        201,
        "granting {role} on {org_id:?} to user {user_id}: {}",
        reply.text
    );
    reply.json()["id"].as_i64().expect("a grant id")
}

/// Creates a user homed in `org_id` holding `role` there (the global `admin` grant when
/// `role` is "admin"), signs them in, and returns `(user id, access token)`.
pub async fn create_user_with_grant(
    app: &TestApp,
    admin_token: &str,
    username: &str,
    org_id: i64,
    role: &str,
) -> (i64, String) {
    let user_id = create_user(app, admin_token, username, Some(org_id)).await;
    let on = (role != "admin").then_some(org_id);
    grant(app, admin_token, user_id, on, role).await;
    (user_id, login(app, username, USER_PASSWORD).await)
}

/// The tree of the access tests, built by the administrator:
///
/// ```text
/// city (committee)                      unrelated (committee, another root)
/// ├── school_a (committee)              └── unrelated_branch (branch)
/// │   └── general_a (general_branch)
/// │       └── branch_a (branch)
/// └── school_b (committee)
///     └── general_b (general_branch)
///         └── branch_b (branch)
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Tree {
    pub city: i64,
    pub school_a: i64,
    pub general_a: i64,
    pub branch_a: i64,
    pub school_b: i64,
    pub general_b: i64,
    pub branch_b: i64,
    pub unrelated: i64,
    pub unrelated_branch: i64,
}

impl Tree {
    pub async fn build(app: &TestApp, admin: &str) -> Tree {
        let city = create_org(app, admin, None, "市委", "committee").await;
        let school_a = create_org(app, admin, Some(city), "甲校党委", "committee").await;
        let general_a = create_org(
            app,
            admin,
            Some(school_a),
            "甲校机关党总支",
            "general_branch",
        )
        .await;
        let branch_a = create_org(app, admin, Some(general_a), "甲校第一党支部", "branch").await;
        let school_b = create_org(app, admin, Some(city), "乙校党委", "committee").await;
        let general_b = create_org(
            app,
            admin,
            Some(school_b),
            "乙校机关党总支",
            "general_branch",
        )
        .await;
        let branch_b = create_org(app, admin, Some(general_b), "乙校第一党支部", "branch").await;
        let unrelated = create_org(app, admin, None, "另一市委", "committee").await;
        let unrelated_branch =
            create_org(app, admin, Some(unrelated), "另一市委机关党支部", "branch").await;
        Tree {
            city,
            school_a,
            general_a,
            branch_a,
            school_b,
            general_b,
            branch_b,
            unrelated,
            unrelated_branch,
        }
    }
}

/// The ids of a list answer's items.
pub fn ids(page: &Value) -> std::collections::BTreeSet<i64> {
    page["items"]
        .as_array()
        .expect("a list answer")
        .iter()
        .map(|item| item["id"].as_i64().expect("an id"))
        .collect()
}

// --- campaigns and sessions ---

/// The day the server compares campaign dates with (China Standard Time).
pub fn today() -> chrono::NaiveDate {
    pingyi::types::local_today()
}

/// Today moved by `days`, as `YYYY-MM-DD`.
pub fn day(days: i64) -> String {
    (today() + chrono::Duration::days(days)).to_string()
}

/// Noon of today moved by `days` in China Standard Time, as the server writes it (UTC).
pub fn noon(days: i64) -> String {
    format!("{}T04:00:00Z", day(days))
}

/// Creates an org of the given domain (and window-unit flag) under `parent_id`.
pub async fn create_org_with(
    app: &TestApp,
    token: &str,
    parent_id: i64,
    name: &str,
    kind: &str,
    domain: &str,
    window_unit: bool,
) -> i64 {
    let reply = app
        .post(
            "/api/v1/orgs",
            Some(token),
            json!({"parent_id": parent_id, "name": name, "kind": kind, "domain": domain, "window_unit": window_unit}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        201,
        "creating org {name}: {}",
        reply.text
    );
    reply.json()["id"].as_i64().expect("an org id")
}

/// Creates a full member of `org_id` and returns the person's id.
pub async fn create_person(app: &TestApp, token: &str, org_id: i64, name: &str) -> i64 {
    let reply = app
        .post(
            "/api/v1/people",
            Some(token),
            json!({"org_id": org_id, "name": name, "member_type": "full"}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        201,
        "creating person {name}: {}",
        reply.text
    );
    reply.json()["id"].as_i64().expect("a person id")
}

/// Makes `person_id` the secretary of `org_id`.
pub async fn set_secretary(app: &TestApp, token: &str, org_id: i64, person_id: i64) {
    let reply = app
        .patch(
            &format!("/api/v1/orgs/{org_id}"),
            Some(token),
            json!({"secretary_id": person_id}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        200,
        "setting the secretary of {org_id}: {}",
        reply.text
    );
}

/// Creates a campaign from a whole body and returns it (asserting 201).
pub async fn create_campaign_with(app: &TestApp, token: &str, body: Value) -> Value {
    let reply = app.post("/api/v1/campaigns", Some(token), body).await;
    assert_eq!(
        reply.status.as_u16(),
        201,
        "creating a campaign: {}",
        reply.text
    );
    reply.json()
}

/// A draft campaign of `owner_org_id` on `template_id`, from 10 days ago to 10 days ahead.
pub async fn campaign_around_today(
    app: &TestApp,
    token: &str,
    owner_org_id: i64,
    template_id: i64,
) -> i64 {
    create_campaign_with(
        app,
        token,
        json!({
            "owner_org_id": owner_org_id,
            "title": "创先争优群众评议",
            "starts_on": day(-10),
            "ends_on": day(10),
            "template_id": template_id,
        }),
    )
    .await["id"]
        .as_i64()
        .expect("a campaign id")
}

/// Moves a campaign one step (`activate`, `close`), asserting 200.
pub async fn campaign_step(app: &TestApp, token: &str, campaign_id: i64, step: &str) -> Value {
    let reply = app
        .post(
            &format!("/api/v1/campaigns/{campaign_id}/{step}"),
            Some(token),
            json!({}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        200,
        "{step} campaign {campaign_id}: {}",
        reply.text
    );
    reply.json()
}

/// Schedules a branch meeting of `org_id` today at noon and returns the session.
pub async fn create_session(app: &TestApp, token: &str, campaign_id: i64, org_id: i64) -> Value {
    let reply = app
        .post(
            &format!("/api/v1/campaigns/{campaign_id}/sessions"),
            Some(token),
            json!({"org_id": org_id, "kind": "branch_meeting", "scheduled_at": noon(0)}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        201,
        "scheduling a session of org {org_id}: {}",
        reply.text
    );
    reply.json()
}

/// Issues one voting code of `category` for a session and returns it.
pub async fn issue_code(app: &TestApp, token: &str, session_id: i64, category: &str) -> String {
    let reply = app
        .post(
            &format!("/api/v1/sessions/{session_id}/voting-codes"),
            Some(token),
            json!({"category": category, "count": 1}),
        )
        .await;
    assert_eq!(
        reply.status.as_u16(),
        201,
        "issuing a code for session {session_id}: {}",
        reply.text
    );
    reply.json()["codes"][0]
        .as_str()
        .expect("a code")
        .to_owned()
}

/// The ballot form a code opens (no bearer token), asserting 200.
pub async fn ballot_form(app: &TestApp, code: &str) -> Value {
    let reply = app
        .post("/api/v1/ballot-forms", None, json!({"code": code}))
        .await;
    assert_eq!(
        reply.status.as_u16(),
        200,
        "the ballot form: {}",
        reply.text
    );
    reply.json()
}
