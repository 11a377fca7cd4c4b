//! HTTP plumbing shared by every area: request ids and the access log, extractor error
//! handlers that answer problem+json, the 404/405 fallback, pagination and `Created`.

mod body;
mod fallback;
mod middleware;
mod pagination;

pub use body::{BodyLimit, JsonBody};
pub use fallback::{fallback, RouteTable};
pub use middleware::{observe, RequestId, REQUEST_ID};
pub use pagination::{Page, PageQuery};

use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::{ApiError, ErrorCode};

/// JSON bodies: size limit and problem+json for every way a body can be wrong.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|err, _req| json_error(err).into())
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| path_error(err).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| query_error(err).into())
}

pub fn payload_config(limit: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit)
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        "The request body is larger than this endpoint accepts.",
    )
}

pub fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            too_large()
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => too_large(),
        JsonPayloadError::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Send the body as JSON with Content-Type: application/json.",
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            // The JSON is well-formed but a field is missing or has the wrong type.
            ApiError::field("body", e.to_string())
        }
        JsonPayloadError::Deserialize(e) => {
            ApiError::bad_request(format!("The body is not valid JSON: {e}."))
        }
        other => ApiError::bad_request(format!("The body could not be read: {other}.")),
    }
}

fn path_error(err: PathError) -> ApiError {
    match err {
        PathError::Deserialize(e) => {
            ApiError::bad_request(format!("A path parameter is malformed: {e}."))
        }
        other => ApiError::bad_request(other.to_string()),
    }
}

fn query_error(err: QueryPayloadError) -> ApiError {
    match err {
        QueryPayloadError::Deserialize(e) => {
            ApiError::bad_request(format!("A query parameter is malformed: {e}."))
        }
        other => ApiError::bad_request(other.to_string()),
    }
}

/// The client's address, for per-client throttling: the TCP peer. Behind a reverse proxy
/// that is the proxy, which then has to keep its own per-client limits.
pub fn client_address(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default()
}

/// 201 Created with a `Location` header and the new resource as the body.
pub fn created<T: Serialize>(
    req: &HttpRequest,
    id: impl std::fmt::Display,
    body: &T,
) -> HttpResponse {
    let location = format!("{}/{id}", req.path().trim_end_matches('/'));
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

/// 201 Created at an explicit location.
pub fn created_at<T: Serialize>(location: String, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}
