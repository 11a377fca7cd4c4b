//! Report requests (书面材料报送): a superior org asks each of its direct children for a
//! written report by a date; each child answers (and may answer again until the date);
//! whether each is submitted, late or missing is derived in China Standard Time.

use std::collections::HashMap;

use chrono::NaiveDate;

use super::model::*;
use super::queries::{self, Owner};
use super::rules;
use crate::auth::policy::covers;
use crate::auth::{Action, Actor};
use crate::campaigns::rules::CampaignStatus;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::http::{Page, PageQuery};
use crate::orgs::model::OrgRow;
use crate::orgs::record;
use crate::types::{local_date, local_today, now};

/// The path of a direct child, from its parent's path.
fn child_path(parent_path: &str, child_id: i64) -> String {
    format!("{parent_path}{child_id}/")
}

/// The request as the reader sees it: every child when they read the asking org's records,
/// else only the children whose records they read; `None` when they see none of it.
fn shown(
    conn: &mut DbConn,
    actor: &Actor,
    row: ReportRequestRow,
    from_path: &str,
) -> ApiResult<Option<ReportRequest>> {
    let whole = actor.may_read_record(from_path, false);
    let children: Vec<(i64, String)> = crate::orgs::queries::children(conn, row.from_org_id)?
        .into_iter()
        .filter(|(id, _)| whole || actor.may_read_record(&child_path(from_path, *id), false))
        .collect();
    if !whole && children.is_empty() {
        return Ok(None);
    }
    let mut submissions: HashMap<i64, SubmissionRow> = queries::submissions_of(conn, row.id)?
        .into_iter()
        .map(|s| (s.org_id, s))
        .collect();
    let children = children
        .into_iter()
        .map(|(org_id, name)| {
            let submission = submissions.remove(&org_id);
            ReportChild {
                org_id,
                name,
                status: rules::report_status(
                    submission.as_ref().map(|s| s.submitted_at),
                    row.due_on,
                ),
                submitted_at: submission.as_ref().map(|s| s.submitted_at.and_utc()),
                submission_id: submission.map(|s| s.id),
            }
        })
        .collect();
    Ok(Some(ReportRequest {
        id: row.id,
        campaign_id: row.campaign_id,
        from_org_id: row.from_org_id,
        title: row.title,
        body: row.body,
        due_on: row.due_on,
        created_by: row.created_by,
        created_at: row.created_at.and_utc(),
        children,
    }))
}

pub fn create(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
    body: &CreateReportRequest,
) -> ApiResult<ReportRequest> {
    let (campaign, owner) = crate::campaigns::authorized(conn, actor, campaign_id, Action::Read)?;
    let from = crate::orgs::queries::find_referenced(conn, actor, body.from_org_id, "from_org_id")?;
    if !covers(&owner.path, &from.path) {
        return Err(ApiError::field(
            "from_org_id",
            "is not in the campaign's tree",
        ));
    }
    actor.authorize(Action::ManageCampaigns, &from.path)?;
    if matches!(
        campaign.status,
        CampaignStatus::Closed | CampaignStatus::Published
    ) {
        return Err(ApiError::conflict(
            ErrorCode::CampaignClosed,
            "The campaign is closed.",
        ));
    }
    if body.title.trim().is_empty() {
        return Err(ApiError::field("title", "must not be blank"));
    }
    crate::rectifications::rules::check_due(body.due_on, local_today())?;
    if crate::orgs::queries::children(conn, from.id)?.is_empty() {
        return Err(ApiError::field(
            "from_org_id",
            "has no active direct children to ask",
        ));
    }
    let id = queries::insert_request(conn, campaign.id, body, actor.user_id, now())?;
    let summary = format!("asked the children of {} for a report", from.name);
    record(
        conn,
        actor,
        "report_request.create",
        ("report_request", id),
        from.id,
        summary,
    )?;
    let row = queries::find_request(conn, id)?;
    shown(conn, actor, row, &from.path)?.ok_or_else(ApiError::not_found)
}

/// A request the actor sees (404 otherwise), with the asking org.
pub fn visible(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<ReportRequest> {
    let row = queries::find_request(conn, id)?;
    let from_path = crate::orgs::queries::path_of(conn, row.from_org_id)?;
    shown(conn, actor, row, &from_path)?.ok_or_else(ApiError::not_found)
}

/// The campaign's requests the actor sees, newest first.
pub fn list(
    conn: &mut DbConn,
    actor: &Actor,
    campaign_id: i64,
    page: &PageQuery,
) -> ApiResult<Page<ReportRequest>> {
    crate::campaigns::authorized(conn, actor, campaign_id, Action::Read)?;
    let mut seen = Vec::new();
    for (row, from_path) in queries::requests_of_campaign(conn, campaign_id)? {
        if let Some(request) = shown(conn, actor, row, &from_path)? {
            seen.push(request);
        }
    }
    let total = seen.len() as i64;
    let items = seen
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.per_page() as usize)
        .collect();
    Ok(Page::new(items, total, page))
}

/// The child's report as the API shows it.
fn submission_shown(
    conn: &mut DbConn,
    row: SubmissionRow,
    due_on: NaiveDate,
) -> ApiResult<ReportSubmission> {
    Ok(ReportSubmission {
        id: row.id,
        request_id: row.request_id,
        org_id: row.org_id,
        status: rules::report_status(Some(row.submitted_at), due_on),
        versions: queries::submission_versions(conn, row.id)?,
        attachments: queries::attachments_of(conn, Owner::Submission(row.id))?,
        body: row.body,
        version: row.version,
        submitted_by: row.submitted_by,
        submitted_at: row.submitted_at.and_utc(),
    })
}

/// Submits (or, before the due date, replaces) a child's report. `true` when it is the
/// child's first.
pub fn submit(
    conn: &mut DbConn,
    actor: &Actor,
    request_id: i64,
    body: &SubmitReport,
) -> ApiResult<(ReportSubmission, bool)> {
    // The request as the actor sees it (404 otherwise) carries what the checks need.
    let request = visible(conn, actor, request_id)?;
    let org = crate::orgs::queries::find_referenced(conn, actor, body.org_id, "org_id")?;
    if org.parent_id != Some(request.from_org_id) {
        return Err(ApiError::field(
            "org_id",
            "is not a direct child of the org that asked",
        ));
    }
    if org.status != crate::orgs::model::OrgStatus::Active {
        return Err(ApiError::field("org_id", "is archived"));
    }
    actor.authorize_report_submission(&org.path)?;
    let text = body.body.trim();
    if text.is_empty() {
        return Err(ApiError::field("body", "must not be blank"));
    }
    let existing = queries::submission_for(conn, request_id, org.id)?;
    let status = rules::report_status(existing.as_ref().map(|s| s.submitted_at), request.due_on);
    // One reading of the clock: the day checked is the day the submission is stamped with.
    let at = now();
    rules::check_report_open(request.due_on, local_date(at.and_utc()), status)?;
    let (id, first) = match existing {
        None => (
            queries::insert_submission(conn, request_id, org.id, text, actor.user_id, at)?,
            true,
        ),
        Some(current) => {
            if !queries::resubmit(conn, current.id, current.version, text, actor.user_id, at)? {
                return Err(ApiError::conflict(
                    ErrorCode::Conflict,
                    "The report changed meanwhile; reload it and submit again.",
                ));
            }
            (current.id, false)
        }
    };
    let summary = format!(
        "submitted the report of {} to request {request_id}",
        org.name
    );
    record(
        conn,
        actor,
        "report.submit",
        ("report_submission", id),
        org.id,
        summary,
    )?;
    let row = queries::find_submission(conn, id)?;
    Ok((submission_shown(conn, row, request.due_on)?, first))
}

/// A child's report the actor may read: those who read the child's records (the child
/// itself and those above it, the asking org among them).
pub fn visible_submission(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
) -> ApiResult<(SubmissionRow, ReportRequestRow, OrgRow)> {
    let row = queries::find_submission(conn, id)?;
    let org = crate::orgs::queries::find(conn, row.org_id)?;
    actor.authorize_record_read(&org.path, false)?;
    let request = queries::find_request(conn, row.request_id)?;
    Ok((row, request, org))
}

pub fn submission(conn: &mut DbConn, actor: &Actor, id: i64) -> ApiResult<ReportSubmission> {
    let (row, request, _) = visible_submission(conn, actor, id)?;
    submission_shown(conn, row, request.due_on)
}

/// A report the actor may change now (its files): the child itself, while it is open.
pub fn changeable_submission(
    conn: &mut DbConn,
    actor: &Actor,
    id: i64,
) -> ApiResult<(SubmissionRow, ReportRequestRow, OrgRow)> {
    // Its row lock first (PostgreSQL): two uploads at once count each other's files.
    queries::lock_submission(conn, id)?;
    let (row, request, org) = visible_submission(conn, actor, id)?;
    actor.authorize_report_submission(&org.path)?;
    let status = rules::report_status(Some(row.submitted_at), request.due_on);
    rules::check_report_open(request.due_on, local_today(), status)?;
    Ok((row, request, org))
}

/// A request and the children (id, name) that have not answered it.
pub type Unanswered = (ReportRequestRow, Vec<(i64, String)>);

/// Per request of the campaign sent from within the subtree at `path`: the children that
/// have not submitted.
pub fn missing_children(
    conn: &mut DbConn,
    campaign_id: i64,
    path: &str,
) -> ApiResult<Vec<Unanswered>> {
    let mut out = Vec::new();
    for (row, from_path) in queries::requests_of_campaign(conn, campaign_id)? {
        if !covers(path, &from_path) {
            continue;
        }
        let submitted: std::collections::HashSet<i64> = queries::submissions_of(conn, row.id)?
            .into_iter()
            .map(|s| s.org_id)
            .collect();
        let missing = crate::orgs::queries::children(conn, row.from_org_id)?
            .into_iter()
            .filter(|(id, _)| !submitted.contains(id))
            .collect();
        out.push((row, missing));
    }
    Ok(out)
}
