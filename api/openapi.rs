//! The OpenAPI document: collected from the route table by utoipa-actix-web, then given
//! the error responses every operation shares, so that none is forgotten.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as OpenApiDoc, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

use crate::error::PROBLEM_JSON;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pingyi API",
        version = "1.0.0",
        description = "Pingyi (评议): mass-evaluation (群众评议) campaigns of grassroots Party organizations: \
            the organization tree, people and access that follows subordination (隶属关系), \
            evaluation sessions with anonymous ballots, results and rectification.\n\n\
            Errors are RFC 9457 `application/problem+json` with a stable `code`. Lists take \
            `page` and `per_page` (≤ 200) and answer `{items, total, page, per_page}`.",
        license(name = "MIT"),
    ),
    servers((url = "/", description = "This server")),
    tags(
        (name = "auth", description = "Sign in, refresh and sign out (登录): short-lived access tokens and rotating refresh tokens."),
        (name = "users", description = "Accounts and their grants `(org, role)`; a grant covers the org's whole subtree (隶属关系)."),
        (name = "orgs", description = "The organization tree (党组织): committees, general branches, branches."),
        (name = "people", description = "Party members (党员) with their membership history."),
        (name = "imports", description = "CSV imports of orgs and people: idempotent, all-or-nothing, with a dry run."),
        (name = "jobs", description = "Background jobs: large imports (or with `Prefer: respond-async`) answer 202 and run here; state, progress and outcome."),
        (name = "campaigns", description = "Evaluation campaigns (评议活动) and their criteria templates (测评标准)."),
        (name = "sessions", description = "Evaluation meetings (评议会): schedule, subjects, open and close."),
        (name = "voting", description = "Voting codes (评议码), ballot forms and anonymous ballots, paper ballots, turnout."),
        (name = "results", description = "Results (测评结果) of closed sessions, rolled up the tree, ranked, covered and exported; never a figure of fewer than k ballots."),
        (name = "rectifications", description = "Rectification items (整改): cause, measures, owner, deadline, progress, sign-off by a superior org."),
        (name = "records", description = "The evaluation process on record: self-inspections (自查), duty reports (述职), member summaries (小结) with their versions and files; opinions (意见建议); leader comments (领导点评); commitments (公开承诺); report requests to subordinate orgs (书面材料报送)."),
        (name = "instant", description = "Instant evaluation of window units (窗口单位即时评议, 好差评): service points and their posters, one-time service tickets (一次一评), ratings without login, bad reviews followed up, resolved or appealed (差评整改), monthly figures and rankings."),
        (name = "calendar", description = "The working-day calendar (工作日历): holidays and worked weekend days (调休) that deadlines count in."),
        (name = "webhooks", description = "Webhooks for other systems (Standard Webhooks 1.0): subscriptions to the events of an org's subtree, signed deliveries (`webhook-id`, `webhook-timestamp`, `webhook-signature`), retries for about 3 days, a log of every attempt."),
        (name = "audit", description = "Every write, with who made it and when (审计日志)."),
        (name = "operations", description = "Health, readiness and metrics."),
    ),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        // Enums only query parameters name (the rest are collected from bodies).
        crate::results::model::ExportReport,
        crate::results::model::ExportFormat,
        crate::records::model::OpinionSource,
        crate::records::model::OpinionCategory,
        crate::records::model::CommitmentStatus,
        crate::records::model::DocumentKind,
        crate::instant::model::CaseStatus,
    )),
    modifiers(&SecurityAndErrors),
)]
struct ApiDoc;

/// The whole document, as served at `/api/v1/openapi.json` and printed by `pingyi openapi`.
pub fn document() -> OpenApiDoc {
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes)
        .split_for_parts();
    let mut doc = doc;
    SecurityAndErrors.modify(&mut doc);
    doc
}

/// Pretty JSON with a trailing newline, exactly as committed in `openapi/openapi.json`.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the document serializes");
    json.push('\n');
    json
}

struct SecurityAndErrors;

impl Modify for SecurityAndErrors {
    fn modify(&self, doc: &mut OpenApiDoc) {
        let components = doc.components.get_or_insert_with(Default::default);
        reference_page_items(components);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        require_answered_fields(doc);
        for (path, item) in doc.paths.paths.iter_mut() {
            let has_path_params = path.contains('{');
            for op in [
                item.get.as_mut(),
                item.post.as_mut(),
                item.put.as_mut(),
                item.patch.as_mut(),
                item.delete.as_mut(),
            ]
            .into_iter()
            .flatten()
            {
                let names_an_object = has_path_params || filters_by_id(op);
                add_shared_errors(op, names_an_object);
                summary_and_description(op);
                // Operations that take no token say so, rather than leaving it unsaid.
                op.security.get_or_insert_with(Vec::new);
                add_response_headers(op);
            }
        }
    }
}

/// utoipa makes a handler's whole doc comment the summary. Generated clients use the
/// summary as a one-line docstring and the description as its body: keep the first
/// sentence as the summary and the whole text as the description.
fn summary_and_description(op: &mut Operation) {
    let Some(text) = op.summary.take() else {
        return;
    };
    let text = text.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    let first_sentence = text
        .find(". ")
        .map_or(text.as_str(), |end| &text[..end])
        .trim_end_matches('.');
    op.summary = Some(first_sentence.to_owned());
    if op.description.as_deref().is_none_or(str::is_empty) {
        op.description = Some(text);
    }
}

/// utoipa inlines a generic page's item schema (`Page<Org>` holds a copy of `Org`), which
/// generators turn into a separate class per page (`PageOrgItemsItem` is not an `Org`).
/// Where the copy is exactly a named schema, refer to that schema instead.
fn reference_page_items(components: &mut utoipa::openapi::Components) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    let pages: Vec<String> = components
        .schemas
        .keys()
        .filter(|name| name.starts_with("Page_"))
        .cloned()
        .collect();
    for page_name in pages {
        let item_name = &page_name["Page_".len()..];
        let Some(item) = components.schemas.get(item_name) else {
            continue;
        };
        let item = serde_json::to_value(item).ok();
        let Some(RefOr::T(Schema::Object(page))) = components.schemas.get_mut(&page_name) else {
            continue;
        };
        let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") else {
            continue;
        };
        if let ArrayItems::RefOrSchema(inline) = &items.items {
            if serde_json::to_value(inline.as_ref()).ok() == item {
                items.items = ArrayItems::RefOrSchema(Box::new(RefOr::Ref(
                    utoipa::openapi::Ref::from_schema_name(item_name),
                )));
            }
        }
    }
}

/// The server sends every field of what it answers (`null` where there is no value), so every
/// property of a schema that appears only in answers is `required`; generators then type
/// them as always present (nullable where the type allows null) instead of optional.
/// Schemas that requests use as well keep their own list: there, a field may be left out.
fn require_answered_fields(doc: &mut OpenApiDoc) {
    use std::collections::BTreeSet;
    use utoipa::openapi::schema::Schema;

    let paths = serde_json::to_value(&doc.paths).unwrap_or_default();
    let schemas = doc
        .components
        .as_ref()
        .map(|c| serde_json::to_value(&c.schemas).unwrap_or_default())
        .unwrap_or_default();
    let mut in_requests = BTreeSet::new();
    let mut in_answers = BTreeSet::new();
    for operation in paths.as_object().into_iter().flat_map(|p| p.values()) {
        for operation in operation.as_object().into_iter().flat_map(|o| o.values()) {
            collect_refs(&operation["requestBody"], &schemas, &mut in_requests);
            collect_refs(&operation["parameters"], &schemas, &mut in_requests);
            collect_refs(&operation["responses"], &schemas, &mut in_answers);
        }
    }
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for name in in_answers.difference(&in_requests) {
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) {
            object.required = object.properties.keys().cloned().collect();
        }
    }
}

/// The names of every schema `value` refers to, directly or through other schemas.
fn collect_refs(
    value: &serde_json::Value,
    schemas: &serde_json::Value,
    found: &mut std::collections::BTreeSet<String>,
) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(|r| r.as_str())
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                if found.insert(name.to_owned()) {
                    collect_refs(&schemas[name], schemas, found);
                }
            }
            for child in map.values() {
                collect_refs(child, schemas, found);
            }
        }
        serde_json::Value::Array(items) => {
            for child in items {
                collect_refs(child, schemas, found);
            }
        }
        _ => {}
    }
}

/// Whether a list takes a filter naming an object (`?org_id=…`): naming one the actor may
/// not see answers 404, as for a path.
fn filters_by_id(op: &Operation) -> bool {
    op.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => {
            p.parameter_in == utoipa::openapi::path::ParameterIn::Query && p.name.ends_with("_id")
        }
        RefOr::Ref(_) => false,
    })
}

/// Adds the errors any operation can answer, unless the operation documents its own.
fn add_shared_errors(op: &mut Operation, names_an_object: bool) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = op.request_body.is_some();
    let mut add = |status: &str, code: &str, description: &str, detail: &str| {
        if !op.responses.responses.contains_key(status) {
            op.responses.responses.insert(
                status.to_owned(),
                RefOr::T(problem(status, code, description, detail)),
            );
        }
    };
    add(
        "400",
        "bad_request",
        "Malformed request: bad JSON, path or query parameter",
        "A query parameter is malformed: invalid digit found in string.",
    );
    if has_body {
        add(
            "413",
            "payload_too_large",
            "The body is too large",
            "The request body is larger than this endpoint accepts.",
        );
        add(
            "415",
            "unsupported_media_type",
            "Wrong Content-Type",
            "Send the body as JSON with Content-Type: application/json.",
        );
        add(
            "422",
            "validation_failed",
            "Invalid fields",
            "The request has invalid fields.",
        );
    }
    if secured {
        add(
            "401",
            "unauthorized",
            "Missing, invalid or expired access token",
            "A valid bearer token is required.",
        );
        add(
            "403",
            "forbidden",
            "Visible, but the actor may not do this",
            "You may see this, but not do this.",
        );
    }
    if names_an_object {
        add(
            "404",
            "not_found",
            "No such resource, or one the actor may not see",
            "No such resource.",
        );
    }
    add(
        "500",
        "internal",
        "Unexpected server error (details only in the log, by request id)",
        "Something went wrong on our side; the request id identifies it in our logs.",
    );
}

/// Operations whose 201 creates something without an address: an anonymous ballot has no
/// URL by design (nothing may look a ballot up).
const CREATED_WITHOUT_ADDRESS: [&str; 4] = [
    "submit_ballot",
    "enter_paper_ballots",
    // Tickets and ratings have no URL by design: nothing may look them up.
    "issue_tickets",
    "submit_rating",
];

/// The headers the server sends with some statuses: `Location` with every 201 that creates
/// something addressable, `Retry-After` with every 429 and 503.
fn add_response_headers(op: &mut Operation) {
    let addressless = op
        .operation_id
        .as_deref()
        .is_some_and(|id| CREATED_WITHOUT_ADDRESS.contains(&id));
    let headers: [(&str, &str, &str); 3] = [
        ("201", "Location", "The URL of the created resource."),
        ("429", "Retry-After", "Seconds to wait before trying again."),
        ("503", "Retry-After", "Seconds to wait before trying again."),
    ];
    for (status, name, description) in headers {
        if name == "Location" && addressless {
            continue;
        }
        if let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) {
            let schema = if name == "Retry-After" {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::Integer)
                    .minimum(Some(1))
                    .build()
            } else {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .build()
            };
            let header = utoipa::openapi::HeaderBuilder::new()
                .schema(Some(schema))
                .description(Some(description))
                .build();
            response
                .headers
                .entry(name.to_owned())
                .or_insert(RefOr::T(header));
        }
    }
}

fn problem(status: &str, code: &str, description: &str, detail: &str) -> Response {
    let status_num: u16 = status.parse().unwrap_or(500);
    let title = actix_web::http::StatusCode::from_u16(status_num)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let mut example = serde_json::json!({
        "type": format!("urn:pingyi:problem:{code}"),
        "title": title,
        "status": status_num,
        "detail": detail,
        "code": code,
        "errors": [],
    });
    if code == "validation_failed" {
        example["errors"] =
            serde_json::json!([{"line": null, "field": "name", "message": "must not be empty"}]);
    }
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                    "Problem",
                ))))
                .example(Some(example))
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::document;

    type RoundTrip = fn(&str) -> Result<String, String>;

    /// Deserializes a wire value into `T` and serializes it back.
    fn round_trip<T: Serialize + DeserializeOwned>(value: &str) -> Result<String, String> {
        let parsed: T = serde_json::from_value(serde_json::Value::from(value))
            .map_err(|e| format!("{value:?} does not deserialize: {e}"))?;
        match serde_json::to_value(parsed) {
            Ok(serde_json::Value::String(back)) => Ok(back),
            other => Err(format!("{value:?} serializes to {other:?}")),
        }
    }

    /// Every example a schema carries is valid for that schema: generated documentation
    /// and mock servers show them to integrators.
    #[test]
    fn every_reference_resolves() {
        fn walk(value: &serde_json::Value, doc: &serde_json::Value, refs: &mut usize) {
            match value {
                serde_json::Value::Object(map) => {
                    if let Some(target) = map.get("$ref").and_then(|r| r.as_str()) {
                        let pointer = target.trim_start_matches('#');
                        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
                        *refs += 1;
                    }
                    map.values().for_each(|v| walk(v, doc, refs));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, doc, refs)),
                _ => {}
            }
        }
        let doc = serde_json::to_value(document()).unwrap();
        let mut refs = 0;
        walk(&doc, &doc, &mut refs);
        assert!(refs > 100, "{refs} references");
    }

    #[test]
    fn every_schema_example_matches_its_schema() {
        let doc = serde_json::to_value(document()).unwrap();
        let components = &doc["components"];
        let mut checked = 0;
        for (name, schema) in components["schemas"].as_object().unwrap() {
            let Some(example) = schema.get("example") else {
                continue;
            };
            let validator = jsonschema::validator_for(&serde_json::json!({
                "$ref": format!("#/components/schemas/{name}"),
                "components": components,
            }))
            .unwrap();
            let errors: Vec<String> = validator
                .iter_errors(example)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{name}: {errors:?}");
            checked += 1;
        }
        assert!(checked > 20, "only {checked} examples");
    }

    /// Every enum schema in the document lists exactly the values the server speaks:
    /// each one deserializes into the Rust type and serializes back unchanged. An enum
    /// schema missing from the table below fails the test, so new enums are checked too.
    #[test]
    fn every_enum_schema_lists_the_wire_values() {
        use crate::auth::Role;
        use crate::ballots::model::ParticipantCategory;
        use crate::campaigns::rules::CampaignStatus;
        use crate::error::ErrorCode;
        use crate::instant::model::{AppealDecision, CaseStatus, FollowUpResult, InstantLevel};
        use crate::orgs::model::{Domain, OrgKind, OrgStatus};
        use crate::people::model::{MemberType, PersonStatus, Position};
        use crate::records::model::{
            CommitmentStatus, DocumentKind, OpinionCategory, OpinionSource, ReportStatus,
        };
        use crate::rectifications::model::{NoteKind, RectificationStatus};
        use crate::results::model::{ExportFormat, ExportReport};
        use crate::sessions::model::{SessionKind, SessionStatus};
        use crate::templates::model::SubjectType;

        let checks: &[(&str, RoundTrip)] = &[
            ("Role", round_trip::<Role>),
            ("ParticipantCategory", round_trip::<ParticipantCategory>),
            ("CampaignStatus", round_trip::<CampaignStatus>),
            ("ErrorCode", round_trip::<ErrorCode>),
            ("Domain", round_trip::<Domain>),
            ("OrgKind", round_trip::<OrgKind>),
            ("OrgStatus", round_trip::<OrgStatus>),
            ("MemberType", round_trip::<MemberType>),
            ("Position", round_trip::<Position>),
            ("PersonStatus", round_trip::<PersonStatus>),
            ("SessionKind", round_trip::<SessionKind>),
            ("SessionStatus", round_trip::<SessionStatus>),
            ("SubjectType", round_trip::<SubjectType>),
            ("ExportReport", round_trip::<ExportReport>),
            ("ExportFormat", round_trip::<ExportFormat>),
            ("RectificationStatus", round_trip::<RectificationStatus>),
            ("NoteKind", round_trip::<NoteKind>),
            ("DocumentKind", round_trip::<DocumentKind>),
            ("OpinionSource", round_trip::<OpinionSource>),
            ("OpinionCategory", round_trip::<OpinionCategory>),
            ("CommitmentStatus", round_trip::<CommitmentStatus>),
            ("ReportStatus", round_trip::<ReportStatus>),
            ("InstantLevel", round_trip::<InstantLevel>),
            ("CaseStatus", round_trip::<CaseStatus>),
            ("FollowUpResult", round_trip::<FollowUpResult>),
            ("AppealDecision", round_trip::<AppealDecision>),
            ("JobKind", round_trip::<crate::jobs::JobKind>),
            ("JobState", round_trip::<crate::jobs::JobState>),
            ("EventType", round_trip::<crate::webhooks::EventType>),
        ];
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut checked = 0;
        for (name, schema) in schemas {
            let Some(values) = schema.get("enum").and_then(|v| v.as_array()) else {
                continue;
            };
            let check = checks
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("enum schema {name} has no round-trip check"))
                .1;
            assert!(!values.is_empty(), "{name} lists no values");
            for value in values {
                let value = value.as_str().expect("string enum values");
                assert_eq!(check(value).as_deref(), Ok(value), "{name}");
            }
            checked += 1;
        }
        assert_eq!(
            checked,
            checks.len(),
            "every listed enum appears in the document"
        );
    }
}
