//! Access follows the tree (隶属关系): a grant covers its org and the whole subtree, never
//! above or beside it. Invisible objects answer 404 (body references to them: 422 on the
//! field), visible ones the actor may not change 403; archiving and moving need manage
//! rights on the org's parent; only administrators create roots.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{json, Value};

use crate::common::fixtures::{
    admin_token, create_org, create_user, create_user_with_grant, ids, list_all, login, Tree,
    USER_PASSWORD,
};
use crate::common::{assert_only_field_error, Reply, TestApp};
use crate::db_test;

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
        assert_only_field_error(&reply, "parent_id");
        let moved = app
            .post(
                &format!("/api/v1/orgs/{}/move", t.branch_a),
                Some(&token),
                json!({"parent_id": parent}),
            )
            .await;
        assert_only_field_error(&moved, "parent_id");
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
    assert_only_field_error(
        &app.post(
            &format!("/api/v1/users/{someone}/grants"),
            Some(&token),
            json!({"role": "secretary", "org_id": t.school_b}),
        )
        .await,
        "org_id",
    );
    assert_only_field_error(
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
    assert_only_field_error(
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
