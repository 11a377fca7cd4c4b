//! Criteria templates, campaigns and sessions: the notice's template is built in; campaigns
//! go draft → active → closed → published and freeze their templates at activation;
//! sessions are scheduled per org, filled with the org, its secretary and members, and
//! open only while their campaign is active and within its dates. Access follows the tree.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::fixtures::{
    admin_token, ballot_form, campaign_around_today, campaign_step, create_campaign_with,
    create_org, create_org_with, create_person, create_session, create_user_with_grant, day, ids,
    issue_code, noon, set_secretary, Tree,
};
use crate::common::{Reply, TestApp};
use crate::db_test;

async fn list_all(app: &TestApp, path: &str, token: &str) -> Value {
    let sep = if path.contains('?') { '&' } else { '?' };
    app.get(&format!("{path}{sep}per_page=200"), Some(token))
        .await
        .assert_status(200)
}

#[track_caller]
fn assert_field_error(reply: &Reply, field: &str) {
    let body = reply.assert_problem(422, "validation_failed");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        fields.contains(&field),
        "expected an error on {field}: {body}"
    );
}

/// The zh labels of a criteria list.
fn labels_zh(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a criteria list")
        .iter()
        .map(|c| c["label_zh"].as_str().expect("label_zh").to_owned())
        .collect()
}

/// A scale of `n` levels with distinct keys.
fn scale(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({
                    "level": format!("level_{i}"),
                    "label_zh": format!("等级{i}"),
                    "label_en": format!("Level {i}"),
                    "score": 100 - (i as i32) * 20,
                    "satisfied": i == 0,
                })
            })
            .collect(),
    )
}

/// A template body: one org and one member criterion named after `tag`, a two-level scale.
fn template_body(owner_org_id: i64, tag: &str) -> Value {
    json!({
        "owner_org_id": owner_org_id,
        "name": format!("模板{tag}"),
        "criteria": {
            "org": [{"label_zh": format!("{tag}组织项"), "label_en": format!("{tag} org item")}],
            "secretary": [{"label_zh": format!("{tag}书记项"), "label_en": format!("{tag} secretary item")}],
            "member": [{"label_zh": format!("{tag}党员项"), "label_en": format!("{tag} member item")}],
        },
        "scale": [
            {"level": "good", "label_zh": format!("{tag}好"), "label_en": "Good", "score": 100, "satisfied": true},
            {"level": "bad", "label_zh": format!("{tag}差"), "label_en": "Bad", "score": 0, "satisfied": false},
        ],
    })
}

async fn create_template(app: &TestApp, token: &str, body: Value) -> i64 {
    let reply = app.post("/api/v1/templates", Some(token), body).await;
    let created = reply.assert_status(201);
    let id = created["id"].as_i64().expect("a template id");
    let location = format!("/api/v1/templates/{id}");
    assert_eq!(reply.header("location"), Some(location.as_str()));
    id
}

async fn subjects(app: &TestApp, token: &str, session_id: i64) -> Vec<Value> {
    app.get(
        &format!("/api/v1/sessions/{session_id}/subjects"),
        Some(token),
    )
    .await
    .assert_status(200)
    .as_array()
    .expect("a subject list")
    .clone()
}

async fn session_step(app: &TestApp, token: &str, session_id: i64, step: &str) -> Reply {
    app.post(
        &format!("/api/v1/sessions/{session_id}/{step}"),
        Some(token),
        json!({}),
    )
    .await
}

// --- templates ---

db_test!(the_notices_template_is_built_in, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, secretary) =
        create_user_with_grant(&app, &admin, "branch.a.sec", t.branch_a, "secretary").await;

    for token in [&admin, &secretary] {
        let list = app
            .get("/api/v1/templates", Some(token))
            .await
            .assert_status(200);
        let builtin = list
            .as_array()
            .expect("a list of templates")
            .iter()
            .find(|t| t["id"] == 1)
            .unwrap_or_else(|| panic!("no template 1 in {list}"))
            .clone();
        let one = app
            .get("/api/v1/templates/1", Some(token))
            .await
            .assert_status(200);
        assert_eq!(one, builtin);

        assert_eq!(builtin["builtin"], true);
        assert!(builtin["owner_org_id"].is_null());
        let criteria = &builtin["criteria"];
        assert_eq!(criteria["org"].as_array().unwrap().len(), 4, "{criteria}");
        assert_eq!(criteria["secretary"].as_array().unwrap().len(), 3);
        assert_eq!(criteria["member"].as_array().unwrap().len(), 3);
        assert_eq!(
            criteria["org"][0]["label_zh"],
            "深入开展创先争优活动,切实兑现公开承诺的情况"
        );
        assert_eq!(
            criteria["secretary"][0]["label_zh"],
            "组织开展创先争优活动情况"
        );
        assert_eq!(criteria["member"][2]["label_zh"], "联系和服务群众情况");
        let mut criterion_ids = BTreeSet::new();
        for list in ["org", "secretary", "member"] {
            for c in criteria[list].as_array().unwrap() {
                assert!(!c["label_zh"].as_str().unwrap().is_empty(), "{c}");
                assert!(!c["label_en"].as_str().unwrap().is_empty(), "{c}");
                assert!(criterion_ids.insert(c["id"].as_i64().unwrap()), "{c}");
            }
        }

        let levels: Vec<(&str, &str, &str, i64, bool)> = builtin["scale"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                (
                    l["level"].as_str().unwrap(),
                    l["label_zh"].as_str().unwrap(),
                    l["label_en"].as_str().unwrap(),
                    l["score"].as_i64().unwrap(),
                    l["satisfied"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            levels,
            vec![
                ("satisfied", "满意", "Satisfied", 100, true),
                (
                    "basically_satisfied",
                    "基本满意",
                    "Basically satisfied",
                    60,
                    true
                ),
                ("dissatisfied", "不满意", "Dissatisfied", 0, false),
            ]
        );
    }

    // It never changes, not even for the administrator.
    for body in [
        json!({"name": "改名"}),
        json!({"criteria": {"org": [{"label_zh": "新", "label_en": "New"}]}}),
    ] {
        app.patch("/api/v1/templates/1", Some(&admin), body)
            .await
            .assert_problem(409, "builtin_template");
    }
    let after = app
        .get("/api/v1/templates/1", Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(after["name"], "创先争优群众评议(通知默认)");
    assert_eq!(after["criteria"]["org"].as_array().unwrap().len(), 4);
});

db_test!(org_admins_templates_stay_inside_their_subtree, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, school_a) =
        create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;
    let (_, school_b) =
        create_user_with_grant(&app, &admin, "school.b.admin", t.school_b, "org_admin").await;
    let (_, branch_a_sec) =
        create_user_with_grant(&app, &admin, "branch.a.sec", t.branch_a, "secretary").await;

    // Scales of 2 to 5 levels.
    let mut body = template_body(t.school_a, "甲");
    let two = create_template(&app, &school_a, body.clone()).await;
    let fetched = app
        .get(&format!("/api/v1/templates/{two}"), Some(&school_a))
        .await
        .assert_status(200);
    assert_eq!(fetched["owner_org_id"], t.school_a);
    assert_eq!(fetched["builtin"], false);
    assert_eq!(labels_zh(&fetched["criteria"]["org"]), vec!["甲组织项"]);
    assert_eq!(labels_zh(&fetched["criteria"]["member"]), vec!["甲党员项"]);
    assert_eq!(fetched["scale"].as_array().unwrap().len(), 2);
    body["scale"] = scale(5);
    let five = create_template(&app, &school_a, body.clone()).await;
    let fetched = app
        .get(&format!("/api/v1/templates/{five}"), Some(&school_a))
        .await
        .assert_status(200);
    assert_eq!(fetched["scale"].as_array().unwrap().len(), 5);

    // 1 or 6 levels, or a key used twice: refused, and nothing is written.
    let templates_before = app.count("templates").await;
    for n in [1, 6] {
        body["scale"] = scale(n);
        let reply = app
            .post("/api/v1/templates", Some(&school_a), body.clone())
            .await;
        assert_field_error(&reply, "scale");
    }
    let mut twice = scale(3);
    twice[2]["level"] = twice[0]["level"].clone();
    body["scale"] = twice;
    let reply = app
        .post("/api/v1/templates", Some(&school_a), body.clone())
        .await;
    assert_field_error(&reply, "scale[2].level");
    assert_eq!(app.count("templates").await, templates_before);

    // Below the owner it is visible (campaigns there may use it); beside it, it is not.
    let listed: BTreeSet<i64> = app
        .get("/api/v1/templates", Some(&branch_a_sec))
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, BTreeSet::from([1, two, five]));
    let listed: BTreeSet<i64> = app
        .get("/api/v1/templates", Some(&school_b))
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, BTreeSet::from([1]));
    app.get(&format!("/api/v1/templates/{two}"), Some(&school_b))
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/templates/{two}"),
        Some(&school_b),
        json!({"name": "乙改"}),
    )
    .await
    .assert_problem(404, "not_found");
    // A secretary below sees it but may not change it.
    app.patch(
        &format!("/api/v1/templates/{two}"),
        Some(&branch_a_sec),
        json!({"name": "支部改"}),
    )
    .await
    .assert_problem(403, "forbidden");

    // Nor may the sibling school use it, as the default or for a domain.
    let campaigns_before = app.count("campaigns").await;
    let campaign = |template_id: i64, domain_templates: Value| {
        json!({
            "owner_org_id": t.school_b,
            "title": "乙校评议",
            "starts_on": day(-1),
            "ends_on": day(1),
            "template_id": template_id,
            "domain_templates": domain_templates,
        })
    };
    let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&school_b),
            campaign(two, json!({})),
        )
        .await;
    assert_field_error(&reply, "template_id");
    let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&school_b),
            campaign(1, json!({"community": two})),
        )
        .await;
    assert_field_error(&reply, "domain_templates.community");
    let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&school_b),
            campaign(999_999, json!({})),
        )
        .await;
    assert_field_error(&reply, "template_id");
    assert_eq!(app.count("campaigns").await, campaigns_before);
    // Its own school may.
    let own = create_campaign_with(
        &app,
        &school_a,
        json!({"owner_org_id": t.school_a, "title": "甲校评议", "starts_on": day(-1), "ends_on": day(1), "template_id": two}),
    )
    .await;
    assert_eq!(own["template_id"], two);

    // Nor may a school admin create a template for the sibling school or the city.
    for owner in [t.school_b, t.city] {
        let reply = app
            .post(
                "/api/v1/templates",
                Some(&school_a),
                template_body(owner, "越"),
            )
            .await;
        assert_field_error(&reply, "owner_org_id");
    }
    assert_eq!(app.count("templates").await, templates_before);
});

// --- campaigns ---

db_test!(a_campaign_goes_draft_active_closed_published, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, city_admin) =
        create_user_with_grant(&app, &admin, "city.admin", t.city, "org_admin").await;

    let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&city_admin),
            json!({
                "owner_org_id": t.city,
                "title": " 2011年度创先争优群众评议 ",
                "starts_on": day(-3),
                "ends_on": day(3),
                "template_id": 1,
            }),
        )
        .await;
    let campaign = reply.assert_status(201);
    let id = campaign["id"].as_i64().unwrap();
    let location = format!("/api/v1/campaigns/{id}");
    assert_eq!(reply.header("location"), Some(location.as_str()));
    assert_eq!(campaign["status"], "draft");
    assert_eq!(campaign["owner_org_id"], t.city);
    assert_eq!(campaign["title"], "2011年度创先争优群众评议");
    assert_eq!(campaign["starts_on"], day(-3));
    assert_eq!(campaign["ends_on"], day(3));
    assert_eq!(campaign["template_id"], 1);
    assert_eq!(campaign["domain_templates"], json!({}));
    assert_eq!(campaign["min_category_ballots"], 5);
    assert_eq!(campaign["low_satisfaction_threshold"], 0.8);
    assert!(campaign["publish_scope"].is_null());
    let fetched = app
        .get(&location, Some(&city_admin))
        .await
        .assert_status(200);
    assert_eq!(fetched["status"], "draft");

    // Explicit k and threshold are kept.
    let tuned = create_campaign_with(
        &app,
        &city_admin,
        json!({"owner_org_id": t.city, "title": "k=3", "starts_on": day(0), "ends_on": day(0), "template_id": 1, "min_category_ballots": 3, "low_satisfaction_threshold": 0.9}),
    )
    .await;
    assert_eq!(tuned["min_category_ballots"], 3);
    assert_eq!(tuned["low_satisfaction_threshold"], 0.9);

    // Ending before it starts: refused.
    let before = app.count("campaigns").await;
    let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&city_admin),
            json!({"owner_org_id": t.city, "title": "倒置", "starts_on": day(3), "ends_on": day(2), "template_id": 1}),
        )
        .await;
    assert_field_error(&reply, "ends_on");
    assert_eq!(app.count("campaigns").await, before);
    let reply = app
        .patch(&location, Some(&city_admin), json!({"ends_on": day(-4)}))
        .await;
    assert_field_error(&reply, "ends_on");

    // Only the forward steps.
    for step in ["close", "publish"] {
        app.post(
            &format!("{location}/{step}"),
            Some(&city_admin),
            json!({"scope_org_ids": [t.city]}),
        )
        .await
        .assert_problem(409, "invalid_transition");
    }
    let active = campaign_step(&app, &city_admin, id, "activate").await;
    assert_eq!(active["status"], "active");
    app.post(
        &format!("{location}/activate"),
        Some(&city_admin),
        json!({}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.post(
        &format!("{location}/publish"),
        Some(&city_admin),
        json!({"scope_org_ids": [t.city]}),
    )
    .await
    .assert_problem(409, "invalid_transition");

    // While active the title and dates change, the template and k do not.
    let renamed = app
        .patch(
            &location,
            Some(&city_admin),
            json!({"title": "改名", "ends_on": day(5)}),
        )
        .await
        .assert_status(200);
    assert_eq!(renamed["title"], "改名");
    assert_eq!(renamed["ends_on"], day(5));
    assert_eq!(renamed["status"], "active");
    for body in [
        json!({"template_id": 1}),
        json!({"min_category_ballots": 9}),
    ] {
        app.patch(&location, Some(&city_admin), body)
            .await
            .assert_problem(409, "campaign_not_draft");
    }

    let closed = campaign_step(&app, &city_admin, id, "close").await;
    assert_eq!(closed["status"], "closed");
    app.post(&format!("{location}/close"), Some(&city_admin), json!({}))
        .await
        .assert_problem(409, "invalid_transition");
    app.patch(&location, Some(&city_admin), json!({"title": "再改"}))
        .await
        .assert_problem(409, "campaign_closed");

    // Publishing names orgs of the campaign only.
    for outside in [t.unrelated, 999_999] {
        let reply = app
            .post(
                &format!("{location}/publish"),
                Some(&city_admin),
                json!({"scope_org_ids": [t.school_a, outside]}),
            )
            .await;
        assert_field_error(&reply, "scope_org_ids[1]");
    }
    let reply = app
        .post(
            &format!("{location}/publish"),
            Some(&city_admin),
            json!({"scope_org_ids": []}),
        )
        .await;
    assert_field_error(&reply, "scope_org_ids");
    let published = app
        .post(
            &format!("{location}/publish"),
            Some(&city_admin),
            json!({"scope_org_ids": [t.school_a, t.school_b]}),
        )
        .await
        .assert_status(200);
    assert_eq!(published["status"], "published");
    assert_eq!(published["publish_scope"], json!([t.school_a, t.school_b]));
    app.post(
        &format!("{location}/publish"),
        Some(&city_admin),
        json!({"scope_org_ids": [t.city]}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    let fetched = app.get(&location, Some(&admin)).await.assert_status(200);
    assert_eq!(fetched["status"], "published");

    // The other campaign is still a draft, listed by status.
    let drafts = list_all(&app, "/api/v1/campaigns?status=draft", &city_admin).await;
    assert_eq!(
        ids(&drafts),
        BTreeSet::from([tuned["id"].as_i64().unwrap()])
    );
});

db_test!(
    a_template_edited_after_activation_does_not_reach_the_ballot_form,
    |app| {
        let admin = admin_token(&app).await;
        let t = Tree::build(&app, &admin).await;
        let (_, school_a) =
            create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;
        let template = create_template(&app, &school_a, template_body(t.school_a, "旧")).await;

        let frozen = campaign_around_today(&app, &school_a, t.school_a, template).await;
        let session = create_session(&app, &school_a, frozen, t.branch_a).await["id"]
            .as_i64()
            .unwrap();
        campaign_step(&app, &school_a, frozen, "activate").await;

        // A draft campaign on the same template, activated after the edit, sees the new one.
        let later = campaign_around_today(&app, &school_a, t.school_a, template).await;
        let later_session = create_session(&app, &school_a, later, t.general_a).await["id"]
            .as_i64()
            .unwrap();

        let edited = app
            .patch(
                &format!("/api/v1/templates/{template}"),
                Some(&school_a),
                template_body(t.school_a, "新"),
            )
            .await
            .assert_status(200);
        assert_eq!(labels_zh(&edited["criteria"]["org"]), vec!["新组织项"]);
        campaign_step(&app, &school_a, later, "activate").await;

        let code = issue_code(&app, &school_a, session, "party_member").await;
        let form = ballot_form(&app, &code).await;
        assert_eq!(form["session"]["id"], session);
        assert_eq!(
            labels_zh(&form["criteria"]["org"]),
            vec!["旧组织项"],
            "{form}"
        );
        assert_eq!(labels_zh(&form["criteria"]["secretary"]), vec!["旧书记项"]);
        assert_eq!(labels_zh(&form["criteria"]["member"]), vec!["旧党员项"]);
        assert_eq!(form["scale"][0]["label_zh"], "旧好");

        let code = issue_code(&app, &school_a, later_session, "party_member").await;
        let form = ballot_form(&app, &code).await;
        assert_eq!(
            labels_zh(&form["criteria"]["org"]),
            vec!["新组织项"],
            "{form}"
        );
        assert_eq!(form["scale"][0]["label_zh"], "新好");
    }
);

db_test!(domain_templates_give_each_domain_its_criteria, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let community = create_org_with(
        &app,
        &admin,
        t.general_a,
        "甲校社区党支部",
        "branch",
        "community",
        false,
    )
    .await;
    let template = create_template(&app, &admin, template_body(t.city, "社区")).await;
    let campaign = create_campaign_with(
        &app,
        &admin,
        json!({
            "owner_org_id": t.city,
            "title": "分类指导",
            "starts_on": day(-1),
            "ends_on": day(1),
            "template_id": 1,
            "domain_templates": {"community": template},
        }),
    )
    .await;
    assert_eq!(
        campaign["domain_templates"],
        json!({"community": template}),
        "{campaign}"
    );
    let id = campaign["id"].as_i64().unwrap();
    let fetched = app
        .get(&format!("/api/v1/campaigns/{id}"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(fetched["domain_templates"], json!({"community": template}));

    let community_session = create_session(&app, &admin, id, community).await["id"]
        .as_i64()
        .unwrap();
    let institution_session = create_session(&app, &admin, id, t.branch_a).await["id"]
        .as_i64()
        .unwrap();
    campaign_step(&app, &admin, id, "activate").await;

    let code = issue_code(&app, &admin, community_session, "mass_representative").await;
    let form = ballot_form(&app, &code).await;
    assert_eq!(form["session"]["org_name"], "甲校社区党支部");
    assert_eq!(
        labels_zh(&form["criteria"]["org"]),
        vec!["社区组织项"],
        "{form}"
    );
    assert_eq!(form["scale"].as_array().unwrap().len(), 2);

    let code = issue_code(&app, &admin, institution_session, "mass_representative").await;
    let form = ballot_form(&app, &code).await;
    assert_eq!(
        form["criteria"]["org"].as_array().unwrap().len(),
        4,
        "{form}"
    );
    assert_eq!(
        form["criteria"]["org"][0]["label_zh"],
        "深入开展创先争优活动,切实兑现公开承诺的情况"
    );
    assert_eq!(form["scale"][1]["level"], "basically_satisfied");
});

// --- sessions ---

db_test!(
    a_session_is_filled_with_the_org_its_secretary_and_members,
    |app| {
        let admin = admin_token(&app).await;
        let t = Tree::build(&app, &admin).await;
        let (_, city_admin) =
            create_user_with_grant(&app, &admin, "city.admin", t.city, "org_admin").await;
        let zhang = create_person(&app, &admin, t.branch_a, "张三").await;
        let li = create_person(&app, &admin, t.branch_a, "李四").await;
        let wang = create_person(&app, &admin, t.branch_a, "王五").await;
        create_person(&app, &admin, t.general_a, "总支党员").await;
        create_person(&app, &admin, t.branch_b, "乙校党员").await;
        // The secretary is not the first person created.
        set_secretary(&app, &admin, t.branch_a, li).await;

        let campaign = campaign_around_today(&app, &city_admin, t.city, 1).await;
        let (observer_user, _) =
            create_user_with_grant(&app, &admin, "school.a.observer", t.school_a, "observer").await;
        let reply = app
            .post(
                &format!("/api/v1/campaigns/{campaign}/sessions"),
                Some(&city_admin),
                json!({
                    "org_id": t.branch_a,
                    "kind": "branch_meeting",
                    "scheduled_at": noon(1),
                    "location": "实训楼 301",
                    "observer_user_id": observer_user,
                }),
            )
            .await;
        let session = reply.assert_status(201);
        let id = session["id"].as_i64().unwrap();
        let location = format!("/api/v1/sessions/{id}");
        assert_eq!(reply.header("location"), Some(location.as_str()));
        assert_eq!(session["status"], "scheduled");
        assert_eq!(session["campaign_id"], campaign);
        assert_eq!(session["org_id"], t.branch_a);
        assert_eq!(session["org_name"], "甲校第一党支部");
        assert_eq!(session["kind"], "branch_meeting");
        assert_eq!(session["location"], "实训楼 301");
        assert_eq!(session["observer_user_id"], observer_user);
        assert_eq!(session["scheduled_at"], noon(1));
        let fetched = app
            .get(&location, Some(&city_admin))
            .await
            .assert_status(200);
        assert_eq!(fetched["id"], id);

        let got: Vec<(String, Option<i64>, Option<i64>, String)> = subjects(&app, &city_admin, id)
            .await
            .iter()
            .map(|s| {
                (
                    s["subject_type"].as_str().unwrap().to_owned(),
                    s["org_id"].as_i64(),
                    s["person_id"].as_i64(),
                    s["name"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "org".into(),
                    Some(t.branch_a),
                    None,
                    "甲校第一党支部".into()
                ),
                (
                    "secretary".into(),
                    Some(t.branch_a),
                    Some(li),
                    "李四".into()
                ),
                (
                    "member".into(),
                    Some(t.branch_a),
                    Some(zhang),
                    "张三".into()
                ),
                ("member".into(), Some(t.branch_a), Some(wang), "王五".into()),
            ]
        );

        // One session per org and campaign.
        let sessions_before = app.count("sessions").await;
        let subjects_before = app.count("session_subjects").await;
        create_session_reply(&app, &city_admin, campaign, t.branch_a, noon(0))
            .await
            .assert_problem(409, "session_exists");

        // Orgs outside the campaign's subtree; times outside its dates.
        let school_campaign = campaign_around_today(&app, &admin, t.school_a, 1).await;
        for org in [t.branch_b, t.city, t.unrelated_branch, 999_999] {
            let reply = create_session_reply(&app, &admin, school_campaign, org, noon(0)).await;
            assert_field_error(&reply, "org_id");
        }
        // Nor an archived org (as for people).
        let archived = create_org(&app, &admin, Some(t.general_a), "已撤销党支部", "branch").await;
        app.delete(&format!("/api/v1/orgs/{archived}"), Some(&admin))
            .await
            .assert_status(204);
        let reply = create_session_reply(&app, &admin, school_campaign, archived, noon(0)).await;
        assert_field_error(&reply, "org_id");
        for at in [noon(-11), noon(11)] {
            let reply = create_session_reply(&app, &admin, school_campaign, t.general_a, at).await;
            assert_field_error(&reply, "scheduled_at");
        }
        // The observer comes from a superior org: school A's user may observe branch A,
        // not branch B of the sibling school, nor school A itself.
        for (org, observer) in [(t.branch_b, observer_user), (t.school_a, observer_user)] {
            let reply = app
            .post(
                &format!("/api/v1/campaigns/{campaign}/sessions"),
                Some(&city_admin),
                json!({"org_id": org, "kind": "branch_meeting", "scheduled_at": noon(0), "observer_user_id": observer}),
            )
            .await;
            assert_field_error(&reply, "observer_user_id");
        }
        assert_eq!(app.count("sessions").await, sessions_before);
        assert_eq!(app.count("session_subjects").await, subjects_before);

        // An org without a secretary or members: the org alone.
        let general = create_session(&app, &city_admin, campaign, t.general_b).await;
        let only = subjects(&app, &city_admin, general["id"].as_i64().unwrap()).await;
        assert_eq!(only.len(), 1, "{only:?}");
        assert_eq!(only[0]["subject_type"], "org");
        assert_eq!(only[0]["name"], "乙校机关党总支");

        let listed = list_all(
            &app,
            &format!("/api/v1/sessions?campaign_id={campaign}"),
            &city_admin,
        )
        .await;
        assert_eq!(
            ids(&listed),
            BTreeSet::from([id, general["id"].as_i64().unwrap()])
        );
    }
);

async fn create_session_reply(
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

db_test!(subjects_change_only_while_the_session_is_scheduled, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let zhang = create_person(&app, &admin, t.branch_a, "张三").await;
    let li = create_person(&app, &admin, t.branch_a, "李四").await;
    let outsider = create_person(&app, &admin, t.branch_b, "乙校党员").await;
    let campaign = campaign_around_today(&app, &admin, t.school_a, 1).await;
    let id = create_session(&app, &admin, campaign, t.branch_a).await["id"]
        .as_i64()
        .unwrap();
    let (_, secretary) =
        create_user_with_grant(&app, &admin, "branch.a.sec", t.branch_a, "secretary").await;

    let initial = subjects(&app, &secretary, id).await;
    assert_eq!(initial.len(), 3, "{initial:?}");
    let zhang_subject = initial
        .iter()
        .find(|s| s["person_id"] == zhang)
        .expect("张三 is a subject")["id"]
        .as_i64()
        .unwrap();

    // The branch's secretary removes and re-adds a member.
    app.delete(
        &format!("/api/v1/sessions/{id}/subjects/{zhang_subject}"),
        Some(&secretary),
    )
    .await
    .assert_status(204);
    let left: Vec<Value> = subjects(&app, &secretary, id).await;
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|s| s["person_id"] != zhang));
    app.delete(
        &format!("/api/v1/sessions/{id}/subjects/{zhang_subject}"),
        Some(&secretary),
    )
    .await
    .assert_problem(404, "not_found");
    let reply = app
        .post(
            &format!("/api/v1/sessions/{id}/subjects"),
            Some(&secretary),
            json!({"subject_type": "member", "person_id": zhang}),
        )
        .await;
    let added = reply.assert_status(201);
    assert_eq!(added["person_id"], zhang);
    assert_eq!(added["name"], "张三");
    assert_eq!(added["subject_type"], "member");
    let location = format!("/api/v1/sessions/{id}/subjects/{}", added["id"]);
    assert_eq!(reply.header("location"), Some(location.as_str()));
    assert_eq!(subjects(&app, &secretary, id).await.len(), 3);
    // A person of another org (visible to the actor) keeps their own org.
    let transferred = create_person(&app, &admin, t.general_a, "调入党员").await;
    let added = app
        .post(
            &format!("/api/v1/sessions/{id}/subjects"),
            Some(&admin),
            json!({"subject_type": "member", "person_id": transferred}),
        )
        .await
        .assert_status(201);
    assert_eq!(added["org_id"], t.general_a, "{added}");
    app.delete(
        &format!("/api/v1/sessions/{id}/subjects/{}", added["id"]),
        Some(&admin),
    )
    .await
    .assert_status(204);
    // Twice, without a person, or a person the secretary cannot see: refused.
    app.post(
        &format!("/api/v1/sessions/{id}/subjects"),
        Some(&secretary),
        json!({"subject_type": "member", "person_id": zhang}),
    )
    .await
    .assert_problem(409, "subject_exists");
    let reply = app
        .post(
            &format!("/api/v1/sessions/{id}/subjects"),
            Some(&secretary),
            json!({"subject_type": "member"}),
        )
        .await;
    assert_field_error(&reply, "person_id");
    let reply = app
        .post(
            &format!("/api/v1/sessions/{id}/subjects"),
            Some(&secretary),
            json!({"subject_type": "member", "person_id": outsider}),
        )
        .await;
    assert_field_error(&reply, "person_id");
    assert_eq!(subjects(&app, &secretary, id).await.len(), 3);

    // Once open, nothing changes.
    campaign_step(&app, &admin, campaign, "activate").await;
    session_step(&app, &secretary, id, "open")
        .await
        .assert_status(200);
    let before = app.count("session_subjects").await;
    let li_subject = subjects(&app, &secretary, id)
        .await
        .iter()
        .find(|s| s["person_id"] == li)
        .expect("李四 is a subject")["id"]
        .as_i64()
        .unwrap();
    for token in [&secretary, &admin] {
        app.delete(
            &format!("/api/v1/sessions/{id}/subjects/{li_subject}"),
            Some(token),
        )
        .await
        .assert_problem(409, "session_not_scheduled");
        app.post(
            &format!("/api/v1/sessions/{id}/subjects"),
            Some(token),
            json!({"subject_type": "member", "person_id": outsider}),
        )
        .await
        .assert_problem(409, "session_not_scheduled");
        app.patch(
            &format!("/api/v1/sessions/{id}"),
            Some(token),
            json!({"location": "别处"}),
        )
        .await
        .assert_problem(409, "session_not_scheduled");
    }
    assert_eq!(app.count("session_subjects").await, before);
});

db_test!(
    sessions_open_only_in_active_campaigns_within_their_dates,
    |app| {
        let admin = admin_token(&app).await;
        let t = Tree::build(&app, &admin).await;
        let (_, school_a) =
            create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;

        let campaign = campaign_around_today(&app, &school_a, t.school_a, 1).await;
        let id = create_session(&app, &school_a, campaign, t.branch_a).await["id"]
            .as_i64()
            .unwrap();
        session_step(&app, &school_a, id, "open")
            .await
            .assert_problem(409, "campaign_not_active");
        session_step(&app, &school_a, id, "close")
            .await
            .assert_problem(409, "invalid_transition");
        campaign_step(&app, &school_a, campaign, "activate").await;

        let opened = session_step(&app, &school_a, id, "open")
            .await
            .assert_status(200);
        assert_eq!(opened["status"], "open");
        assert!(opened["opened_at"].is_string(), "{opened}");
        assert!(opened["closed_at"].is_null());
        session_step(&app, &school_a, id, "open")
            .await
            .assert_problem(409, "invalid_transition");
        let closed = session_step(&app, &school_a, id, "close")
            .await
            .assert_status(200);
        assert_eq!(closed["status"], "closed");
        assert!(closed["closed_at"].is_string(), "{closed}");
        for step in ["open", "close"] {
            session_step(&app, &school_a, id, step)
                .await
                .assert_problem(409, "invalid_transition");
        }
        let fetched = app
            .get(&format!("/api/v1/sessions/{id}"), Some(&school_a))
            .await
            .assert_status(200);
        assert_eq!(fetched["status"], "closed");

        // Campaigns whose dates are past, or still ahead.
        for (starts, ends) in [(-30, -20), (20, 30)] {
            let dated = create_campaign_with(
            &app,
            &school_a,
            json!({"owner_org_id": t.school_a, "title": "不在日期内", "starts_on": day(starts), "ends_on": day(ends), "template_id": 1}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
            let session =
                create_session_reply(&app, &school_a, dated, t.general_a, noon(starts + 1))
                    .await
                    .assert_status(201)["id"]
                    .as_i64()
                    .unwrap();
            campaign_step(&app, &school_a, dated, "activate").await;
            session_step(&app, &school_a, session, "open")
                .await
                .assert_problem(409, "outside_campaign_dates");
            let still = app
                .get(&format!("/api/v1/sessions/{session}"), Some(&school_a))
                .await
                .assert_status(200);
            assert_eq!(still["status"], "scheduled");
        }
    }
);

db_test!(closing_the_campaign_closes_its_open_sessions, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let campaign = campaign_around_today(&app, &admin, t.city, 1).await;
    let open = create_session(&app, &admin, campaign, t.branch_a).await["id"]
        .as_i64()
        .unwrap();
    let scheduled = create_session(&app, &admin, campaign, t.branch_b).await["id"]
        .as_i64()
        .unwrap();
    // Another campaign's open session is not touched.
    let other = campaign_around_today(&app, &admin, t.city, 1).await;
    let other_open = create_session(&app, &admin, other, t.branch_a).await["id"]
        .as_i64()
        .unwrap();
    for c in [campaign, other] {
        campaign_step(&app, &admin, c, "activate").await;
    }
    for s in [open, other_open] {
        session_step(&app, &admin, s, "open")
            .await
            .assert_status(200);
    }

    campaign_step(&app, &admin, campaign, "close").await;
    let status = |s: Value| s["status"].as_str().unwrap().to_owned();
    let closed = app
        .get(&format!("/api/v1/sessions/{open}"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(status(closed.clone()), "closed");
    assert!(closed["closed_at"].is_string(), "{closed}");
    let untouched = app
        .get(&format!("/api/v1/sessions/{scheduled}"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(status(untouched), "scheduled");
    let other_session = app
        .get(&format!("/api/v1/sessions/{other_open}"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(status(other_session), "open");
    let listed = list_all(
        &app,
        &format!("/api/v1/sessions?campaign_id={campaign}&status=closed"),
        &admin,
    )
    .await;
    assert_eq!(ids(&listed), BTreeSet::from([open]));

    // A closed campaign takes no new sessions, and its scheduled ones never open.
    create_session_reply(&app, &admin, campaign, t.general_a, noon(0))
        .await
        .assert_problem(409, "campaign_closed");
    bulk(&app, &admin, campaign, "branch_meeting", noon(0))
        .await
        .assert_problem(409, "campaign_closed");
    session_step(&app, &admin, scheduled, "open")
        .await
        .assert_problem(409, "campaign_not_active");
});

// --- bulk ---

async fn bulk(app: &TestApp, token: &str, campaign: i64, kind: &str, at: String) -> Reply {
    app.post(
        &format!("/api/v1/campaigns/{campaign}/sessions/bulk"),
        Some(token),
        json!({"kind": kind, "scheduled_at": at}),
    )
    .await
}

db_test!(bulk_creation_covers_each_unit_once, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, school_a) =
        create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;
    let window_branch = create_org_with(
        &app,
        &admin,
        t.general_a,
        "甲校图书馆党支部",
        "branch",
        "institution",
        true,
    )
    .await;
    let window_general = create_org_with(
        &app,
        &admin,
        t.school_b,
        "乙校后勤党总支",
        "general_branch",
        "institution",
        true,
    )
    .await;
    create_person(&app, &admin, window_branch, "馆员").await;

    let orgs_of = |body: &Value| -> BTreeSet<i64> {
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| s["org_id"].as_i64().unwrap())
            .collect()
    };

    // Branch meetings: every branch of the city without a session (branch A has one).
    let campaign = campaign_around_today(&app, &admin, t.city, 1).await;
    create_session(&app, &admin, campaign, t.branch_a).await;
    let branches_in_city: BTreeSet<i64> =
        ids(&list_all(&app, "/api/v1/orgs?kind=branch", &admin).await)
            .into_iter()
            .filter(|id| ![t.unrelated_branch].contains(id))
            .collect();
    assert_eq!(
        branches_in_city,
        BTreeSet::from([t.branch_a, t.branch_b, window_branch])
    );
    let before = app.count("sessions").await;
    let first = bulk(&app, &admin, campaign, "branch_meeting", noon(2))
        .await
        .assert_status(201);
    assert_eq!(first["created"], 2, "{first}");
    assert_eq!(orgs_of(&first), BTreeSet::from([t.branch_b, window_branch]));
    for s in first["items"].as_array().unwrap() {
        assert_eq!(s["kind"], "branch_meeting");
        assert_eq!(s["status"], "scheduled");
        assert_eq!(s["campaign_id"], campaign);
        assert_eq!(s["scheduled_at"], noon(2));
    }
    assert_eq!(app.count("sessions").await, before + 2);
    let window_session = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["org_id"] == window_branch)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let filled = subjects(&app, &admin, window_session).await;
    let names: Vec<&str> = filled.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["甲校图书馆党支部", "馆员"]);
    let listed = list_all(
        &app,
        &format!("/api/v1/sessions?campaign_id={campaign}"),
        &admin,
    )
    .await;
    assert_eq!(listed["total"], 3);

    let again = bulk(&app, &admin, campaign, "branch_meeting", noon(2))
        .await
        .assert_status(201);
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["items"], json!([]));
    assert_eq!(app.count("sessions").await, before + 2);

    // Window units: only the orgs flagged as such, whatever their kind.
    let windows = campaign_around_today(&app, &admin, t.city, 1).await;
    let created = bulk(&app, &admin, windows, "window_unit", noon(0))
        .await
        .assert_status(201);
    assert_eq!(created["created"], 2, "{created}");
    assert_eq!(
        orgs_of(&created),
        BTreeSet::from([window_branch, window_general])
    );
    assert!(created["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["kind"] == "window_unit"));
    // Committee reviews: committees and general branches without a session.
    let committees = bulk(&app, &admin, windows, "committee_review", noon(0))
        .await
        .assert_status(201);
    assert_eq!(
        orgs_of(&committees),
        BTreeSet::from([t.city, t.school_a, t.general_a, t.school_b, t.general_b])
    );

    // Outside the campaign's dates: refused, nothing created.
    let third = campaign_around_today(&app, &admin, t.city, 1).await;
    let before = app.count("sessions").await;
    let reply = bulk(&app, &admin, third, "branch_meeting", noon(30)).await;
    assert_field_error(&reply, "scheduled_at");
    assert_eq!(app.count("sessions").await, before);

    // A school admin's bulk covers only its own school.
    let by_school = app
        .post(
            &format!("/api/v1/campaigns/{third}/sessions/bulk"),
            Some(&school_a),
            json!({"kind": "branch_meeting", "scheduled_at": noon(0)}),
        )
        .await
        .assert_status(201);
    assert_eq!(
        orgs_of(&by_school),
        BTreeSet::from([t.branch_a, window_branch])
    );
});

// --- access ---

db_test!(
    a_branch_secretary_sees_the_covering_campaign_but_cannot_run_it,
    |app| {
        let admin = admin_token(&app).await;
        let t = Tree::build(&app, &admin).await;
        let (_, city_admin) =
            create_user_with_grant(&app, &admin, "city.admin", t.city, "org_admin").await;
        let (_, secretary) =
            create_user_with_grant(&app, &admin, "branch.a.sec", t.branch_a, "secretary").await;

        let city_campaign = campaign_around_today(&app, &city_admin, t.city, 1).await;
        let school_a_campaign = campaign_around_today(&app, &admin, t.school_a, 1).await;
        let school_b_campaign = campaign_around_today(&app, &admin, t.school_b, 1).await;
        let unrelated_campaign = campaign_around_today(&app, &admin, t.unrelated, 1).await;

        let page = list_all(&app, "/api/v1/campaigns", &secretary).await;
        assert_eq!(
            ids(&page),
            BTreeSet::from([city_campaign, school_a_campaign]),
            "{page}"
        );
        assert_eq!(page["total"], 2);
        let everything = list_all(&app, "/api/v1/campaigns", &admin).await;
        assert_eq!(everything["total"], 4);
        let fetched = app
            .get(
                &format!("/api/v1/campaigns/{city_campaign}"),
                Some(&secretary),
            )
            .await
            .assert_status(200);
        assert_eq!(fetched["owner_org_id"], t.city);
        for hidden in [school_b_campaign, unrelated_campaign, 999_999] {
            app.get(&format!("/api/v1/campaigns/{hidden}"), Some(&secretary))
                .await
                .assert_problem(404, "not_found");
        }

        // Seeing is not running.
        let location = format!("/api/v1/campaigns/{city_campaign}");
        app.patch(&location, Some(&secretary), json!({"title": "支部改名"}))
            .await
            .assert_problem(403, "forbidden");
        for step in ["activate", "close"] {
            app.post(&format!("{location}/{step}"), Some(&secretary), json!({}))
                .await
                .assert_problem(403, "forbidden");
        }
        app.post(
            &format!("{location}/publish"),
            Some(&secretary),
            json!({"scope_org_ids": [t.branch_a]}),
        )
        .await
        .assert_problem(403, "forbidden");
        let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&secretary),
            json!({"owner_org_id": t.branch_a, "title": "支部自办", "starts_on": day(0), "ends_on": day(1), "template_id": 1}),
        )
        .await;
        reply.assert_problem(403, "forbidden");
        let fetched = app.get(&location, Some(&admin)).await.assert_status(200);
        assert_eq!(fetched["status"], "draft");
        assert_eq!(fetched["title"], "创先争优群众评议");

        // But it schedules its own branch's session in it, and only that one.
        let own = create_session(&app, &secretary, city_campaign, t.branch_a).await;
        assert_eq!(own["org_id"], t.branch_a);
        for org in [t.general_a, t.branch_b] {
            let reply = create_session_reply(&app, &secretary, city_campaign, org, noon(0)).await;
            assert_field_error(&reply, "org_id");
        }
        assert_eq!(app.count("sessions").await, 1);
    }
);

db_test!(a_secretary_runs_only_its_own_branchs_session, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, secretary) =
        create_user_with_grant(&app, &admin, "branch.a.sec", t.branch_a, "secretary").await;
    let campaign = campaign_around_today(&app, &admin, t.city, 1).await;
    let own = create_session(&app, &admin, campaign, t.branch_a).await["id"]
        .as_i64()
        .unwrap();
    let sibling = create_session(&app, &admin, campaign, t.branch_b).await["id"]
        .as_i64()
        .unwrap();
    let above = create_session(&app, &admin, campaign, t.general_a).await["id"]
        .as_i64()
        .unwrap();
    campaign_step(&app, &admin, campaign, "activate").await;

    let listed = list_all(&app, "/api/v1/sessions", &secretary).await;
    assert_eq!(ids(&listed), BTreeSet::from([own]));
    app.get(&format!("/api/v1/sessions/{own}"), Some(&secretary))
        .await
        .assert_status(200);
    let opened = session_step(&app, &secretary, own, "open")
        .await
        .assert_status(200);
    assert_eq!(opened["status"], "open");
    let closed = session_step(&app, &secretary, own, "close")
        .await
        .assert_status(200);
    assert_eq!(closed["status"], "closed");

    for other in [sibling, above] {
        app.get(&format!("/api/v1/sessions/{other}"), Some(&secretary))
            .await
            .assert_problem(404, "not_found");
        app.get(
            &format!("/api/v1/sessions/{other}/subjects"),
            Some(&secretary),
        )
        .await
        .assert_problem(404, "not_found");
        for step in ["open", "close"] {
            session_step(&app, &secretary, other, step)
                .await
                .assert_problem(404, "not_found");
        }
        app.patch(
            &format!("/api/v1/sessions/{other}"),
            Some(&secretary),
            json!({"location": "别处"}),
        )
        .await
        .assert_problem(404, "not_found");
        app.post(
            &format!("/api/v1/sessions/{other}/subjects"),
            Some(&secretary),
            json!({"subject_type": "org"}),
        )
        .await
        .assert_problem(404, "not_found");
        let still = app
            .get(&format!("/api/v1/sessions/{other}"), Some(&admin))
            .await
            .assert_status(200);
        assert_eq!(still["status"], "scheduled");
        assert!(still["location"].is_null());
    }
});

db_test!(
    a_sibling_schools_org_admin_does_not_see_the_other_schools_campaign,
    |app| {
        let admin = admin_token(&app).await;
        let t = Tree::build(&app, &admin).await;
        let (_, school_a) =
            create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;
        let (_, school_b) =
            create_user_with_grant(&app, &admin, "school.b.admin", t.school_b, "org_admin").await;
        let (_, city_admin) =
            create_user_with_grant(&app, &admin, "city.admin", t.city, "org_admin").await;

        let campaign = campaign_around_today(&app, &school_a, t.school_a, 1).await;
        let session = create_session(&app, &school_a, campaign, t.branch_a).await["id"]
            .as_i64()
            .unwrap();
        let location = format!("/api/v1/campaigns/{campaign}");

        app.get(&location, Some(&school_b))
            .await
            .assert_problem(404, "not_found");
        app.patch(&location, Some(&school_b), json!({"title": "乙改"}))
            .await
            .assert_problem(404, "not_found");
        for step in ["activate", "close"] {
            app.post(&format!("{location}/{step}"), Some(&school_b), json!({}))
                .await
                .assert_problem(404, "not_found");
        }
        app.post(
            &format!("{location}/sessions"),
            Some(&school_b),
            json!({"org_id": t.branch_b, "kind": "branch_meeting", "scheduled_at": noon(0)}),
        )
        .await
        .assert_problem(404, "not_found");
        app.post(
            &format!("{location}/sessions/bulk"),
            Some(&school_b),
            json!({"kind": "branch_meeting", "scheduled_at": noon(0)}),
        )
        .await
        .assert_problem(404, "not_found");
        app.get(&format!("/api/v1/sessions/{session}"), Some(&school_b))
            .await
            .assert_problem(404, "not_found");
        let page = list_all(&app, "/api/v1/campaigns", &school_b).await;
        assert_eq!(page["total"], 0, "{page}");
        let page = list_all(&app, "/api/v1/sessions", &school_b).await;
        assert_eq!(page["total"], 0, "{page}");

        // Its own school may not be put into the other school's campaign either way.
        let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&school_b),
            json!({"owner_org_id": t.school_a, "title": "越权", "starts_on": day(0), "ends_on": day(1), "template_id": 1}),
        )
        .await;
        assert_field_error(&reply, "owner_org_id");

        // The city above manages it.
        let active = campaign_step(&app, &city_admin, campaign, "activate").await;
        assert_eq!(active["status"], "active");
        let fetched = app.get(&location, Some(&school_a)).await.assert_status(200);
        assert_eq!(fetched["status"], "active");
    }
);

db_test!(observers_read_sessions_but_do_not_run_them, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, observer) =
        create_user_with_grant(&app, &admin, "school.a.observer", t.school_a, "observer").await;
    let campaign = campaign_around_today(&app, &admin, t.school_a, 1).await;
    let session = create_session(&app, &admin, campaign, t.branch_a).await["id"]
        .as_i64()
        .unwrap();
    campaign_step(&app, &admin, campaign, "activate").await;

    app.get(&format!("/api/v1/sessions/{session}"), Some(&observer))
        .await
        .assert_status(200);
    assert_eq!(subjects(&app, &observer, session).await.len(), 1);
    app.get(&format!("/api/v1/campaigns/{campaign}"), Some(&observer))
        .await
        .assert_status(200);

    session_step(&app, &observer, session, "open")
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/sessions/{session}/subjects"),
        Some(&observer),
        json!({"subject_type": "org"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/sessions/{session}"),
        Some(&observer),
        json!({"location": "别处"}),
    )
    .await
    .assert_problem(403, "forbidden");
    create_session_reply(&app, &observer, campaign, t.general_a, noon(0))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/campaigns/{campaign}/close"),
        Some(&observer),
        json!({}),
    )
    .await
    .assert_problem(403, "forbidden");

    // Opened by someone who may, it still cannot close it.
    session_step(&app, &admin, session, "open")
        .await
        .assert_status(200);
    session_step(&app, &observer, session, "close")
        .await
        .assert_problem(403, "forbidden");
    let still = app
        .get(&format!("/api/v1/sessions/{session}"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(still["status"], "open");
});
