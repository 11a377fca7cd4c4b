//! Rectification items: generated from flags, carried out by the org, signed off from above;
//! who may do what; overdue and the per-subtree summary against a hand count; opinions that
//! link to no ballot; the ledger read back.

use chrono::Duration;
use serde_json::{json, Value};

use crate::common::fixtures::{ballot_form, create_user, grant, login, Meeting, USER_PASSWORD};
use crate::common::TestApp;
use crate::db_test;
use crate::results::{close, execute, ratings, xlsx_rows, City};

fn today() -> chrono::NaiveDate {
    pingyi::types::local_today()
}

async fn generate(app: &TestApp, token: &str, session: i64) -> Value {
    app.post(
        &format!("/api/v1/sessions/{session}/rectifications/generate"),
        Some(token),
        json!({}),
    )
    .await
    .assert_status(200)
}

async fn step(
    app: &TestApp,
    token: &str,
    id: i64,
    step: &str,
    body: Value,
) -> crate::common::Reply {
    app.post(
        &format!("/api/v1/rectifications/{id}/{step}"),
        Some(token),
        body,
    )
    .await
}

db_test!(
    a_flagged_branch_is_rectified_and_signed_off_from_above,
    |app| {
        let c = City::build(&app).await;
        let b3 = c.branches["B3"];
        let session = c.sessions["B3"];
        let secretary = c.user(&app, "b3.secretary", b3, "secretary").await;
        // Only B3's org subject is flagged (0.5 < 0.8); its secretary was not rated.
        let generated = generate(&app, &secretary, session).await;
        assert_eq!(generated["created"], 1, "{generated}");
        let item = &generated["items"][0];
        let id = item["id"].as_i64().unwrap();
        assert_eq!(item["status"], "open");
        assert_eq!(item["subject_type"], "org");
        assert_eq!(
            item["owner_person_id"], c.secretaries["B3"],
            "the branch's secretary answers"
        );
        assert_eq!(
            item["due_on"],
            json!((today() + Duration::days(30)).to_string())
        );
        assert!(item["problem"].as_str().unwrap().contains("50.00%"));
        // A second call creates nothing.
        assert_eq!(generate(&app, &c.admin, session).await["created"], 0);
        // The results and the ranking show it.
        let ranking = app
            .get(
                &format!("/api/v1/campaigns/{}/rankings", c.campaign),
                Some(&c.admin),
            )
            .await
            .assert_status(200);
        let b3_rank = ranking["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["org_id"] == b3)
            .unwrap();
        assert_eq!(
            b3_rank["rectification"],
            json!({"id": id, "status": "open"})
        );

        step(&app, &secretary, id, "submit", json!({}))
            .await
            .assert_problem(409, "invalid_transition");
        step(
            &app,
            &secretary,
            id,
            "progress",
            json!({"note": "召开专题组织生活会"}),
        )
        .await
        .assert_status(200);
        let submitted = step(&app, &secretary, id, "submit", json!({"comment": "已整改"}))
            .await
            .assert_status(200);
        assert_eq!(submitted["status"], "submitted");
        // The branch never signs off its own item; nor does its own org admin.
        step(&app, &secretary, id, "verify", json!({}))
            .await
            .assert_problem(403, "forbidden");
        let own_admin = c.user(&app, "b3.admin", b3, "org_admin").await;
        step(&app, &own_admin, id, "verify", json!({}))
            .await
            .assert_problem(403, "forbidden");
        // Once submitted, the org no longer rewrites the problem.
        app.patch(
            &format!("/api/v1/rectifications/{id}"),
            Some(&secretary),
            json!({"problem": "没有问题"}),
        )
        .await
        .assert_problem(403, "forbidden");
        let observer = c.user(&app, "b.observer", c.b, "observer").await;
        step(&app, &observer, id, "return", json!({}))
            .await
            .assert_problem(422, "validation_failed");
        let returned = step(
            &app,
            &observer,
            id,
            "return",
            json!({"comment": "措施不具体"}),
        )
        .await
        .assert_status(200);
        assert_eq!(returned["status"], "returned");
        step(
            &app,
            &secretary,
            id,
            "progress",
            json!({"note": "补充了时间表"}),
        )
        .await
        .assert_status(200);
        step(&app, &secretary, id, "submit", json!({}))
            .await
            .assert_status(200);
        let verified = step(
            &app,
            &observer,
            id,
            "verify",
            json!({"comment": "整改到位"}),
        )
        .await
        .assert_status(200);
        assert_eq!(verified["status"], "verified");
        assert!(verified["verified_at"].is_string());
        let kinds: Vec<&str> = verified["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["progress", "submit", "return", "progress", "verify"]
        );
        // A verified item no longer changes.
        app.patch(
            &format!("/api/v1/rectifications/{id}"),
            Some(&c.admin),
            json!({"measures": "x"}),
        )
        .await
        .assert_problem(409, "invalid_transition");
        // Every step is in the audit log.
        let audit = app
            .get(
                &format!(
                    "/api/v1/audit-events?target_type=rectification&target_id={id}&per_page=50"
                ),
                Some(&c.admin),
            )
            .await
            .assert_status(200);
        let mut actions: Vec<&str> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        actions.reverse();
        assert_eq!(
            actions,
            [
                "rectification.progress",
                "rectification.submit",
                "rectification.return",
                "rectification.progress",
                "rectification.submit",
                "rectification.verify"
            ]
        );
    }
);

db_test!(who_sees_and_changes_items_follows_the_tree, |app| {
    let c = City::build(&app).await;
    let (b3, a1) = (c.branches["B3"], c.branches["A1"]);
    let item = generate(&app, &c.admin, c.sessions["B3"]).await["items"][0].clone();
    let id = item["id"].as_i64().unwrap();
    let path = format!("/api/v1/rectifications/{id}");
    // A sibling branch's secretary and another district's admin: not found.
    let a1_secretary = c.user(&app, "a1.secretary", a1, "secretary").await;
    app.get(&path, Some(&a1_secretary))
        .await
        .assert_problem(404, "not_found");
    let a_admin = c.user(&app, "a.admin", c.a, "org_admin").await;
    app.get(&path, Some(&a_admin))
        .await
        .assert_problem(404, "not_found");
    step(&app, &a_admin, id, "progress", json!({"note": "x"}))
        .await
        .assert_problem(404, "not_found");
    // A member of B3 reads only items about themselves.
    let member_id = create_user(&app, &c.admin, "b3.member", Some(b3)).await;
    app.patch(
        &format!("/api/v1/users/{member_id}"),
        Some(&c.admin),
        json!({"person_id": c.secretaries["B3"]}),
    )
    .await
    .assert_status(200);
    grant(&app, &c.admin, member_id, Some(b3), "member").await;
    let member = login(&app, "b3.member", USER_PASSWORD).await;
    app.get(&path, Some(&member))
        .await
        .assert_problem(404, "not_found");
    // An item about the secretary: the subject is the session's secretary subject.
    let subjects = app
        .get(
            &format!("/api/v1/sessions/{}/subjects", c.sessions["B3"]),
            Some(&c.admin),
        )
        .await
        .assert_status(200);
    let secretary_subject = subjects
        .as_array()
        .or(subjects["items"].as_array())
        .unwrap()
        .iter()
        .find(|s| s["subject_type"] == "secretary")
        .unwrap()["id"]
        .clone();
    let about_them = app
        .post(
            "/api/v1/rectifications",
            Some(&c.admin),
            json!({"campaign_id": c.campaign, "org_id": b3, "session_id": c.sessions["B3"],
                "subject_id": secretary_subject, "problem": "联系群众不够", "due_on": today()}),
        )
        .await;
    assert_eq!(about_them.status, 201, "{}", about_them.text);
    assert!(about_them
        .header("location")
        .unwrap()
        .ends_with(&format!("/rectifications/{}", about_them.json()["id"])));
    let mine = about_them.json()["id"].as_i64().unwrap();
    app.get(&format!("/api/v1/rectifications/{mine}"), Some(&member))
        .await
        .assert_status(200);
    let listed = app
        .get("/api/v1/rectifications", Some(&member))
        .await
        .assert_status(200);
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["items"][0]["id"], mine);
    // A member cannot work on it.
    step(&app, &member, mine, "progress", json!({"note": "x"}))
        .await
        .assert_problem(403, "forbidden");
    // The district's admin sees both, the city's observer everything.
    let b_admin = c.user(&app, "b.admin", c.b, "org_admin").await;
    let listed = app
        .get("/api/v1/rectifications", Some(&b_admin))
        .await
        .assert_status(200);
    assert_eq!(listed["total"], 2);
    let listed = app
        .get("/api/v1/rectifications", Some(&a_admin))
        .await
        .assert_status(200);
    assert_eq!(listed["total"], 0);

    // Bad input changes nothing.
    let before = app.count("rectifications").await;
    for (body, field) in [
        (
            json!({"campaign_id": c.campaign, "org_id": b3, "problem": "x", "due_on": today() - Duration::days(1)}),
            "due_on",
        ),
        (
            json!({"campaign_id": c.campaign, "org_id": b3, "problem": "x", "due_on": today(), "owner_person_id": c.secretaries["A1"]}),
            "owner_person_id",
        ),
        (
            json!({"campaign_id": c.campaign, "org_id": b3, "session_id": c.sessions["A1"], "problem": "x", "due_on": today()}),
            "session_id",
        ),
        (
            json!({"campaign_id": c.campaign, "org_id": b3, "subject_id": 1, "problem": "x", "due_on": today()}),
            "subject_id",
        ),
        (
            json!({"campaign_id": c.campaign, "org_id": b3, "session_id": c.sessions["B3"], "problem": "x", "due_on": today(), "opinion_ids": ["nope"]}),
            "opinion_ids",
        ),
        (
            json!({"campaign_id": c.campaign, "org_id": b3, "problem": "", "due_on": today()}),
            "problem",
        ),
    ] {
        let reply = app
            .post("/api/v1/rectifications", Some(&c.admin), body)
            .await;
        crate::common::assert_field_error(&reply, field);
    }
    assert_eq!(app.count("rectifications").await, before);
    // A secretary cannot open items for a sibling branch.
    app.post(
        "/api/v1/rectifications",
        Some(&a1_secretary),
        json!({"campaign_id": c.campaign, "org_id": b3, "problem": "x", "due_on": today()}),
    )
    .await
    .assert_problem(422, "validation_failed");
});

db_test!(overdue_and_the_summary_agree_with_a_hand_count, |app| {
    let c = City::build(&app).await;
    let create = |org: i64, problem: &'static str| {
        let app = &app;
        let admin = c.admin.clone();
        let campaign = c.campaign;
        async move {
            app.post(
                "/api/v1/rectifications",
                Some(&admin),
                json!({"campaign_id": campaign, "org_id": org, "problem": problem, "due_on": today()}),
            )
            .await
            .assert_status(201)["id"]
                .as_i64()
                .unwrap()
        }
    };
    // A1: one open, due yesterday (overdue); one in progress, due today (not overdue).
    // A2: one verified, due yesterday (never overdue once verified).
    // B3: the generated one, open, due in 30 days.
    let a1_late = create(c.branches["A1"], "迟").await;
    let a1_now = create(c.branches["A1"], "今").await;
    let a2_done = create(c.branches["A2"], "毕").await;
    generate(&app, &c.admin, c.sessions["B3"]).await;
    step(
        &app,
        &c.admin,
        a1_now,
        "progress",
        json!({"note": "进行中"}),
    )
    .await
    .assert_status(200);
    step(&app, &c.admin, a2_done, "progress", json!({"note": "x"}))
        .await
        .assert_status(200);
    step(&app, &c.admin, a2_done, "submit", json!({}))
        .await
        .assert_status(200);
    step(&app, &c.admin, a2_done, "verify", json!({}))
        .await
        .assert_status(200);
    // Time passes: their due date was yesterday (China Standard Time).
    let yesterday = today() - Duration::days(1);
    let sql: &'static str = Box::leak(
        format!(
            "UPDATE rectifications SET due_on = '{yesterday}' WHERE id IN ({a1_late}, {a2_done})"
        )
        .into_boxed_str(),
    );
    execute(&app, sql).await;

    let overdue = app
        .get("/api/v1/rectifications?overdue=true", Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(overdue["total"], 1);
    assert_eq!(overdue["items"][0]["id"], a1_late);
    assert_eq!(overdue["items"][0]["overdue"], true);
    let on_time = app
        .get("/api/v1/rectifications?overdue=false", Some(&c.admin))
        .await
        .assert_status(200);
    assert_eq!(on_time["total"], 3);
    let filtered = app
        .get(
            &format!("/api/v1/rectifications?org_id={}&status=open", c.a),
            Some(&c.admin),
        )
        .await
        .assert_status(200);
    assert_eq!(filtered["total"], 1);

    let summary = app
        .get(
            &format!("/api/v1/rectifications/summary?campaign_id={}", c.campaign),
            Some(&c.admin),
        )
        .await
        .assert_status(200);
    assert_eq!(
        summary["total"],
        json!({"open": 2, "in_progress": 1, "submitted": 0, "returned": 0, "verified": 1, "overdue": 1})
    );
    assert_eq!(summary["children"][0]["org_id"], c.a);
    assert_eq!(
        summary["children"][0]["counts"],
        json!({"open": 1, "in_progress": 1, "submitted": 0, "returned": 0, "verified": 1, "overdue": 1})
    );
    assert_eq!(
        summary["children"][1]["counts"],
        json!({"open": 1, "in_progress": 0, "submitted": 0, "returned": 0, "verified": 0, "overdue": 0})
    );
    // A district admin's summary of the other district: not found.
    let a_admin = c.user(&app, "a.admin", c.a, "org_admin").await;
    app.get(
        &format!(
            "/api/v1/rectifications/summary?campaign_id={}&org_id={}",
            c.campaign, c.b
        ),
        Some(&a_admin),
    )
    .await
    .assert_problem(404, "not_found");

    // The ledger, read back.
    let reply = app
        .get(
            &c.export("?report=rectifications&format=xlsx"),
            Some(&c.admin),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let (sheet, rows) = xlsx_rows(&reply.bytes);
    assert_eq!(sheet, "整改台账");
    assert_eq!(
        rows[0][..5],
        ["编号", "组织", "评议对象", "对象名称", "问题"]
    );
    assert_eq!(rows.len(), 5);
    let late = rows.iter().find(|r| r[0] == a1_late.to_string()).unwrap();
    assert_eq!((late[9].as_str(), late[10].as_str()), ("待整改", "是"));
    let done = rows.iter().find(|r| r[0] == a2_done.to_string()).unwrap();
    assert_eq!((done[9].as_str(), done[10].as_str()), ("已验收", "否"));
    assert!(!done[11].is_empty(), "the verifier is named");
});

db_test!(opinions_are_read_from_above_and_link_to_no_ballot, |app| {
    let m = Meeting::set_up(&app).await;
    let codes = m.issue(&app, m.session, "party_member", 6).await;
    let path = format!("/api/v1/sessions/{}/opinions", m.session);
    m.open(&app, m.session).await;
    let form = ballot_form(&app, &codes[0]).await;
    for (i, code) in codes.iter().enumerate() {
        let opinion = (i % 2 == 0).then(|| format!("意见{i}"));
        app.post(
            "/api/v1/ballots",
            None,
            json!({"code": code, "ratings": ratings(&form, |_, _| Some("dissatisfied")), "opinion": opinion}),
        )
        .await
        .assert_status(201);
    }
    // While the session is open, the ballots' opinions wait for the close.
    let open = app.get(&path, Some(&m.admin)).await.assert_status(200);
    assert_eq!(open["total"], 0);
    close(&app, &m.admin, m.session).await;
    let page = app.get(&path, Some(&m.admin)).await.assert_status(200);
    assert_eq!(page["total"], 3);
    let opinions = page["items"].as_array().unwrap();
    for o in opinions {
        assert_eq!(
            (&o["source"], &o["category"], &o["recorded_by"]),
            (&json!("ballot"), &Value::Null, &Value::Null),
            "nothing else about the ballot"
        );
        let keys: Vec<&String> = o.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["category", "content", "day", "id", "recorded_by", "source"]
        );
    }
    // No opinion shares an id with a ballot (they are drawn apart), and the page is in the
    // order of the opinions' own ids, not of casting.
    let ids: Vec<String> = opinions
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let pool = app.pool.clone();
    let shared = crate::common::tokio_block(move || {
        use diesel::prelude::*;
        use pingyi::db::schema::ballots;
        let mut conn = pool.get().unwrap();
        ballots::table
            .filter(ballots::id.eq_any(&ids))
            .count()
            .get_result::<i64>(&mut *conn)
            .unwrap()
    })
    .await;
    assert_eq!(shared, 0);
    // The secretary of the branch is not an org admin: forbidden; a stranger: not found.
    let secretary = crate::common::fixtures::create_user_with_grant(
        &app,
        &m.admin,
        "secretary",
        m.branch,
        "secretary",
    )
    .await
    .1;
    app.get(&path, Some(&secretary))
        .await
        .assert_problem(403, "forbidden");
    let elsewhere =
        crate::common::fixtures::create_org(&app, &m.admin, None, "外市委", "committee").await;
    let (_, stranger) = crate::common::fixtures::create_user_with_grant(
        &app,
        &m.admin,
        "stranger",
        elsewhere,
        "org_admin",
    )
    .await;
    app.get(&path, Some(&stranger))
        .await
        .assert_problem(404, "not_found");

    // Everything flagged (all 不满意): generated items link the opinions they answer.
    let generated = generate(&app, &m.admin, m.session).await;
    let id = generated["items"][0]["id"].as_i64().unwrap();
    let ids: Vec<Value> = opinions.iter().map(|o| o["id"].clone()).collect();
    let linked = app
        .patch(
            &format!("/api/v1/rectifications/{id}"),
            Some(&m.admin),
            json!({"opinion_ids": ids, "cause": "服务意识不强", "measures": "开展谈心谈话"}),
        )
        .await
        .assert_status(200);
    assert_eq!(linked["opinion_ids"].as_array().unwrap().len(), 3);
    assert_eq!(linked["cause"], "服务意识不强");

    // An opinion named twice is linked once, not a conflict.
    let twice = json!([ids[0].clone(), ids[0].clone(), ids[1].clone()]);
    let relinked = app
        .patch(
            &format!("/api/v1/rectifications/{id}"),
            Some(&m.admin),
            json!({"opinion_ids": twice}),
        )
        .await
        .assert_status(200);
    assert_eq!(relinked["opinion_ids"].as_array().unwrap().len(), 2);
});
