//! The evaluation process on record: documents with their versions and files, opinions,
//! leader comments, commitments and report requests; who writes and reads each across the
//! tree, what freezes at close, and late or missing reports around the date line.

use serde_json::{json, Value};

use crate::common::fixtures::{
    ballot_form, create_person, create_user, grant, login, USER_PASSWORD,
};
use crate::common::{Reply, TestApp};
use crate::db_test;
use crate::results::{close, execute, ratings, City};

/// A member of `org` linked to a new person `name` of it: `(person id, access token)`.
async fn member(app: &TestApp, c: &City, username: &str, org: i64, name: &str) -> (i64, String) {
    let person = create_person(app, &c.admin, org, name).await;
    let user = create_user(app, &c.admin, username, Some(org)).await;
    app.patch(
        &format!("/api/v1/users/{user}"),
        Some(&c.admin),
        json!({"person_id": person}),
    )
    .await
    .assert_status(200);
    grant(app, &c.admin, user, Some(org), "member").await;
    (person, login(app, username, USER_PASSWORD).await)
}

/// The secretary of a branch, signed in as a user linked to the secretary's person.
async fn secretary(app: &TestApp, c: &City, branch: &'static str) -> String {
    let org = c.branches[branch];
    let username = format!("{}.secretary", branch.to_lowercase());
    let user = create_user(app, &c.admin, &username, Some(org)).await;
    app.patch(
        &format!("/api/v1/users/{user}"),
        Some(&c.admin),
        json!({"person_id": c.secretaries[branch]}),
    )
    .await
    .assert_status(200);
    grant(app, &c.admin, user, Some(org), "secretary").await;
    login(app, &username, USER_PASSWORD).await
}

const BOUNDARY: &str = "pingyi-test-7d1f";

/// A multipart/form-data body with one part.
fn multipart(part: &str, file_name: &str, declared: &str, content: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{file_name}\"\r\nContent-Type: {declared}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn upload(app: &TestApp, path: &str, token: &str, body: Vec<u8>) -> Reply {
    app.post_raw(
        path,
        Some(token),
        &format!("multipart/form-data; boundary={BOUNDARY}"),
        &body,
    )
    .await
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn self_inspection() -> Value {
    json!({"kind": "self_inspection", "title": "B2支部自查报告", "body": "按照通知要求开展自查。",
        "achievements": "组织生活规范", "shortcomings": "联系群众不够", "measures": "每月走访一次"})
}

db_test!(
    documents_are_written_by_the_org_versioned_and_frozen_at_close,
    |app| {
        let c = City::build(&app).await;
        let b2 = c.branches["B2"];
        let session = c.sessions["B2"];
        let docs = format!("/api/v1/sessions/{session}/documents");
        let secretary = secretary(&app, &c, "B2").await;

        // A self-inspection states its three parts.
        let mut partial = self_inspection();
        partial["measures"] = json!("  ");
        let refused = app.post(&docs, Some(&secretary), partial).await;
        crate::common::assert_only_field_error(&refused, "measures");
        let created = app.post(&docs, Some(&secretary), self_inspection()).await;
        let inspection = created.assert_status(201);
        let inspection_id = inspection["id"].as_i64().unwrap();
        assert_eq!(
            created.header("location"),
            Some(format!("/api/v1/documents/{inspection_id}").as_str())
        );
        assert_eq!(inspection["version"], 1);
        assert_eq!(inspection["achievements"], "组织生活规范");
        assert_eq!(inspection["frozen"], false);
        app.post(&docs, Some(&secretary), self_inspection())
            .await
            .assert_problem(409, "document_exists");
        // The duty report is the secretary's; a summary's member must be a person of the org.
        let duty = app
            .post(
                &docs,
                Some(&secretary),
                json!({"kind": "duty_report", "title": "述职报告", "body": "一年来……"}),
            )
            .await
            .assert_status(201);
        assert_eq!(duty["person_id"], c.secretaries["B2"]);
        assert_eq!(duty["achievements"], Value::Null);
        let (wang, wang_token) = member(&app, &c, "b2.wang", b2, "王一").await;
        let (zhang, zhang_token) = member(&app, &c, "b2.zhang", b2, "张二").await;
        let elsewhere = create_person(&app, &c.admin, c.branches["B1"], "李四").await;
        let summary = |person: i64| json!({"kind": "member_summary", "person_id": person, "title": "党员小结", "body": "本年度……"});
        let reply = app.post(&docs, Some(&secretary), summary(elsewhere)).await;
        crate::common::assert_only_field_error(&reply, "person_id");
        // A member writes their own summary, never another's.
        app.post(&docs, Some(&wang_token), summary(zhang))
            .await
            .assert_problem(403, "forbidden");
        let own = app
            .post(&docs, Some(&wang_token), summary(wang))
            .await
            .assert_status(201);
        app.post(&docs, Some(&secretary), summary(zhang))
            .await
            .assert_status(201);
        app.post(&docs, Some(&secretary), summary(wang))
            .await
            .assert_problem(409, "document_exists");

        // Who reads what: the org and those above see all four; a member their own; others nothing.
        let all = app.get(&docs, Some(&secretary)).await.assert_status(200);
        assert_eq!(all["total"], 4);
        let observer = c.user(&app, "b.observer", c.b, "observer").await;
        assert_eq!(
            app.get(&docs, Some(&observer)).await.assert_status(200)["total"],
            4
        );
        let mine = app.get(&docs, Some(&wang_token)).await.assert_status(200);
        assert_eq!(mine["total"], 1);
        assert_eq!(mine["items"][0]["id"], own["id"]);
        app.get(
            &format!("/api/v1/documents/{inspection_id}"),
            Some(&zhang_token),
        )
        .await
        .assert_problem(404, "not_found");
        for outsider in [
            secretary_of(&app, &c, "B1").await,
            c.user(&app, "a.admin", c.a, "org_admin").await,
        ] {
            app.get(&docs, Some(&outsider))
                .await
                .assert_problem(404, "not_found");
            app.get(
                &format!("/api/v1/documents/{inspection_id}"),
                Some(&outsider),
            )
            .await
            .assert_problem(404, "not_found");
        }

        // Only the author writes a new version; every version is kept with who and when.
        let own_admin = c.user(&app, "b2.admin", b2, "org_admin").await;
        let doc = format!("/api/v1/documents/{inspection_id}");
        app.patch(&doc, Some(&own_admin), json!({"body": "改写"}))
            .await
            .assert_problem(403, "forbidden");
        let reply = app
            .patch(&doc, Some(&secretary), json!({"achievements": ""}))
            .await;
        crate::common::assert_only_field_error(&reply, "achievements");
        let reply = app
            .patch(
                &format!("/api/v1/documents/{}", duty["id"]),
                Some(&secretary),
                json!({"measures": "不该有"}),
            )
            .await;
        crate::common::assert_only_field_error(&reply, "measures");
        let second = app
            .patch(
                &doc,
                Some(&secretary),
                json!({"body": "按照通知要求开展自查（修改稿）。"}),
            )
            .await
            .assert_status(200);
        assert_eq!(second["version"], 2);
        assert_eq!(second["versions"].as_array().unwrap().len(), 2);
        assert_eq!(second["versions"][1]["version"], 2);
        let first = app
            .get(&format!("{doc}/versions/1"), Some(&observer))
            .await
            .assert_status(200);
        assert_eq!(first["body"], "按照通知要求开展自查。");
        app.get(&format!("{doc}/versions/3"), Some(&observer))
            .await
            .assert_problem(404, "not_found");
        // The same text again is no new version.
        let same = app
            .patch(
                &doc,
                Some(&secretary),
                json!({"body": "按照通知要求开展自查（修改稿）。"}),
            )
            .await
            .assert_status(200);
        assert_eq!(same["version"], 2);
        assert_eq!(app.count("document_versions").await, 5);

        // Closing the session freezes its record.
        open(&app, &c, session).await;
        close(&app, &c.admin, session).await;
        let frozen = app.get(&doc, Some(&secretary)).await.assert_status(200);
        assert_eq!(frozen["frozen"], true);
        app.patch(&doc, Some(&secretary), json!({"body": "事后改写"}))
            .await
            .assert_problem(409, "session_closed");
        app.post(
        &docs,
        Some(&secretary),
        json!({"kind": "member_summary", "person_id": c.secretaries["B2"], "title": "小结", "body": "补写"}),
    )
    .await
    .assert_problem(409, "session_closed");
        assert_eq!(app.count("document_versions").await, 5);
    }
);

async fn secretary_of(app: &TestApp, c: &City, branch: &'static str) -> String {
    c.user(
        app,
        &format!("{}.sec2", branch.to_lowercase()),
        c.branches[branch],
        "secretary",
    )
    .await
}

async fn open(app: &TestApp, c: &City, session: i64) {
    app.post(
        &format!("/api/v1/sessions/{session}/open"),
        Some(&c.admin),
        json!({}),
    )
    .await
    .assert_status(200);
}

db_test!(
    attachments_are_recognized_by_content_limited_and_downloaded,
    |app| {
        let c = City::build(&app).await;
        let session = c.sessions["B2"];
        let secretary = secretary(&app, &c, "B2").await;
        let doc = app
            .post(
                &format!("/api/v1/sessions/{session}/documents"),
                Some(&secretary),
                self_inspection(),
            )
            .await
            .assert_status(201);
        let path = format!("/api/v1/documents/{}/attachments", doc["id"]);

        let created = upload(
            &app,
            &path,
            &secretary,
            multipart("file", "自查报告.pdf", "application/pdf", PDF),
        )
        .await;
        let file = created.assert_status(201);
        assert_eq!(file["media_type"], "application/pdf");
        assert_eq!(file["file_name"], "自查报告.pdf");
        assert_eq!(file["size_bytes"], PDF.len());
        assert_eq!(file["sha256"], sha256_hex(PDF));
        let location = created.header("location").unwrap().to_owned();

        // Downloaded by those who read the document, as an attachment with its name.
        let observer = c.user(&app, "b.observer", c.b, "observer").await;
        let download = app.get(&location, Some(&observer)).await;
        assert_eq!(download.status.as_u16(), 200);
        assert_eq!(download.bytes, PDF);
        assert_eq!(download.content_type(), "application/pdf");
        let disposition = download.header("content-disposition").unwrap();
        assert!(disposition.starts_with("attachment"), "{disposition}");
        assert!(
            disposition.contains("filename*=UTF-8''%E8%87%AA"),
            "{disposition}"
        );
        assert_eq!(download.header("x-content-type-options"), Some("nosniff"));
        let sibling = secretary_of(&app, &c, "B1").await;
        app.get(&location, Some(&sibling))
            .await
            .assert_problem(404, "not_found");
        let (_, member) = member(&app, &c, "b2.wang", c.branches["B2"], "王一").await;
        app.get(&location, Some(&member))
            .await
            .assert_problem(404, "not_found");

        // The type is the content's: HTML named .pdf and declared as PDF is refused, and so is
        // a type not on the list; the name never decides.
        let html = multipart(
            "file",
            "report.pdf",
            "application/pdf",
            b"<html><script>alert(1)</script></html>",
        );
        upload(&app, &path, &secretary, html)
            .await
            .assert_problem(415, "unsupported_media_type");
        let gif = multipart(
            "file",
            "photo.png",
            "image/png",
            b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        );
        upload(&app, &path, &secretary, gif)
            .await
            .assert_problem(415, "unsupported_media_type");
        // A PNG sent as "photo.exe" is kept as a .png.
        let png =
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
        let kept = upload(
            &app,
            &path,
            &secretary,
            multipart("file", "photo.exe", "application/x-msdownload", png),
        )
        .await
        .assert_status(201);
        assert_eq!(kept["file_name"], "photo.png");
        assert_eq!(kept["media_type"], "image/png");
        // Size: one byte over 10 MiB is refused, and nothing is stored.
        let mut big = PDF.to_vec();
        big.resize(10 * 1024 * 1024 + 1, b' ');
        upload(
            &app,
            &path,
            &secretary,
            multipart("file", "big.pdf", "application/pdf", &big),
        )
        .await
        .assert_problem(413, "payload_too_large");
        // The part must be called `file`; the body must be multipart.
        let reply = upload(
            &app,
            &path,
            &secretary,
            multipart("document", "a.pdf", "application/pdf", PDF),
        )
        .await;
        crate::common::assert_only_field_error(&reply, "file");
        app.post_raw(&path, Some(&secretary), "application/pdf", PDF)
            .await
            .assert_problem(415, "unsupported_media_type");
        assert_eq!(app.count("attachments").await, 2);
        // Someone who may not change the document stores nothing.
        upload(
            &app,
            &path,
            &observer,
            multipart("file", "a.pdf", "application/pdf", PDF),
        )
        .await
        .assert_problem(403, "forbidden");

        let full = app
            .get(&format!("/api/v1/documents/{}", doc["id"]), Some(&observer))
            .await
            .assert_status(200);
        assert_eq!(full["attachments"].as_array().unwrap().len(), 2);
        app.delete(&location, Some(&observer))
            .await
            .assert_problem(403, "forbidden");
        app.delete(&location, Some(&secretary))
            .await
            .assert_status(204);
        assert_eq!(app.count("attachments").await, 1);
        // After close, a document's files no longer change.
        open(&app, &c, session).await;
        close(&app, &c.admin, session).await;
        upload(
            &app,
            &path,
            &secretary,
            multipart("file", "late.pdf", "application/pdf", PDF),
        )
        .await
        .assert_problem(409, "session_closed");
    }
);

db_test!(
    opinions_are_recorded_by_the_org_and_ballot_ones_stay_apart,
    |app| {
        let c = City::build(&app).await;
        let session = c.sessions["B2"];
        let path = format!("/api/v1/sessions/{session}/opinions");
        let secretary = secretary(&app, &c, "B2").await;
        let b_admin = c.user(&app, "b.admin", c.b, "org_admin").await;

        let survey = app
            .post(
                &path,
                Some(&secretary),
                json!({"source": "survey", "category": "service", "content": "希望多开展志愿服务"}),
            )
            .await;
        let survey_id = survey.assert_status(201)["id"].as_str().unwrap().to_owned();
        assert!(survey.json()["recorded_by"].is_i64());
        assert!(survey.header("location").unwrap().ends_with(&survey_id));
        for (source, category) in [
            ("visit", "work_style"),
            ("meeting", "organization_building"),
        ] {
            app.post(
                &path,
                Some(&secretary),
                json!({"source": source, "category": category, "content": "意见"}),
            )
            .await
            .assert_status(201);
        }
        let reply = app
            .post(
                &path,
                Some(&secretary),
                json!({"source": "ballot", "category": "other", "content": "冒充选票"}),
            )
            .await;
        crate::common::assert_only_field_error(&reply, "source");
        let (_, member) = member(&app, &c, "b2.wang", c.branches["B2"], "王一").await;
        app.post(
            &path,
            Some(&member),
            json!({"source": "survey", "category": "other", "content": "x"}),
        )
        .await
        .assert_problem(403, "forbidden");

        // A ballot's opinion: cast on paper in the open session.
        let code = app
            .post(
                &format!("/api/v1/sessions/{session}/voting-codes"),
                Some(&c.admin),
                json!({"category": "other", "count": 1}),
            )
            .await
            .assert_status(201)["codes"][0]
            .as_str()
            .unwrap()
            .to_owned();
        let form = ballot_form(&app, &code).await;
        open(&app, &c, session).await;
        let ballot = json!({"ratings": ratings(&form, |_, t| (t == "org").then_some("satisfied")), "opinion": "选票上的意见"});
        app.post(
            &format!("/api/v1/sessions/{session}/paper-ballots"),
            Some(&c.admin),
            json!({"category": "party_member", "ballots": [ballot]}),
        )
        .await
        .assert_status(201);
        // While open: only what was typed in (the ballots' opinions wait for the close).
        let listed = app.get(&path, Some(&b_admin)).await.assert_status(200);
        assert_eq!(listed["total"], 3);
        let filtered = app
            .get(&format!("{path}?source=survey"), Some(&b_admin))
            .await
            .assert_status(200);
        assert_eq!(filtered["total"], 1);
        assert_eq!(filtered["items"][0]["category"], "service");
        // The rated secretary does not read them; nor does a sibling.
        app.get(&path, Some(&secretary))
            .await
            .assert_problem(403, "forbidden");
        let sibling = c.user(&app, "a.admin", c.a, "org_admin").await;
        app.get(&path, Some(&sibling))
            .await
            .assert_problem(404, "not_found");

        close(&app, &c.admin, session).await;
        let listed = app.get(&path, Some(&b_admin)).await.assert_status(200);
        assert_eq!(listed["total"], 4);
        let ballot_opinion = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["source"] == "ballot")
            .unwrap()
            .clone();
        assert_eq!(ballot_opinion["content"], "选票上的意见");
        assert_eq!(ballot_opinion["category"], Value::Null);
        assert_eq!(ballot_opinion["recorded_by"], Value::Null);
        // Closing rewrote the ballots' opinions and kept the typed-in ones as they were.
        let kept = app
            .get(&format!("/api/v1/opinions/{survey_id}"), Some(&b_admin))
            .await
            .assert_status(200);
        assert_eq!(kept["source"], "survey");
        assert_eq!(kept["category"], "service");
        // To anyone who does not list them, an opinion id is not there at all.
        for token in [&secretary, &member] {
            app.get(&format!("/api/v1/opinions/{survey_id}"), Some(token))
                .await
                .assert_problem(404, "not_found");
        }
        app.post(
            &path,
            Some(&secretary),
            json!({"source": "survey", "category": "other", "content": "会后补录"}),
        )
        .await
        .assert_problem(409, "session_closed");

        // A rectification item answers opinions of its session, typed in or from ballots.
        let item = app
        .post(
            "/api/v1/rectifications",
            Some(&secretary),
            json!({"campaign_id": c.campaign, "org_id": c.branches["B2"], "session_id": session,
                "problem": "志愿服务少", "due_on": pingyi::types::local_today() + chrono::Duration::days(10),
                "opinion_ids": [survey_id, ballot_opinion["id"]]}),
        )
        .await
        .assert_status(201);
        assert_eq!(item["opinion_ids"].as_array().unwrap().len(), 2);
    }
);

db_test!(leader_comments_come_from_above_and_freeze_at_close, |app| {
    let c = City::build(&app).await;
    let session = c.sessions["B2"];
    let path = format!("/api/v1/sessions/{session}/leader-comments");
    let subjects = app
        .get(
            &format!("/api/v1/sessions/{session}/subjects"),
            Some(&c.admin),
        )
        .await
        .assert_status(200);
    let secretary_subject = subjects
        .as_array()
        .or_else(|| subjects["items"].as_array())
        .unwrap()
        .iter()
        .find(|s| s["subject_type"] == "secretary")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let observer = c.user(&app, "b.observer", c.b, "observer").await;
    let secretary = secretary(&app, &c, "B2").await;

    let on_session = app
        .post(
            &path,
            Some(&observer),
            json!({"body": "支部自查认真，整改措施具体。"}),
        )
        .await
        .assert_status(201);
    assert_eq!(on_session["subject_id"], Value::Null);
    app.post(
        &path,
        Some(&observer),
        json!({"subject_id": secretary_subject, "body": "书记述职实事求是。"}),
    )
    .await
    .assert_status(201);
    let reply = app
        .post(
            &path,
            Some(&observer),
            json!({"subject_id": 999_999, "body": "x"}),
        )
        .await;
    crate::common::assert_only_field_error(&reply, "subject_id");
    // Never from the org itself, nor from a secretary above, nor from a sibling tree.
    let own_admin = c
        .user(&app, "b2.admin", c.branches["B2"], "org_admin")
        .await;
    let secretary_above = c.user(&app, "b.secretary", c.b, "secretary").await;
    for token in [&own_admin, &secretary, &secretary_above] {
        app.post(&path, Some(token), json!({"body": "自评"}))
            .await
            .assert_problem(403, "forbidden");
    }
    let other_observer = c.user(&app, "a.observer", c.a, "observer").await;
    app.post(&path, Some(&other_observer), json!({"body": "x"}))
        .await
        .assert_problem(404, "not_found");

    // The org reads all; the rated secretary, as a member would, only those on themselves.
    assert_eq!(
        app.get(&path, Some(&secretary)).await.assert_status(200)["total"],
        2
    );
    let (_, member) = member(&app, &c, "b2.wang", c.branches["B2"], "王一").await;
    assert_eq!(
        app.get(&path, Some(&member)).await.assert_status(200)["total"],
        0
    );
    app.get(
        &format!("/api/v1/leader-comments/{}", on_session["id"]),
        Some(&member),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(&path, Some(&other_observer))
        .await
        .assert_problem(404, "not_found");

    open(&app, &c, session).await;
    close(&app, &c.admin, session).await;
    app.post(&path, Some(&observer), json!({"body": "会后补充"}))
        .await
        .assert_problem(409, "session_closed");
    assert_eq!(app.count("leader_comments").await, 2);
});

db_test!(
    commitments_are_checked_by_others_and_shown_beside_the_results,
    |app| {
        let c = City::build(&app).await;
        let b3 = c.branches["B3"];
        let secretary = secretary(&app, &c, "B3").await;
        let (wang, wang_token) = member(&app, &c, "b3.wang", b3, "王一").await;

        let org_commitment = app
            .post(
                "/api/v1/commitments",
                Some(&secretary),
                json!({"campaign_id": c.campaign, "org_id": b3, "content": "每月开展一次志愿服务"}),
            )
            .await;
        let org_id = org_commitment.assert_status(201)["id"].as_i64().unwrap();
        assert_eq!(org_commitment.json()["status"], "pending");
        assert_eq!(
            org_commitment.header("location"),
            Some(format!("/api/v1/commitments/{org_id}").as_str())
        );
        // A member records their own (the org is found from the person).
        let own = app
        .post(
            "/api/v1/commitments",
            Some(&wang_token),
            json!({"campaign_id": c.campaign, "person_id": wang, "content": "带头参加志愿服务"}),
        )
        .await
        .assert_status(201);
        assert_eq!(own["org_id"], b3);
        let own_path = format!("/api/v1/commitments/{}", own["id"]);
        // Nobody marks their own kept; evidence is needed.
        app.patch(
            &own_path,
            Some(&wang_token),
            json!({"status": "fulfilled", "evidence": "我做到了"}),
        )
        .await
        .assert_problem(403, "forbidden");
        let reply = app
            .patch(&own_path, Some(&secretary), json!({"status": "fulfilled"}))
            .await;
        crate::common::assert_only_field_error(&reply, "evidence");
        let checked = app
            .patch(
                &own_path,
                Some(&secretary),
                json!({"status": "partial", "evidence": "参加3次"}),
            )
            .await
            .assert_status(200);
        assert_eq!(checked["status"], "partial");
        assert!(checked["checked_by"].is_i64());
        app.patch(&own_path, Some(&wang_token), json!({"content": "改口"}))
            .await
            .assert_problem(409, "invalid_transition");
        // The org's own commitment is checked from above, never by the org itself.
        let org_path = format!("/api/v1/commitments/{org_id}");
        let kept = json!({"status": "fulfilled", "evidence": "全年开展12次，有活动记录"});
        let own_admin = c.user(&app, "b3.admin", b3, "org_admin").await;
        for token in [&secretary, &own_admin] {
            app.patch(&org_path, Some(token), kept.clone())
                .await
                .assert_problem(403, "forbidden");
        }
        let b_admin = c.user(&app, "b.admin", c.b, "org_admin").await;
        app.patch(&org_path, Some(&b_admin), kept)
            .await
            .assert_status(200);
        // A person or campaign out of sight is as missing as one that does not exist.
        let a1_person = c.secretaries["A1"];
        for body in [
            json!({"campaign_id": c.campaign, "person_id": a1_person, "content": "x"}),
            json!({"campaign_id": c.campaign, "person_id": 999_999, "content": "x"}),
        ] {
            let reply = app
                .post("/api/v1/commitments", Some(&secretary), body)
                .await;
            crate::common::assert_only_field_error(&reply, "person_id");
        }
        let reply = app
            .post(
                "/api/v1/commitments",
                Some(&secretary),
                json!({"campaign_id": 999_999, "org_id": b3, "content": "x"}),
            )
            .await;
        crate::common::assert_only_field_error(&reply, "campaign_id");

        // Listed per subtree for those who read records there; a member sees their own.
        let in_b = app
            .get(
                &format!("/api/v1/commitments?org_id={}", c.b),
                Some(&b_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(in_b["total"], 2);
        let fulfilled = app
            .get("/api/v1/commitments?status=fulfilled", Some(&b_admin))
            .await
            .assert_status(200);
        assert_eq!(fulfilled["total"], 1);
        assert_eq!(
            app.get("/api/v1/commitments", Some(&wang_token))
                .await
                .assert_status(200)["total"],
            1
        );
        let a_admin = c.user(&app, "a.admin", c.a, "org_admin").await;
        assert_eq!(
            app.get("/api/v1/commitments", Some(&a_admin))
                .await
                .assert_status(200)["total"],
            0
        );
        app.get(
            &format!("/api/v1/commitments?org_id={}", c.b),
            Some(&a_admin),
        )
        .await
        .assert_problem(404, "not_found");
        app.get(&org_path, Some(&a_admin))
            .await
            .assert_problem(404, "not_found");
        app.get(&org_path, Some(&wang_token))
            .await
            .assert_problem(404, "not_found");
        app.post(
            "/api/v1/commitments",
            Some(&a_admin),
            json!({"campaign_id": c.campaign, "org_id": b3, "content": "x"}),
        )
        .await
        .assert_problem(422, "validation_failed");

        // Beside the results: the org's own commitments for the org, a member's own for them.
        let results = format!("/api/v1/sessions/{}/results", c.sessions["B3"]);
        let shown = app.get(&results, Some(&b_admin)).await.assert_status(200);
        assert_eq!(
            shown["commitments"],
            json!({"pending": 0, "fulfilled": 1, "partial": 0, "unfulfilled": 0})
        );
        let shown = app
            .get(&results, Some(&wang_token))
            .await
            .assert_status(200);
        assert_eq!(
            shown["commitments"],
            json!({"pending": 0, "fulfilled": 0, "partial": 1, "unfulfilled": 0})
        );
    }
);

async fn submit(app: &TestApp, request: i64, token: &str, org: i64, body: &str) -> Reply {
    app.post(
        &format!("/api/v1/report-requests/{request}/submissions"),
        Some(token),
        json!({"org_id": org, "body": body}),
    )
    .await
}

fn statuses(request: &Value) -> Vec<(i64, String)> {
    request["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["org_id"].as_i64().unwrap(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

db_test!(
    report_requests_are_answered_by_each_child_late_or_missing,
    |app| {
        let c = City::build(&app).await;
        let (b1, b2, b3) = (c.branches["B1"], c.branches["B2"], c.branches["B3"]);
        let b_admin = c.user(&app, "b.admin", c.b, "org_admin").await;
        let today = pingyi::types::local_today();
        let path = format!("/api/v1/campaigns/{}/report-requests", c.campaign);
        // Asked by the org's administrator, never by a secretary, never in the past.
        let body = json!({"from_org_id": c.b, "title": "贯彻落实情况书面材料", "due_on": today});
        let b_secretary = c.user(&app, "b.secretary", c.b, "secretary").await;
        app.post(&path, Some(&b_secretary), body.clone())
            .await
            .assert_problem(403, "forbidden");
        let reply = app
        .post(
            &path,
            Some(&b_admin),
            json!({"from_org_id": c.b, "title": "x", "due_on": today - chrono::Duration::days(1)}),
        )
        .await;
        crate::common::assert_only_field_error(&reply, "due_on");
        let created = app.post(&path, Some(&b_admin), body).await;
        let request = created.assert_status(201);
        let id = request["id"].as_i64().unwrap();
        assert_eq!(
            statuses(&request),
            vec![
                (b1, "missing".into()),
                (b2, "missing".into()),
                (b3, "missing".into())
            ]
        );

        // Each child answers for itself: never the superior, a member or another child.
        let b1_secretary = secretary(&app, &c, "B1").await;
        let b3_admin = c.user(&app, "b3.admin", b3, "org_admin").await;
        submit(&app, id, &b_admin, b1, "代写")
            .await
            .assert_problem(403, "forbidden");
        // Another child does not see B1: a body naming it is a field error.
        let reply = submit(&app, id, &b3_admin, b1, "冒名").await;
        crate::common::assert_only_field_error(&reply, "org_id");
        let reply = submit(&app, id, &b1_secretary, c.a, "不是下级").await;
        crate::common::assert_only_field_error(&reply, "org_id");
        let a1_secretary = secretary(&app, &c, "A1").await;
        submit(&app, id, &a1_secretary, c.branches["A1"], "x")
            .await
            .assert_problem(404, "not_found");
        let first = submit(&app, id, &b1_secretary, b1, "初稿").await;
        let submission = first.assert_status(201);
        assert_eq!(submission["status"], "submitted");
        let submission_id = submission["id"].as_i64().unwrap();
        // Before the due date a new text replaces it, and the history keeps both.
        let again = submit(&app, id, &b1_secretary, b1, "定稿")
            .await
            .assert_status(200);
        assert_eq!(again["id"], submission_id);
        assert_eq!(again["body"], "定稿");
        assert_eq!(again["version"], 2);
        assert_eq!(again["versions"].as_array().unwrap().len(), 2);
        let pdf = upload(
            &app,
            &format!("/api/v1/report-submissions/{submission_id}/attachments"),
            &b1_secretary,
            multipart("file", "书面材料.pdf", "application/pdf", PDF),
        )
        .await
        .assert_status(201);

        // Who sees it: the asking org sees every child; a child sees its own entry only.
        let whole = app
            .get(&format!("/api/v1/report-requests/{id}"), Some(&b_admin))
            .await
            .assert_status(200);
        assert_eq!(
            statuses(&whole),
            vec![
                (b1, "submitted".into()),
                (b2, "missing".into()),
                (b3, "missing".into())
            ]
        );
        let own = app
            .get(
                &format!("/api/v1/report-requests/{id}"),
                Some(&b1_secretary),
            )
            .await
            .assert_status(200);
        assert_eq!(statuses(&own), vec![(b1, "submitted".into())]);
        assert_eq!(
            app.get(&path, Some(&b1_secretary)).await.assert_status(200)["total"],
            1
        );
        app.get(
            &format!("/api/v1/report-requests/{id}"),
            Some(&a1_secretary),
        )
        .await
        .assert_problem(404, "not_found");
        assert_eq!(
            app.get(&path, Some(&a1_secretary)).await.assert_status(200)["total"],
            0
        );
        let b3_secretary = secretary(&app, &c, "B3").await;
        app.get(
            &format!("/api/v1/report-submissions/{submission_id}"),
            Some(&b3_secretary),
        )
        .await
        .assert_problem(404, "not_found");
        let file = app
            .get(
                &format!("/api/v1/attachments/{}", pdf["id"]),
                Some(&b_admin),
            )
            .await;
        assert_eq!((file.status.as_u16(), file.bytes.as_slice()), (200, PDF));

        // A day passes (the due date and B1's submission both move back a day): B1's on-time
        // report is fixed, B3 answers late, B2 stays missing.
        let yesterday = today - chrono::Duration::days(1);
        let sql = format!("UPDATE report_requests SET due_on = '{yesterday}'");
        execute(&app, Box::leak(sql.into_boxed_str())).await;
        // 09:00 in Beijing.
        let sql = format!("UPDATE report_submissions SET submitted_at = '{yesterday} 01:00:00'");
        execute(&app, Box::leak(sql.into_boxed_str())).await;
        submit(&app, id, &b1_secretary, b1, "截止后改写")
            .await
            .assert_problem(409, "report_closed");
        upload(
            &app,
            &format!("/api/v1/report-submissions/{submission_id}/attachments"),
            &b1_secretary,
            multipart("file", "补充.pdf", "application/pdf", PDF),
        )
        .await
        .assert_problem(409, "report_closed");
        let late = submit(&app, id, &b3_secretary, b3, "迟交")
            .await
            .assert_status(201);
        assert_eq!(late["status"], "late");
        let whole = app
            .get(&format!("/api/v1/report-requests/{id}"), Some(&b_admin))
            .await
            .assert_status(200);
        assert_eq!(
            statuses(&whole),
            vec![
                (b1, "submitted".into()),
                (b2, "missing".into()),
                (b3, "late".into())
            ]
        );
        // Coverage lists the missing child.
        let coverage = app
            .get(
                &format!("/api/v1/campaigns/{}/coverage?org_id={}", c.campaign, c.b),
                Some(&b_admin),
            )
            .await
            .assert_status(200);
        assert_eq!(
            coverage["report_requests"][0]["missing"],
            json!([{"id": b2, "name": "B2"}])
        );
    }
);

db_test!(
    report_status_follows_the_date_line_in_china_standard_time,
    |app| {
        let c = City::build(&app).await;
        let b_admin = c.user(&app, "b.admin", c.b, "org_admin").await;
        let b1 = c.branches["B1"];
        let request = app
            .post(
                &format!("/api/v1/campaigns/{}/report-requests", c.campaign),
                Some(&b_admin),
                json!({"from_org_id": c.b, "title": "材料", "due_on": "2099-01-09"}),
            )
            .await
            .assert_status(201);
        let id = request["id"].as_i64().unwrap();
        let b1_secretary = secretary(&app, &c, "B1").await;
        submit(&app, id, &b1_secretary, b1, "材料")
            .await
            .assert_status(201);
        let status = || async {
            app.get(&format!("/api/v1/report-requests/{id}"), Some(&b_admin))
                .await
                .assert_status(200)["children"][0]["status"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        // 23:59:59 on the 9th in Beijing is 15:59:59 UTC: on time; a second later it is late.
        execute(
            &app,
            "UPDATE report_submissions SET submitted_at = '2099-01-09 15:59:59'",
        )
        .await;
        assert_eq!(status().await, "submitted");
        execute(
            &app,
            "UPDATE report_submissions SET submitted_at = '2099-01-09 16:00:00'",
        )
        .await;
        assert_eq!(status().await, "late");
        // 07:00 on the 9th in Beijing is still the 8th in UTC.
        execute(
            &app,
            "UPDATE report_submissions SET submitted_at = '2099-01-08 23:00:00'",
        )
        .await;
        assert_eq!(status().await, "submitted");
    }
);

db_test!(coverage_shows_which_sessions_have_their_records, |app| {
    let c = City::build(&app).await;
    let secretary = secretary(&app, &c, "B2").await;
    let docs = format!("/api/v1/sessions/{}/documents", c.sessions["B2"]);
    app.post(&docs, Some(&secretary), self_inspection())
        .await
        .assert_status(201);
    app.post(
        &docs,
        Some(&secretary),
        json!({"kind": "member_summary", "person_id": c.secretaries["B2"], "title": "小结", "body": "……"}),
    )
    .await
    .assert_status(201);
    let coverage = app
        .get(
            &format!("/api/v1/campaigns/{}/coverage", c.campaign),
            Some(&c.admin),
        )
        .await
        .assert_status(200);
    assert_eq!(coverage["sessions_with_self_inspection"], 1);
    assert_eq!(coverage["sessions_with_duty_report"], 0);
    assert_eq!(coverage["member_summaries"], 1);
    let records = coverage["session_records"].as_array().unwrap();
    assert_eq!(records.len(), 6);
    let b2 = records
        .iter()
        .find(|r| r["org_id"] == c.branches["B2"])
        .unwrap();
    assert_eq!(
        (
            b2["self_inspection"].clone(),
            b2["duty_report"].clone(),
            b2["member_summaries"].clone()
        ),
        (json!(true), json!(false), json!(1))
    );
    assert!(records
        .iter()
        .filter(|r| r["org_id"] != c.branches["B2"])
        .all(|r| r["self_inspection"] == false && r["member_summaries"] == 0));
});

db_test!(
    the_demo_branch_has_its_process_on_record_for_each_role_to_read,
    |app| {
        let pool = app.pool.clone();
        crate::common::tokio_block(move || {
            let mut conn = pool.get().unwrap();
            pingyi::demo::load(&mut conn).unwrap();
        })
        .await;
        let as_demo = |name: &'static str| login(&app, name, pingyi::demo::DEMO_PASSWORD);
        let (secretary, member, observer, college, integration) = (
            as_demo("demo.secretary").await,
            as_demo("demo.member").await,
            as_demo("demo.observer").await,
            as_demo("demo.college").await,
            as_demo("demo.integration").await,
        );
        let campaign = app
            .get("/api/v1/campaigns", Some(&college))
            .await
            .assert_status(200)["items"][0]["id"]
            .as_i64()
            .unwrap();
        let sessions = app
            .get(
                &format!("/api/v1/sessions?campaign_id={campaign}&per_page=100"),
                Some(&college),
            )
            .await
            .assert_status(200);
        let session = sessions["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["org_name"] == "机电工程学院教工第一党支部")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let docs = format!("/api/v1/sessions/{session}/documents");
        let kinds = |page: Value| -> Vec<String> {
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["kind"].as_str().unwrap().to_owned())
                .collect()
        };
        // The branch, those above it and the city's integration read all four documents;
        // the member reads their own summary.
        for token in [&secretary, &observer, &college, &integration] {
            let page = app.get(&docs, Some(token)).await.assert_status(200);
            assert_eq!(
                kinds(page),
                [
                    "duty_report",
                    "member_summary",
                    "member_summary",
                    "self_inspection"
                ]
            );
        }
        let own = app.get(&docs, Some(&member)).await.assert_status(200);
        assert_eq!(kinds(own.clone()), ["member_summary"]);
        assert_eq!(
            own["items"][0]["frozen"], true,
            "the meeting was held and closed"
        );

        // Three opinions typed in, read from above (not by the rated secretary or a member).
        let opinions = format!("/api/v1/sessions/{session}/opinions?source=survey");
        assert_eq!(
            app.get(&opinions, Some(&observer)).await.assert_status(200)["total"],
            1
        );
        let all = app
            .get(
                &format!("/api/v1/sessions/{session}/opinions?per_page=100"),
                Some(&college),
            )
            .await
            .assert_status(200);
        let recorded = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["source"] != "ballot")
            .count() as i64;
        assert_eq!(recorded, 3, "a survey, a visit and the meeting");
        app.get(&opinions, Some(&secretary))
            .await
            .assert_problem(403, "forbidden");
        app.get(&opinions, Some(&member))
            .await
            .assert_problem(403, "forbidden");

        // The observer's comment: the branch reads it, the member (not its subject) does not.
        let comments = format!("/api/v1/sessions/{session}/leader-comments");
        let read = app
            .get(&comments, Some(&secretary))
            .await
            .assert_status(200);
        assert_eq!(read["total"], 1);
        assert_eq!(
            app.get(&comments, Some(&member)).await.assert_status(200)["total"],
            0
        );

        // The commitment, kept.
        let kept = app
            .get("/api/v1/commitments?status=fulfilled", Some(&college))
            .await
            .assert_status(200);
        assert_eq!(kept["total"], 1);
        assert!(!kept["items"][0]["evidence"].as_str().unwrap().is_empty());
        assert_eq!(
            app.get("/api/v1/commitments", Some(&member))
                .await
                .assert_status(200)["total"],
            0
        );

        // The report request: answered with a PDF by this branch, missing from the other.
        let requests = app
            .get(
                &format!("/api/v1/campaigns/{campaign}/report-requests"),
                Some(&college),
            )
            .await
            .assert_status(200);
        let request = &requests["items"][0];
        let children: Vec<(&str, &str)> = request["children"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
            .collect();
        assert_eq!(
            children,
            [
                ("机电工程学院学生第一党支部", "missing"),
                ("机电工程学院教工第一党支部", "submitted")
            ]
        );
        let submission_id = request["children"][1]["submission_id"].as_i64().unwrap();
        let submission = app
            .get(
                &format!("/api/v1/report-submissions/{submission_id}"),
                Some(&observer),
            )
            .await
            .assert_status(200);
        let pdf = app
            .get(
                &format!("/api/v1/attachments/{}", submission["attachments"][0]["id"]),
                Some(&secretary),
            )
            .await;
        assert_eq!(pdf.status.as_u16(), 200);
        assert!(pdf.bytes.starts_with(b"%PDF-"));
        assert_eq!(pdf.content_type(), "application/pdf");
        // The branch sees its own entry; the member sees no request at all.
        let own = app
            .get(
                &format!("/api/v1/report-requests/{}", request["id"]),
                Some(&secretary),
            )
            .await
            .assert_status(200);
        assert_eq!(own["children"].as_array().unwrap().len(), 1);
        app.get(
            &format!("/api/v1/report-requests/{}", request["id"]),
            Some(&member),
        )
        .await
        .assert_problem(404, "not_found");
        let coverage = app
            .get(
                &format!("/api/v1/campaigns/{campaign}/coverage"),
                Some(&college),
            )
            .await
            .assert_status(200);
        assert_eq!(
            coverage["report_requests"][0]["missing"][0]["name"],
            "机电工程学院学生第一党支部"
        );
        assert_eq!(coverage["sessions_with_self_inspection"], 1);
        assert_eq!(coverage["member_summaries"], 2);
    }
);
