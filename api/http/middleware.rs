use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};
use tracing::Instrument;

use crate::error::{ApiError, Language};
use crate::ops::Metrics;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the current request: the client's `X-Request-Id` when it is sane, else a
/// fresh random one. Audit events and error logs carry it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming_request_id(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    sane.then(|| value.to_owned())
}

/// Request id, one log line per request, metrics, and the log line for internal errors.
pub async fn observe(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let started = Instant::now();
    let request_id = incoming_request_id(&req).unwrap_or_else(|| crate::auth::random_token(16));
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    // HEAD is GET without the body: routes are declared for GET only, and actix's codec
    // already knows the request was HEAD, so it sends the GET's headers and no body.
    if req.method() == actix_web::http::Method::HEAD {
        req.head_mut().method = actix_web::http::Method::GET;
    }
    let path = req.path().to_owned();
    let language = Language::from_accept_language(
        req.headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );

    let span = tracing::info_span!("request", request_id = %request_id);
    let refused = if has_control_character(req.path()) {
        Some("The path must not contain control characters (such as NUL).")
    } else if has_control_character(req.query_string()) {
        Some("The query string must not contain control characters (such as NUL).")
    } else {
        None
    };
    let outcome = if let Some(reason) = refused {
        Ok(req.error_response(ApiError::bad_request(reason)))
    } else {
        next.call(req)
            .instrument(span)
            .await
            .map(|res| res.map_into_boxed_body())
    };
    let mut res = match outcome {
        Ok(res) => res,
        Err(e) => {
            // Only middleware fails this way (handlers answer their errors); actix renders it.
            tracing::info!(%request_id, %method, %path, error = %e, "request refused");
            return Err(e);
        }
    };

    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    let mut localized = None;
    if let Some(api_error) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        if let Some(cause) = api_error.cause() {
            if status >= 500 {
                tracing::error!(%request_id, %method, %path, status, cause, "request failed");
            } else {
                tracing::info!(%request_id, %method, %path, status, cause, "request refused");
            }
        }
        // A withheld cause (database text, say) is named to the client by the request id.
        if language != Language::English || api_error.cause().is_some() {
            let mut problem = api_error.problem_in(language);
            if api_error.cause().is_some() {
                problem.detail = format!("{} ({request_id})", problem.detail);
            }
            localized = serde_json::to_string(&problem).ok();
        }
    } else if status >= 500 {
        let cause = res
            .response()
            .error()
            .map(|e| e.to_string())
            .unwrap_or_default();
        tracing::error!(%request_id, %method, %path, status, cause, "request failed");
    }
    tracing::info!(
        %request_id,
        %method,
        %path,
        status,
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .map_or_else(|| "unmatched".into(), |p| route_label(&p));
        metrics.observe_request(&method, &route, status, elapsed);
    }
    if let Some(body) = localized {
        res = res.map_body(|_, _| BoxBody::new(body));
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// A route's pattern as the document writes it: `/rectifications/{id:\\d+}` → `/rectifications/{id}`.
fn route_label(pattern: &str) -> String {
    pattern
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.split_once(':')) {
                Some((name, _regex)) => format!("{{{name}}}"),
                None => segment.to_owned(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a path or query string, percent-decoded, holds a control character. Bodies
/// refuse them field by field (`JsonBody`); a path or query string is refused whole, with
/// 400 (no id holds one, and PostgreSQL would refuse a NUL as if it were a value to store).
pub fn has_control_character(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    decoded.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => decoded.push(b'%'),
            },
            b => decoded.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&decoded)
        .chars()
        .any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::has_control_character as bad;

    #[test]
    fn route_labels_drop_the_digits_only_regex() {
        use super::route_label;
        assert_eq!(
            route_label(r"/api/v1/rectifications/{id:\d+}"),
            "/api/v1/rectifications/{id}"
        );
        assert_eq!(
            route_label("/api/v1/sessions/{id}/subjects/{subject_id}"),
            "/api/v1/sessions/{id}/subjects/{subject_id}"
        );
    }

    #[test]
    fn control_characters_in_query_strings_are_found_encoded_or_not() {
        assert!(!bad(""));
        assert!(!bad("q=%E4%B8%AD+x&limit=5&q=100%"));
        assert!(bad("q=a%00b"));
        assert!(bad("q=a%0Ab"));
        assert!(bad("q=%1b[31m"));
        assert!(bad("q=%C2%85"));
        assert!(bad("q=a\u{7f}"));
        assert!(!bad("q=%zz%4"));
    }
}
