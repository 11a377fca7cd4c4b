//! The body of a CSV import: the file's text, read up to the import limit.

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::error::{ApiError, ErrorCode};

/// The largest CSV file an import accepts (the `PINGYI_IMPORT_LIMIT` setting), apart from
/// the limit on JSON bodies: a city's roster is megabytes, a JSON request is not.
#[derive(Debug, Clone, Copy)]
pub struct ImportLimit(pub usize);

impl ImportLimit {
    pub const DEFAULT: usize = 64 << 20;
}

/// A CSV file sent as `text/csv` (or `application/octet-stream`), decoded as UTF-8.
pub struct CsvBody(pub String);

impl FromRequest for CsvBody {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = req
            .app_data::<web::Data<ImportLimit>>()
            .map_or(ImportLimit::DEFAULT, |l| l.0);
        let media_type = require_csv(req);
        let declared_length = super::declared_length(req);
        let payload = payload.take();
        Box::pin(async move {
            media_type?;
            let bytes = super::body::read_limited(payload, declared_length, limit).await?;
            // Taken over without a copy: a roster can be tens of megabytes.
            String::from_utf8(Vec::from(bytes)).map(CsvBody).map_err(|e| {
                ApiError::bad_request(format!(
                    "The file is not UTF-8 text (the byte at offset {} is not): save it as CSV UTF-8.",
                    e.utf8_error().valid_up_to()
                ))
            })
        })
    }
}

fn require_csv(req: &HttpRequest) -> Result<(), ApiError> {
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // Generated clients that cannot send text/csv send the same bytes as octet-stream.
    if ["text/csv", "application/csv", "application/octet-stream"].contains(&essence.as_str()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Send the file as Content-Type: text/csv (UTF-8, with a header row), or as application/octet-stream.",
        ))
    }
}
