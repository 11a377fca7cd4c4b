//! Campaigns go draft → active → closed → published; closing one closes its open sessions.
//! Access follows the tree.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::assert_field_error;
use crate::common::fixtures::{
    admin_token, bulk, campaign_around_today, campaign_step, create_campaign_with, create_session,
    create_session_reply, create_user_with_grant, day, ids, list_all, noon, session_step, Tree,
};
use crate::db_test;

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
