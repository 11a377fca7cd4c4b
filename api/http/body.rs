//! The JSON body extractor every handler uses instead of `web::Json`.
//!
//! It holds bodies to what the document says: a JSON object (serde would otherwise accept
//! `[3, "observer"]` for a struct), no control characters in any text (PostgreSQL cannot
//! store NUL, and nothing legitimate needs the others), and a field error that names the
//! field (`joined_on`, `ratings[2].level`) instead of the whole body.

use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ErrorCode};

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

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<BodyLimit>>()
            .map_or(FALLBACK_LIMIT, |l| l.0);
        let content_type_ok = is_json(req);
        let declared_length = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    ErrorCode::UnsupportedMediaType,
                    "Send the body as JSON with Content-Type: application/json.",
                ));
            }
            if declared_length.is_some_and(|n| n > limit) {
                return Err(super::too_large());
            }
            let mut bytes = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    ApiError::bad_request(format!("The body could not be read: {e}."))
                })?;
                if bytes.len() + chunk.len() > limit {
                    return Err(super::too_large());
                }
                bytes.extend_from_slice(&chunk);
            }
            parse(&bytes).map(JsonBody)
        })
    }
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

/// Parses a body: well-formed JSON (else 400), an object with clean text whose fields
/// have the right types (else 422 naming the field).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
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
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        ApiError::field(field_name(&path, &inner), message(&inner))
    })
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

    #[derive(Debug, serde::Deserialize)]
    struct Grant {
        #[allow(dead_code)]
        org_id: i64,
        #[allow(dead_code)]
        role: String,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Person {
        #[allow(dead_code)]
        name: String,
        #[allow(dead_code)]
        joined_on: Option<chrono::NaiveDate>,
        #[allow(dead_code)]
        ratings: Vec<Grant>,
    }

    fn error_of<T: DeserializeOwned + std::fmt::Debug>(body: &str) -> (u16, String, String) {
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
        assert!(parse::<Grant>(br#"{"org_id": 3, "role": "observer"}"#).is_ok());
        let (status, field, _) = error_of::<Grant>(r#"[3, "observer"]"#);
        assert_eq!((status, field.as_str()), (422, "body"));
    }

    #[test]
    fn field_errors_name_the_field() {
        let (status, field, _) =
            error_of::<Person>(r#"{"name": "x", "joined_on": "yesterday", "ratings": []}"#);
        assert_eq!((status, field.as_str()), (422, "joined_on"));
        let (_, field, message) = error_of::<Person>(r#"{"ratings": []}"#);
        assert_eq!((field.as_str(), message.as_str()), ("name", "is required"));
        let (_, field, _) = error_of::<Person>(
            r#"{"name": "x", "ratings": [{"org_id": 1, "role": "a"}, {"org_id": "two", "role": "b"}]}"#,
        );
        assert_eq!(field, "ratings[1].org_id");
        let (_, field, _) = error_of::<Person>(r#"{"name": "x", "ratings": [{"org_id": 1}]}"#);
        assert_eq!(field, "ratings[0].role");
    }

    #[test]
    fn control_characters_are_refused_where_they_are() {
        let (status, field, _) = error_of::<Person>("{\"name\": \"a\\u0000b\", \"ratings\": []}");
        assert_eq!((status, field.as_str()), (422, "name"));
        let (_, field, _) = error_of::<Person>(
            "{\"name\": \"x\", \"ratings\": [{\"org_id\": 1, \"role\": \"\\u001b[31m\"}]}",
        );
        assert_eq!(field, "ratings[0].role");
        assert!(
            parse::<Person>("{\"name\": \"line\\none\\ttab\", \"ratings\": []}".as_bytes()).is_ok()
        );
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let e = parse::<Grant>(b"{\"org_id\": ").unwrap_err();
        assert_eq!(e.status.as_u16(), 400);
    }
}
