//! Criteria templates: the notice's template is built in, org admins' templates stay inside
//! their subtree, campaigns freeze their templates at activation, and domain templates give
//! each domain (as scheduled) its criteria.

use std::collections::BTreeSet;

use chrono::Utc;
use serde_json::{json, Value};

use crate::common::fixtures::{
    admin_token, ballot_form, campaign_around_today, campaign_step, create_campaign_with,
    create_org, create_org_with, create_session, create_user_with_grant, day, issue_code,
    session_step, Tree,
};
use crate::common::{assert_field_error, TestApp};
use crate::db_test;

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

db_test!(
    a_session_keeps_the_template_of_the_domain_it_was_scheduled_with,
    |app| {
        let admin = admin_token(&app).await;
        let school = create_org(&app, &admin, None, "学院党委", "committee").await;
        let branch = create_org(&app, &admin, Some(school), "第一党支部", "branch").await;
        let community = app
        .post(
            "/api/v1/templates",
            Some(&admin),
            json!({"owner_org_id": school, "name": "社区", "criteria": {"org": [{"label_zh": "社区服务", "label_en": "Community service"}]},
                   "scale": [{"level": "good", "label_zh": "好", "label_en": "Good", "score": 100, "satisfied": true},
                             {"level": "bad", "label_zh": "差", "label_en": "Bad", "score": 0, "satisfied": false}]}),
        )
        .await
        .assert_status(201)["id"]
        .clone();
        let campaign = create_campaign_with(
            &app,
            &admin,
            json!({"owner_org_id": school, "title": "分类指导", "starts_on": day(-1), "ends_on": day(1),
                   "template_id": 1, "domain_templates": {"community": community}}),
        )
        .await["id"]
            .as_i64()
            .unwrap();
        campaign_step(&app, &admin, campaign, "activate").await;
        let session = app
            .post(
                &format!("/api/v1/campaigns/{campaign}/sessions"),
                Some(&admin),
                json!({"org_id": branch, "kind": "branch_meeting", "scheduled_at": Utc::now()}),
            )
            .await
            .assert_status(201)["id"]
            .as_i64()
            .unwrap();
        // The org moves to another domain after its session was scheduled.
        app.patch(
            &format!("/api/v1/orgs/{branch}"),
            Some(&admin),
            json!({"domain": "community"}),
        )
        .await
        .assert_status(200);
        let code = issue_code(&app, &admin, session, "other").await;
        session_step(&app, &admin, session, "open")
            .await
            .assert_status(200);
        let form = ballot_form(&app, &code).await;
        assert_eq!(
            form["criteria"]["org"].as_array().unwrap().len(),
            4,
            "still the institution's template"
        );
        assert_eq!(form["scale"][0]["level"], "satisfied");
        app.post(
        "/api/v1/ballots",
        None,
        json!({"code": code, "ratings": [{"subject_id": form["subjects"][0]["id"], "criterion_id": 1, "level": "satisfied"}]}),
    )
    .await
    .assert_status(201);
    }
);
