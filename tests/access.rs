//! Access follows the tree (隶属关系): a grant covers its org and the whole subtree, never
//! above or beside it. Invisible objects answer 404 (body references to them: 422 on the
//! field), visible ones the actor may not change 403; archiving and moving need manage
//! rights on the org's parent; only administrators create roots.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{json, Value};

use crate::common::fixtures::{
    admin_token, create_org, create_user, create_user_with_grant, grant, ids, login, Tree,
    USER_PASSWORD,
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
    assert_eq!(fields, vec![field], "{body}");
}

db_test!(an_org_admin_acts_only_in_its_schools_subtree, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (org_admin_id, token) =
        create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;

    // The list holds exactly the school's subtree.
    let page = list_all(&app, "/api/v1/orgs", &token).await;
    let subtree = BTreeSet::from([t.school_a, t.general_a, t.branch_a]);
    assert_eq!(ids(&page), subtree, "{page}");
    assert_eq!(page["total"], 3);
    let everything = list_all(&app, "/api/v1/orgs", &admin).await;
    assert_eq!(everything["total"], 9, "the administrator sees every org");

    // It creates a branch under the school.
    let created = app
        .post(
            "/api/v1/orgs",
            Some(&token),
            json!({"parent_id": t.school_a, "name": "甲校第二党支部", "kind": "branch", "domain": "institution"}),
        )
        .await;
    let body = created.assert_status(201);
    let new_branch = body["id"].as_i64().unwrap();
    let location = format!("/api/v1/orgs/{new_branch}");
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(body["parent_id"], t.school_a);
    assert_eq!(body["depth"], 2);
    assert_eq!(body["status"], "active");
    let fetched = app.get(&location, Some(&token)).await.assert_status(200);
    assert_eq!(fetched["name"], "甲校第二党支部");
    let page = list_all(&app, "/api/v1/orgs", &token).await;
    let mut grown = subtree.clone();
    grown.insert(new_branch);
    assert_eq!(ids(&page), grown);
    let tree = app
        .get(&format!("/api/v1/orgs/{}/tree", t.school_a), Some(&token))
        .await
        .assert_status(200);
    assert_eq!(tree["children"].as_array().unwrap().len(), 2, "{tree}");

    // Beside and above: as if they did not exist.
    for org in [t.branch_b, t.school_b, t.general_b, t.city, t.unrelated] {
        app.get(&format!("/api/v1/orgs/{org}"), Some(&token))
            .await
            .assert_problem(404, "not_found");
        app.get(&format!("/api/v1/orgs/{org}/tree"), Some(&token))
            .await
            .assert_problem(404, "not_found");
    }
    let missing = app.get("/api/v1/orgs/999999", Some(&token)).await;
    missing.assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/orgs/{}", t.branch_b),
        Some(&token),
        json!({"name": "renamed"}),
    )
    .await
    .assert_problem(404, "not_found");
    app.delete(&format!("/api/v1/orgs/{}", t.branch_b), Some(&token))
        .await
        .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/orgs/{}/move", t.branch_b),
        Some(&token),
        json!({"parent_id": t.school_a}),
    )
    .await
    .assert_problem(404, "not_found");
    let children = app
        .get(
            &format!("/api/v1/orgs?parent_id={}", t.school_b),
            Some(&token),
        )
        .await
        .assert_status(200);
    assert_eq!(
        children["total"], 0,
        "no child of an invisible org is listed"
    );

    // Orgs named in a body: an invisible one is the same field error as a missing one.
    for parent in [t.school_b, t.city, t.unrelated, 999_999] {
        let reply = app
            .post(
                "/api/v1/orgs",
                Some(&token),
                json!({"parent_id": parent, "name": "越级", "kind": "branch", "domain": "institution"}),
            )
            .await;
        assert_field_error(&reply, "parent_id");
        let moved = app
            .post(
                &format!("/api/v1/orgs/{}/move", t.branch_a),
                Some(&token),
                json!({"parent_id": parent}),
            )
            .await;
        assert_field_error(&moved, "parent_id");
    }
    // Only administrators create roots.
    app.post(
        "/api/v1/orgs",
        Some(&token),
        json!({"name": "新市委", "kind": "committee", "domain": "institution"}),
    )
    .await
    .assert_problem(403, "forbidden");
    // Its own school is visible but belongs to the city's tree: 403, not 404.
    app.delete(&format!("/api/v1/orgs/{}", t.school_a), Some(&token))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/orgs/{}/move", t.school_a),
        Some(&token),
        json!({"parent_id": t.school_a}),
    )
    .await
    .assert_problem(403, "forbidden");
    // Inside the subtree it moves and archives.
    app.post(
        &format!("/api/v1/orgs/{new_branch}/move"),
        Some(&token),
        json!({"parent_id": t.general_a}),
    )
    .await
    .assert_status(200);
    app.post(
        &format!("/api/v1/orgs/{}/move", t.general_a),
        Some(&token),
        json!({"parent_id": t.branch_a}),
    )
    .await
    .assert_problem(409, "cycle");
    let archived = app
        .delete(&format!("/api/v1/orgs/{new_branch}"), Some(&token))
        .await;
    assert_eq!(archived.status, 204, "{}", archived.text);

    // Users and grants.
    let someone = create_user(&app, &admin, "someone.in.a", Some(t.branch_a)).await;
    let outsider = create_user(&app, &admin, "someone.in.b", Some(t.branch_b)).await;
    for body in [
        json!({"role": "admin"}),
        json!({"role": "admin", "org_id": t.branch_a}),
    ] {
        app.post(
            &format!("/api/v1/users/{someone}/grants"),
            Some(&token),
            body,
        )
        .await
        .assert_problem(403, "forbidden");
    }
    // Nobody grants what they do not hold.
    app.post(
        &format!("/api/v1/users/{someone}/grants"),
        Some(&token),
        json!({"role": "integration", "org_id": t.branch_a}),
    )
    .await
    .assert_problem(403, "forbidden");
    for role in ["org_admin", "secretary", "observer", "member"] {
        let reply = app
            .post(
                &format!("/api/v1/users/{someone}/grants"),
                Some(&token),
                json!({"role": role, "org_id": t.branch_a}),
            )
            .await;
        let body = reply.assert_status(201);
        assert_eq!(body["role"], role);
        assert!(reply.header("location").is_some());
    }
    app.post(
        &format!("/api/v1/users/{someone}/grants"),
        Some(&token),
        json!({"role": "member", "org_id": t.branch_a}),
    )
    .await
    .assert_problem(409, "grant_exists");
    assert_field_error(
        &app.post(
            &format!("/api/v1/users/{someone}/grants"),
            Some(&token),
            json!({"role": "secretary", "org_id": t.school_b}),
        )
        .await,
        "org_id",
    );
    assert_field_error(
        &app.post(
            &format!("/api/v1/users/{someone}/grants"),
            Some(&token),
            json!({"role": "secretary", "org_id": t.city}),
        )
        .await,
        "org_id",
    );
    // A user homed outside the subtree is invisible.
    app.get(&format!("/api/v1/users/{outsider}"), Some(&token))
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/users/{outsider}"),
        Some(&token),
        json!({"disabled": true}),
    )
    .await
    .assert_problem(404, "not_found");
    app.post(
        &format!("/api/v1/users/{outsider}/grants"),
        Some(&token),
        json!({"role": "member", "org_id": t.branch_a}),
    )
    .await
    .assert_problem(404, "not_found");
    // The administrator's own account has no org: only administrators see it.
    let admin_id = app.get("/api/v1/me", Some(&admin)).await.assert_status(200)["id"].clone();
    app.get(&format!("/api/v1/users/{admin_id}"), Some(&token))
        .await
        .assert_problem(404, "not_found");
    assert_field_error(
        &app.post(
            "/api/v1/users",
            Some(&token),
            json!({"username": "sneaky", "display_name": "x", "password": USER_PASSWORD, "org_id": t.school_b}),
        )
        .await,
        "org_id",
    );
    let users = list_all(&app, "/api/v1/users", &token).await;
    assert_eq!(
        ids(&users),
        BTreeSet::from([org_admin_id, someone]),
        "{users}"
    );
    app.get(
        &format!("/api/v1/audit-events?org_id={}", t.city),
        Some(&token),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/users?org_id={}", t.school_b),
        Some(&token),
    )
    .await
    .assert_problem(404, "not_found");

    // Managing a user of the subtree works.
    let reply = app
        .post(
            "/api/v1/users",
            Some(&token),
            json!({"username": "new.secretary", "display_name": "新书记", "password": USER_PASSWORD, "org_id": t.branch_a}),
        )
        .await;
    let new_user = reply.assert_status(201)["id"].as_i64().unwrap();
    app.patch(
        &format!("/api/v1/users/{new_user}"),
        Some(&token),
        json!({"password": "reset by the org admin"}),
    )
    .await
    .assert_status(200);
    login(&app, "new.secretary", "reset by the org admin").await;
});

db_test!(a_secretary_reads_but_does_not_manage, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, token) =
        create_user_with_grant(&app, &admin, "branch.secretary", t.general_a, "secretary").await;
    let page = list_all(&app, "/api/v1/orgs", &token).await;
    assert_eq!(ids(&page), BTreeSet::from([t.general_a, t.branch_a]));
    app.get(&format!("/api/v1/orgs/{}", t.school_a), Some(&token))
        .await
        .assert_problem(404, "not_found");
    app.patch(
        &format!("/api/v1/orgs/{}", t.branch_a),
        Some(&token),
        json!({"name": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.get("/api/v1/audit-events", Some(&token))
        .await
        .assert_problem(403, "forbidden");
    let someone = create_user(&app, &admin, "someone.in.a", Some(t.branch_a)).await;
    app.post(
        &format!("/api/v1/users/{someone}/grants"),
        Some(&token),
        json!({"role": "member", "org_id": t.branch_a}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/users/{someone}"),
        Some(&token),
        json!({"disabled": true}),
    )
    .await
    .assert_problem(403, "forbidden");
});

db_test!(an_org_admin_cannot_take_over_a_stronger_account, |app| {
    let admin = admin_token(&app).await;
    let t = Tree::build(&app, &admin).await;
    let (_, token) =
        create_user_with_grant(&app, &admin, "school.a.admin", t.school_a, "org_admin").await;
    // Accounts homed in the school that hold more than the school's org admin does.
    let (city_admin, _) =
        create_user_with_grant(&app, &admin, "city.admin", t.school_a, "org_admin").await;
    grant(&app, &admin, city_admin, Some(t.city), "org_admin").await;
    let (global_admin, _) =
        create_user_with_grant(&app, &admin, "second.admin", t.school_a, "admin").await;
    let (service, _) =
        create_user_with_grant(&app, &admin, "service", t.school_a, "integration").await;

    for victim in [city_admin, global_admin, service] {
        for change in [
            json!({"password": "taken over by a subordinate"}),
            json!({"disabled": true}),
        ] {
            let reply = app
                .patch(&format!("/api/v1/users/{victim}"), Some(&token), change)
                .await;
            reply.assert_problem(403, "forbidden");
        }
        // Still visible: the account is homed in the school.
        app.get(&format!("/api/v1/users/{victim}"), Some(&token))
            .await
            .assert_status(200);
    }
    login(&app, "city.admin", USER_PASSWORD).await;
    login(&app, "second.admin", USER_PASSWORD).await;

    // The administrator may; and the org admin may once the extra grants are gone.
    app.patch(
        &format!("/api/v1/users/{global_admin}"),
        Some(&admin),
        json!({"disabled": true}),
    )
    .await
    .assert_status(200);
    let user = app
        .get(&format!("/api/v1/users/{city_admin}"), Some(&admin))
        .await
        .assert_status(200);
    let city_grant = user["grants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["org_id"] == t.city)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let revoked = app
        .delete(
            &format!("/api/v1/users/{city_admin}/grants/{city_grant}"),
            Some(&admin),
        )
        .await;
    assert_eq!(revoked.status, 204, "{}", revoked.text);
    app.patch(
        &format!("/api/v1/users/{city_admin}"),
        Some(&token),
        json!({"disabled": true}),
    )
    .await
    .assert_status(200);
});

// ---------------------------------------------------------------------------------------
// The authorization matrix.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// GET /orgs/{id}
    GetOrg,
    /// PATCH /orgs/{id}
    PatchOrg,
    /// DELETE /orgs/{id} (archive)
    ArchiveOrg,
    /// POST /orgs with the target as parent
    CreateChild,
    /// POST /orgs/{id}/move
    MoveOrg,
    /// GET /orgs/{id}/tree
    OrgTree,
    /// GET /audit-events?org_id={id}
    AuditEvents,
    /// POST /users/{id}/grants, granting `secretary` on the target
    CreateGrant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// The school the role is granted on.
    Own,
    /// A branch below it.
    Descendant,
    /// The city committee above it.
    Ancestor,
    /// A branch under the sibling school.
    Sibling,
    /// Another root.
    Unrelated,
}

const TARGETS: [Target; 5] = [
    Target::Own,
    Target::Descendant,
    Target::Ancestor,
    Target::Sibling,
    Target::Unrelated,
];

const ROLES: [&str; 6] = [
    "admin",
    "org_admin",
    "secretary",
    "observer",
    "member",
    "integration",
];

use Endpoint::*;

/// Expected statuses, per target: own, descendant, ancestor, sibling, unrelated.
///
/// Archive and move act on fresh orgs for the descendant, sibling and unrelated targets (a
/// new leaf branch under the general branch, under the sibling's general branch, a new
/// root); "own" is the school (which has children: archiving it is 409 once allowed) and
/// "ancestor" the city (archive: 409; moving it into the school: 409 `cycle`). A move goes
/// to: own → the city (its parent: a no-op), descendant → the school, ancestor → the
/// school, sibling → the sibling school, unrelated → the unrelated root.
#[rustfmt::skip]
const MATRIX: &[(Endpoint, &str, [u16; 5])] = &[
    //  endpoint      role            own  desc  anc   sib  unrel
    (GetOrg,      "admin",       [200, 200, 200, 200, 200]),
    (GetOrg,      "org_admin",   [200, 200, 404, 404, 404]),
    (GetOrg,      "secretary",   [200, 200, 404, 404, 404]),
    (GetOrg,      "observer",    [200, 200, 404, 404, 404]),
    (GetOrg,      "member",      [200, 200, 404, 404, 404]),
    (GetOrg,      "integration", [200, 200, 404, 404, 404]),

    (PatchOrg,    "admin",       [200, 200, 200, 200, 200]),
    (PatchOrg,    "org_admin",   [200, 200, 404, 404, 404]),
    (PatchOrg,    "secretary",   [403, 403, 404, 404, 404]),
    (PatchOrg,    "observer",    [403, 403, 404, 404, 404]),
    (PatchOrg,    "member",      [403, 403, 404, 404, 404]),
    (PatchOrg,    "integration", [403, 403, 404, 404, 404]),

    (ArchiveOrg,  "admin",       [409, 204, 409, 204, 204]),
    (ArchiveOrg,  "org_admin",   [403, 204, 404, 404, 404]),
    (ArchiveOrg,  "secretary",   [403, 403, 404, 404, 404]),
    (ArchiveOrg,  "observer",    [403, 403, 404, 404, 404]),
    (ArchiveOrg,  "member",      [403, 403, 404, 404, 404]),
    (ArchiveOrg,  "integration", [403, 403, 404, 404, 404]),

    (CreateChild, "admin",       [201, 201, 201, 201, 201]),
    (CreateChild, "org_admin",   [201, 201, 422, 422, 422]),
    (CreateChild, "secretary",   [403, 403, 422, 422, 422]),
    (CreateChild, "observer",    [403, 403, 422, 422, 422]),
    (CreateChild, "member",      [403, 403, 422, 422, 422]),
    (CreateChild, "integration", [403, 403, 422, 422, 422]),

    (MoveOrg,     "admin",       [200, 200, 409, 200, 200]),
    (MoveOrg,     "org_admin",   [403, 200, 404, 404, 404]),
    (MoveOrg,     "secretary",   [403, 403, 404, 404, 404]),
    (MoveOrg,     "observer",    [403, 403, 404, 404, 404]),
    (MoveOrg,     "member",      [403, 403, 404, 404, 404]),
    (MoveOrg,     "integration", [403, 403, 404, 404, 404]),

    (OrgTree,     "admin",       [200, 200, 200, 200, 200]),
    (OrgTree,     "org_admin",   [200, 200, 404, 404, 404]),
    (OrgTree,     "secretary",   [200, 200, 404, 404, 404]),
    (OrgTree,     "observer",    [200, 200, 404, 404, 404]),
    (OrgTree,     "member",      [200, 200, 404, 404, 404]),
    (OrgTree,     "integration", [200, 200, 404, 404, 404]),

    // Only org admins read the log: the other roles are refused whatever the org.
    (AuditEvents, "admin",       [200, 200, 200, 200, 200]),
    (AuditEvents, "org_admin",   [200, 200, 404, 404, 404]),
    (AuditEvents, "secretary",   [403, 403, 403, 403, 403]),
    (AuditEvents, "observer",    [403, 403, 403, 403, 403]),
    (AuditEvents, "member",      [403, 403, 403, 403, 403]),
    (AuditEvents, "integration", [403, 403, 403, 403, 403]),

    // The grantee is homed in the school's branch, visible to every role here.
    (CreateGrant, "admin",       [201, 201, 201, 201, 201]),
    (CreateGrant, "org_admin",   [201, 201, 422, 422, 422]),
    (CreateGrant, "secretary",   [403, 403, 422, 422, 422]),
    (CreateGrant, "observer",    [403, 403, 422, 422, 422]),
    (CreateGrant, "member",      [403, 403, 422, 422, 422]),
    (CreateGrant, "integration", [403, 403, 422, 422, 422]),
];

/// The `code` an error status must carry in a cell.
fn expected_code(endpoint: Endpoint, target: Target, status: u16) -> Option<&'static str> {
    match status {
        403 => Some("forbidden"),
        404 => Some("not_found"),
        422 => Some("validation_failed"),
        409 => Some(match (endpoint, target) {
            (MoveOrg, _) => "cycle",
            _ => "has_active_children",
        }),
        _ => None,
    }
}

struct Cell<'a> {
    role: &'a str,
    endpoint: Endpoint,
    target: Target,
    org: i64,
    request: String,
}

impl fmt::Display for Cell<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "role {:<11} {:<11} target {:<10} (org {}) — {}",
            self.role,
            format!("{:?}", self.endpoint),
            format!("{:?}", self.target),
            self.org,
            self.request
        )
    }
}

struct Matrix {
    admin: String,
    tree: Tree,
    grantee: i64,
    seq: usize,
}

impl Matrix {
    /// A leaf branch made for one cell, so that archiving or moving it breaks nothing else.
    async fn fresh(&mut self, app: &TestApp, parent: Option<i64>) -> i64 {
        self.seq += 1;
        let kind = if parent.is_some() {
            "branch"
        } else {
            "committee"
        };
        create_org(
            app,
            &self.admin,
            parent,
            &format!("matrix org {}", self.seq),
            kind,
        )
        .await
    }

    async fn target_org(&mut self, app: &TestApp, endpoint: Endpoint, target: Target) -> i64 {
        let t = self.tree;
        let destructive = matches!(endpoint, ArchiveOrg | MoveOrg);
        match target {
            Target::Own => t.school_a,
            Target::Ancestor => t.city,
            Target::Descendant if destructive => self.fresh(app, Some(t.general_a)).await,
            Target::Sibling if destructive => self.fresh(app, Some(t.general_b)).await,
            Target::Unrelated if destructive => self.fresh(app, None).await,
            Target::Descendant => t.branch_a,
            Target::Sibling => t.branch_b,
            Target::Unrelated => t.unrelated,
        }
    }

    fn move_destination(&self, target: Target) -> i64 {
        let t = self.tree;
        match target {
            Target::Own => t.city,
            Target::Descendant | Target::Ancestor => t.school_a,
            Target::Sibling => t.school_b,
            Target::Unrelated => t.unrelated,
        }
    }

    /// Runs one cell; returns the request made and the answer.
    async fn run(
        &mut self,
        app: &TestApp,
        token: &str,
        endpoint: Endpoint,
        target: Target,
        org: i64,
    ) -> (String, Reply) {
        match endpoint {
            GetOrg => {
                let path = format!("/api/v1/orgs/{org}");
                (format!("GET {path}"), app.get(&path, Some(token)).await)
            }
            PatchOrg => {
                let path = format!("/api/v1/orgs/{org}");
                self.seq += 1;
                let body = json!({"name": format!("renamed {}", self.seq)});
                let reply = app.patch(&path, Some(token), body.clone()).await;
                (format!("PATCH {path} {body}"), reply)
            }
            ArchiveOrg => {
                let path = format!("/api/v1/orgs/{org}");
                (
                    format!("DELETE {path}"),
                    app.delete(&path, Some(token)).await,
                )
            }
            CreateChild => {
                self.seq += 1;
                let body = json!({"parent_id": org, "name": format!("child {}", self.seq), "kind": "branch", "domain": "institution"});
                let reply = app.post("/api/v1/orgs", Some(token), body.clone()).await;
                (format!("POST /api/v1/orgs {body}"), reply)
            }
            MoveOrg => {
                let path = format!("/api/v1/orgs/{org}/move");
                let body = json!({"parent_id": self.move_destination(target)});
                let reply = app.post(&path, Some(token), body.clone()).await;
                (format!("POST {path} {body}"), reply)
            }
            OrgTree => {
                let path = format!("/api/v1/orgs/{org}/tree");
                (format!("GET {path}"), app.get(&path, Some(token)).await)
            }
            AuditEvents => {
                let path = format!("/api/v1/audit-events?org_id={org}");
                (format!("GET {path}"), app.get(&path, Some(token)).await)
            }
            CreateGrant => {
                let path = format!("/api/v1/users/{}/grants", self.grantee);
                let body = json!({"org_id": org, "role": "secretary"});
                let reply = app.post(&path, Some(token), body.clone()).await;
                if reply.status == 201 {
                    // Take it back, so that the next role's grant is not a 409.
                    let id = reply.json()["id"].as_i64().unwrap();
                    let undo = app.delete(&format!("{path}/{id}"), Some(&self.admin)).await;
                    assert_eq!(undo.status, 204, "revoking grant {id}: {}", undo.text);
                }
                (format!("POST {path} {body}"), reply)
            }
        }
    }
}

/// What is wrong with an answer, if anything.
fn check(
    endpoint: Endpoint,
    target: Target,
    expected: u16,
    reply: &Reply,
    org: i64,
) -> Option<String> {
    let got = reply.status.as_u16();
    if got != expected {
        return Some(format!("expected {expected}, got {got}: {}", reply.text));
    }
    if let Some(code) = expected_code(endpoint, target, expected) {
        let body: Value = serde_json::from_str(&reply.text).unwrap_or(Value::Null);
        if body["code"] != code {
            return Some(format!("expected code {code:?}: {}", reply.text));
        }
        if expected == 422 {
            let field = if endpoint == CreateGrant {
                "org_id"
            } else {
                "parent_id"
            };
            if body["errors"][0]["field"] != field {
                return Some(format!("expected a field error on {field}: {}", reply.text));
            }
        }
    }
    match (endpoint, expected) {
        (GetOrg | PatchOrg | OrgTree | MoveOrg, 200) => {
            let body: Value = serde_json::from_str(&reply.text).unwrap_or(Value::Null);
            (body["id"] != org).then(|| format!("expected org {org} in the answer: {}", reply.text))
        }
        (CreateChild | CreateGrant, 201) => reply
            .header("location")
            .is_none()
            .then(|| "201 without Location".to_owned()),
        _ => None,
    }
}

db_test!(authorization_matrix, |app| {
    // Every (endpoint, role) row is there exactly once.
    for endpoint in [
        GetOrg,
        PatchOrg,
        ArchiveOrg,
        CreateChild,
        MoveOrg,
        OrgTree,
        AuditEvents,
        CreateGrant,
    ] {
        for role in ROLES {
            let rows = MATRIX
                .iter()
                .filter(|(e, r, _)| *e == endpoint && *r == role)
                .count();
            assert_eq!(rows, 1, "{endpoint:?} × {role}: {rows} rows");
        }
    }

    let admin = admin_token(&app).await;
    let tree = Tree::build(&app, &admin).await;
    let grantee = create_user(&app, &admin, "grantee", Some(tree.branch_a)).await;
    let mut tokens = Vec::new();
    for role in ROLES {
        let username = format!("matrix.{role}");
        let (_, token) = create_user_with_grant(&app, &admin, &username, tree.school_a, role).await;
        tokens.push((role, token));
    }
    let mut matrix = Matrix {
        admin,
        tree,
        grantee,
        seq: 0,
    };

    let mut failures = Vec::new();
    let mut cells = 0;
    for &(endpoint, role, expected) in MATRIX {
        let token = &tokens.iter().find(|(r, _)| *r == role).unwrap().1;
        for (target, expected) in TARGETS.into_iter().zip(expected) {
            let org = matrix.target_org(&app, endpoint, target).await;
            let (request, reply) = matrix.run(&app, token, endpoint, target, org).await;
            cells += 1;
            if let Some(problem) = check(endpoint, target, expected, &reply, org) {
                let cell = Cell {
                    role,
                    endpoint,
                    target,
                    org,
                    request,
                };
                failures.push(format!("{cell}\n      {problem}"));
            }
        }
    }
    assert_eq!(cells, 8 * 6 * 5);
    assert!(
        failures.is_empty(),
        "{} of {cells} cells failed ({:?}):\n  {}",
        failures.len(),
        app.backend,
        failures.join("\n  ")
    );

    // The fixed tree is intact: the school's org admin still sees exactly its subtree
    // (plus what the matrix created in it).
    let org_admin = &tokens.iter().find(|(r, _)| *r == "org_admin").unwrap().1;
    let page = list_all(&app, "/api/v1/orgs", org_admin).await;
    let visible = ids(&page);
    for org in [tree.school_a, tree.general_a, tree.branch_a] {
        assert!(visible.contains(&org));
    }
    for org in [tree.city, tree.school_b, tree.branch_b, tree.unrelated] {
        assert!(!visible.contains(&org));
    }
});

// ---------------------------------------------------------------------------------------
// The audit log.
// ---------------------------------------------------------------------------------------

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

db_test!(opposite_moves_at_once_cannot_make_a_cycle, |app| {
    let admin = admin_token(&app).await;
    let root = create_org(&app, &admin, None, "市委", "committee").await;
    let a = create_org(&app, &admin, Some(root), "甲", "committee").await;
    let b = create_org(&app, &admin, Some(root), "乙", "committee").await;
    for _ in 0..5 {
        let (first, second) = futures_util::future::join(
            app.post(
                &format!("/api/v1/orgs/{a}/move"),
                Some(&admin),
                json!({"parent_id": b}),
            ),
            app.post(
                &format!("/api/v1/orgs/{b}/move"),
                Some(&admin),
                json!({"parent_id": a}),
            ),
        )
        .await;
        let mut statuses = [first.status.as_u16(), second.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{} / {}", first.text, second.text);
        // Put both back under the root for the next round.
        for id in [a, b] {
            let org = app
                .get(&format!("/api/v1/orgs/{id}"), Some(&admin))
                .await
                .assert_status(200);
            if org["parent_id"] != root {
                app.post(
                    &format!("/api/v1/orgs/{id}/move"),
                    Some(&admin),
                    json!({"parent_id": root}),
                )
                .await
                .assert_status(200);
            }
        }
    }
    let tree = app
        .get(&format!("/api/v1/orgs/{root}/tree"), Some(&admin))
        .await
        .assert_status(200);
    assert_eq!(tree["children"].as_array().unwrap().len(), 2);
});
