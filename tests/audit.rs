//! The audit log: writes are audited with actor and request id; an org admin reads only its
//! subtree's events.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::fixtures::{
    admin_token, create_org, create_user, create_user_with_grant, list_all, Tree,
};
use crate::db_test;

fn events(page: &Value) -> &Vec<Value> {
    page["items"].as_array().expect("a list of events")
}

db_test!(writes_are_audited_with_actor_and_request_id, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (oa_id, oa) =
        create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;

    let created = app
        .post(
            "/api/v1/orgs",
            Some(&oa),
            json!({"parent_id": t.general_a, "name": "甲校第二党支部", "kind": "branch", "domain": "institution"}),
        )
        .await;
    let org = created.assert_status(201)["id"].as_i64().unwrap();
    let create_request = created.header("x-request-id").unwrap().to_owned();
    let patched = app
        .patch(
            &format!("/api/v1/orgs/{org}"),
            Some(&oa),
            json!({"name": "甲校第二党支部(改)"}),
        )
        .await;
    patched.assert_status(200);
    let patch_request = patched.header("x-request-id").unwrap().to_owned();
    assert_ne!(create_request, patch_request);

    let page = list_all(
        &app,
        &format!("/api/v1/audit-events?target_type=org&target_id={org}"),
        &admin,
    )
    .await;
    let items = events(&page);
    assert_eq!(items.len(), 2, "{page}");
    // Newest first.
    let (update, create) = (&items[0], &items[1]);
    assert_eq!(create["action"], "org.create");
    assert_eq!(create["actor_id"], oa_id);
    assert_eq!(create["request_id"], create_request.as_str());
    assert_eq!(create["org_id"], org);
    assert_eq!(create["target_id"], org.to_string());
    assert!(create["summary"]
        .as_str()
        .unwrap()
        .contains("甲校第二党支部"));
    let at = create["at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
        "{at}"
    );
    assert_eq!(update["action"], "org.update");
    assert_eq!(update["actor_id"], oa_id);
    assert_eq!(update["request_id"], patch_request.as_str());

    // A grant and a user change are audited too.
    let someone = create_user(&app, &admin, "someone.in.a", Some(t.branch_a)).await;
    let granted = app
        .post(
            &format!("/api/v1/users/{someone}/grants"),
            Some(&oa),
            json!({"org_id": t.branch_a, "role": "secretary"}),
        )
        .await;
    let grant_id = granted.assert_status(201)["id"].as_i64().unwrap();
    let page = list_all(
        &app,
        &format!("/api/v1/audit-events?action=grant.create&actor_id={oa_id}"),
        &admin,
    )
    .await;
    let items = events(&page);
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["target_type"], "grant");
    assert_eq!(items[0]["target_id"], grant_id.to_string());
    assert_eq!(items[0]["org_id"], t.branch_a);
    assert_eq!(
        items[0]["request_id"],
        granted.header("x-request-id").unwrap()
    );

    let disabled = app
        .patch(
            &format!("/api/v1/users/{someone}"),
            Some(&oa),
            json!({"disabled": true}),
        )
        .await;
    disabled.assert_status(200);
    let page = list_all(
        &app,
        &format!("/api/v1/audit-events?target_type=user&target_id={someone}"),
        &admin,
    )
    .await;
    let items = events(&page);
    assert_eq!(items[0]["action"], "user.update", "{page}");
    assert_eq!(items[0]["actor_id"], oa_id);
    assert_eq!(
        items[0]["request_id"],
        disabled.header("x-request-id").unwrap()
    );
    assert_eq!(items[1]["action"], "user.create");
    let admin_id = app.get("/api/v1/me", Some(&admin)).await.assert_status(200)["id"].clone();
    assert_eq!(
        items[1]["actor_id"], admin_id,
        "the administrator created it"
    );

    // Refused writes leave no trace.
    let before = app.count("audit_events").await;
    app.patch(
        &format!("/api/v1/orgs/{}", t.branch_b),
        Some(&oa),
        json!({"name": "x"}),
    )
    .await
    .assert_problem(404, "not_found");
    assert_eq!(app.count("audit_events").await, before);
});

db_test!(an_org_admin_reads_only_its_subtrees_audit_events, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (oa_id, oa) =
        create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;
    let (ob_id, ob) =
        create_user_with_grant(&app, &admin, "school.b.admin", t.school_b, "org_admin").await;
    let a_org = create_org(&app, &oa, Some(t.branch_a), "甲校小组", "branch").await;
    let b_org = create_org(&app, &ob, Some(t.branch_b), "乙校小组", "branch").await;
    app.patch(
        &format!("/api/v1/orgs/{}", t.city),
        Some(&admin),
        json!({"name": "市委(改)"}),
    )
    .await
    .assert_status(200);

    let a_subtree = BTreeSet::from([t.school_a, t.general_a, t.branch_a, a_org]);
    let page = list_all(&app, "/api/v1/audit-events", &oa).await;
    let items = events(&page);
    assert_eq!(page["total"].as_u64().unwrap() as usize, items.len());
    assert!(!items.is_empty());
    for event in items {
        let org = event["org_id"].as_i64();
        assert!(
            org.is_some_and(|o| a_subtree.contains(&o)),
            "an event outside the subtree: {event}"
        );
    }
    let actions: BTreeSet<(i64, &str)> = items
        .iter()
        .map(|e| (e["org_id"].as_i64().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert!(actions.contains(&(a_org, "org.create")), "{page}");
    assert!(actions.contains(&(t.school_a, "org.create")), "{page}");
    assert!(
        items.iter().any(|e| e["action"] == "grant.create"),
        "its own grant (on the school) is in its log: {page}"
    );
    assert!(!items.iter().any(|e| e["actor_id"] == ob_id));

    // The administrator's view holds what the org admin's leaves out.
    let all = list_all(&app, "/api/v1/audit-events", &admin).await;
    let all_items = events(&all);
    assert!(all_items.len() > items.len());
    assert!(all_items
        .iter()
        .any(|e| e["org_id"] == b_org && e["actor_id"] == ob_id));
    assert!(all_items
        .iter()
        .any(|e| e["org_id"] == t.city && e["action"] == "org.update"));
    assert!(
        all_items.iter().any(|e| e["org_id"].is_null()),
        "the bootstrap administrator's creation has no org"
    );

    // Narrowed to a part of the subtree; refused outside it.
    let page = list_all(
        &app,
        &format!("/api/v1/audit-events?org_id={}", t.branch_a),
        &oa,
    )
    .await;
    let narrowed: BTreeSet<i64> = events(&page)
        .iter()
        .map(|e| e["org_id"].as_i64().unwrap())
        .collect();
    assert_eq!(narrowed, BTreeSet::from([t.branch_a, a_org]), "{page}");
    for outside in [t.school_b, b_org, t.city, t.unrelated] {
        app.get(&format!("/api/v1/audit-events?org_id={outside}"), Some(&oa))
            .await
            .assert_problem(404, "not_found");
    }
    app.get("/api/v1/audit-events?org_id=999999", Some(&oa))
        .await
        .assert_problem(404, "not_found");
    // A filter on another admin's actions finds nothing here.
    let page = list_all(&app, &format!("/api/v1/audit-events?actor_id={ob_id}"), &oa).await;
    assert_eq!(page["total"], 0, "{page}");
    let page = list_all(&app, &format!("/api/v1/audit-events?actor_id={oa_id}"), &ob).await;
    assert_eq!(page["total"], 0, "{page}");

    // Roles that do not manage the org read no log at all.
    for role in ["secretary", "observer", "member", "integration"] {
        let (_, token) =
            create_user_with_grant(&app, &admin, &format!("reader.{role}"), t.school_a, role).await;
        app.get("/api/v1/audit-events", Some(&token))
            .await
            .assert_problem(403, "forbidden");
    }
});
