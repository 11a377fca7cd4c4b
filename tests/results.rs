//! Results: a session's figures against a hand count, tallies that agree with the ballots,
//! the campaign's roll-up, rankings and coverage over a small tree (hand-computed), who sees
//! what, and the exports read back.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::common::fixtures::{
    admin_token, ballot_form, campaign_step, create_campaign_with, create_org, create_person,
    create_user, create_user_with_grant, grant, login, set_secretary, Meeting, USER_PASSWORD,
};
use crate::common::{tokio_block, TestApp};
use crate::db_test;

/// Ratings of every criterion of the subjects `pick` names, at the level it gives.
pub fn ratings(form: &Value, pick: impl Fn(usize, &str) -> Option<&'static str>) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, subject) in form["subjects"].as_array().unwrap().iter().enumerate() {
        let subject_type = subject["subject_type"].as_str().unwrap();
        let Some(level) = pick(i, subject_type) else {
            continue;
        };
        for criterion in form["criteria"][subject_type].as_array().unwrap() {
            out.push(json!({"subject_id": subject["id"], "criterion_id": criterion["id"], "level": level}));
        }
    }
    out
}

pub async fn close(app: &TestApp, token: &str, session: i64) {
    app.post(
        &format!("/api/v1/sessions/{session}/close"),
        Some(token),
        json!({}),
    )
    .await
    .assert_status(200);
}

/// The Meeting's subjects are: org, secretary, 王一, 张二, 刘三. The 36 ballots:
/// - org and secretary: party members (20) 满意, mass representatives 5 满意 + 5 基本满意,
///   deputies (2, on paper) 不满意, service recipients (4) 基本满意;
/// - 王一: only the first 4 party members (满意): under k = 5, withheld;
/// - 张二: nobody (every voter abstained);
/// - 刘三: party members 不满意, everyone else 满意: 16 of 36, flagged.
async fn hold_the_36_ballot_meeting(app: &TestApp, m: &Meeting) {
    let members = m.issue(app, m.session, "party_member", 20).await;
    let public = m.issue(app, m.session, "mass_representative", 10).await;
    let served = m.issue(app, m.session, "service_recipient", 4).await;
    m.open(app, m.session).await;
    let form = ballot_form(app, &members[0]).await;
    for (i, code) in members.iter().enumerate() {
        let body = ratings(&form, |s, _| match s {
            0 | 1 => Some("satisfied"),
            2 if i < 4 => Some("satisfied"),
            4 => Some("dissatisfied"),
            _ => None,
        });
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": code, "ratings": body}),
        )
        .await
        .assert_status(201);
    }
    for (i, code) in public.iter().enumerate() {
        let level = if i < 5 {
            "satisfied"
        } else {
            "basically_satisfied"
        };
        let body = ratings(&form, |s, _| match s {
            0 | 1 => Some(level),
            4 => Some("satisfied"),
            _ => None,
        });
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": code, "ratings": body}),
        )
        .await
        .assert_status(201);
    }
    for code in &served {
        let body = ratings(&form, |s, _| match s {
            0 | 1 => Some("basically_satisfied"),
            4 => Some("satisfied"),
            _ => None,
        });
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": code, "ratings": body}),
        )
        .await
        .assert_status(201);
    }
    let deputy = json!({"ratings": ratings(&form, |s, _| match s {
        0 | 1 => Some("dissatisfied"),
        4 => Some("satisfied"),
        _ => None,
    })});
    app.post(
        &format!("/api/v1/sessions/{}/paper-ballots", m.session),
        Some(&m.admin),
        json!({"category": "deputy", "ballots": [deputy.clone(), deputy]}),
    )
    .await
    .assert_status(201);
}

db_test!(a_36_ballot_meeting_matches_the_hand_count, |app| {
    let m = Meeting::set_up(&app).await;
    hold_the_36_ballot_meeting(&app, &m).await;
    let path = format!("/api/v1/sessions/{}/results", m.session);
    app.get(&path, Some(&m.admin))
        .await
        .assert_problem(409, "session_not_closed");
    close(&app, &m.admin, m.session).await;
    let r = app.get(&path, Some(&m.admin)).await.assert_status(200);
    assert_eq!(r["ballots"], 36);
    let subjects = r["subjects"].as_array().unwrap();
    assert_eq!(subjects.len(), 5);
    // Per criterion: 25 满意, 9 基本满意, 2 不满意 → 34/36, (2500 + 540) / 36.
    for s in &subjects[..2] {
        assert_eq!(s["ballots"], 36);
        assert_eq!(s["withheld"], false);
        assert_eq!(s["satisfaction_rate"], 0.9444);
        assert_eq!(s["score"], 84.4444);
        assert_eq!(s["flagged"], false);
        for c in s["criteria"].as_array().unwrap() {
            assert_eq!(
                c["counts"],
                json!({"satisfied": 25, "basically_satisfied": 9, "dissatisfied": 2})
            );
            assert_eq!(c["valid"], 36);
        }
        // Deputies (2) and service recipients (4) hold 6 ≥ k together: the two large
        // categories are shown, the small ones never alone.
        assert_eq!(
            s["by_category"],
            json!([
                {"category": "mass_representative", "ballots": 10, "satisfaction_rate": 1.0, "score": 80.0},
                {"category": "party_member", "ballots": 20, "satisfaction_rate": 1.0, "score": 100.0},
            ])
        );
    }
    assert_eq!(subjects[0]["criteria"].as_array().unwrap().len(), 4);
    assert_eq!(subjects[1]["criteria"].as_array().unwrap().len(), 3);
    let withheld = |s: &Value, ballots: i64| {
        assert_eq!(s["ballots"], ballots, "{s}");
        assert_eq!(s["withheld"], true);
        assert_eq!(s["satisfaction_rate"], Value::Null);
        assert_eq!(s["score"], Value::Null);
        assert_eq!(s["flagged"], false);
        assert_eq!(s["criteria"], json!([]));
        assert_eq!(s["by_category"], json!([]));
    };
    withheld(&subjects[2], 4);
    withheld(&subjects[3], 0);
    let liu = &subjects[4];
    assert_eq!(liu["ballots"], 36);
    assert_eq!(liu["satisfaction_rate"], 0.4444);
    assert_eq!(liu["score"], 44.4444);
    assert_eq!(liu["flagged"], true);
    // 20 party members and 16 others: the 16 are 10 + 4 + 2, so only the categories of
    // at least k are listed and the hidden 6 are not subtractable on their own.
    assert_eq!(liu["by_category"][0]["category"], "mass_representative");
    assert_eq!(liu["by_category"].as_array().unwrap().len(), 2);
});

/// Recomputes a session's tallies from its ballots with the server's own code.
async fn retally(app: &TestApp, session: i64) -> bool {
    let pool = app.pool.clone();
    tokio_block(move || {
        let mut conn = pool.get().unwrap();
        pingyi::db::write_transaction(&mut conn, |conn| {
            pingyi::results::queries::retally(conn, session)
        })
        .unwrap()
    })
    .await
}

pub async fn execute(app: &TestApp, sql: &'static str) {
    let pool = app.pool.clone();
    tokio_block(move || {
        use diesel::RunQueryDsl;
        let mut conn = pool.get().unwrap();
        diesel::sql_query(sql).execute(&mut *conn).unwrap();
    })
    .await;
}

db_test!(stored_tallies_agree_with_the_ballots_they_count, |app| {
    let m = Meeting::set_up(&app).await;
    hold_the_36_ballot_meeting(&app, &m).await;
    close(&app, &m.admin, m.session).await;
    let path = format!("/api/v1/sessions/{}/results", m.session);
    let before = app.get(&path, Some(&m.admin)).await.assert_status(200);
    // 5 subjects; org 4 + secretary 3 + 刘三 3 + 王一 3 criteria; categories per subject.
    assert_eq!(app.count("subject_tallies").await, 5);
    assert!(
        retally(&app, m.session).await,
        "the close tallied what the ballots say"
    );
    // A tampered tally is found and put right.
    execute(&app, "UPDATE tallies SET count = count + 1").await;
    execute(&app, "UPDATE subject_tallies SET satisfied = 0").await;
    assert_ne!(
        app.get(&path, Some(&m.admin)).await.assert_status(200),
        before
    );
    assert!(!retally(&app, m.session).await);
    assert_eq!(
        app.get(&path, Some(&m.admin)).await.assert_status(200),
        before
    );
    assert!(retally(&app, m.session).await);
});

db_test!(k_is_never_below_three, |app| {
    let admin = admin_token(&app).await;
    let city = create_org(&app, &admin, None, "市委", "committee").await;
    let today = Utc::now().date_naive();
    let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&admin),
            json!({"owner_org_id": city, "title": "t", "starts_on": today, "ends_on": today, "template_id": 1, "min_category_ballots": 2}),
        )
        .await;
    crate::common::assert_only_field_error(&reply, "min_category_ballots");
    let campaign = create_campaign_with(
        &app,
        &admin,
        json!({"owner_org_id": city, "title": "t", "starts_on": today, "ends_on": today, "template_id": 1}),
    )
    .await;
    assert_eq!(campaign["min_category_ballots"], 5);
    assert_eq!(campaign["commendation_share"], 0.1);
});

/// A city with two districts and six branches, each branch with a secretary, and a
/// campaign over the city with a session per branch:
///
/// ```text
/// city ─┬─ A ─┬─ A1: 5 ballots, all 满意                → 1.0, 100
///       │     ├─ A2: 10 ballots, 8 满意 + 2 不满意       → 0.8, 80
///       │     └─ A3: 2 ballots (under k)                 → withheld
///       └─ B ─┬─ B1: 5 ballots, 4 满意 + 1 不满意         → 0.8, 80 (ties A2)
///             ├─ B2: never opened                         → missing
///             └─ B3: 10 ballots, 5 满意 + 5 不满意        → 0.5, 50, flagged
/// ```
/// Ballots rate the org only, except in A1, where they rate the secretary too. Ballots
/// are typed in on paper.
pub struct City {
    pub admin: String,
    pub campaign: i64,
    pub city: i64,
    pub a: i64,
    pub b: i64,
    pub branches: BTreeMap<&'static str, i64>,
    pub secretaries: BTreeMap<&'static str, i64>,
    pub sessions: BTreeMap<&'static str, i64>,
}

impl City {
    pub async fn build(app: &TestApp) -> City {
        let admin = admin_token(app).await;
        let city = create_org(app, &admin, None, "大连市委", "committee").await;
        let a = create_org(app, &admin, Some(city), "A区委", "committee").await;
        let b = create_org(app, &admin, Some(city), "B区委", "committee").await;
        let mut branches = BTreeMap::new();
        let mut secretaries = BTreeMap::new();
        for (name, parent) in [
            ("A1", a),
            ("A2", a),
            ("A3", a),
            ("B1", b),
            ("B2", b),
            ("B3", b),
        ] {
            let branch = create_org(app, &admin, Some(parent), name, "branch").await;
            let secretary = create_person(app, &admin, branch, &format!("{name}书记")).await;
            set_secretary(app, &admin, branch, secretary).await;
            branches.insert(name, branch);
            secretaries.insert(name, secretary);
        }
        let today = Utc::now().date_naive();
        let campaign = create_campaign_with(
            app,
            &admin,
            json!({"owner_org_id": city, "title": "2011年度=评议", "starts_on": today - Duration::days(1), "ends_on": today + Duration::days(7), "template_id": 1}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        campaign_step(app, &admin, campaign, "activate").await;
        let bulk = app
            .post(
                &format!("/api/v1/campaigns/{campaign}/sessions/bulk"),
                Some(&admin),
                json!({"kind": "branch_meeting", "scheduled_at": Utc::now().to_rfc3339()}),
            )
            .await
            .assert_status(201);
        let listed = app
            .get(bulk["sessions"].as_str().unwrap(), Some(&admin))
            .await
            .assert_status(200);
        let mut sessions = BTreeMap::new();
        for item in listed["items"].as_array().unwrap() {
            let (name, _) = branches
                .iter()
                .find(|(_, id)| item["org_id"] == **id)
                .expect("a session of a branch");
            sessions.insert(*name, item["id"].as_i64().unwrap());
        }
        assert_eq!(sessions.len(), 6, "{bulk}");
        let city = City {
            admin,
            campaign,
            city,
            a,
            b,
            branches,
            secretaries,
            sessions,
        };
        for (name, satisfied, dissatisfied) in [
            ("A1", 5, 0),
            ("A2", 8, 2),
            ("A3", 2, 0),
            ("B1", 4, 1),
            ("B3", 5, 5),
        ] {
            city.vote(app, name, satisfied, dissatisfied).await;
        }
        city
    }

    async fn vote(&self, app: &TestApp, branch: &str, satisfied: usize, dissatisfied: usize) {
        let session = self.sessions[branch];
        let path = format!("/api/v1/sessions/{session}/paper-ballots");
        // The form comes with a code; one unused code of its own category shows it.
        let code = app
            .post(
                &format!("/api/v1/sessions/{session}/voting-codes"),
                Some(&self.admin),
                json!({"category": "other", "count": 1}),
            )
            .await
            .assert_status(201)["codes"][0]
            .as_str()
            .unwrap()
            .to_owned();
        let form = ballot_form(app, &code).await;
        session_open(app, &self.admin, session).await;
        let with_secretary = branch == "A1";
        let ballot = |level: &'static str| {
            json!({"ratings": ratings(&form, |_, t| match t {
                "org" => Some(level),
                "secretary" if with_secretary => Some(level),
                _ => None,
            })})
        };
        let ballots: Vec<Value> = std::iter::repeat_n(ballot("satisfied"), satisfied)
            .chain(std::iter::repeat_n(ballot("dissatisfied"), dissatisfied))
            .collect();
        app.post(
            &path,
            Some(&self.admin),
            json!({"category": "party_member", "ballots": ballots}),
        )
        .await
        .assert_status(201);
        close(app, &self.admin, session).await;
    }

    fn results(&self, query: &str) -> String {
        format!("/api/v1/campaigns/{}/results{query}", self.campaign)
    }

    fn rankings(&self, query: &str) -> String {
        format!("/api/v1/campaigns/{}/rankings{query}", self.campaign)
    }

    fn coverage(&self, query: &str) -> String {
        format!("/api/v1/campaigns/{}/coverage{query}", self.campaign)
    }

    pub fn export(&self, query: &str) -> String {
        format!("/api/v1/campaigns/{}/export{query}", self.campaign)
    }

    /// A user homed in the org holding `role` there, signed in.
    pub async fn user(&self, app: &TestApp, name: &str, org: i64, role: &str) -> String {
        create_user_with_grant(app, &self.admin, name, org, role)
            .await
            .1
    }
}

async fn session_open(app: &TestApp, token: &str, session: i64) {
    app.post(
        &format!("/api/v1/sessions/{session}/open"),
        Some(token),
        json!({}),
    )
    .await
    .assert_status(200);
}

fn org_ids(items: &Value) -> Vec<i64> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["org_id"].as_i64().unwrap())
        .collect()
}

db_test!(the_roll_up_weights_averages_and_drills_down, |app| {
    let c = City::build(&app).await;
    let r = app
        .get(&c.results(""), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(r["subject_type"], "org");
    assert_eq!(r["org"]["org_id"], c.city);
    assert_eq!(r["org"]["own"], Value::Null);
    // Eight orgs below the city; A1, A2, A3, B1, B3 rated.
    assert_eq!(
        r["org"]["subtree"],
        json!({"units_in_scope": 8, "units_evaluated": 5, "ballots": 32, "flagged": 1,
            // (20 + 32 + 16 + 20) / (20 + 40 + 20 + 40) and (100 + 80 + 80 + 50) / 4
            "weighted": {"satisfaction_rate": 0.7333, "score": 73.3333},
            "unit_average": {"satisfaction_rate": 0.775, "score": 77.5}})
    );
    assert_eq!(org_ids(&r["children"]), vec![c.a, c.b]);
    let a = &r["children"][0];
    assert_eq!(a["own"], Value::Null, "districts have no session");
    // A: A1 (20 of 20) and A2 (32 of 40); A3's two ballots count, its rates never.
    assert_eq!(
        a["subtree"],
        json!({"units_in_scope": 4, "units_evaluated": 3, "ballots": 17, "flagged": 0,
            "weighted": {"satisfaction_rate": 0.8667, "score": 86.6667},
            "unit_average": {"satisfaction_rate": 0.9, "score": 90.0}})
    );
    let b = &r["children"][1];
    assert_eq!(b["subtree"]["units_evaluated"], 2);
    assert_eq!(b["subtree"]["flagged"], 1);
    assert_eq!(b["subtree"]["weighted"]["satisfaction_rate"], 0.6);
    assert_eq!(b["subtree"]["unit_average"]["satisfaction_rate"], 0.65);

    // Drilling down into A.
    let r = app
        .get(&c.results(&format!("?org_id={}", c.a)), Some(&c.admin))
        .await
        .assert_status(200);
    let children = &r["children"];
    assert_eq!(
        org_ids(children),
        vec![c.branches["A1"], c.branches["A2"], c.branches["A3"]]
    );
    assert_eq!(
        children[0]["own"],
        json!({"ballots": 5, "withheld": false, "satisfaction_rate": 1.0, "score": 100.0, "flagged": false, "rectification": null})
    );
    assert_eq!(
        children[2]["own"],
        json!({"ballots": 2, "withheld": true, "satisfaction_rate": null, "score": null, "flagged": false, "rectification": null})
    );
    assert_eq!(
        children[2]["subtree"]["weighted"]["satisfaction_rate"],
        Value::Null
    );

    // Secretaries: only A1's were rated.
    let r = app
        .get(&c.results("?subject_type=secretary"), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(r["org"]["subtree"]["units_in_scope"], 6);
    assert_eq!(r["org"]["subtree"]["units_evaluated"], 1);
    // Members: the six secretaries are the members in scope; none was rated as a member.
    let r = app
        .get(&c.results("?subject_type=member"), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(r["org"]["subtree"]["units_in_scope"], 6);
    assert_eq!(r["org"]["subtree"]["units_evaluated"], 0);

    // An org outside the campaign is not found; so is a missing one.
    let other = create_org(&app, &c.admin, None, "另一市委", "committee").await;
    app.get(&c.results(&format!("?org_id={other}")), Some(&c.admin))
        .await
        .assert_problem(404, "not_found");
    app.get(&c.results("?org_id=999999"), Some(&c.admin))
        .await
        .assert_problem(404, "not_found");
});

db_test!(rankings_tie_withhold_flag_and_pick_candidates, |app| {
    let c = City::build(&app).await;
    let page = app
        .get(&c.rankings(""), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(page["total"], 5);
    let items = page["items"].as_array().unwrap();
    let summary: Vec<(Value, Value, Value, Value, Value)> = items
        .iter()
        .map(|i| {
            (
                i["org_id"].clone(),
                i["rank"].clone(),
                i["satisfaction_rate"].clone(),
                i["flagged"].clone(),
                i["candidate"].clone(),
            )
        })
        .collect();
    let b = &c.branches;
    // A2 and B1 tie at 0.8 / 80 (rank 2, in subject order); B3 is 4th; A3 comes last.
    assert_eq!(
        summary,
        vec![
            (
                json!(b["A1"]),
                json!(1),
                json!(1.0),
                json!(false),
                json!(true)
            ),
            (
                json!(b["A2"]),
                json!(2),
                json!(0.8),
                json!(false),
                json!(false)
            ),
            (
                json!(b["B1"]),
                json!(2),
                json!(0.8),
                json!(false),
                json!(false)
            ),
            (
                json!(b["B3"]),
                json!(4),
                json!(0.5),
                json!(true),
                json!(false)
            ),
            (
                json!(b["A3"]),
                json!(null),
                json!(null),
                json!(false),
                json!(false)
            ),
        ]
    );
    assert_eq!(items[4]["withheld"], true);
    assert_eq!(items[4]["ballots"], 2);

    // Filters: the subtree of B; a domain nobody has; pages.
    let page = app
        .get(&c.rankings(&format!("?org_id={}", c.b)), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(org_ids(&page["items"]), vec![b["B1"], b["B3"]]);
    let page = app
        .get(&c.rankings("?domain=rural"), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(page["total"], 0);
    let page = app
        .get(&c.rankings("?per_page=2&page=2"), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(org_ids(&page["items"]), vec![b["B1"], b["B3"]]);
    assert_eq!(page["total"], 5);
    let page = app
        .get(&c.rankings("?per_page=2&page=9"), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(
        (
            page["items"].as_array().unwrap().len(),
            page["total"].as_i64()
        ),
        (0, Some(5))
    );

    // Half of the four ranked: ranks 1 and 2 (both tied ones) are candidates.
    app.patch(
        &format!("/api/v1/campaigns/{}", c.campaign),
        Some(&c.admin),
        json!({"commendation_share": 0.5}),
    )
    .await
    .assert_status(200);
    let page = app
        .get(&c.rankings(""), Some(&c.admin))
        .await
        .assert_status(200);
    let candidates: Vec<bool> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["candidate"].as_bool().unwrap())
        .collect();
    assert_eq!(candidates, vec![true, true, true, false, false]);
});

db_test!(coverage_finds_what_was_never_evaluated, |app| {
    let c = City::build(&app).await;
    let cov = app
        .get(&c.coverage(""), Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(cov["org"]["id"], c.city);
    assert_eq!(
        (
            cov["orgs_in_scope"].as_i64(),
            cov["orgs_evaluated"].as_i64()
        ),
        (Some(8), Some(5))
    );
    // The secretaries are the members; A1's was rated (as secretary).
    assert_eq!(
        (
            cov["members_in_scope"].as_i64(),
            cov["members_evaluated"].as_i64()
        ),
        (Some(6), Some(1))
    );
    assert_eq!(
        cov["sessions"],
        json!({"scheduled": 1, "open": 0, "closed": 5})
    );
    let missing: Vec<i64> = cov["missing_orgs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(missing, vec![c.a, c.b, c.branches["B2"]]);
    let missing_members: Vec<i64> = cov["missing_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(missing_members.len(), 5);
    assert!(!missing_members.contains(&c.secretaries["A1"]));
    // Per subtree, and paged.
    let cov = app
        .get(
            &c.coverage(&format!("?org_id={}&per_page=1&page=2", c.b)),
            Some(&c.admin),
        )
        .await
        .assert_status(200);
    assert_eq!(
        (
            cov["orgs_in_scope"].as_i64(),
            cov["orgs_evaluated"].as_i64()
        ),
        (Some(4), Some(2))
    );
    assert_eq!(
        cov["missing_orgs"],
        json!([{"id": c.branches["B2"], "name": "B2"}])
    );
    assert_eq!(
        cov["sessions"],
        json!({"scheduled": 1, "open": 0, "closed": 2})
    );
});

db_test!(
    who_sees_results_follows_the_tree_and_the_publication,
    |app| {
        let c = City::build(&app).await;
        let (a1, b1) = (c.branches["A1"], c.branches["B1"]);
        // A district's org admin: the district, never the other one.
        let district = c.user(&app, "a.admin", c.a, "org_admin").await;
        let r = app
            .get(&c.results(""), Some(&district))
            .await
            .assert_status(200);
        assert_eq!(
            r["org"]["org_id"], c.a,
            "the highest org they read results at"
        );
        app.get(&c.results(&format!("?org_id={}", c.b)), Some(&district))
            .await
            .assert_problem(404, "not_found");
        let page = app
            .get(&c.rankings(""), Some(&district))
            .await
            .assert_status(200);
        assert_eq!(page["total"], 3);
        let cov = app
            .get(&c.coverage(""), Some(&district))
            .await
            .assert_status(200);
        assert_eq!(cov["orgs_in_scope"], 4);
        let file = app
            .get(&c.export("?report=rankings&format=csv"), Some(&district))
            .await;
        assert_eq!(file.status, 200);
        app.get(
            &format!("/api/v1/sessions/{}/results", c.sessions["B1"]),
            Some(&district),
        )
        .await
        .assert_problem(404, "not_found");

        // A sibling branch's secretary: their own session's results, not A1's.
        let secretary_b1 = c.user(&app, "b1.secretary", b1, "secretary").await;
        app.get(
            &format!("/api/v1/sessions/{}/results", c.sessions["A1"]),
            Some(&secretary_b1),
        )
        .await
        .assert_problem(404, "not_found");
        let own = app
            .get(
                &format!("/api/v1/sessions/{}/results", c.sessions["B1"]),
                Some(&secretary_b1),
            )
            .await
            .assert_status(200);
        assert_eq!(own["subjects"].as_array().unwrap().len(), 2);
        let r = app
            .get(&c.results(""), Some(&secretary_b1))
            .await
            .assert_status(200);
        assert_eq!(r["org"]["org_id"], b1);

        // An observer of the city and an integration account of district B.
        let observer = c.user(&app, "observer", c.city, "observer").await;
        app.get(&c.coverage(""), Some(&observer))
            .await
            .assert_status(200);
        let integration = c.user(&app, "b.system", c.b, "integration").await;
        let r = app
            .get(&c.results(""), Some(&integration))
            .await
            .assert_status(200);
        assert_eq!(r["org"]["org_id"], c.b);

        // A member of A1, linked to the secretary's person: their own figures only.
        let member_id = create_user(&app, &c.admin, "a1.member", Some(a1)).await;
        app.patch(
            &format!("/api/v1/users/{member_id}"),
            Some(&c.admin),
            json!({"person_id": c.secretaries["A1"]}),
        )
        .await
        .assert_status(200);
        grant(&app, &c.admin, member_id, Some(a1), "member").await;
        let member = login(&app, "a1.member", USER_PASSWORD).await;
        let own = app
            .get(
                &format!("/api/v1/sessions/{}/results", c.sessions["A1"]),
                Some(&member),
            )
            .await
            .assert_status(200);
        let subjects = own["subjects"].as_array().unwrap();
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0]["subject_type"], "secretary");
        assert_eq!(subjects[0]["satisfaction_rate"], 1.0);
        // Before publication the campaign's results are not theirs to see.
        for path in [c.results(""), c.rankings(""), c.coverage("")] {
            app.get(&path, Some(&member))
                .await
                .assert_problem(403, "forbidden");
        }
        // A member of B1 (no person linked).
        let member_b1 = c.user(&app, "b1.member", b1, "member").await;

        // Published to district B: B's members see the rankings and roll-up of the whole
        // campaign, never coverage; A1's member still does not.
        campaign_step(&app, &c.admin, c.campaign, "close").await;
        app.post(
            &format!("/api/v1/campaigns/{}/publish", c.campaign),
            Some(&c.admin),
            json!({"scope_org_ids": [c.b]}),
        )
        .await
        .assert_status(200);
        let page = app
            .get(&c.rankings(""), Some(&member_b1))
            .await
            .assert_status(200);
        assert_eq!(page["total"], 5);
        let r = app
            .get(&c.results(""), Some(&member_b1))
            .await
            .assert_status(200);
        assert_eq!(r["org"]["org_id"], c.city);
        app.get(&c.coverage(""), Some(&member_b1))
            .await
            .assert_problem(403, "forbidden");
        app.get(&c.export("?report=coverage"), Some(&member_b1))
            .await
            .assert_problem(403, "forbidden");
        let file = app
            .get(&c.export("?report=rankings"), Some(&member_b1))
            .await;
        assert_eq!(file.status, 200);
        // Publication opens no session's results.
        let session = app
            .get(
                &format!("/api/v1/sessions/{}/results", c.sessions["B1"]),
                Some(&member_b1),
            )
            .await
            .assert_status(200);
        assert_eq!(session["subjects"], json!([]));
        app.get(&c.rankings(""), Some(&member))
            .await
            .assert_problem(403, "forbidden");
        // Someone outside the city sees nothing at all.
        let outsider_org = create_org(&app, &c.admin, None, "外市委", "committee").await;
        let outsider = c.user(&app, "outsider", outsider_org, "org_admin").await;
        for path in [
            c.results(""),
            c.rankings(""),
            c.coverage(""),
            c.export("?report=results"),
        ] {
            app.get(&path, Some(&outsider))
                .await
                .assert_problem(404, "not_found");
        }
    }
);

/// The cells of the first sheet of an xlsx file, as text.
pub fn xlsx_rows(bytes: &[u8]) -> (String, Vec<Vec<String>>) {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    let rows = range
        .rows()
        .map(|row| row.iter().map(|cell| cell.to_string()).collect())
        .collect();
    (name, rows)
}

db_test!(
    exports_read_back_with_headers_bom_and_neutralized_cells,
    |app| {
        let c = City::build(&app).await;
        // A name a spreadsheet would run as a formula.
        app.patch(
            &format!("/api/v1/orgs/{}", c.branches["A1"]),
            Some(&c.admin),
            json!({"name": "=HYPERLINK(\"http://evil\",\"A1\")"}),
        )
        .await
        .assert_status(200);
        let reply = app
            .get(&c.export("?report=rankings&format=xlsx"), Some(&c.admin))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.content_type(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        let disposition = reply.header("content-disposition").unwrap().to_owned();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert!(disposition.contains(&format!(
            "filename=\"campaign-{}-rankings.xlsx\"",
            c.campaign
        )));
        // RFC 6266 filename*: the title in UTF-8, percent-encoded ("2011年度=评议-排名.xlsx").
        assert!(
            disposition.contains("filename*=UTF-8''2011%E5%B9%B4"),
            "{disposition}"
        );
        let (sheet, rows) = xlsx_rows(&reply.bytes);
        assert_eq!(sheet, "排名");
        assert_eq!(rows[0][..3], ["名次", "评议对象", "名称"]);
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[1][0], "1");
        // Subjects keep the name they had on the ballot; the org's name is today's.
        assert_eq!(rows[1][2], "A1");
        assert_eq!(rows[1][4], "'=HYPERLINK(\"http://evil\",\"A1\")");
        assert_eq!(
            rows[1][7], "1",
            "a rate is a number (formatted as a percentage)"
        );
        assert_eq!(rows[5][0], "", "the withheld subject has no rank");
        assert_eq!(rows[5][7], "", "nor a rate");

        let reply = app
            .get(&c.export("?report=results&format=csv"), Some(&c.admin))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(reply.content_type().starts_with("text/csv"));
        assert!(
            reply.bytes.starts_with("\u{feff}".as_bytes()),
            "a BOM for Excel"
        );
        let mut csv = csv::ReaderBuilder::new().from_reader(&reply.bytes[3..]);
        let headers = csv.headers().unwrap().clone();
        assert_eq!(&headers[1], "组织");
        let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
        // Tree order: the city, A, A1…A3, B, B1…B3.
        assert_eq!(rows.len(), 9);
        assert_eq!(&rows[0][1], "大连市委");
        assert_eq!(&rows[2][1], "'=HYPERLINK(\"http://evil\",\"A1\")");
        assert_eq!(&rows[2][5], "100.00%");
        assert_eq!(&rows[1][12], "86.67%", "A, ballot-weighted");

        let reply = app
            .get(&c.export("?report=coverage&format=csv"), Some(&c.admin))
            .await;
        assert_eq!(reply.status, 200);
        let text = String::from_utf8(reply.bytes[3..].to_vec()).unwrap();
        assert_eq!(text.lines().count(), 1 + 3 + 5, "{text}");
        // Bad parameters.
        app.get(&c.export("?report=everything"), Some(&c.admin))
            .await
            .assert_problem(400, "bad_request");
        app.get(&c.export(""), Some(&c.admin))
            .await
            .assert_problem(400, "bad_request");
    }
);

db_test!(the_demo_holds_a_campaign_with_real_results, |app| {
    let pool = app.pool.clone();
    let (first, second) = tokio_block(move || {
        let mut conn = pool.get().unwrap();
        let first = pingyi::demo::load(&mut conn).unwrap().campaign;
        (first, pingyi::demo::load(&mut conn).unwrap().campaign)
    })
    .await;
    assert!(first && !second, "loaded once, then left alone");
    let admin = admin_token(&app).await;
    let campaigns = app
        .get("/api/v1/campaigns", Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(campaigns["total"], 1);
    let id = campaigns["items"][0]["id"].as_i64().unwrap();
    let ranking = app
        .get(&format!("/api/v1/campaigns/{id}/rankings"), Some(&admin))
        .await
        .assert_status(200);
    let items = ranking["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "five branches held their meeting");
    assert!(items.iter().any(|i| i["flagged"] == true), "{ranking}");
    assert!(items.iter().any(|i| i["withheld"] == true), "{ranking}");
    assert!(items.iter().any(|i| i["candidate"] == true), "{ranking}");
    let roll_up = app
        .get(&format!("/api/v1/campaigns/{id}/results"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(roll_up["org"]["subtree"]["units_evaluated"], 5);
    let coverage = app
        .get(&format!("/api/v1/campaigns/{id}/coverage"), Some(&admin))
        .await
        .assert_status(200);
    assert!(coverage["missing_orgs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["name"] == "经济管理学院教工党支部"));
    assert_eq!(coverage["sessions"]["scheduled"], 1);
    // A branch's categories: several shown where they reach k.
    let sessions = app
        .get(
            &format!("/api/v1/sessions?campaign_id={id}&status=closed"),
            Some(&admin),
        )
        .await
        .assert_status(200);
    let mut shown = 0;
    for s in sessions["items"].as_array().unwrap() {
        let r = app
            .get(
                &format!("/api/v1/sessions/{}/results", s["id"]),
                Some(&admin),
            )
            .await
            .assert_status(200);
        shown += r["subjects"][0]["by_category"].as_array().unwrap().len();
    }
    assert!(shown >= 4, "{shown}");
    // The flagged branch's items: one in progress, one verified.
    let items = app
        .get(
            &format!("/api/v1/rectifications?campaign_id={id}&per_page=200"),
            Some(&admin),
        )
        .await
        .assert_status(200);
    let statuses: Vec<&str> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"in_progress") && statuses.contains(&"verified"),
        "{statuses:?}"
    );
});
