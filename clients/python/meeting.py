"""A whole evaluation meeting (评议会), run through the generated client only.

Usage: python3 meeting.py [BASE_URL]   (default http://127.0.0.1:8080)
Environment: PINGYI_ADMIN_PASSWORD, the password of the `admin` account.

It signs in, builds a small org tree with people and a secretary, creates a campaign with
the built-in template, schedules a branch meeting, writes its self-inspection with a PDF
attached (and downloads it back), records an opinion and a commitment, issues voting codes
in two categories, opens the meeting, fetches the ballot form and casts a ballot for every
code, reads the turnout, closes the meeting, reads the opinions, the results, the
campaign's roll-up, ranking and coverage, exports the ranking as xlsx and imports people
from CSV. Then a window unit's counter: a service ticket, a bad review left with it (the
ticket refused the second time), the case followed up and resolved, the reply read with
the ticket.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
import uuid
from typing import TypeVar

from pingyi_client import AuthenticatedClient, Client
from pingyi_client.api.auth import login
from pingyi_client.api.campaigns import activate_campaign, create_campaign, list_templates
from pingyi_client.api.imports import import_people
from pingyi_client.api.instant import (
    create_point,
    follow_up,
    issue_tickets,
    list_cases,
    rating_form,
    read_reply,
    resolve,
    submit_rating,
)
from pingyi_client.api.records import (
    attach_to_document,
    create_commitment,
    create_document,
    create_opinion,
    download_attachment,
    list_opinions,
)
from pingyi_client.api.orgs import create_org, get_org, list_orgs, update_org
from pingyi_client.api.people import create_person
from pingyi_client.api.results import campaign_results, coverage, export, rankings, session_results
from pingyi_client.api.sessions import close_session, create_session, list_subjects, open_session
from pingyi_client.api.voting import ballot_form, issue_codes, submit_ballot, turnout
from pingyi_client.models import (
    Case,
    CaseReply,
    CaseStatus,
    CreatePoint,
    ErrorCode,
    FollowUp,
    FollowUpResult,
    InstantLevel,
    IssuedTickets,
    IssueTickets,
    PageCase,
    Problem,
    RatingForm,
    RatingFormRequest,
    RatingRecorded,
    ReplyRequest,
    Resolve,
    ServicePoint,
    SubmitRating,
    Attachment,
    AttachmentUpload,
    Commitment,
    CreateCommitment,
    CreateDocument,
    CreateOpinion,
    Document,
    DocumentKind,
    Opinion,
    OpinionCategory,
    OpinionSource,
    PageOpinion,
    BallotForm,
    Campaign,
    CampaignResults,
    Coverage,
    CreateCampaign,
    CreateOrg,
    CreatePerson,
    CreateSession,
    Domain,
    ExportFormat,
    ExportReport,
    FormRequest,
    ImportReport,
    IssueCodes,
    IssuedCodes,
    LoginRequest,
    MemberType,
    Org,
    OrgKind,
    PageOrg,
    PageRankingItem,
    ParticipantCategory,
    Person,
    Position,
    Rating,
    Receipt,
    Session,
    SessionKind,
    SessionResults,
    SessionStatus,
    SubjectType,
    SubmitBallot,
    Subject,
    Template,
    TokenPair,
    Turnout,
    UpdateOrg,
)
from pingyi_client.types import File

T = TypeVar("T")


def expect(answer: object, kind: type[T], step: str) -> T:
    """The typed answer of a step, or stop with what the server said."""
    if not isinstance(answer, kind):
        sys.exit(f"{step}: expected {kind.__name__}, got {answer!r}")
    return answer


def main() -> None:
    base_url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    password = os.environ["PINGYI_ADMIN_PASSWORD"]
    run = uuid.uuid4().hex[:8]

    public = Client(base_url=base_url, raise_on_unexpected_status=True)
    pair = expect(
        login.sync(client=public, body=LoginRequest(username="admin", password=password)),
        TokenPair,
        "login",
    )
    api = AuthenticatedClient(base_url=base_url, token=pair.access_token, raise_on_unexpected_status=True)

    # The org tree: a committee and one of its branches.
    city = expect(
        create_org.sync(
            client=api,
            body=CreateOrg(name=f"市委 {run}", kind=OrgKind.COMMITTEE, domain=Domain.INSTITUTION, external_id=f"city-{run}"),
        ),
        Org,
        "create the committee",
    )
    branch = expect(
        create_org.sync(
            client=api,
            body=CreateOrg(
                name=f"第一党支部 {run}",
                kind=OrgKind.BRANCH,
                domain=Domain.INSTITUTION,
                parent_id=city.id,
                external_id=f"branch-{run}",
            ),
        ),
        Org,
        "create the branch",
    )
    listed = expect(list_orgs.sync(client=api, parent_id=city.id), PageOrg, "list orgs")
    assert [org.id for org in listed.items] == [branch.id], listed
    assert listed.items[0].kind is OrgKind.BRANCH

    # People: a secretary and three members.
    secretary = expect(
        create_person.sync(
            client=api,
            body=CreatePerson(
                org_id=branch.id,
                name="王书记",
                member_type=MemberType.FULL,
                position=Position.SECRETARY,
                joined_on=dt.date(2001, 7, 1),
            ),
        ),
        Person,
        "create the secretary",
    )
    for name in ["李明", "张华", "赵敏"]:
        expect(
            create_person.sync(
                client=api, body=CreatePerson(org_id=branch.id, name=name, member_type=MemberType.FULL)
            ),
            Person,
            f"create {name}",
        )
    branch = expect(
        update_org.sync(id=branch.id, client=api, body=UpdateOrg(secretary_id=secretary.id)),
        Org,
        "name the secretary",
    )
    assert branch.secretary_id == secretary.id
    assert expect(get_org.sync(id=branch.id, client=api), Org, "read the branch").secretary_id == secretary.id

    # A campaign over the committee's subtree with the notice's built-in template.
    templates = expect(list_templates.sync(client=api), list, "list templates")
    builtin = next(t for t in templates if expect(t, Template, "template").builtin)
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
    campaign = expect(
        create_campaign.sync(
            client=api,
            body=CreateCampaign(
                owner_org_id=city.id,
                title=f"2026年度群众评议 {run}",
                starts_on=today,
                ends_on=today + dt.timedelta(days=30),
                template_id=builtin.id,
            ),
        ),
        Campaign,
        "create the campaign",
    )
    campaign = expect(activate_campaign.sync(id=campaign.id, client=api), Campaign, "activate the campaign")

    # The branch meeting, its subjects filled in: the branch, its secretary, each member.
    session = expect(
        create_session.sync(
            id=campaign.id,
            client=api,
            body=CreateSession(
                org_id=branch.id,
                kind=SessionKind.BRANCH_MEETING,
                scheduled_at=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5),
                location="党员活动室",
            ),
        ),
        Session,
        "schedule the meeting",
    )
    subjects = expect(list_subjects.sync(id=session.id, client=api), list, "list subjects")
    types = sorted(expect(s, Subject, "subject").subject_type.value for s in subjects)
    assert types == ["member"] * 3 + ["org", "secretary"], types

    # The meeting's record before it opens: the self-inspection with its report as a PDF
    # (multipart/form-data), an opinion gathered by survey and a public commitment.
    inspection = expect(
        create_document.sync(
            id=session.id,
            client=api,
            body=CreateDocument(
                kind=DocumentKind.SELF_INSPECTION,
                title="自查报告",
                body="按照通知要求开展自查。",
                achievements="组织生活规范",
                shortcomings="联系群众不够",
                measures="每月走访一次",
            ),
        ),
        Document,
        "write the self-inspection",
    )
    pdf = b"%PDF-1.4\n%%EOF\n"
    stored = expect(
        attach_to_document.sync(
            id=inspection.id,
            client=api,
            body=AttachmentUpload(file=File(payload=io.BytesIO(pdf), file_name="自查报告.pdf", mime_type="application/pdf")),
        ),
        Attachment,
        "attach the PDF",
    )
    assert (stored.media_type, stored.size_bytes) == ("application/pdf", len(pdf)), stored
    downloaded = expect(download_attachment.sync(id=stored.id, client=api), File, "download the PDF")
    assert downloaded.payload.read() == pdf
    expect(
        create_opinion.sync(
            id=session.id,
            client=api,
            body=CreateOpinion(source=OpinionSource.SURVEY, category=OpinionCategory.SERVICE, content="希望多开展志愿服务"),
        ),
        Opinion,
        "record an opinion",
    )
    expect(
        create_commitment.sync(
            client=api, body=CreateCommitment(campaign_id=campaign.id, org_id=branch.id, content="每月开展一次志愿服务")
        ),
        Commitment,
        "record a commitment",
    )

    codes: list[str] = []
    for category, count in [(ParticipantCategory.PARTY_MEMBER, 4), (ParticipantCategory.MASS_REPRESENTATIVE, 2)]:
        issued = expect(
            issue_codes.sync(id=session.id, client=api, body=IssueCodes(category=category, count=count)),
            IssuedCodes,
            "issue codes",
        )
        assert len(issued.codes) == count
        codes.extend(issued.codes)
    session = expect(open_session.sync(id=session.id, client=api), Session, "open the meeting")
    assert session.status is SessionStatus.OPEN

    # Every voter: the form for the code, then one ballot rating everything.
    for n, code in enumerate(codes):
        form = expect(ballot_form.sync(client=public, body=FormRequest(code=code)), BallotForm, "ballot form")
        criteria = {
            SubjectType.ORG: form.criteria.org,
            SubjectType.SECRETARY: form.criteria.secretary,
            SubjectType.MEMBER: form.criteria.member,
        }
        level = form.scale[n % len(form.scale)].level
        ratings = [
            Rating(subject_id=subject.id, criterion_id=criterion.id, level=level)
            for subject in form.subjects
            for criterion in criteria[subject.subject_type]
        ]
        receipt = expect(
            submit_ballot.sync(client=public, body=SubmitBallot(code=code, ratings=ratings, opinion="希望多联系群众")),
            Receipt,
            "cast a ballot",
        )
        assert receipt.receipt

    counted = expect(turnout.sync(id=session.id, client=api), Turnout, "turnout")
    assert (counted.issued, counted.used) == (6, 6), counted
    session = expect(close_session.sync(id=session.id, client=api), Session, "close the meeting")
    assert session.status is SessionStatus.CLOSED

    opinions = expect(list_opinions.sync(id=session.id, client=api, per_page=100), PageOpinion, "opinions")
    assert opinions.total == 7, "the survey's opinion and the six ballots' own"

    results = expect(session_results.sync(id=session.id, client=api), SessionResults, "results")
    assert results.ballots == 6
    org_result = next(s for s in results.subjects if s.subject_type is SubjectType.ORG)
    assert org_result.ballots == 6
    assert org_result.withheld is False

    # The campaign rolled up over the tree, ranked, covered and exported.
    roll_up = expect(campaign_results.sync(id=campaign.id, client=api), CampaignResults, "roll-up")
    assert roll_up.org.subtree.units_evaluated == 1, roll_up
    ranking = expect(rankings.sync(id=campaign.id, client=api), PageRankingItem, "rankings")
    assert (ranking.total, ranking.items[0].rank) == (1, 1), ranking
    covered = expect(coverage.sync(id=campaign.id, client=api), Coverage, "coverage")
    assert covered.orgs_evaluated == 1, covered
    workbook = expect(
        export.sync(id=campaign.id, client=api, report=ExportReport.RANKINGS, format_=ExportFormat.XLSX),
        File,
        "export the ranking",
    )
    assert workbook.payload.read(2) == b"PK", "an xlsx file is a zip archive"

    # People from another system, as CSV.
    csv_text = (
        "external_id,org_external_id,name,member_type,position,joined_on,phone\n"
        f"p1-{run},branch-{run},陈静,full,member,2010-07-01,13800000001\n"
        f"p2-{run},branch-{run},刘洋,probationary,,,\n"
    )
    report = expect(
        import_people.sync(
            client=api,
            body=File(payload=io.BytesIO(csv_text.encode()), file_name="people.csv", mime_type="text/csv"),
            wait=True,
        ),
        ImportReport,
        "import people",
    )
    assert (report.created, report.errors) == (2, []), report

    case = rate_a_service(api, public, city.id, run)

    print(
        f"meeting {session.id}: {results.ballots} ballots, {len(results.subjects)} subjects, "
        f"import created {report.created}; bad review case {case.id} resolved and answered"
    )


def rate_a_service(api: AuthenticatedClient, public: Client, city_id: int, run: str) -> Case:
    """A window unit's counter: one ticket, one rating, the bad review handled to the end."""
    unit = expect(
        create_org.sync(
            client=api,
            body=CreateOrg(
                name=f"便民服务中心党支部 {run}",
                kind=OrgKind.BRANCH,
                domain=Domain.COMMUNITY,
                parent_id=city_id,
                window_unit=True,
            ),
        ),
        Org,
        "create a window unit",
    )
    point = expect(
        create_point.sync(id=unit.id, client=api, body=CreatePoint(name="1号窗口", location="一楼大厅")),
        ServicePoint,
        "add a service point",
    )
    issued = expect(issue_tickets.sync(id=point.id, client=api, body=IssueTickets(count=1)), IssuedTickets, "issue a ticket")
    ticket = issued.tickets[0].ticket
    form = expect(rating_form.sync(client=public, body=RatingFormRequest(ticket=ticket)), RatingForm, "the rating form")
    assert form.verified and len(form.levels) == 5, form
    rating = SubmitRating(ticket=ticket, level=InstantLevel.VERY_DISSATISFIED, comment="等候时间太长", contact="13800000000")
    recorded = expect(submit_rating.sync(client=public, body=rating), RatingRecorded, "rate the service")
    assert recorded.case_opened and recorded.reply_available, recorded
    again = submit_rating.sync_detailed(client=public, body=rating)
    assert again.status_code == 409 and isinstance(again.parsed, Problem), again
    assert again.parsed.code is ErrorCode.TICKET_USED, again.parsed
    cases = expect(list_cases.sync(client=api, org_id=unit.id), PageCase, "list the unit's cases")
    case = cases.items[0]
    assert (cases.total, case.status) == (1, CaseStatus.AWAITING_FOLLOW_UP), cases
    expect(
        follow_up.sync(id=case.id, client=api, body=FollowUp(result=FollowUpResult.CONFIRMED, note="已电话回访")),
        Case,
        "follow the review up",
    )
    case = expect(
        resolve.sync(id=case.id, client=api, body=Resolve(measures="高峰时段增开窗口", reply="已增开窗口，感谢监督")),
        Case,
        "resolve the case",
    )
    assert case.status is CaseStatus.RESOLVED and case.resolved_on_time, case
    reply = expect(read_reply.sync(client=public, body=ReplyRequest(ticket=ticket)), CaseReply, "read the reply")
    assert reply.reply == "已增开窗口，感谢监督", reply
    return case


if __name__ == "__main__":
    main()
