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
        title = "Pingyi (评议) API",
        version = "1.0.0",
        description = "Mass-evaluation (群众评议) campaigns of grassroots Party organizations: \
            the organization tree, people and access that follows subordination (隶属关系), \
            evaluation sessions with anonymous ballots, results and rectification.\n\n\
            Errors are RFC 9457 `application/problem+json` with a stable `code`. Lists take \
            `page` and `per_page` (≤ 200) and answer `{items, total, page, per_page}`.",
        license(name = "MIT"),
    ),
    servers((url = "/", description = "This server")),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
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
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let has_params = path.contains('{');
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
                add_shared_errors(op, has_params);
            }
        }
    }
}

/// Adds the errors any operation can answer, unless the operation documents its own.
fn add_shared_errors(op: &mut Operation, has_path_params: bool) {
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
    if has_path_params {
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
    });
    if code == "validation_failed" {
        example["errors"] = serde_json::json!([{"field": "name", "message": "must not be empty"}]);
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

    /// Every enum schema in the document lists exactly the values the server speaks:
    /// each one deserializes into the Rust type and serializes back unchanged. An enum
    /// schema missing from the table below fails the test, so new enums are checked too.
    #[test]
    fn every_enum_schema_lists_the_wire_values() {
        use crate::auth::Role;
        use crate::ballots::model::ParticipantCategory;
        use crate::campaigns::rules::CampaignStatus;
        use crate::error::ErrorCode;
        use crate::orgs::model::{Domain, OrgKind, OrgStatus};
        use crate::people::model::{MemberType, Position};
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
            ("SessionKind", round_trip::<SessionKind>),
            ("SessionStatus", round_trip::<SessionStatus>),
            ("SubjectType", round_trip::<SubjectType>),
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
