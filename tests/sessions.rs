//! Sessions are scheduled per org (one by one or in bulk), filled with the org, its
//! secretary and members, and open only while their campaign is active and within its
//! dates. Secretaries run their own branch's session, observers only read.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::fixtures::{
    admin_token, bulk, campaign_around_today, campaign_step, create_campaign_with, create_org,
    create_org_with, create_person, create_session, create_session_reply, create_user_with_grant,
    day, ids, list_all, noon, session_step, set_secretary, Tree,
};
use crate::common::{assert_field_error, TestApp};
use crate::db_test;

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
        // An archived member is no subject.
        let gone = create_person(&app, &admin, t.branch_a, "已转出党员").await;
        app.delete(&format!("/api/v1/people/{gone}"), Some(&admin))
            .await
            .assert_status(204);
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
        // Times RFC 3339 does not have (chrono alone would read six-digit years, and the
        // last of them overflowed the local clock): a 422, never a 500.
        for at in [
            "+262143-12-31T16:00:00Z",
            "+10000-01-01T00:00:00Z",
            "2026-12-02",
        ] {
            let reply =
                create_session_reply(&app, &admin, school_campaign, t.general_a, at.into()).await;
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
        &format!("/api/v1/sessions/{id}/subjects/{zhang_subject}?reason=moved"),
        Some(&secretary),
    )
    .await
    .assert_status(204);
    let left: Vec<Value> = subjects(&app, &secretary, id).await;
    assert_eq!(left.len(), 2);
    assert!(left.iter().all(|s| s["person_id"] != zhang));
    app.delete(
        &format!("/api/v1/sessions/{id}/subjects/{zhang_subject}?reason=moved"),
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
        &format!(
            "/api/v1/sessions/{id}/subjects/{}?reason=transferred",
            added["id"]
        ),
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
            &format!("/api/v1/sessions/{id}/subjects/{li_subject}?reason=left"),
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

// --- bulk ---

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

    // The answer is a summary; the sessions are read from the list it names.
    let scheduled = |body: Value, kind: &'static str| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let list = body["sessions"]
                .as_str()
                .expect("the list's address")
                .to_owned();
            assert!(body.get("items").is_none(), "{body}");
            let listed = list_all(app, &list, &admin).await;
            let items: Vec<Value> = listed["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter(|s| s["kind"] == kind)
                .cloned()
                .collect();
            items
        }
    };
    let orgs_of = |items: &[Value]| -> BTreeSet<i64> {
        items
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
    assert_eq!(
        first["sessions"],
        format!("/api/v1/sessions?campaign_id={campaign}")
    );
    let new: Vec<Value> = scheduled(first, "branch_meeting")
        .await
        .into_iter()
        .filter(|s| s["org_id"] != t.branch_a)
        .collect();
    assert_eq!(orgs_of(&new), BTreeSet::from([t.branch_b, window_branch]));
    for s in &new {
        assert_eq!(s["kind"], "branch_meeting");
        assert_eq!(s["status"], "scheduled");
        assert_eq!(s["campaign_id"], campaign);
        assert_eq!(s["scheduled_at"], noon(2));
    }
    assert_eq!(app.count("sessions").await, before + 2);
    let window_session = new.iter().find(|s| s["org_id"] == window_branch).unwrap()["id"]
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
    assert_eq!(app.count("sessions").await, before + 2);

    // Window units: only the orgs flagged as such, whatever their kind.
    let windows = campaign_around_today(&app, &admin, t.city, 1).await;
    let created = bulk(&app, &admin, windows, "window_unit", noon(0))
        .await
        .assert_status(201);
    assert_eq!(created["created"], 2, "{created}");
    let window_sessions = scheduled(created, "window_unit").await;
    assert_eq!(
        orgs_of(&window_sessions),
        BTreeSet::from([window_branch, window_general])
    );
    // Committee reviews: committees and general branches without a session.
    let committees = bulk(&app, &admin, windows, "committee_review", noon(0))
        .await
        .assert_status(201);
    assert_eq!(
        orgs_of(&scheduled(committees, "committee_review").await),
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
        orgs_of(&scheduled(by_school, "branch_meeting").await),
        BTreeSet::from([t.branch_a, window_branch])
    );
});

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
