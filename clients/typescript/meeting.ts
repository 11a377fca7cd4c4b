// A whole evaluation meeting (评议会), run through a client generated from the OpenAPI
// document only: openapi-typescript types + openapi-fetch.
//
// Ends at a window unit's counter: a ticket, a bad review, its case resolved and answered.
//
// Usage: node build/meeting.js [BASE_URL]   (default http://127.0.0.1:8080)
// Environment: PINGYI_ADMIN_PASSWORD, the password of the `admin` account.

import createClient from "openapi-fetch";
import type { components, paths } from "./build/schema.js";

type Schemas = components["schemas"];
type Org = Schemas["Org"];
type SubjectType = Schemas["SubjectType"];
type Criterion = Schemas["Criterion"];

/** The data of an answer, or stop with the problem the server sent. */
function expect<T>(step: string, answer: { data?: T; error?: unknown; response: Response }): T {
  if (answer.data === undefined) {
    throw new Error(`${step}: ${answer.response.status} ${JSON.stringify(answer.error)}`);
  }
  return answer.data;
}

function check(condition: boolean, what: string): void {
  if (!condition) {
    throw new Error(`check failed: ${what}`);
  }
}

async function main(): Promise<void> {
  const baseUrl = process.argv[2] ?? "http://127.0.0.1:8080";
  const password = process.env["PINGYI_ADMIN_PASSWORD"];
  if (password === undefined) {
    throw new Error("set PINGYI_ADMIN_PASSWORD");
  }
  const run = Math.random().toString(36).slice(2, 10);

  const api = createClient<paths>({ baseUrl });
  const pair = expect(
    "login",
    await api.POST("/api/v1/auth/login", { body: { username: "admin", password } }),
  );
  api.use({
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${pair.access_token}`);
      return request;
    },
  });

  // The org tree: a committee and one of its branches.
  const city: Org = expect(
    "create the committee",
    await api.POST("/api/v1/orgs", {
      body: { name: `市委 ${run}`, kind: "committee", domain: "institution", external_id: `city-${run}` },
    }),
  );
  const branchCreated: Org = expect(
    "create the branch",
    await api.POST("/api/v1/orgs", {
      body: {
        name: `第一党支部 ${run}`,
        kind: "branch",
        domain: "institution",
        parent_id: city.id,
        external_id: `branch-${run}`,
      },
    }),
  );
  const listed = expect(
    "list orgs",
    await api.GET("/api/v1/orgs", { params: { query: { parent_id: city.id } } }),
  );
  const listedOrgs: Org[] = listed.items;
  check(listedOrgs.length === 1 && listedOrgs[0]?.kind === "branch", "the branch is listed as a typed Org");

  // People: a secretary and three members.
  const secretary = expect(
    "create the secretary",
    await api.POST("/api/v1/people", {
      body: {
        org_id: branchCreated.id,
        name: "王书记",
        member_type: "full",
        position: "secretary",
        joined_on: "2001-07-01",
      },
    }),
  );
  for (const name of ["李明", "张华", "赵敏"]) {
    expect(
      `create ${name}`,
      await api.POST("/api/v1/people", { body: { org_id: branchCreated.id, name, member_type: "full" } }),
    );
  }
  const branch = expect(
    "name the secretary",
    await api.PATCH("/api/v1/orgs/{id}", {
      params: { path: { id: branchCreated.id } },
      body: { secretary_id: secretary.id },
    }),
  );
  check(branch.secretary_id === secretary.id, "the secretary is named");

  // A campaign over the committee's subtree with the notice's built-in template.
  const templates = expect("list templates", await api.GET("/api/v1/templates"));
  const builtin = templates.find((t) => t.builtin);
  if (builtin === undefined) {
    throw new Error("no built-in template");
  }
  const chinaToday = new Date(Date.now() + 8 * 3600 * 1000);
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  const campaign = expect(
    "create the campaign",
    await api.POST("/api/v1/campaigns", {
      body: {
        owner_org_id: city.id,
        title: `2026年度群众评议 ${run}`,
        starts_on: day(chinaToday),
        ends_on: day(new Date(chinaToday.getTime() + 30 * 86400 * 1000)),
        template_id: builtin.id,
      },
    }),
  );
  expect(
    "activate the campaign",
    await api.POST("/api/v1/campaigns/{id}/activate", { params: { path: { id: campaign.id } } }),
  );

  // The branch meeting, its subjects filled in: the branch, its secretary, each member.
  const session = expect(
    "schedule the meeting",
    await api.POST("/api/v1/campaigns/{id}/sessions", {
      params: { path: { id: campaign.id } },
      body: {
        org_id: branch.id,
        kind: "branch_meeting",
        scheduled_at: new Date(Date.now() + 5 * 60 * 1000).toISOString(),
        location: "党员活动室",
      },
    }),
  );
  const sessionPath = { params: { path: { id: session.id } } };
  const subjects = expect("list subjects", await api.GET("/api/v1/sessions/{id}/subjects", sessionPath));
  check(subjects.length === 5, "org, secretary and three members are on the ballot");

  const codes: string[] = [];
  // The meeting's record before it opens: the self-inspection with its report as a PDF
  // (multipart/form-data), an opinion gathered by survey and a public commitment.
  const inspection = expect(
    "write the self-inspection",
    await api.POST("/api/v1/sessions/{id}/documents", {
      ...sessionPath,
      body: {
        kind: "self_inspection",
        title: "自查报告",
        body: "按照通知要求开展自查。",
        achievements: "组织生活规范",
        shortcomings: "联系群众不够",
        measures: "每月走访一次",
      },
    }),
  );
  const pdf = new TextEncoder().encode("%PDF-1.4\n%%EOF\n");
  const stored = expect(
    "attach the PDF",
    await api.POST("/api/v1/documents/{id}/attachments", {
      params: { path: { id: inspection.id } },
      body: { file: "自查报告.pdf" },
      bodySerializer: (body) => {
        const form = new FormData();
        form.append("file", new Blob([pdf], { type: "application/pdf" }), body.file);
        return form;
      },
    }),
  );
  check(stored.media_type === "application/pdf" && stored.size_bytes === pdf.length, "the PDF is stored");
  const downloaded = await api.GET("/api/v1/attachments/{id}", {
    params: { path: { id: stored.id } },
    parseAs: "arrayBuffer",
  });
  const file = new Uint8Array(expect("download the PDF", downloaded) as ArrayBuffer);
  check(file.length === pdf.length && file[0] === 0x25, "the PDF comes back whole");
  expect(
    "record an opinion",
    await api.POST("/api/v1/sessions/{id}/opinions", {
      ...sessionPath,
      body: { source: "survey", category: "service", content: "希望多开展志愿服务" },
    }),
  );
  expect(
    "record a commitment",
    await api.POST("/api/v1/commitments", {
      body: { campaign_id: campaign.id, org_id: branch.id, content: "每月开展一次志愿服务" },
    }),
  );

  const categories: [Schemas["ParticipantCategory"], number][] = [
    ["party_member", 4],
    ["mass_representative", 2],
  ];
  for (const [category, count] of categories) {
    const issued = expect(
      "issue codes",
      await api.POST("/api/v1/sessions/{id}/voting-codes", { ...sessionPath, body: { category, count } }),
    );
    // The answer is JSON unless `?format=html` asks for the printable sheet.
    if (typeof issued === "string") {
      throw new Error("expected JSON codes, got the printable sheet");
    }
    check(issued.codes.length === count, "every code asked for is issued");
    codes.push(...issued.codes);
  }
  const opened = expect("open the meeting", await api.POST("/api/v1/sessions/{id}/open", sessionPath));
  check(opened.status === "open", "the meeting is open");

  // Every voter: the form for the code, then one ballot rating everything.
  for (const [n, code] of codes.entries()) {
    const form = expect("ballot form", await api.POST("/api/v1/ballot-forms", { body: { code } }));
    const criteria: Record<SubjectType, Criterion[]> = form.criteria;
    const level = form.scale[n % form.scale.length]?.level;
    if (level === undefined) {
      throw new Error("the scale is empty");
    }
    const ratings = form.subjects.flatMap((subject) =>
      criteria[subject.subject_type].map((criterion) => ({
        subject_id: subject.id,
        criterion_id: criterion.id,
        level,
      })),
    );
    const receipt = expect(
      "cast a ballot",
      await api.POST("/api/v1/ballots", { body: { code, ratings, opinion: "希望多联系群众" } }),
    );
    check(receipt.receipt.length > 0, "a receipt is given");
  }

  const turnout = expect("turnout", await api.GET("/api/v1/sessions/{id}/turnout", sessionPath));
  check(turnout.issued === 6 && turnout.used === 6, "six codes issued and used");
  const closed = expect("close the meeting", await api.POST("/api/v1/sessions/{id}/close", sessionPath));
  check(closed.status === "closed", "the meeting is closed");

  const opinions = expect(
    "opinions",
    await api.GET("/api/v1/sessions/{id}/opinions", {
      params: { path: { id: session.id }, query: { per_page: 100 } },
    }),
  );
  check(opinions.total === 7, "the survey's opinion and the six ballots' own");

  const results = expect("results", await api.GET("/api/v1/sessions/{id}/results", sessionPath));
  check(results.ballots === 6, "six ballots counted");
  const orgResult = results.subjects.find((s) => s.subject_type === "org");
  check(orgResult?.ballots === 6, "the branch was rated on every ballot");
  check(orgResult?.withheld === false, "six ballots reach k");

  // The campaign rolled up over the tree, ranked, covered and exported.
  const campaignPath = { params: { path: { id: campaign.id } } };
  const rollUp = expect("roll-up", await api.GET("/api/v1/campaigns/{id}/results", campaignPath));
  check(rollUp.org.subtree.units_evaluated === 1, "one org evaluated in the campaign");
  const ranking = expect("rankings", await api.GET("/api/v1/campaigns/{id}/rankings", campaignPath));
  check(ranking.total === 1 && ranking.items[0]?.rank === 1, "the branch ranks first");
  const coverage = expect("coverage", await api.GET("/api/v1/campaigns/{id}/coverage", campaignPath));
  check(coverage.orgs_evaluated === 1, "coverage counts the branch");
  const exported = await api.GET("/api/v1/campaigns/{id}/export", {
    params: { path: { id: campaign.id }, query: { report: "rankings", format: "xlsx" } },
    parseAs: "arrayBuffer",
  });
  const bytes = new Uint8Array(expect("export the ranking", exported) as ArrayBuffer);
  check(bytes[0] === 0x50 && bytes[1] === 0x4b, "an xlsx file is a zip archive");

  // People from another system, as CSV (a text body: sent as it is, not as JSON).
  const csv =
    "external_id,org_external_id,name,member_type,position,joined_on,phone\n" +
    `p1-${run},branch-${run},陈静,full,member,2010-07-01,13800000001\n` +
    `p2-${run},branch-${run},刘洋,probationary,,,\n`;
  // `wait: true`: a small file is answered at once anyway, but the answer may be a job (202)
  // for a large one; the type says so, and the check below narrows it.
  const report = expect(
    "import people",
    await api.POST("/api/v1/imports/people", {
      params: { query: { wait: true } },
      body: csv,
      headers: { "Content-Type": "text/csv" },
      bodySerializer: (body) => body,
    }),
  );
  if (!("created" in report)) {
    throw new Error(`import people: answered with job ${report.id}, not at once`);
  }
  check(report.created === 2 && report.errors.length === 0, "two people imported");

  const caseId = await rateAService(api, city.id, run);

  console.log(
    `meeting ${session.id}: ${results.ballots} ballots, ${results.subjects.length} subjects, import created ${report.created}; bad review case ${caseId} resolved and answered`,
  );
}

/** A window unit's counter: one ticket, one rating, the bad review handled to the end. */
async function rateAService(api: ReturnType<typeof createClient<paths>>, cityId: number, run: string): Promise<number> {
  const unit: Org = expect(
    "create a window unit",
    await api.POST("/api/v1/orgs", {
      body: { name: `便民服务中心党支部 ${run}`, kind: "branch", domain: "community", parent_id: cityId, window_unit: true },
    }),
  );
  const point = expect(
    "add a service point",
    await api.POST("/api/v1/orgs/{id}/service-points", {
      params: { path: { id: unit.id } },
      body: { name: "1号窗口", location: "一楼大厅" },
    }),
  );
  const issued = expect(
    "issue a ticket",
    await api.POST("/api/v1/service-points/{id}/tickets", { params: { path: { id: point.id } }, body: { count: 1 } }),
  );
  // The answer is JSON unless `?format=html` asks for the printable slips.
  if (typeof issued === "string") {
    throw new Error("expected JSON tickets, got the printable slips");
  }
  const ticket = issued.tickets[0]?.ticket ?? "";
  const form = expect("the rating form", await api.POST("/api/v1/instant-rating-forms", { body: { ticket } }));
  check(form.verified && form.levels.length === 5, "a ticketed form with five levels");
  const rating = { ticket, level: "very_dissatisfied" as const, comment: "等候时间太长", contact: "13800000000" };
  const recorded = expect("rate the service", await api.POST("/api/v1/instant-ratings", { body: rating }));
  check(recorded.case_opened && recorded.reply_available, "a bad review with a contact opens a case");
  const again = await api.POST("/api/v1/instant-ratings", { body: rating });
  check(again.response.status === 409 && again.error?.code === "ticket_used", "one ticket, one rating");
  const cases = expect(
    "list the unit's cases",
    await api.GET("/api/v1/instant-cases", { params: { query: { org_id: unit.id } } }),
  );
  const opened = cases.items[0];
  check(cases.total === 1 && opened?.status === "awaiting_follow_up", "the case waits for its follow-up");
  const casePath = { params: { path: { id: opened?.id ?? 0 } } };
  expect(
    "follow the review up",
    await api.POST("/api/v1/instant-cases/{id}/follow-up", { ...casePath, body: { result: "confirmed", note: "已电话回访" } }),
  );
  const resolved = expect(
    "resolve the case",
    await api.POST("/api/v1/instant-cases/{id}/resolve", {
      ...casePath,
      body: { measures: "高峰时段增开窗口", reply: "已增开窗口，感谢监督" },
    }),
  );
  check(resolved.status === "resolved" && resolved.resolved_on_time === true, "resolved on time");
  const reply = expect("read the reply", await api.POST("/api/v1/instant-replies", { body: { ticket } }));
  check(reply.reply === "已增开窗口，感谢监督", "the reply is read with the ticket");
  return resolved.id;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
