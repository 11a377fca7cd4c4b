//! HTTP plumbing shared by every area: request ids and the access log, extractor error
//! handlers that answer problem+json, the 404/405 fallback, pagination and `Created`.

mod body;
mod csv;
mod fallback;
mod middleware;
mod pagination;

pub use body::{parse as parse_body, use_document as use_document_for_bodies, BodyLimit, JsonBody};
pub use csv::{CsvBody, ImportLimit};
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
        .error_handler(move |err, _req| json_error(err, limit).into())
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

/// A body over `limit` bytes: the answer names the limit.
fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        format!(
            "The request body is larger than the {} this endpoint accepts.",
            size_text(limit)
        ),
    )
}

/// A size as people write it: `64 MiB`, `4 KiB`, or `1500 bytes`.
fn size_text(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// The `Content-Length` the client declared, if any: a body over the limit is refused
/// before it is read.
fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

pub fn json_error(err: JsonPayloadError, limit: usize) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            too_large(limit)
        }
        JsonPayloadError::Payload(PayloadError::Overflow) => too_large(limit),
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

/// The client's address, for per-client throttling: the TCP peer, or, when the peer is a
/// trusted reverse proxy (`PINGYI_TRUSTED_PROXIES`), the rightmost hop of
/// `X-Forwarded-For` (else `Forwarded: for=`) that is not a trusted proxy itself.
pub fn client_address(req: &HttpRequest) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return String::new();
    };
    let trusted = req
        .app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|s| s.settings.trusted_proxies.clone())
        .unwrap_or_default();
    resolve_client(peer, &trusted, &forwarded_hops(req))
}

/// The hops a proxy chain recorded, leftmost (the original client) first.
fn forwarded_hops(req: &HttpRequest) -> Vec<String> {
    let values = |name: &str| -> Vec<String> {
        req.headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|hop| hop.trim().to_owned())
            .filter(|hop| !hop.is_empty())
            .collect()
    };
    let xff = values("x-forwarded-for");
    if !xff.is_empty() {
        return xff;
    }
    values("forwarded")
        .iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("for")
                    .then(|| value.trim_matches('"').to_owned())
            })
        })
        .collect()
}

/// An address out of a hop: `1.2.3.4`, `1.2.3.4:5678`, `[::1]:80` or `::1`.
fn hop_ip(hop: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Ok(addr) = hop.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    hop.trim_start_matches('[')
        .split(']')
        .next()
        .and_then(|h| h.parse().ok())
}

/// The client behind `peer`: the peer itself unless it is trusted, then the rightmost hop
/// that is not trusted (a hop that is no address — `unknown`, an obfuscated name — is taken
/// as the client, bounded in length).
pub fn resolve_client(
    peer: std::net::IpAddr,
    trusted: &[crate::config::Cidr],
    hops: &[String],
) -> String {
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer.to_string();
    }
    for hop in hops.iter().rev() {
        match hop_ip(hop) {
            Some(ip) if is_trusted(ip) => continue,
            Some(ip) => return ip.to_string(),
            None => return format!("hop:{}", hop.chars().take(64).collect::<String>()),
        }
    }
    hops.first()
        .and_then(|h| hop_ip(h))
        .unwrap_or(peer)
        .to_string()
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

/// `Content-Disposition: attachment` for a download: an ASCII `filename` for old clients,
/// and the full name (Chinese allowed) as RFC 6266 `filename*`.
pub fn attachment(ascii: String, full: String) -> header::ContentDisposition {
    use header::{Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue};
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(ascii),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: full.into_bytes(),
            }),
        ],
    }
}

/// 201 Created at an explicit location.
pub fn created_at<T: Serialize>(location: String, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

#[cfg(test)]
mod client_tests {
    use super::resolve_client;

    #[test]
    fn only_trusted_peers_are_believed_and_the_rightmost_untrusted_hop_wins() {
        let trusted = ["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let hops = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let peer = "127.0.0.1".parse().unwrap();
        let stranger = "203.0.113.9".parse().unwrap();
        assert_eq!(
            resolve_client(stranger, &trusted, &hops(&["1.1.1.1"])),
            "203.0.113.9"
        );
        assert_eq!(
            resolve_client(
                peer,
                &trusted,
                &hops(&["6.6.6.6", "198.51.100.4", "10.1.2.3"])
            ),
            "198.51.100.4"
        );
        assert_eq!(
            resolve_client(peer, &trusted, &hops(&["[2001:db8::1]:443"])),
            "2001:db8::1"
        );
        assert_eq!(
            resolve_client(peer, &trusted, &hops(&["10.0.0.5"])),
            "10.0.0.5"
        );
        assert_eq!(resolve_client(peer, &trusted, &hops(&[])), "127.0.0.1");
        assert_eq!(resolve_client(peer, &[], &hops(&["1.1.1.1"])), "127.0.0.1");
    }

    #[test]
    fn limits_are_named_as_people_write_them() {
        use super::size_text;
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(size_text(4096), "4 KiB");
        assert_eq!(size_text(1500), "1500 bytes");
        assert_eq!(size_text((1 << 20) + 1024), "1025 KiB");
    }
}
