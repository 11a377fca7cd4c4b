//! The one place that decides access (隶属关系): a grant `(org, role)` covers that org and
//! its whole subtree, never its ancestors or siblings. An object outside everything the
//! actor can see answers 404, exactly like a missing one; a visible object the actor may
//! not change answers 403.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Global administrator.
    Admin,
    /// 组织部 / 党务工作者: manages orgs, people, users and campaigns in the subtree.
    OrgAdmin,
    /// Runs the own org's sessions, records and rectifications.
    Secretary,
    /// 上级派员: reads results and writes leader comments in the subtree.
    Observer,
    /// A Party member: own summary, own and published results.
    Member,
    /// A service account of another system: reads the subtree.
    Integration,
}

impl Role {
    pub const ALL: [Role; 6] = [
        Role::Admin,
        Role::OrgAdmin,
        Role::Secretary,
        Role::Observer,
        Role::Member,
        Role::Integration,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::OrgAdmin => "org_admin",
            Role::Secretary => "secretary",
            Role::Observer => "observer",
            Role::Member => "member",
            Role::Integration => "integration",
        }
    }

    /// Whether holding `self` counts as holding `other` (for granting): an administrator
    /// holds everything; an org admin, who manages the whole subtree, also holds the
    /// secretary, observer and member roles there.
    pub fn includes(self, other: Role) -> bool {
        self == other
            || self == Role::Admin
            || (self == Role::OrgAdmin
                && matches!(other, Role::Secretary | Role::Observer | Role::Member))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

/// What an actor wants to do to something that belongs to an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the org, its people and its records.
    Read,
    /// Create, change, move or archive orgs and people.
    ManageOrgs,
    /// Create and change user accounts homed in the org.
    ManageUsers,
    /// Create, change and run campaigns owned by the org; create criteria templates.
    ManageCampaigns,
    /// Schedule, open and close the org's evaluation sessions, issue voting codes, enter
    /// paper ballots.
    RunSessions,
    /// Read the audit log.
    ReadAudit,
    /// Read the results of closed sessions.
    ReadResults,
    /// Give (or take back) this role on the org.
    Grant(Role),
}

fn role_allows(role: Role, action: Action) -> bool {
    match action {
        Action::Read => true,
        Action::ManageOrgs | Action::ManageUsers | Action::ManageCampaigns | Action::ReadAudit => {
            matches!(role, Role::Admin | Role::OrgAdmin)
        }
        Action::RunSessions => matches!(role, Role::Admin | Role::OrgAdmin | Role::Secretary),
        // Those evaluated (secretaries, members) see results once they are published.
        Action::ReadResults => matches!(
            role,
            Role::Admin | Role::OrgAdmin | Role::Observer | Role::Integration
        ),
        // Granting is managing users, and nobody grants what they do not hold.
        Action::Grant(granted) => {
            matches!(role, Role::Admin | Role::OrgAdmin) && role.includes(granted)
        }
    }
}

/// A materialized path such as `/1/7/42/`.
pub fn covers(ancestor_path: &str, path: &str) -> bool {
    path.starts_with(ancestor_path)
}

/// The exclusive upper bound of a subtree's paths: every path that starts with `/1/7/`
/// sorts at or after `/1/7/` and before `/1/70` ('0' follows '/' in byte order).
pub fn subtree_upper_bound(path: &str) -> String {
    let mut upper = path.trim_end_matches('/').to_owned();
    upper.push('0');
    upper
}

/// The ids on a materialized path, root first: `/1/7/42/` → 1, 7, 42.
pub fn path_ids(path: &str) -> impl Iterator<Item = i64> + '_ {
    path.split('/').filter_map(|s| s.parse().ok())
}

/// One grant, with the path of its org (none for the global `admin` grant).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Grant {
    pub id: i64,
    pub org_id: Option<i64>,
    pub role: Role,
    #[serde(skip)]
    pub org_path: Option<String>,
}

/// Decides from an actor's grants. Pure: the handlers load the grants and the target's
/// path, then ask.
#[derive(Debug, Clone, Default)]
pub struct Grants(pub Vec<Grant>);

impl Grants {
    pub fn is_admin(&self) -> bool {
        self.0.iter().any(|g| g.role == Role::Admin)
    }

    fn covering<'a>(&'a self, path: &'a str) -> impl Iterator<Item = &'a Grant> + 'a {
        self.0.iter().filter(move |g| match (&g.role, &g.org_path) {
            (Role::Admin, _) => true,
            (_, Some(grant_path)) => covers(grant_path, path),
            (_, None) => false,
        })
    }

    pub fn can_see(&self, path: &str) -> bool {
        self.covering(path).next().is_some()
    }

    /// 404 when the actor cannot see the org at `path`, 403 when it can see but the
    /// action is not allowed there.
    pub fn authorize(&self, action: Action, path: &str) -> ApiResult<()> {
        let mut covering = self.covering(path).peekable();
        if covering.peek().is_none() {
            return Err(ApiError::not_found());
        }
        if covering.any(|g| role_allows(g.role, action)) {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// Whether the action is allowed on `path` (no distinction between 403 and 404).
    pub fn allows(&self, action: Action, path: &str) -> bool {
        self.authorize(action, path).is_ok()
    }

    /// Actions that need no org (creating a root org, global settings): admins only.
    pub fn authorize_global(&self) -> ApiResult<()> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden())
        }
    }

    /// What lists may contain.
    pub fn scope(&self) -> Scope {
        self.scope_for(Action::Read)
    }

    /// The subtrees where the actor may do `action`.
    pub fn scope_for(&self, action: Action) -> Scope {
        if self.is_admin() {
            return Scope::All;
        }
        let mut paths: Vec<String> = self
            .0
            .iter()
            .filter(|g| role_allows(g.role, action))
            .filter_map(|g| g.org_path.clone())
            .collect();
        // Drop paths inside another granted subtree: they add nothing.
        paths.sort();
        paths.dedup();
        let minimal: Vec<String> = paths
            .iter()
            .filter(|p| !paths.iter().any(|q| q != *p && covers(q, p)))
            .cloned()
            .collect();
        Scope::Subtrees(minimal)
    }
}

/// The part of the tree an actor sees: everything, or a set of subtrees by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Subtrees(Vec<String>),
}

impl Scope {
    pub fn contains(&self, path: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Subtrees(paths) => paths.iter().any(|p| covers(p, path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: Role, path: Option<&str>) -> Grant {
        Grant {
            id: 1,
            org_id: None,
            role,
            org_path: path.map(str::to_owned),
        }
    }

    const CITY: &str = "/1/";
    const SCHOOL: &str = "/1/2/";
    const BRANCH: &str = "/1/2/5/";
    const SIBLING_SCHOOL: &str = "/1/3/";
    const SIBLING_BRANCH: &str = "/1/3/9/";
    const LOOKALIKE: &str = "/1/20/";

    #[test]
    fn a_grant_covers_its_subtree_only() {
        let g = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(g.can_see(SCHOOL));
        assert!(g.can_see(BRANCH));
        assert!(!g.can_see(CITY), "never above");
        assert!(!g.can_see(SIBLING_SCHOOL), "never beside");
        assert!(!g.can_see(SIBLING_BRANCH));
        assert!(!g.can_see(LOOKALIKE), "/1/20/ is not inside /1/2/");
    }

    #[test]
    fn statuses_follow_the_rules() {
        let secretary = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert!(secretary.authorize(Action::Read, BRANCH).is_ok());
        assert_eq!(
            secretary
                .authorize(Action::ManageOrgs, BRANCH)
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            secretary
                .authorize(Action::Read, SIBLING_BRANCH)
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(
            secretary
                .authorize(Action::Read, SCHOOL)
                .unwrap_err()
                .status,
            404
        );
        let org_admin = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(org_admin.authorize(Action::ManageOrgs, BRANCH).is_ok());
        assert!(org_admin.authorize(Action::ReadAudit, SCHOOL).is_ok());
        assert!(org_admin.authorize(Action::RunSessions, BRANCH).is_ok());
        assert!(secretary.authorize(Action::RunSessions, BRANCH).is_ok());
        assert_eq!(
            secretary
                .authorize(Action::ManageCampaigns, BRANCH)
                .unwrap_err()
                .status,
            403
        );
        let observer = Grants(vec![grant(Role::Observer, Some(SCHOOL))]);
        assert_eq!(
            observer
                .authorize(Action::RunSessions, BRANCH)
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            org_admin
                .authorize(Action::ManageOrgs, CITY)
                .unwrap_err()
                .status,
            404
        );
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.authorize(Action::ManageOrgs, SIBLING_BRANCH).is_ok());
        assert!(admin.authorize_global().is_ok());
        assert_eq!(org_admin.authorize_global().unwrap_err().status, 403);
    }

    #[test]
    fn nobody_grants_what_they_do_not_hold() {
        let org_admin = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(org_admin
            .authorize(Action::Grant(Role::Secretary), BRANCH)
            .is_ok());
        assert!(org_admin
            .authorize(Action::Grant(Role::OrgAdmin), BRANCH)
            .is_ok());
        assert_eq!(
            org_admin
                .authorize(Action::Grant(Role::Admin), BRANCH)
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            org_admin
                .authorize(Action::Grant(Role::Integration), BRANCH)
                .unwrap_err()
                .status,
            403
        );
        assert_eq!(
            org_admin
                .authorize(Action::Grant(Role::Secretary), SIBLING_BRANCH)
                .unwrap_err()
                .status,
            404
        );
        let secretary = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert_eq!(
            secretary
                .authorize(Action::Grant(Role::Secretary), BRANCH)
                .unwrap_err()
                .status,
            403
        );
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.authorize(Action::Grant(Role::Admin), CITY).is_ok());
    }

    #[test]
    fn scope_keeps_the_outermost_subtrees() {
        let g = Grants(vec![
            grant(Role::Secretary, Some(BRANCH)),
            grant(Role::OrgAdmin, Some(SCHOOL)),
            grant(Role::Observer, Some(SIBLING_BRANCH)),
        ]);
        assert_eq!(
            g.scope(),
            Scope::Subtrees(vec![SCHOOL.into(), SIBLING_BRANCH.into()])
        );
        assert!(g.scope().contains(BRANCH));
        assert!(!g.scope().contains(CITY));
        assert_eq!(Grants(vec![grant(Role::Admin, None)]).scope(), Scope::All);
    }

    #[test]
    fn subtree_upper_bound_excludes_lookalikes() {
        let upper = subtree_upper_bound(SCHOOL);
        assert_eq!(upper, "/1/20");
        for inside in [SCHOOL, BRANCH, "/1/2/999/"] {
            assert!(inside >= SCHOOL && inside < upper.as_str());
        }
        for outside in [LOOKALIKE, CITY, SIBLING_SCHOOL, "/1/2"] {
            assert!(
                !(outside >= SCHOOL && outside < upper.as_str()),
                "{outside}"
            );
        }
    }
}
