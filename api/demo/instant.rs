//! The college's logistics service centre (a window unit) rated by those it served over the
//! campaign's last thirty days: two counters (one also rated from its poster), and three bad
//! reviews handled as a unit does — one followed up and resolved on time, one left overdue,
//! one appealed as unfounded and upheld by the college.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

use crate::auth::Actor;
use crate::calendar::queries::deadline;
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::instant::model::{
    AppealDecision, CaseStatus, CreatePoint, FollowUpResult, InstantLevel,
};
use crate::instant::queries::{self as instant, CaseChanges, NewCase, NewRating};
use crate::instant::rules::FOLLOW_UP_WORKING_DAYS;
use crate::orgs::model::OrgRow;
use crate::orgs::record;
use crate::types::now;

/// The window unit.
pub const DESK: &str = "DLVTC-HQ";

/// A good level for the `n`-th rating of the month: mostly 非常满意 and 满意.
fn good_level(n: usize) -> InstantLevel {
    match n % 10 {
        0..=4 => InstantLevel::VerySatisfied,
        5..=7 => InstantLevel::Satisfied,
        _ => InstantLevel::BasicallySatisfied,
    }
}

fn rating(
    point: i64,
    org: i64,
    day: NaiveDate,
    level: InstantLevel,
    verified: bool,
) -> NewRating<'static> {
    NewRating {
        point_id: point,
        org_id: org,
        day,
        level,
        verified,
        comment: None,
        items: &[],
    }
}

/// Loads the month ending on `last_day`.
pub fn load(conn: &mut DbConn, last_day: NaiveDate) -> ApiResult<()> {
    let org = super::org_by_external_id(conn, DESK)?;
    let desk = super::records::as_user(conn, "demo.desk")?;
    let college = super::records::as_user(conn, "demo.college")?;
    let point = |conn: &mut DbConn, name: &str, location: &str, open_rating: bool| {
        let body = CreatePoint {
            name: name.into(),
            location: location.into(),
            open_rating,
        };
        instant::insert_point(conn, org.id, &body, desk.user_id, now())
    };
    let counter = point(conn, "综合服务窗口", "后勤楼一楼大厅", false)?;
    let repairs = point(conn, "后勤报修窗口", "后勤楼一楼东侧", true)?;
    let mut n = 0;
    for back in 0..30 {
        let day = last_day - Duration::days(back);
        if day.weekday() == Weekday::Sun {
            continue;
        }
        for i in 0..(8 + back as usize % 5) {
            let at = if i % 3 == 2 { repairs } else { counter };
            instant::write_rating(conn, &rating(at, org.id, day, good_level(n), true))?;
            n += 1;
        }
        // The repairs counter's poster: a few ratings without a ticket, counted apart.
        if back % 4 == 0 {
            instant::write_rating(
                conn,
                &rating(repairs, org.id, day, good_level(n + 3), false),
            )?;
        }
    }
    bad_reviews(conn, &org, counter, repairs, last_day, &desk, &college)
}

/// Opens a case for a bad review left on `day`.
fn bad_review(
    conn: &mut DbConn,
    org: &OrgRow,
    point: i64,
    day: NaiveDate,
    comment: &'static str,
    contact: Option<&str>,
) -> ApiResult<i64> {
    let mut r = rating(point, org.id, day, InstantLevel::VeryDissatisfied, true);
    r.comment = Some(comment);
    let id = instant::write_rating(conn, &r)?;
    let follow_up_due_on = match contact {
        Some(_) => Some(deadline(conn, day, FOLLOW_UP_WORKING_DAYS)?),
        None => None,
    };
    let resolve_due_on = deadline(conn, day, 5)?;
    instant::insert_case(
        conn,
        &NewCase {
            rating_id: &id,
            rating: &r,
            contact: contact.map(str::to_owned),
            reply_key: None,
            follow_up_due_on,
            resolve_due_on,
        },
    )
}

/// A step taken on `day` by `actor`, audited as the handlers audit it.
fn step(
    conn: &mut DbConn,
    actor: &Actor,
    org: &OrgRow,
    case: i64,
    (from, to): (CaseStatus, CaseStatus),
    changes: CaseChanges,
    action: &str,
) -> ApiResult<()> {
    instant::move_case(conn, case, from, to, changes, now())?;
    let summary = format!("{action} of bad review case {case} of {}", org.name);
    record(conn, actor, action, ("instant_case", case), org.id, summary)
}

fn bad_reviews(
    conn: &mut DbConn,
    org: &OrgRow,
    counter: i64,
    repairs: i64,
    last_day: NaiveDate,
    desk: &Actor,
    college: &Actor,
) -> ApiResult<()> {
    use CaseStatus::*;
    // Followed up the next working day and resolved two days later: on time.
    let day = last_day - Duration::days(10);
    let resolved = bad_review(
        conn,
        org,
        counter,
        day,
        "报修三天没人来，打电话也没人接。",
        Some("13841000137"),
    )?;
    let follow_up = CaseChanges {
        follow_up_result: Some(FollowUpResult::Confirmed),
        follow_up_note: Some("已电话回访，报修单漏派，情况属实。".into()),
        followed_up_on: Some(deadline(conn, day, 1)?),
        ..Default::default()
    };
    step(
        conn,
        desk,
        org,
        resolved,
        (AwaitingFollowUp, InHandling),
        follow_up,
        "instant_case.follow_up",
    )?;
    let resolve = CaseChanges {
        measures: Some("建立报修单日清制度，报修电话设专人值守。".into()),
        reply: Some("您反映的问题属实，已当日上门维修，并建立报修单日清制度。感谢监督！".into()),
        resolved_on: Some(deadline(conn, day, 3)?),
        ..Default::default()
    };
    step(
        conn,
        desk,
        org,
        resolved,
        (InHandling, Resolved),
        resolve,
        "instant_case.resolve",
    )?;
    // Left without a contact and never resolved: overdue.
    bad_review(
        conn,
        org,
        repairs,
        last_day - Duration::days(9),
        "窗口人员态度生硬。",
        None,
    )?;
    // Appealed as unfounded; the college upheld the appeal, so it no longer counts.
    let day = last_day - Duration::days(7);
    let appealed = bad_review(conn, org, counter, day, "没给办。", None)?;
    let appeal = CaseChanges {
        appeal_reason: Some(
            "当日该窗口未受理此项业务，所需材料不全已一次性告知，监控可查。".into(),
        ),
        appealed_on: Some(deadline(conn, day, 1)?),
        ..Default::default()
    };
    step(
        conn,
        desk,
        org,
        appealed,
        (InHandling, Appealed),
        appeal,
        "instant_case.appeal",
    )?;
    let decide = CaseChanges {
        appeal_decision: Some(AppealDecision::Upheld),
        decision_note: Some("经调取监控核实，窗口已一次性告知所需材料，申诉成立。".into()),
        decided_on: Some(deadline(conn, day, 3)?),
        ..Default::default()
    };
    step(
        conn,
        college,
        org,
        appealed,
        (Appealed, Upheld),
        decide,
        "instant_case.uphold",
    )?;
    let rating = instant::rating_of_case(conn, appealed)?;
    instant::uncount_rating(conn, &rating)
}
