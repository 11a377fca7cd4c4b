//! The JSON body extractor every handler uses instead of `web::Json`.
//!
//! It holds bodies to what the document says: a JSON object (serde would otherwise accept
//! `[3, "observer"]` for a struct), no control characters in any text (PostgreSQL cannot
//! store NUL, and nothing legitimate needs the others), the constraints of the body's
//! schema in the OpenAPI document (lengths, ranges, counts, enums: written once, as
//! `#[schema(...)]` attributes, so the document states exactly what is enforced), and a
//! field error that names the field (`joined_on`, `ratings[2].level`), not the whole body.

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use jsonschema::error::ValidationErrorKind;
use parking_lot::RwLock;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorCode, FieldError};

/// Bodies are limited by `web::JsonConfig`'s limit (the `PINGYI_BODY_LIMIT` setting).
const FALLBACK_LIMIT: usize = 1 << 20;

pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for JsonBody<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + ToSchema + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimit>>()
            .map_or(FALLBACK_LIMIT, |l| l.0);
        let content_type_ok = is_json(req);
        let declared_length = super::declared_length(req);
        let payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedMediaType,
                    "Send the body as JSON with Content-Type: application/json.",
                ));
            }
            let bytes = read_limited(payload, declared_length, limit).await?;
            parse(&bytes).map(JsonBody)
        })
    }
}

/// Reads a whole body of at most `limit` bytes; a larger one (declared or sent) is a 413
/// that names the limit.
pub(super) async fn read_limited(
    mut payload: Payload,
    declared_length: Option<usize>,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    if declared_length.is_some_and(|n| n > limit) {
        return Err(super::too_large(limit));
    }
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::bad_request(format!("The body could not be read: {e}.")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(super::too_large(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The body limit, registered as app data by the server.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| essence == "application/json" || essence.ends_with("+json"))
}

/// Parses a body: well-formed JSON (else 400), an object with clean text that meets its
/// schema and whose fields have the right types (else 422 naming each field).
pub fn parse<T: DeserializeOwned + ToSchema>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("The body is not valid JSON: {e}.")))?;
    if !value.is_object() {
        return Err(ApiError::field(
            "body",
            "must be a JSON object, as the document describes",
        ));
    }
    if let Some(field) = first_control_character(&value, String::new()) {
        return Err(ApiError::field(
            field,
            "must not contain control characters (such as NUL)",
        ));
    }
    check_schema(&T::name(), &value)?;
    let mut value = value;
    integral_floats_to_integers(&mut value);
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        ApiError::field(field_name(&path, &inner), message(&inner))
    })
}

/// Validators compiled from the document's component schemas, by schema name (`None`
/// for a name the document does not hold).
struct DocumentSchemas {
    components: Value,
    compiled: RwLock<HashMap<String, Option<Arc<jsonschema::Validator>>>>,
}

static SCHEMAS: OnceLock<DocumentSchemas> = OnceLock::new();

fn schemas_of(doc: &utoipa::openapi::OpenApi) -> DocumentSchemas {
    DocumentSchemas {
        components: serde_json::to_value(&doc.components).unwrap_or_default(),
        compiled: RwLock::new(HashMap::new()),
    }
}

/// Bodies are checked against the document the server serves (startup builds it once);
/// without that (unit tests) the document is built on first use.
pub fn use_document(doc: &utoipa::openapi::OpenApi) {
    let _ = SCHEMAS.set(schemas_of(doc));
}

fn document_schemas() -> &'static DocumentSchemas {
    SCHEMAS.get_or_init(|| schemas_of(&crate::openapi::document()))
}

fn validator_for(name: &str) -> Option<Arc<jsonschema::Validator>> {
    let schemas = document_schemas();
    if let Some(found) = schemas.compiled.read().get(name) {
        return found.clone();
    }
    let compiled = schemas.components["schemas"].get(name).and_then(|_| {
        // The component with every other component beside it, so `$ref`s resolve.
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{name}"),
            "components": schemas.components,
        });
        // Formats are asserted: a `date-time` the document allows is one RFC 3339 admits
        // (four-digit years), not whatever chrono's lenient parser would take.
        match jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
        {
            Ok(v) => Some(Arc::new(v)),
            Err(e) => {
                tracing::error!(schema = name, error = %e, "a body schema does not compile");
                None
            }
        }
    });
    schemas
        .compiled
        .write()
        .insert(name.to_owned(), compiled.clone());
    compiled
}

/// Checks a body against its schema in the document, naming every field that fails.
fn check_schema(name: &str, value: &Value) -> Result<(), ApiError> {
    let Some(validator) = validator_for(name) else {
        return Ok(());
    };
    // Valid bodies (nearly all, and every ballot) skip collecting errors.
    if validator.is_valid(value) {
        return Ok(());
    }
    let mut errors: Vec<FieldError> = validator
        .iter_errors(value)
        .map(|e| {
            let path = pointer_to_field(&e.instance_path().to_string());
            match e.kind() {
                ValidationErrorKind::Required { property } => {
                    let property = property.as_str().unwrap_or_default();
                    let field = if path.is_empty() {
                        property.to_owned()
                    } else {
                        format!("{path}.{property}")
                    };
                    FieldError::new(field, "is required")
                }
                kind => FieldError::new(
                    if path.is_empty() {
                        "body".to_owned()
                    } else {
                        path
                    },
                    constraint_message(kind).unwrap_or_else(|| e.to_string()),
                ),
            }
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors.dedup_by(|a, b| a.field == b.field);
    Err(ApiError::validation(errors))
}

/// `/ratings/2/level` → `ratings[2].level`.
fn pointer_to_field(pointer: &str) -> String {
    let mut field = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() {
            field.push_str(&format!("[{segment}]"));
        } else {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(&segment);
        }
    }
    field
}

/// The message a person can act on, for the constraints the document states.
fn constraint_message(kind: &ValidationErrorKind) -> Option<String> {
    Some(match kind {
        ValidationErrorKind::MinLength { limit } => format!("length must be at least {limit}"),
        ValidationErrorKind::MaxLength { limit } => format!("length must be at most {limit}"),
        ValidationErrorKind::Minimum { limit } => format!("must be at least {limit}"),
        ValidationErrorKind::Maximum { limit } => format!("must be at most {limit}"),
        ValidationErrorKind::MinItems { limit } => format!("at least {limit} items"),
        ValidationErrorKind::MaxItems { limit } => format!("at most {limit} items"),
        ValidationErrorKind::Format { format } => match format.as_str() {
            "date" => "must be a date (YYYY-MM-DD)".to_owned(),
            "date-time" => "must be an RFC 3339 date-time (2026-12-02T09:30:00+08:00)".to_owned(),
            other => format!("must be a valid {other}"),
        },
        ValidationErrorKind::Enum { options } => {
            let options: Vec<String> = options
                .as_array()
                .into_iter()
                .flatten()
                .map(|o| o.as_str().map_or_else(|| o.to_string(), str::to_owned))
                .collect();
            format!("must be one of: {}", options.join(", "))
        }
        _ => return None,
    })
}

/// JSON Schema counts `29.0` as an integer (its value is one), serde's integers do not:
/// a number with no fraction becomes an integer before the body is read.
fn integral_floats_to_integers(value: &mut Value) {
    /// Past 2^53 a float no longer holds every integer; such a number stays as it came.
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() <= EXACT) {
                *value = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_to_integers),
        Value::Object(map) => map.values_mut().for_each(integral_floats_to_integers),
        _ => {}
    }
}

/// Tabs and line breaks are text; every other control character is refused.
fn is_refused(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// The path of the first string (or key) holding a refused character.
fn first_control_character(value: &Value, path: String) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.chars().any(is_refused) => Some(if path.is_empty() {
            "body".to_owned()
        } else {
            path
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| first_control_character(item, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if key.chars().any(is_refused) {
                Some(join(&key.escape_debug().to_string()))
            } else {
                first_control_character(item, join(key))
            }
        }),
        _ => None,
    }
}

/// serde names a missing field in its message, at the path of the object that lacks it.
fn field_name(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(field)) => field.to_owned(),
        (path, Some(field)) => format!("{path}.{field}"),
        (".", None) => "body".to_owned(),
        (path, None) => path.to_owned(),
    }
}

/// serde's message, with the missing field's name said once (it is in `field`).
fn message(inner: &str) -> String {
    if inner.starts_with("missing field") {
        "is required".to_owned()
    } else {
        inner.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
    struct BodyTestGrant {
        #[allow(dead_code)]
        org_id: i64,
        #[allow(dead_code)]
        role: String,
    }

    #[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
    struct BodyTestPerson {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        joined_on: Option<chrono::NaiveDate>,
        #[allow(dead_code)]
        ratings: Vec<BodyTestGrant>,
    }

    fn error_of<T: DeserializeOwned + ToSchema + std::fmt::Debug>(
        body: &str,
    ) -> (u16, String, String) {
        let e = parse::<T>(body.as_bytes()).unwrap_err();
        let field = e
            .errors
            .first()
            .map(|f| f.field.clone())
            .unwrap_or_default();
        let message = e
            .errors
            .first()
            .map(|f| f.message.clone())
            .unwrap_or_default();
        (e.status.as_u16(), field, message)
    }

    #[test]
    fn an_array_is_not_an_object() {
        assert!(parse::<BodyTestGrant>(br#"{"org_id": 3, "role": "observer"}"#).is_ok());
        let (status, field, _) = error_of::<BodyTestGrant>(r#"[3, "observer"]"#);
        assert_eq!((status, field.as_str()), (422, "body"));
    }

    #[test]
    fn field_errors_name_the_field() {
        let (status, field, _) =
            error_of::<BodyTestPerson>(r#"{"name": "x", "joined_on": "yesterday", "ratings": []}"#);
        assert_eq!((status, field.as_str()), (422, "joined_on"));
        let (_, field, message) = error_of::<BodyTestPerson>(r#"{"ratings": []}"#);
        assert_eq!((field.as_str(), message.as_str()), ("name", "is required"));
        let (_, field, _) = error_of::<BodyTestPerson>(
            r#"{"name": "x", "ratings": [{"org_id": 1, "role": "a"}, {"org_id": "two", "role": "b"}]}"#,
        );
        assert_eq!(field, "ratings[1].org_id");
        let (_, field, _) =
            error_of::<BodyTestPerson>(r#"{"name": "x", "ratings": [{"org_id": 1}]}"#);
        assert_eq!(field, "ratings[0].role");
    }

    #[test]
    fn control_characters_are_refused_where_they_are() {
        let (status, field, _) =
            error_of::<BodyTestPerson>("{\"name\": \"a\\u0000b\", \"ratings\": []}");
        assert_eq!((status, field.as_str()), (422, "name"));
        let (_, field, _) = error_of::<BodyTestPerson>(
            "{\"name\": \"x\", \"ratings\": [{\"org_id\": 1, \"role\": \"\\u001b[31m\"}]}",
        );
        assert_eq!(field, "ratings[0].role");
        assert!(parse::<BodyTestPerson>(
            "{\"name\": \"line\\none\\ttab\", \"ratings\": []}".as_bytes()
        )
        .is_ok());
    }

    #[test]
    fn document_constraints_are_enforced_and_name_their_fields() {
        // CreateOrg's name is 1 to 200 characters in the document.
        let long = "长".repeat(201);
        let body = format!(r#"{{"name": "{long}", "kind": "branch", "domain": "rural"}}"#);
        let e = parse::<crate::orgs::model::CreateOrg>(body.as_bytes()).unwrap_err();
        assert_eq!(e.status.as_u16(), 422);
        assert_eq!(e.errors[0].field, "name");
        assert_eq!(e.errors[0].message, "length must be at most 200");
        let e = parse::<crate::orgs::model::CreateOrg>(br#"{"name": "x", "kind": "Committee"}"#)
            .unwrap_err();
        let fields: Vec<&str> = e.errors.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["domain", "kind"], "{:?}", e.errors);
        let ok = format!(
            r#"{{"name": "{}", "kind": "branch", "domain": "rural"}}"#,
            "长".repeat(200)
        );
        assert!(parse::<crate::orgs::model::CreateOrg>(ok.as_bytes()).is_ok());
    }

    #[test]
    fn integers_written_with_a_point_zero_are_integers() {
        assert!(parse::<BodyTestGrant>(br#"{"org_id": 3.0, "role": "observer"}"#).is_ok());
        let (status, field, _) = error_of::<BodyTestGrant>(r#"{"org_id": 3.5, "role": "x"}"#);
        assert_eq!((status, field.as_str()), (422, "org_id"));
    }

    #[test]
    fn dates_and_times_are_what_rfc_3339_allows() {
        // A six-digit year is chrono's, not RFC 3339's (and the last one overflowed the
        // local clock); the campaign's dates are `date`s.
        for starts_on in ["+10000-01-01", "2026-13-01", "2026-12-02T00:00:00Z"] {
            let body = format!(
                r#"{{"owner_org_id": 1, "title": "t", "starts_on": "{starts_on}", "ends_on": "2026-12-31", "template_id": 1}}"#
            );
            let e = parse::<crate::campaigns::model::CreateCampaign>(body.as_bytes()).unwrap_err();
            assert_eq!(
                e.errors[0].field, "starts_on",
                "{starts_on}: {:?}",
                e.errors
            );
            assert_eq!(e.errors[0].message, "must be a date (YYYY-MM-DD)");
        }
    }

    #[test]
    fn domain_template_keys_are_domains() {
        let with_key = |key: &str| {
            format!(
                r#"{{"owner_org_id": 1, "title": "t", "starts_on": "2026-12-01", "ends_on": "2026-12-31", "template_id": 1, "domain_templates": {{"{key}": 2}}}}"#
            )
        };
        let e =
            parse::<crate::campaigns::model::CreateCampaign>(with_key("").as_bytes()).unwrap_err();
        assert_eq!(e.errors[0].field, "domain_templates", "{:?}", e.errors);
        assert!(
            parse::<crate::campaigns::model::CreateCampaign>(with_key("rural").as_bytes()).is_ok()
        );
    }

    #[test]
    fn pointers_become_field_names() {
        assert_eq!(pointer_to_field(""), "");
        assert_eq!(pointer_to_field("/ratings/2/level"), "ratings[2].level");
        assert_eq!(
            pointer_to_field("/domain_templates/rural"),
            "domain_templates.rural"
        );
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let e = parse::<BodyTestGrant>(b"{\"org_id\": ").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }
}
