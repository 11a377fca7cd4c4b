//! The demo's campaign: the college's 2011 evaluation (创先争优群众评议), its branches'
//! meetings held and closed, so that a newcomer sees roll-ups, rankings and coverage at
//! once — a well-rated branch, a flagged one, one under k ballots and one never evaluated.

use chrono::{NaiveDate, TimeZone, Utc};

use super::evaluation::{self, ballot};
use crate::auth::Actor;
use crate::ballots::model::ParticipantCategory::{
    self, Deputy, MassRepresentative, PartyMember, ServiceRecipient,
};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::rectifications::items;
use crate::rectifications::model::NoteKind;
use crate::sessions::model::SessionKind;
use crate::templates::model::SubjectType;

pub const TITLE: &str = "2011年度创先争优群众评议(演示)";
const OWNER: &str = "DLVTC";
/// The branch rated under the line, with rectification items.
const FLAGGED: &str = "DLVTC-XX-01";

/// How a branch's meeting went: who came, and how each group rated.
struct Meeting {
    branch: &'static str,
    kind: SessionKind,
    groups: &'static [(ParticipantCategory, usize, Mood)],
}

#[derive(Clone, Copy)]
enum Mood {
    /// Mostly 满意, some 基本满意.
    Pleased,
    /// Split between 基本满意 and 满意.
    Lukewarm,
    /// Half 不满意.
    Unhappy,
}

const MEETINGS: [Meeting; 6] = [
    Meeting {
        branch: "DLVTC-JD-01",
        kind: SessionKind::BranchMeeting,
        groups: &[
            (PartyMember, 20, Mood::Pleased),
            (MassRepresentative, 10, Mood::Lukewarm),
        ],
    },
    Meeting {
        branch: "DLVTC-JD-02",
        kind: SessionKind::BranchMeeting,
        groups: &[
            (PartyMember, 12, Mood::Pleased),
            (MassRepresentative, 6, Mood::Pleased),
            (ServiceRecipient, 6, Mood::Lukewarm),
        ],
    },
    // Flagged: under the 0.8 line.
    Meeting {
        branch: FLAGGED,
        kind: SessionKind::BranchMeeting,
        groups: &[
            (PartyMember, 12, Mood::Unhappy),
            (MassRepresentative, 8, Mood::Unhappy),
        ],
    },
    // Three ballots: under k = 5, every figure withheld.
    Meeting {
        branch: "DLVTC-XX-02",
        kind: SessionKind::BranchMeeting,
        groups: &[(PartyMember, 3, Mood::Pleased)],
    },
    // Scheduled and never held: missing from the coverage.
    Meeting {
        branch: "DLVTC-JG-01",
        kind: SessionKind::BranchMeeting,
        groups: &[],
    },
    // The service centre is a window unit: those it serves rate it.
    Meeting {
        branch: "DLVTC-HQ",
        kind: SessionKind::WindowUnit,
        groups: &[
            (ServiceRecipient, 10, Mood::Lukewarm),
            (PartyMember, 8, Mood::Pleased),
            (Deputy, 3, Mood::Pleased),
        ],
    },
];

/// The level voter `voter` of a group gives on criterion `c` of the subject at `position`;
/// every fifth voter skips the members after the third.
fn level(mood: Mood, voter: usize, position: usize, c: usize) -> Option<&'static str> {
    if voter % 5 == 4 && position > 3 {
        return None;
    }
    let turn = voter + position + c;
    Some(match mood {
        Mood::Pleased if turn % 6 == 0 => "basically_satisfied",
        Mood::Pleased => "satisfied",
        Mood::Lukewarm if turn % 2 == 0 => "basically_satisfied",
        Mood::Lukewarm => "satisfied",
        Mood::Unhappy if turn % 2 == 0 => "dissatisfied",
        Mood::Unhappy if turn % 3 == 0 => "basically_satisfied",
        Mood::Unhappy => "satisfied",
    })
}

/// Loads the campaign unless it is there already; whether it was loaded.
pub fn load(conn: &mut DbConn, admin: &Actor) -> ApiResult<bool> {
    let owner = super::org_by_external_id(conn, OWNER)?;
    if super::queries::campaign_titled(conn, owner.id, TITLE)? {
        return Ok(false);
    }
    let day = |m, d| NaiveDate::from_ymd_opt(2011 + i32::from(m == 1), m, d);
    let (Some(starts_on), Some(ends_on)) = (day(12, 28), day(1, 9)) else {
        return Err(ApiError::internal("the demo's dates"));
    };
    let campaign = evaluation::active_campaign(conn, &owner, TITLE, starts_on, ends_on)?;
    let frozen = crate::campaigns::queries::find(conn, campaign)?
        .frozen()?
        .ok_or_else(|| ApiError::internal("the demo campaign was not activated"))?;
    let held_at = Utc
        .with_ymd_and_hms(2012, 1, 5, 6, 30, 0)
        .single()
        .ok_or_else(|| ApiError::internal("the demo's meeting time"))?;
    for meeting in &MEETINGS {
        let org = super::org_by_external_id(conn, meeting.branch)?;
        let session = evaluation::schedule(conn, campaign, &org, meeting.kind, held_at)?;
        if meeting.branch == super::records::BRANCH {
            super::records::before_the_meeting(conn, campaign, session)?;
        }
        if meeting.groups.is_empty() {
            continue;
        }
        let template = frozen.for_domain(org.domain);
        let subjects: Vec<(i64, SubjectType)> = crate::results::queries::subjects(conn, session)?
            .into_iter()
            .map(|s| (s.id, s.subject_type))
            .collect();
        evaluation::open(conn, session)?;
        for &(category, count, mood) in meeting.groups {
            let ballots: Vec<_> = (0..count)
                .map(|voter| ballot(template, &subjects, |p, _, c| level(mood, voter, p, c)))
                .collect();
            evaluation::write_ballots(conn, session, category, &ballots)?;
        }
        evaluation::close(conn, session)?;
        if meeting.branch == FLAGGED {
            rectify(conn, admin, session)?;
        }
    }
    super::instant::load(conn, ends_on)?;
    Ok(true)
}

/// The flagged branch's items: one in progress, one verified by the college.
fn rectify(conn: &mut DbConn, admin: &Actor, session: i64) -> ApiResult<()> {
    let generated = items::generate(conn, admin, session, None)?;
    let mut ids = generated.items.iter().map(|i| i.id);
    let (Some(first), Some(second)) = (ids.next(), ids.next()) else {
        return Err(ApiError::internal(
            "the demo's flagged branch has too few items",
        ));
    };
    let note = |text: &str| Some(text.to_owned());
    items::step(
        conn,
        admin,
        first,
        NoteKind::Progress,
        note("已召开支部委员会专题分析原因"),
    )?;
    items::step(
        conn,
        admin,
        second,
        NoteKind::Progress,
        note("已建立党员联系群众台账"),
    )?;
    items::step(
        conn,
        admin,
        second,
        NoteKind::Submit,
        note("整改措施已落实"),
    )?;
    items::step(
        conn,
        admin,
        second,
        NoteKind::Verify,
        note("经学院党委验收,整改到位"),
    )?;
    Ok(())
}
