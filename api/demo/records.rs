//! The school's first branch on record (the notice's written steps), each written by the
//! demo user whose role writes it: the secretary's self-inspection, duty report, a member's
//! summary and the opinions gathered; a member's own summary; the observer's comment; a
//! commitment the college found kept; and the general branch's request for a written
//! report, answered with a PDF by this branch and missing from the other.

use chrono::{NaiveDate, NaiveTime};

use crate::auth::Actor;
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use crate::people::queries as people_queries;
use crate::records::model::*;
use crate::records::queries::{self, NewAttachment, Owner};
use crate::records::{attachments, comments, commitments, documents, opinions};

/// The branch whose record the demo fills.
pub const BRANCH: &str = "DLVTC-JD-01";
/// Its general branch, which asks its two branches for a report.
const GENERAL_BRANCH: &str = "DLVTC-JD";

/// A one-page PDF, the report's 电子文档.
const REPORT_PDF: &[u8] = b"%PDF-1.4
1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj
2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj
3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R/Resources<</Font<</F1 5 0 R>>>>>>endobj
4 0 obj<</Length 58>>stream
BT /F1 18 Tf 72 760 Td (DLVTC-JD-01: written report) Tj ET
endstream endobj
5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj
trailer<</Root 1 0 R/Size 6>>
%%EOF
";

pub fn as_user(conn: &mut DbConn, username: &str) -> ApiResult<Actor> {
    let id = super::queries::user_id(conn, username)?;
    Actor::for_user(conn, id)
}

fn person(conn: &mut DbConn, number: u8) -> ApiResult<i64> {
    let external_id = format!("{BRANCH}-P{number:02}");
    people_queries::find_by_external_id(conn, &external_id)?
        .map(|p| p.id)
        .ok_or_else(|| ApiError::internal(format!("the demo person {external_id} is missing")))
}

fn document(kind: DocumentKind, person_id: Option<i64>, title: &str, body: &str) -> CreateDocument {
    CreateDocument {
        kind,
        person_id,
        title: title.into(),
        body: body.into(),
        achievements: None,
        shortcomings: None,
        measures: None,
    }
}

/// The session's record, written while it is still scheduled (it freezes at close).
pub fn before_the_meeting(conn: &mut DbConn, campaign_id: i64, session_id: i64) -> ApiResult<()> {
    let secretary = as_user(conn, "demo.secretary")?;
    let member = as_user(conn, "demo.member")?;
    let observer = as_user(conn, "demo.observer")?;
    let college = as_user(conn, "demo.college")?;

    let mut inspection = document(
        DocumentKind::SelfInspection,
        None,
        "机电工程学院教工第一党支部自查报告",
        "支部按照学校党委通知要求，通过问卷调查、走访座谈广泛征求意见，对照“五个好”开展自查。",
    );
    inspection.achievements = Some("三会一课坚持经常，党员在教学科研中发挥了先锋模范作用。".into());
    inspection.shortcomings =
        Some("联系学生和服务群众的主动性不够，部分党员理论学习流于形式。".into());
    inspection.measures =
        Some("每月开展一次走访学生宿舍活动；建立党员联系群众台账；每季度组织一次专题学习。".into());
    documents::create(conn, &secretary, session_id, &inspection)?;
    documents::create(
        conn,
        &secretary,
        session_id,
        &document(
            DocumentKind::DutyReport,
            None,
            "支部书记述职报告",
            "一年来，我认真履行党建第一责任人职责，带领支部完成了创先争优各项任务。",
        ),
    )?;
    let p02 = person(conn, 2)?;
    documents::create(
        conn,
        &secretary,
        session_id,
        &document(
            DocumentKind::MemberSummary,
            Some(p02),
            "党员个人小结",
            "本人在教学岗位上立足本职，带头参加志愿服务。",
        ),
    )?;
    let p04 = person(conn, 4)?;
    documents::create(
        conn,
        &member,
        session_id,
        &document(
            DocumentKind::MemberSummary,
            Some(p04),
            "党员个人小结",
            "本人坚持学习，积极参与支部活动，今后要在联系学生方面多下功夫。",
        ),
    )?;
    for (source, category, content) in [
        (
            OpinionSource::Survey,
            OpinionCategory::Service,
            "希望实训室开放时间更长一些。",
        ),
        (
            OpinionSource::Visit,
            OpinionCategory::WorkStyle,
            "个别老师答疑不够及时。",
        ),
        (
            OpinionSource::Meeting,
            OpinionCategory::OrganizationBuilding,
            "建议支部活动多结合专业特点。",
        ),
    ] {
        let opinion = CreateOpinion {
            source,
            category,
            content: content.into(),
        };
        opinions::create(conn, &secretary, session_id, &opinion)?;
    }
    let comment = CreateLeaderComment {
        subject_id: None,
        body: "支部自查认真，问题找得准，整改措施具体，要抓好落实。".into(),
    };
    comments::create(conn, &observer, session_id, &comment)?;

    let branch = super::org_by_external_id(conn, BRANCH)?;
    let promise = CreateCommitment {
        campaign_id,
        org_id: Some(branch.id),
        person_id: None,
        content: "每月开展一次“党员进宿舍”走访活动".into(),
    };
    let kept = commitments::create(conn, &secretary, &promise)?;
    let check = UpdateCommitment {
        content: None,
        status: Some(CommitmentStatus::Fulfilled),
        evidence: Some("全年走访12次，有走访记录和学生签名".into()),
    };
    commitments::update(conn, &college, kept.id, &check)?;
    report_request(conn, campaign_id, &college, &secretary)
}

/// The general branch asks its two branches for a written report by 9 January 2012 (the
/// notice's date, so the request is written as it stood then): this branch answered on the
/// 8th with a PDF; the other has not.
fn report_request(
    conn: &mut DbConn,
    campaign_id: i64,
    college: &Actor,
    secretary: &Actor,
) -> ApiResult<()> {
    let general_branch = super::org_by_external_id(conn, GENERAL_BRANCH)?;
    let branch = super::org_by_external_id(conn, BRANCH)?;
    let date =
        |d| NaiveDate::from_ymd_opt(2012, 1, d).ok_or_else(|| ApiError::internal("a demo date"));
    let at = |d, h| {
        Ok::<_, ApiError>(date(d)?.and_time(NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default()))
    };
    let request = CreateReportRequest {
        from_org_id: general_branch.id,
        title: "创先争优群众评议贯彻落实情况书面材料".into(),
        body: "请各支部于2012年1月9日前将贯彻落实情况书面材料（电子文档）报总支。".into(),
        due_on: date(9)?,
    };
    let request_id =
        queries::insert_request(conn, campaign_id, &request, college.user_id, at(3, 2)?)?;
    let submission = queries::insert_submission(
        conn,
        request_id,
        branch.id,
        "我支部按照通知要求，认真组织开展了群众评议，现将贯彻落实情况报告如下。",
        secretary.user_id,
        at(8, 2)?,
    )?;
    let file = attachments::check(
        Some("机电工程学院教工第一党支部书面材料.pdf"),
        REPORT_PDF.to_vec(),
    )?;
    queries::insert_attachment(
        conn,
        &NewAttachment {
            owner: Owner::Submission(submission),
            file_name: &file.file_name,
            media_type: file.media_type,
            sha256: &file.sha256,
            content: &file.content,
            uploaded_by: secretary.user_id,
            at: at(8, 2)?,
        },
    )?;
    Ok(())
}
