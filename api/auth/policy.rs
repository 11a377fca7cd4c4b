//! The one place that decides access (隶属关系): a grant `(org, role)` covers that org and
//! its whole subtree, never its ancestors or siblings. An object outside everything the
//! actor can see answers 404, exactly like a missing one; a visible object the actor may
//! not change answers 403.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::text_enum;

text_enum! {
    /// What a grant lets its holder do in the org's subtree.
    pub enum Role {
        /// Global administrator.
        Admin => "admin",
        /// 组织部 / 党务工作者: manages orgs, people, users and campaigns in the subtree.
        OrgAdmin => "org_admin",
        /// Runs the own org's sessions, records and rectifications.
        Secretary => "secretary",
        /// 上级派员: reads results and writes leader comments in the subtree.
        Observer => "observer",
        /// A Party member: own summary, own and published results.
        Member => "member",
        /// A service account of another system: reads the subtree.
        Integration => "integration",
    }
}

impl Role {
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

/// The answer to every access question. Handlers turn it into the response with
/// [`Decision::check`]: hidden things answer 404 exactly like missing ones, visible things
/// the actor may not change answer 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Hidden,
    Forbidden(&'static str),
}

const MAY_SEE_NOT_DO: &str = "You may see this, but not do this.";

impl Decision {
    const FORBIDDEN: Decision = Decision::Forbidden(MAY_SEE_NOT_DO);

    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }

    pub fn check(self) -> ApiResult<()> {
        match self {
            Decision::Allowed => Ok(()),
            Decision::Hidden => Err(ApiError::not_found()),
            Decision::Forbidden(why) => Err(ApiError::forbidden_because(why)),
        }
    }

    /// The error a refusal answers with (a decision that allowed nothing hides the thing).
    pub fn refusal(self) -> ApiError {
        match self {
            Decision::Forbidden(why) => ApiError::forbidden_because(why),
            Decision::Allowed | Decision::Hidden => ApiError::not_found(),
        }
    }

    fn allowed_if(allowed: bool) -> Decision {
        if allowed {
            Decision::Allowed
        } else {
            Decision::FORBIDDEN
        }
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
    /// Create rectification items (整改) and carry them out: edit, note progress, submit.
    Rectify,
    /// Keep the evaluation's records: self-inspections, duty reports, member summaries,
    /// opinions gathered, commitments and their fulfilment, report requests' answers.
    Record,
    /// Issue service tickets (一次一评) at the org's service points: the staff at the
    /// counter (its members), those who run the org, and integrated counter screens.
    ServeWindow,
    /// Subscribe other systems to the subtree's events (webhooks), and read and change
    /// those subscriptions: org admins, and integration accounts for themselves.
    ManageWebhooks,
    /// Give (or take back) this role on the org.
    Grant(Role),
}

fn role_allows(role: Role, action: Action) -> bool {
    match action {
        Action::Read => true,
        Action::ManageOrgs | Action::ManageUsers | Action::ManageCampaigns | Action::ReadAudit => {
            matches!(role, Role::Admin | Role::OrgAdmin)
        }
        Action::RunSessions | Action::Rectify | Action::Record => {
            matches!(role, Role::Admin | Role::OrgAdmin | Role::Secretary)
        }
        // Members see their own figures, and the rankings and roll-up once published to
        // them (see `decide_session_results` and `decide_campaign_results`).
        Action::ReadResults => matches!(
            role,
            Role::Admin | Role::OrgAdmin | Role::Secretary | Role::Observer | Role::Integration
        ),
        Action::ServeWindow => matches!(
            role,
            Role::Admin | Role::OrgAdmin | Role::Secretary | Role::Member | Role::Integration
        ),
        Action::ManageWebhooks => matches!(role, Role::Admin | Role::OrgAdmin | Role::Integration),
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

/// Whether a webhook subscription made at the org at `subscription_path` receives an event
/// of the org at `event_org_path`: only events of its own subtree, never an ancestor's or a
/// sibling's.
pub fn subscription_receives(subscription_path: &str, event_org_path: &str) -> bool {
    covers(subscription_path, event_org_path)
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

    /// Hidden when the actor cannot see the org at `path`, forbidden when it can see it but
    /// the action is not allowed there.
    pub fn decide(&self, action: Action, path: &str) -> Decision {
        let mut covering = self.covering(path).peekable();
        if covering.peek().is_none() {
            return Decision::Hidden;
        }
        Decision::allowed_if(covering.any(|g| role_allows(g.role, action)))
    }

    /// Whether the action is allowed on `path` (no distinction between 403 and 404).
    pub fn allows(&self, action: Action, path: &str) -> bool {
        self.decide(action, path).is_allowed()
    }

    /// Actions that need no org (creating a root org, global grants): admins only.
    pub fn decide_global(&self) -> Decision {
        Decision::allowed_if(self.is_admin())
    }

    /// Whether the actor holds a grant at or below the org at `path`.
    fn holds_within(&self, path: &str) -> bool {
        self.0
            .iter()
            .any(|g| g.org_path.as_deref().is_some_and(|p| covers(path, p)))
    }

    /// Things an org owns for its whole subtree (campaigns, criteria templates) are seen by
    /// those who see the owner and by everyone inside the subtree (a branch secretary sees
    /// the city's campaign); changing them needs `action` on the owner itself.
    pub fn decide_owned(&self, action: Action, owner_path: &str) -> Decision {
        if !self.can_see(owner_path) && !self.holds_within(owner_path) {
            return Decision::Hidden;
        }
        if action == Action::Read {
            return Decision::Allowed;
        }
        Decision::allowed_if(self.allows(action, owner_path))
    }

    /// A criteria template: the built-in one (no owner) is read by everyone and changed by
    /// nobody; the others are owned like campaigns.
    pub fn decide_template(&self, action: Action, owner_path: Option<&str>) -> Decision {
        match owner_path {
            Some(owner) => self.decide_owned(action, owner),
            None if action == Action::Read => Decision::Allowed,
            None => Decision::Forbidden("The built-in template never changes."),
        }
    }

    /// The ids of every org at or above one of the actor's grants: whose campaigns reach the
    /// actor from above. Empty for administrators, who see everything anyway.
    pub fn orgs_at_or_above_grants(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .0
            .iter()
            .filter_map(|g| g.org_path.as_deref())
            .flat_map(path_ids)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// A user account, homed in the org at `home_path` (none: an administrator's account).
    /// Everyone reads their own account; otherwise `action` is checked on the home org, and
    /// an actor who cannot see their own account's home is forbidden (not told it is gone).
    pub fn decide_account(
        &self,
        action: Action,
        is_own: bool,
        home_path: Option<&str>,
    ) -> Decision {
        if action == Action::Read && is_own {
            return Decision::Allowed;
        }
        match home_path {
            Some(path) if is_own && !self.can_see(path) => Decision::FORBIDDEN,
            Some(path) => self.decide(action, path),
            None if self.is_admin() => Decision::Allowed,
            None if is_own => Decision::FORBIDDEN,
            None => Decision::Hidden,
        }
    }

    /// Changing someone else's account (a new password, disabling it) amounts to holding its
    /// grants: only an actor who could grant every role the account holds may, so that
    /// nobody gains a role they do not hold by resetting a stronger account's password.
    pub fn decide_takeover<'a>(
        &self,
        held: impl IntoIterator<Item = (Role, Option<&'a str>)>,
    ) -> Decision {
        let holds_all = held.into_iter().all(|(role, path)| match path {
            Some(path) => self.allows(Action::Grant(role), path),
            None => self.is_admin(),
        });
        if holds_all {
            Decision::Allowed
        } else {
            Decision::Forbidden(
                "The account holds roles you do not hold; an administrator must change it.",
            )
        }
    }

    /// An org's `domain` and `kind` choose which template a superior's campaign uses for it:
    /// only an actor who manages orgs at a strict superior of the org (or an administrator)
    /// changes them, never an org admin whose own grant is on the org itself.
    pub fn decide_org_profile(&self, org_path: &str) -> Decision {
        let from_above = self.0.iter().any(|g| match (&g.role, &g.org_path) {
            (Role::Admin, _) => true,
            (role, Some(path)) => {
                covers(path, org_path) && path != org_path && role_allows(*role, Action::ManageOrgs)
            }
            (_, None) => false,
        });
        if from_above {
            Decision::Allowed
        } else {
            Decision::Forbidden(
                "Only a superior org's administrator may change this org's domain or kind.",
            )
        }
    }

    /// An observer (上级派员) of an org's session comes from above: a grant on a strict
    /// superior of the org, or an administrator. `self` are the candidate's grants.
    pub fn is_strict_superior_of(&self, org_path: &str) -> bool {
        self.0.iter().any(|g| match (&g.role, &g.org_path) {
            (_, Some(path)) => covers(path, org_path) && path != org_path,
            (Role::Admin, None) => true,
            (_, None) => false,
        })
    }

    /// A webhook subscription of the org at `org_path` exists, for the actor, only where the
    /// actor may manage subscriptions: anyone else is told nothing (404), like for a missing
    /// one, since its URL and events are the subscriber's business.
    pub fn decide_webhook(&self, org_path: &str) -> Decision {
        match self.decide(Action::ManageWebhooks, org_path) {
            Decision::Allowed => Decision::Allowed,
            _ => Decision::Hidden,
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

    /// Reading the audit log at all: only with the right to read it somewhere (an org admin
    /// grant, or an administrator); each event then needs it on the event's org.
    pub fn decide_audit_log(&self) -> Decision {
        Decision::allowed_if(self.scope_for(Action::ReadAudit) != Scope::Subtrees(vec![]))
    }

    /// Placing an org under a superior (creating it there, moving it there) is managing the
    /// superior's tree; a root (no superior) is the administrators'.
    pub fn decide_place_under(&self, parent_path: Option<&str>) -> Decision {
        match parent_path {
            Some(path) => self.decide(Action::ManageOrgs, path),
            None => self.decide_global(),
        }
    }

    /// Taking a visible org out of its superior's tree (archiving or moving it) needs the
    /// right to manage the superior (administrators for a root). Asked once the org is
    /// known to be visible, so a refusal is forbidden even when the superior is out of sight.
    pub fn decide_take_from(&self, parent_path: Option<&str>) -> Decision {
        Decision::allowed_if(match parent_path {
            Some(path) => self.allows(Action::ManageOrgs, path),
            None => self.is_admin(),
        })
    }
}

/// How much of a closed session's results an actor sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionResultsView {
    /// Every subject, with per-criterion counts and the k-anonymous categories.
    Full,
    /// Only the subjects that rate the actor themselves (a member's own figures).
    Own,
}

/// How much of a campaign's roll-up and rankings an actor sees at an org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignResultsView {
    /// Roll-up, rankings and coverage of the org's subtree.
    Full,
    /// Published (通报) to the actor: roll-up and rankings, never coverage, categories or
    /// per-criterion counts.
    Published,
}

impl Grants {
    /// A closed session's results at the org at `org_path`: those who read results there
    /// (admins, org admins, secretaries, observers, integrations of the subtree) see all of
    /// them; anyone else who sees the org sees only the subjects that rate themselves; the
    /// rest are told nothing (404).
    pub fn decide_session_results(&self, org_path: &str) -> Result<SessionResultsView, Decision> {
        match self.decide(Action::ReadResults, org_path) {
            Decision::Allowed => Ok(SessionResultsView::Full),
            Decision::Forbidden(_) => Ok(SessionResultsView::Own),
            Decision::Hidden => Err(Decision::Hidden),
        }
    }

    /// A campaign's roll-up or rankings at the org at `org_path`, inside the campaign owned
    /// at `owner_path`. Those who read results at the org see them in full; once the
    /// campaign is published, everyone holding a grant inside one of the publishing scope's
    /// subtrees (`published_to`) sees them too. Others who see the campaign are forbidden
    /// at its owner and at the orgs they see; every other org is hidden, as is everything
    /// of a campaign the actor does not see.
    pub fn decide_campaign_results(
        &self,
        org_path: &str,
        owner_path: &str,
        published_to: Option<&[String]>,
    ) -> Result<CampaignResultsView, Decision> {
        if self.allows(Action::ReadResults, org_path) {
            return Ok(CampaignResultsView::Full);
        }
        let campaign_visible = self.decide_owned(Action::Read, owner_path).is_allowed();
        let published =
            published_to.is_some_and(|scope| scope.iter().any(|path| self.holds_within(path)));
        match (campaign_visible, published) {
            (true, true) => Ok(CampaignResultsView::Published),
            (true, false) if org_path == owner_path || self.can_see(org_path) => Err(
                Decision::Forbidden("The results of this campaign are not published to you."),
            ),
            _ => Err(Decision::Hidden),
        }
    }

    /// The highest org inside the campaign owned at `owner_path` where the actor reads
    /// results: the owner itself, or the shallowest of the actor's own grants below it.
    pub fn results_root(&self, owner_path: &str) -> Option<String> {
        if self.allows(Action::ReadResults, owner_path) {
            return Some(owner_path.to_owned());
        }
        self.0
            .iter()
            .filter(|g| role_allows(g.role, Action::ReadResults))
            .filter_map(|g| g.org_path.as_deref())
            .filter(|path| covers(owner_path, path))
            .min_by_key(|path| (path.matches('/').count(), *path))
            .map(str::to_owned)
    }
}

impl Grants {
    /// Grants of `roles` on a strict ancestor of the org at `org_path` (or an administrator).
    fn holds_above(&self, org_path: &str, roles: &[Role]) -> bool {
        self.0.iter().any(|g| match (&g.role, &g.org_path) {
            (Role::Admin, _) => true,
            (role, Some(path)) => {
                roles.contains(role) && covers(path, org_path) && path != org_path
            }
            (_, None) => false,
        })
    }

    /// Signing off (verifying or returning) a rectification item of the org at `org_path`:
    /// an org admin or observer of a strict ancestor, never the org itself (asked once the
    /// item is known to be visible).
    pub fn decide_sign_off(&self, org_path: &str) -> Decision {
        self.decide_from_above(
            org_path,
            "An org never signs off its own items: an administrator or observer of a superior org does.",
        )
    }

    /// A leader comment (领导点评) on a session of the org at `org_path`: by an org admin or
    /// observer of a strict ancestor (the superior's delegate), never the org itself.
    pub fn decide_leader_comment(&self, org_path: &str) -> Decision {
        if !self.can_see(org_path) {
            return Decision::Hidden;
        }
        self.decide_from_above(
            org_path,
            "Leader comments come from a superior org: its administrator or observer.",
        )
    }

    /// Deciding an appeal against a bad review of the org at `org_path` (申诉复核): an org
    /// admin of a strict ancestor (or an administrator), never the org that appealed nor an
    /// observer (asked once the case is known to be visible).
    pub fn decide_appeal_decision(&self, org_path: &str) -> Decision {
        if self.holds_above(org_path, &[Role::OrgAdmin]) {
            Decision::Allowed
        } else {
            Decision::Forbidden(
                "An appeal is decided by an administrator of a superior org, never by the org itself.",
            )
        }
    }

    fn decide_from_above(&self, org_path: &str, why: &'static str) -> Decision {
        if self.holds_above(org_path, &[Role::OrgAdmin, Role::Observer]) {
            Decision::Allowed
        } else {
            Decision::Forbidden(why)
        }
    }

    /// Changing the problem of an item once it has been submitted: from above only, so the
    /// org (and the rated secretary) cannot rewrite what it is answering for.
    pub fn decide_problem_change(&self, org_path: &str, submitted_once: bool) -> Decision {
        if !submitted_once || self.holds_above(org_path, &[Role::OrgAdmin, Role::Secretary]) {
            Decision::Allowed
        } else {
            Decision::Forbidden("Once submitted, only a superior org changes the problem.")
        }
    }

    /// A record of the org at `org_path` (a rectification item, a document, a leader comment,
    /// a commitment, a report): those who read results there see it (its secretary and org
    /// admins, those above, observers and integrations); anyone else who sees the org sees
    /// only the records about themselves (`about_self`).
    pub fn decide_record_read(&self, org_path: &str, about_self: bool) -> Decision {
        match self.decide(Action::ReadResults, org_path) {
            Decision::Allowed => Decision::Allowed,
            Decision::Forbidden(_) if about_self => Decision::Allowed,
            _ => Decision::Hidden,
        }
    }

    /// Writing a record of the org at `org_path`: those who keep its records, or a member
    /// writing their own (`about_self`: their summary, their commitment).
    pub fn decide_record_write(&self, org_path: &str, about_self: bool) -> Decision {
        match self.decide(Action::Record, org_path) {
            Decision::Forbidden(_) if about_self => Decision::Allowed,
            decision => decision,
        }
    }

    /// Marking a commitment of the org at `org_path` kept or not (asked once it is known to
    /// be visible). Nobody checks their own: an org's own commitment is checked from above
    /// (an org admin or observer of a strict ancestor, as for rectification sign-off); a
    /// member's by those who keep the org's records, never by that member.
    pub fn decide_commitment_check(&self, org_path: &str, made_by: CommitmentBy) -> Decision {
        match made_by {
            CommitmentBy::Org => self.decide_from_above(
                org_path,
                "An org's own commitments are checked from above: an administrator or observer of a superior org.",
            ),
            CommitmentBy::Member { actor_is_member } => {
                match self.decide(Action::Record, org_path) {
                    Decision::Allowed if actor_is_member => {
                        Decision::Forbidden("Nobody marks their own commitment kept.")
                    }
                    decision => decision,
                }
            }
        }
    }

    /// Answering a superior's report request for the org at `org_path`: that org's own
    /// org admins and secretaries (a grant on the org itself, not from above: the superior
    /// does not write its children's reports), or an administrator.
    pub fn decide_report_submission(&self, org_path: &str) -> Decision {
        if !self.can_see(org_path) {
            return Decision::Hidden;
        }
        let own = self.0.iter().any(|g| match (&g.role, &g.org_path) {
            (Role::Admin, _) => true,
            (Role::OrgAdmin | Role::Secretary, Some(path)) => path == org_path,
            _ => false,
        });
        if own {
            Decision::Allowed
        } else {
            Decision::Forbidden(
                "A report is submitted by the org's own administrator or secretary.",
            )
        }
    }

    /// The free-text opinions of a session at the org at `org_path`: its org admins and
    /// those above (org admins of ancestors, observers from above).
    pub fn decide_opinions(&self, org_path: &str) -> Decision {
        if !self.can_see(org_path) {
            return Decision::Hidden;
        }
        let org_admin = self
            .covering(org_path)
            .any(|g| matches!(g.role, Role::Admin | Role::OrgAdmin));
        Decision::allowed_if(org_admin || self.holds_above(org_path, &[Role::Observer]))
    }
}

impl Grants {
    /// One opinion, by id: those who list the session's opinions; to anyone else it is not
    /// there (an id alone tells nothing, not even that it exists).
    pub fn decide_opinion_read(&self, org_path: &str) -> Decision {
        match self.decide_opinions(org_path) {
            Decision::Allowed => Decision::Allowed,
            _ => Decision::Hidden,
        }
    }
}

/// Who made a commitment (公开承诺), for deciding who checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitmentBy {
    /// The org itself.
    Org,
    /// One of its members; `actor_is_member`: the actor is that member.
    Member { actor_is_member: bool },
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

/// Changing a document (self-inspection, duty report, member summary): only its author,
/// whatever else the actor may do (asked once they may write the org's records).
pub fn decide_document_edit(is_author: bool) -> Decision {
    if is_author {
        Decision::Allowed
    } else {
        Decision::Forbidden("Only its author changes a document.")
    }
}

/// Changing a session's subjects: nobody removes or changes the subject that rates
/// themselves (a rated secretary cannot take themselves off the ballot), whatever their
/// grants. `actor_person` is the person the actor's account is linked to.
pub fn decide_subject_change(actor_person: Option<i64>, subject_person: Option<i64>) -> Decision {
    match (actor_person, subject_person) {
        (Some(a), Some(s)) if a == s => {
            Decision::Forbidden("Nobody may change the subject that rates themselves.")
        }
        _ => Decision::Allowed,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nobody_changes_the_subject_rating_themselves() {
        assert!(matches!(
            decide_subject_change(Some(3), Some(3)),
            Decision::Forbidden(_)
        ));
        assert_eq!(decide_subject_change(Some(3), Some(4)), Decision::Allowed);
        assert_eq!(decide_subject_change(Some(3), None), Decision::Allowed);
        assert_eq!(decide_subject_change(None, Some(3)), Decision::Allowed);
    }

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
    fn webhooks_are_managed_by_org_admins_and_integrations_and_hidden_from_others() {
        for role in [Role::OrgAdmin, Role::Integration] {
            let g = Grants(vec![grant(role, Some(SCHOOL))]);
            assert_eq!(g.decide_webhook(SCHOOL), Decision::Allowed, "{role}");
            assert_eq!(g.decide_webhook(BRANCH), Decision::Allowed, "{role}");
            assert_eq!(g.decide_webhook(CITY), Decision::Hidden, "{role}");
            assert_eq!(g.decide_webhook(SIBLING_SCHOOL), Decision::Hidden, "{role}");
        }
        for role in [Role::Secretary, Role::Observer, Role::Member] {
            let g = Grants(vec![grant(role, Some(SCHOOL))]);
            assert_eq!(g.decide_webhook(SCHOOL), Decision::Hidden, "{role}");
        }
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert_eq!(admin.decide_webhook(SIBLING_BRANCH), Decision::Allowed);
    }

    #[test]
    fn a_subscription_receives_only_its_own_subtree() {
        assert!(subscription_receives(SCHOOL, SCHOOL));
        assert!(subscription_receives(SCHOOL, BRANCH));
        assert!(!subscription_receives(SCHOOL, CITY));
        assert!(!subscription_receives(SCHOOL, SIBLING_BRANCH));
        assert!(!subscription_receives("/1/2/", LOOKALIKE));
    }

    #[test]
    fn session_results_are_whole_for_readers_and_own_for_members() {
        for role in [
            Role::OrgAdmin,
            Role::Secretary,
            Role::Observer,
            Role::Integration,
        ] {
            let g = Grants(vec![grant(role, Some(SCHOOL))]);
            assert_eq!(
                g.decide_session_results(BRANCH),
                Ok(SessionResultsView::Full),
                "{role}"
            );
            assert_eq!(
                g.decide_session_results(SIBLING_BRANCH),
                Err(Decision::Hidden)
            );
            assert_eq!(
                g.decide_session_results(CITY),
                Err(Decision::Hidden),
                "never above"
            );
        }
        let member = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert_eq!(
            member.decide_session_results(BRANCH),
            Ok(SessionResultsView::Own)
        );
        assert_eq!(
            member.decide_session_results(SIBLING_BRANCH),
            Err(Decision::Hidden)
        );
    }

    #[test]
    fn campaign_results_follow_the_tree_and_the_publication() {
        let published = vec![SIBLING_SCHOOL.to_owned()];
        let district = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert_eq!(
            district.decide_campaign_results(SCHOOL, CITY, None),
            Ok(CampaignResultsView::Full)
        );
        assert_eq!(
            district.decide_campaign_results(SIBLING_SCHOOL, CITY, None),
            Err(Decision::Hidden),
            "another district is out of sight"
        );
        assert!(matches!(
            district.decide_campaign_results(CITY, CITY, None),
            Err(Decision::Forbidden(_))
        ));
        // Members inside the publishing scope see it, wherever they ask in the campaign.
        let inside = Grants(vec![grant(Role::Member, Some(SIBLING_BRANCH))]);
        assert!(matches!(
            inside.decide_campaign_results(CITY, CITY, None),
            Err(Decision::Forbidden(_))
        ));
        for at in [CITY, SCHOOL] {
            assert_eq!(
                inside.decide_campaign_results(at, CITY, Some(&published)),
                Ok(CampaignResultsView::Published)
            );
        }
        let outside = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert!(matches!(
            outside.decide_campaign_results(CITY, CITY, Some(&published)),
            Err(Decision::Forbidden(_))
        ));
        assert_eq!(
            outside.decide_campaign_results(SIBLING_SCHOOL, CITY, Some(&published)),
            Err(Decision::Hidden)
        );
        // Nothing of a campaign the actor does not see.
        let stranger = Grants(vec![grant(Role::OrgAdmin, Some("/77/"))]);
        assert_eq!(
            stranger.decide_campaign_results(CITY, CITY, Some(&published)),
            Err(Decision::Hidden)
        );
    }

    #[test]
    fn the_results_root_is_the_owner_or_the_highest_own_grant_below_it() {
        let city = Grants(vec![grant(Role::Observer, Some(CITY))]);
        assert_eq!(city.results_root(CITY).as_deref(), Some(CITY));
        let two = Grants(vec![
            grant(Role::Secretary, Some(BRANCH)),
            grant(Role::OrgAdmin, Some(SIBLING_SCHOOL)),
        ]);
        assert_eq!(two.results_root(CITY).as_deref(), Some(SIBLING_SCHOOL));
        let member = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert_eq!(member.results_root(CITY), None);
        assert_eq!(two.results_root(SCHOOL).as_deref(), Some(BRANCH));
    }

    #[test]
    fn only_a_strict_superior_signs_off_rectification_items() {
        for role in [Role::OrgAdmin, Role::Observer] {
            let above = Grants(vec![grant(role, Some(SCHOOL))]);
            assert!(
                above.decide_sign_off(BRANCH).is_allowed(),
                "{role} from above"
            );
            assert!(
                !above.decide_sign_off(SCHOOL).is_allowed(),
                "{role} of the org itself"
            );
        }
        for role in [Role::Secretary, Role::Member, Role::Integration] {
            let above = Grants(vec![grant(role, Some(SCHOOL))]);
            assert!(!above.decide_sign_off(BRANCH).is_allowed(), "{role}");
        }
        assert!(Grants(vec![grant(Role::Admin, None)])
            .decide_sign_off(CITY)
            .is_allowed());
    }

    #[test]
    fn the_org_does_not_rewrite_a_submitted_problem() {
        let own = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert!(own.decide_problem_change(BRANCH, false).is_allowed());
        assert!(!own.decide_problem_change(BRANCH, true).is_allowed());
        let above = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(above.decide_problem_change(BRANCH, true).is_allowed());
    }

    #[test]
    fn members_read_only_items_about_themselves() {
        let member = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert!(member.decide_record_read(BRANCH, true).is_allowed());
        assert_eq!(member.decide_record_read(BRANCH, false), Decision::Hidden);
        assert_eq!(
            member.decide_record_read(SIBLING_BRANCH, true),
            Decision::Hidden
        );
        let secretary = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert!(secretary.decide_record_read(BRANCH, false).is_allowed());
    }

    #[test]
    fn opinions_are_read_by_the_orgs_admins_and_from_above() {
        let org_admin = Grants(vec![grant(Role::OrgAdmin, Some(BRANCH))]);
        assert!(org_admin.decide_opinions(BRANCH).is_allowed());
        let observer_above = Grants(vec![grant(Role::Observer, Some(SCHOOL))]);
        assert!(observer_above.decide_opinions(BRANCH).is_allowed());
        let own_observer = Grants(vec![grant(Role::Observer, Some(BRANCH))]);
        assert!(matches!(
            own_observer.decide_opinions(BRANCH),
            Decision::Forbidden(_)
        ));
        let secretary = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert!(matches!(
            secretary.decide_opinions(BRANCH),
            Decision::Forbidden(_)
        ));
        assert_eq!(secretary.decide_opinions(SIBLING_BRANCH), Decision::Hidden);
    }

    #[test]
    fn only_a_superior_changes_an_orgs_domain_or_kind() {
        let own = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(!own.decide_org_profile(SCHOOL).is_allowed(), "its own org");
        assert!(own.decide_org_profile(BRANCH).is_allowed(), "an org below");
        let secretary_above = Grants(vec![grant(Role::Secretary, Some(CITY))]);
        assert!(!secretary_above.decide_org_profile(SCHOOL).is_allowed());
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.decide_org_profile(CITY).is_allowed());
    }

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
        assert!(secretary.allows(Action::Read, BRANCH));
        assert_eq!(
            secretary.decide(Action::ManageOrgs, BRANCH),
            Decision::FORBIDDEN
        );
        assert_eq!(
            secretary.decide(Action::Read, SIBLING_BRANCH),
            Decision::Hidden
        );
        assert_eq!(secretary.decide(Action::Read, SCHOOL), Decision::Hidden);
        let org_admin = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(org_admin.allows(Action::ManageOrgs, BRANCH));
        assert!(org_admin.allows(Action::ReadAudit, SCHOOL));
        assert!(org_admin.allows(Action::RunSessions, BRANCH));
        assert!(secretary.allows(Action::RunSessions, BRANCH));
        assert_eq!(
            secretary.decide(Action::ManageCampaigns, BRANCH),
            Decision::FORBIDDEN
        );
        let observer = Grants(vec![grant(Role::Observer, Some(SCHOOL))]);
        assert_eq!(
            observer.decide(Action::RunSessions, BRANCH),
            Decision::FORBIDDEN
        );
        assert_eq!(org_admin.decide(Action::ManageOrgs, CITY), Decision::Hidden);
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.allows(Action::ManageOrgs, SIBLING_BRANCH));
        assert!(admin.decide_global().is_allowed());
        assert_eq!(org_admin.decide_global(), Decision::FORBIDDEN);
    }

    #[test]
    fn nobody_grants_what_they_do_not_hold() {
        let org_admin = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(org_admin.allows(Action::Grant(Role::Secretary), BRANCH));
        assert!(org_admin.allows(Action::Grant(Role::OrgAdmin), BRANCH));
        assert_eq!(
            org_admin.decide(Action::Grant(Role::Admin), BRANCH),
            Decision::FORBIDDEN
        );
        assert_eq!(
            org_admin.decide(Action::Grant(Role::Integration), BRANCH),
            Decision::FORBIDDEN
        );
        assert_eq!(
            org_admin.decide(Action::Grant(Role::Secretary), SIBLING_BRANCH),
            Decision::Hidden
        );
        let secretary = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert_eq!(
            secretary.decide(Action::Grant(Role::Secretary), BRANCH),
            Decision::FORBIDDEN
        );
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.allows(Action::Grant(Role::Admin), CITY));
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
    fn owned_things_are_seen_from_above_and_below_but_changed_from_above() {
        let below = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert_eq!(below.decide_owned(Action::Read, SCHOOL), Decision::Allowed);
        assert_eq!(
            below.decide_owned(Action::ManageCampaigns, SCHOOL),
            Decision::FORBIDDEN,
            "seen through a grant below the owner: 403, not 404"
        );
        assert_eq!(
            below.decide_owned(Action::Read, SIBLING_SCHOOL),
            Decision::Hidden
        );
        assert_eq!(
            below.decide_owned(Action::Read, LOOKALIKE),
            Decision::Hidden
        );
        let owner = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(owner
            .decide_owned(Action::ManageCampaigns, SCHOOL)
            .is_allowed());
        assert!(owner
            .decide_owned(Action::ManageCampaigns, BRANCH)
            .is_allowed());
        assert_eq!(
            owner.decide_owned(Action::ManageCampaigns, CITY),
            Decision::FORBIDDEN
        );
        let observer = Grants(vec![grant(Role::Observer, Some(SCHOOL))]);
        assert_eq!(
            observer.decide_owned(Action::ManageCampaigns, SCHOOL),
            Decision::FORBIDDEN
        );
    }

    #[test]
    fn the_builtin_template_is_read_by_all_and_changed_by_none() {
        let admin = Grants(vec![grant(Role::Admin, None)]);
        let member = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert!(member.decide_template(Action::Read, None).is_allowed());
        assert!(matches!(
            admin.decide_template(Action::ManageCampaigns, None),
            Decision::Forbidden(_)
        ));
        assert_eq!(
            member.decide_template(Action::Read, Some(SIBLING_SCHOOL)),
            Decision::Hidden
        );
        assert!(member
            .decide_template(Action::Read, Some(CITY))
            .is_allowed());
    }

    #[test]
    fn orgs_above_grants_are_every_id_on_their_paths() {
        let g = Grants(vec![
            grant(Role::Secretary, Some(BRANCH)),
            grant(Role::Observer, Some(SIBLING_SCHOOL)),
        ]);
        assert_eq!(g.orgs_at_or_above_grants(), vec![1, 2, 3, 5]);
        assert!(Grants(vec![grant(Role::Admin, None)])
            .orgs_at_or_above_grants()
            .is_empty());
    }

    #[test]
    fn accounts_are_read_by_their_owner_and_managed_from_their_home() {
        let org_admin = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(org_admin
            .decide_account(Action::ManageUsers, false, Some(BRANCH))
            .is_allowed());
        assert_eq!(
            org_admin.decide_account(Action::ManageUsers, false, Some(SIBLING_BRANCH)),
            Decision::Hidden
        );
        assert_eq!(
            org_admin.decide_account(Action::Read, false, None),
            Decision::Hidden,
            "administrators' accounts are invisible to org admins"
        );
        let secretary = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert!(secretary
            .decide_account(Action::Read, true, Some(SCHOOL))
            .is_allowed());
        assert_eq!(
            secretary.decide_account(Action::ManageUsers, true, Some(SCHOOL)),
            Decision::FORBIDDEN,
            "one's own account is never 404"
        );
        assert_eq!(
            secretary.decide_account(Action::ManageUsers, true, Some(BRANCH)),
            Decision::FORBIDDEN
        );
        assert_eq!(
            secretary.decide_account(Action::ManageUsers, true, None),
            Decision::FORBIDDEN
        );
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin
            .decide_account(Action::ManageUsers, false, None)
            .is_allowed());
    }

    #[test]
    fn taking_over_an_account_needs_every_role_it_holds() {
        let org_admin = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(org_admin
            .decide_takeover([
                (Role::Secretary, Some(BRANCH)),
                (Role::OrgAdmin, Some(SCHOOL))
            ])
            .is_allowed());
        assert!(matches!(
            org_admin.decide_takeover([
                (Role::Secretary, Some(BRANCH)),
                (Role::OrgAdmin, Some(CITY))
            ]),
            Decision::Forbidden(_)
        ));
        assert!(matches!(
            org_admin.decide_takeover([(Role::Admin, None)]),
            Decision::Forbidden(_)
        ));
        assert!(matches!(
            org_admin.decide_takeover([(Role::Integration, Some(BRANCH))]),
            Decision::Forbidden(_)
        ));
        assert!(org_admin.decide_takeover([]).is_allowed());
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.decide_takeover([(Role::Admin, None)]).is_allowed());
    }

    #[test]
    fn observers_come_from_strictly_above() {
        let school_observer = Grants(vec![grant(Role::Observer, Some(SCHOOL))]);
        assert!(school_observer.is_strict_superior_of(BRANCH));
        assert!(
            !school_observer.is_strict_superior_of(SCHOOL),
            "not the org itself"
        );
        assert!(!school_observer.is_strict_superior_of(SIBLING_BRANCH));
        assert!(!school_observer.is_strict_superior_of(CITY));
        assert!(Grants(vec![grant(Role::Admin, None)]).is_strict_superior_of(BRANCH));
        assert!(!Grants(vec![]).is_strict_superior_of(BRANCH));
    }

    #[test]
    fn decisions_become_404_and_403() {
        assert!(Decision::Allowed.check().is_ok());
        assert_eq!(Decision::Hidden.check().unwrap_err().status, 404);
        assert_eq!(Decision::FORBIDDEN.check().unwrap_err().status, 403);
    }

    #[test]
    fn the_audit_log_is_read_by_org_admins_and_administrators() {
        assert!(Grants(vec![grant(Role::OrgAdmin, Some(BRANCH))])
            .decide_audit_log()
            .is_allowed());
        assert!(Grants(vec![grant(Role::Admin, None)])
            .decide_audit_log()
            .is_allowed());
        for role in [
            Role::Secretary,
            Role::Observer,
            Role::Member,
            Role::Integration,
        ] {
            assert_eq!(
                Grants(vec![grant(role, Some(SCHOOL))]).decide_audit_log(),
                Decision::FORBIDDEN,
                "{role}"
            );
        }
        assert_eq!(Grants(vec![]).decide_audit_log(), Decision::FORBIDDEN);
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

    #[test]
    fn placing_and_taking_orgs_needs_the_superior() {
        let org_admin = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(org_admin.decide_place_under(Some(SCHOOL)).is_allowed());
        assert_eq!(org_admin.decide_place_under(Some(CITY)), Decision::Hidden);
        assert_eq!(org_admin.decide_place_under(None), Decision::FORBIDDEN);
        assert!(org_admin.decide_take_from(Some(SCHOOL)).is_allowed());
        // The school itself is visible, its superior is not: taking it away is forbidden.
        assert_eq!(org_admin.decide_take_from(Some(CITY)), Decision::FORBIDDEN);
        assert_eq!(org_admin.decide_take_from(None), Decision::FORBIDDEN);
        let secretary = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert_eq!(
            secretary.decide_place_under(Some(BRANCH)),
            Decision::FORBIDDEN
        );
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.decide_place_under(None).is_allowed());
        assert!(admin.decide_take_from(None).is_allowed());
    }

    #[test]
    fn records_are_read_by_the_org_and_above_and_by_whom_they_are_about() {
        for role in [Role::OrgAdmin, Role::Secretary, Role::Observer] {
            let own = Grants(vec![grant(role, Some(BRANCH))]);
            assert!(own.decide_record_read(BRANCH, false).is_allowed(), "{role}");
            let above = Grants(vec![grant(role, Some(SCHOOL))]);
            assert!(
                above.decide_record_read(BRANCH, false).is_allowed(),
                "{role}"
            );
            assert_eq!(
                own.decide_record_read(SCHOOL, false),
                Decision::Hidden,
                "{role}: never above"
            );
            assert_eq!(
                above.decide_record_read(SIBLING_BRANCH, false),
                Decision::Hidden
            );
        }
        let member = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert_eq!(member.decide_record_read(BRANCH, false), Decision::Hidden);
        assert!(member.decide_record_read(BRANCH, true).is_allowed());
    }

    #[test]
    fn records_are_written_by_the_org_and_above_and_a_member_writes_their_own() {
        for role in [Role::OrgAdmin, Role::Secretary] {
            let own = Grants(vec![grant(role, Some(BRANCH))]);
            assert!(
                own.decide_record_write(BRANCH, false).is_allowed(),
                "{role}"
            );
            assert_eq!(
                own.decide_record_write(SIBLING_BRANCH, false),
                Decision::Hidden
            );
        }
        let observer = Grants(vec![grant(Role::Observer, Some(SCHOOL))]);
        assert!(matches!(
            observer.decide_record_write(BRANCH, false),
            Decision::Forbidden(_)
        ));
        let member = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert!(member.decide_record_write(BRANCH, true).is_allowed());
        assert!(matches!(
            member.decide_record_write(BRANCH, false),
            Decision::Forbidden(_)
        ));
        assert_eq!(
            member.decide_record_write(SIBLING_BRANCH, true),
            Decision::Hidden
        );
    }

    #[test]
    fn leader_comments_come_only_from_a_strict_superior() {
        for role in [Role::OrgAdmin, Role::Observer] {
            let above = Grants(vec![grant(role, Some(SCHOOL))]);
            assert!(above.decide_leader_comment(BRANCH).is_allowed(), "{role}");
            assert!(
                matches!(above.decide_leader_comment(SCHOOL), Decision::Forbidden(_)),
                "{role} of the org itself"
            );
            assert_eq!(
                above.decide_leader_comment(SIBLING_BRANCH),
                Decision::Hidden
            );
        }
        let secretary_above = Grants(vec![grant(Role::Secretary, Some(SCHOOL))]);
        assert!(matches!(
            secretary_above.decide_leader_comment(BRANCH),
            Decision::Forbidden(_)
        ));
    }

    #[test]
    fn only_the_author_changes_a_document() {
        assert_eq!(decide_document_edit(true), Decision::Allowed);
        assert!(matches!(
            decide_document_edit(false),
            Decision::Forbidden(_)
        ));
    }

    #[test]
    fn nobody_marks_their_own_commitment() {
        let other = CommitmentBy::Member {
            actor_is_member: false,
        };
        let own = CommitmentBy::Member {
            actor_is_member: true,
        };
        let secretary = Grants(vec![grant(Role::Secretary, Some(BRANCH))]);
        assert!(secretary
            .decide_commitment_check(BRANCH, other)
            .is_allowed());
        assert!(matches!(
            secretary.decide_commitment_check(BRANCH, own),
            Decision::Forbidden(_)
        ));
        let member = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert!(matches!(
            member.decide_commitment_check(BRANCH, other),
            Decision::Forbidden(_)
        ));
        // The org's own: never by the org itself, by its superior's admin or observer.
        for role in [Role::Secretary, Role::OrgAdmin] {
            let own_org = Grants(vec![grant(role, Some(BRANCH))]);
            assert!(
                matches!(
                    own_org.decide_commitment_check(BRANCH, CommitmentBy::Org),
                    Decision::Forbidden(_)
                ),
                "{role}"
            );
        }
        for role in [Role::OrgAdmin, Role::Observer] {
            let above = Grants(vec![grant(role, Some(SCHOOL))]);
            assert!(above
                .decide_commitment_check(BRANCH, CommitmentBy::Org)
                .is_allowed());
        }
    }

    #[test]
    fn a_report_is_submitted_by_the_child_itself() {
        for role in [Role::OrgAdmin, Role::Secretary] {
            let own = Grants(vec![grant(role, Some(BRANCH))]);
            assert!(own.decide_report_submission(BRANCH).is_allowed(), "{role}");
            let above = Grants(vec![grant(role, Some(SCHOOL))]);
            assert!(
                matches!(
                    above.decide_report_submission(BRANCH),
                    Decision::Forbidden(_)
                ),
                "{role} from above"
            );
        }
        let member = Grants(vec![grant(Role::Member, Some(BRANCH))]);
        assert!(matches!(
            member.decide_report_submission(BRANCH),
            Decision::Forbidden(_)
        ));
        let other = Grants(vec![grant(Role::Secretary, Some(SIBLING_BRANCH))]);
        assert_eq!(other.decide_report_submission(BRANCH), Decision::Hidden);
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.decide_report_submission(BRANCH).is_allowed());
    }

    #[test]
    fn appeals_are_decided_by_an_org_admin_from_above_only() {
        let above = Grants(vec![grant(Role::OrgAdmin, Some(SCHOOL))]);
        assert!(above.decide_appeal_decision(BRANCH).is_allowed());
        // The org's own administrator, a sibling's, an observer from above: never.
        for (role, path) in [
            (Role::OrgAdmin, BRANCH),
            (Role::OrgAdmin, SIBLING_SCHOOL),
            (Role::Observer, SCHOOL),
            (Role::Secretary, SCHOOL),
        ] {
            let g = Grants(vec![grant(role, Some(path))]);
            assert!(
                matches!(g.decide_appeal_decision(BRANCH), Decision::Forbidden(_)),
                "{role} at {path}"
            );
        }
        let admin = Grants(vec![grant(Role::Admin, None)]);
        assert!(admin.decide_appeal_decision(CITY).is_allowed());
    }

    #[test]
    fn tickets_are_issued_by_the_window_and_those_who_run_it() {
        for role in [
            Role::OrgAdmin,
            Role::Secretary,
            Role::Member,
            Role::Integration,
        ] {
            let g = Grants(vec![grant(role, Some(BRANCH))]);
            assert!(g.allows(Action::ServeWindow, BRANCH), "{role}");
            assert_eq!(
                g.decide(Action::ServeWindow, SIBLING_BRANCH),
                Decision::Hidden
            );
        }
        let observer = Grants(vec![grant(Role::Observer, Some(SCHOOL))]);
        assert!(matches!(
            observer.decide(Action::ServeWindow, BRANCH),
            Decision::Forbidden(_)
        ));
    }
}
