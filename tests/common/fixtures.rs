//! Shared setup, through the public API (as a client would): signing in, building orgs,
//! users and grants, the org tree most access tests start from, campaigns, sessions, voting
//! codes and a whole meeting ready to vote.

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use super::{Reply, TestApp, ADMIN_PASSWORD};

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

/// Gives orgs external ids, so that import files can name them.
pub async fn set_external_ids(app: &TestApp, token: &str, orgs: &[(i64, &str)]) {
    for (id, external_id) in orgs {
        app.patch(
            &format!("/api/v1/orgs/{id}"),
            Some(token),
            json!({"external_id": external_id}),
        )
        .await
        .assert_status(200);
    }
}

/// A list answer holding every item (one page of up to 200), asserting 200.
pub async fn list_all(app: &TestApp, path: &str, token: &str) -> Value {
    let sep = if path.contains('?') { '&' } else { '?' };
    app.get(&format!("{path}{sep}per_page=200"), Some(token))
        .await
        .assert_status(200)
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

/// Schedules a branch meeting of `org` at `at` and returns the answer.
pub async fn create_session_reply(
    app: &TestApp,
    token: &str,
    campaign: i64,
    org: i64,
    at: String,
) -> Reply {
    app.post(
        &format!("/api/v1/campaigns/{campaign}/sessions"),
        Some(token),
        json!({"org_id": org, "kind": "branch_meeting", "scheduled_at": at}),
    )
    .await
}

/// Schedules sessions of `kind` in bulk and returns the answer.
pub async fn bulk(app: &TestApp, token: &str, campaign: i64, kind: &str, at: String) -> Reply {
    app.post(
        &format!("/api/v1/campaigns/{campaign}/sessions/bulk"),
        Some(token),
        json!({"kind": kind, "scheduled_at": at}),
    )
    .await
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

/// Moves a session one step (`open`, `close`) and returns the answer.
pub async fn session_step(app: &TestApp, token: &str, session_id: i64, step: &str) -> Reply {
    app.post(
        &format!("/api/v1/sessions/{session_id}/{step}"),
        Some(token),
        json!({}),
    )
    .await
}

// --- a meeting ready to vote ---

/// A school committee with one general branch and two branches (a secretary and three
/// members in the first), an active campaign over the school, and a session per branch.
pub struct Meeting {
    pub admin: String,
    pub campaign: i64,
    pub branch: i64,
    pub session: i64,
    pub other_session: i64,
}

impl Meeting {
    pub async fn set_up(app: &TestApp) -> Meeting {
        let admin = admin_token(app).await;
        let school = create_org(app, &admin, None, "某职业技术学院党委", "committee").await;
        let general = create_org(
            app,
            &admin,
            Some(school),
            "机电工程学院党总支",
            "general_branch",
        )
        .await;
        let branch = create_org(app, &admin, Some(general), "教工第一党支部", "branch").await;
        let other = create_org(app, &admin, Some(general), "学生第一党支部", "branch").await;
        let mut people = Vec::new();
        for name in ["李书记", "王一", "张二", "刘三"] {
            people.push(create_person(app, &admin, branch, name).await);
        }
        set_secretary(app, &admin, branch, people[0]).await;
        let today = Utc::now().date_naive();
        let campaign = create_campaign_with(
            app,
            &admin,
            json!({"owner_org_id": school, "title": "年度群众评议", "starts_on": today - Duration::days(1), "ends_on": today + Duration::days(7), "template_id": 1}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        campaign_step(app, &admin, campaign, "activate").await;
        let at = Utc::now().to_rfc3339();
        let bulk = app
            .post(
                &format!("/api/v1/campaigns/{campaign}/sessions/bulk"),
                Some(&admin),
                json!({"kind": "branch_meeting", "scheduled_at": at}),
            )
            .await
            .assert_status(201);
        assert_eq!(bulk["created"], 2, "{bulk}");
        let listed = app
            .get(bulk["sessions"].as_str().unwrap(), Some(&admin))
            .await
            .assert_status(200);
        let session_of = |org: i64| {
            listed["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["org_id"] == org)
                .unwrap()["id"]
                .as_i64()
                .unwrap()
        };
        Meeting {
            campaign,
            branch,
            session: session_of(branch),
            other_session: session_of(other),
            admin,
        }
    }

    pub async fn issue(
        &self,
        app: &TestApp,
        session: i64,
        category: &str,
        count: i64,
    ) -> Vec<String> {
        let issued = app
            .post(
                &format!("/api/v1/sessions/{session}/voting-codes"),
                Some(&self.admin),
                json!({"category": category, "count": count}),
            )
            .await;
        assert_eq!(issued.header("cache-control"), Some("no-store"));
        let body = issued.assert_status(201);
        body["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    }

    /// The turnout of the first branch's session, asserting 200.
    pub async fn turnout(&self, app: &TestApp) -> Value {
        app.get(
            &format!("/api/v1/sessions/{}/turnout", self.session),
            Some(&self.admin),
        )
        .await
        .assert_status(200)
    }

    /// The meeting's session's results (it must be closed).
    pub async fn results(&self, app: &TestApp) -> Value {
        app.get(
            &format!("/api/v1/sessions/{}/results", self.session),
            Some(&self.admin),
        )
        .await
        .assert_status(200)
    }

    pub async fn open(&self, app: &TestApp, session: i64) {
        session_step(app, &self.admin, session, "open")
            .await
            .assert_status(200);
    }
}
