//! The voter's page (`/vote`) and the rating page of instant evaluation (`/rate`), served by the binary itself so that the QR code on every
//! printed card works from the first meeting. Its files live in `clients/voter/` and are
//! embedded at build time; they load nothing from another host. The code travels in the
//! URL fragment, which browsers never send, so no access log ever holds it.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

const PAGE: &str = include_str!("../../clients/voter/index.html");
const SCRIPT: &str = include_str!("../../clients/voter/voter.js");
const STYLE: &str = include_str!("../../clients/voter/voter.css");
const RATE_PAGE: &str = include_str!("../../clients/voter/rate.html");
const RATE_SCRIPT: &str = include_str!("../../clients/voter/rate.js");

/// Only this origin's own files, no inline script or style, no framing, no form posts
/// elsewhere, no referrer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Mounts the pages and their files (outside `/api/v1`: they are not part of the API). The
/// rating page shares the voter page's style sheet.
pub fn mount(app: &mut web::ServiceConfig) {
    app.route("/vote", web::get().to(page))
        .route("/vote/voter.js", web::get().to(script))
        .route("/vote/voter.css", web::get().to(style))
        .route("/rate", web::get().to(rate_page))
        .route("/rate/rate.js", web::get().to(rate_script));
}

fn file(media_type: &'static str, body: &'static str) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    for (name, value) in [
        (header::CONTENT_TYPE, media_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        res.insert_header((name, HeaderValue::from_static(value)));
    }
    res.body(body)
}

async fn page() -> HttpResponse {
    file("text/html; charset=utf-8", PAGE)
}

async fn script() -> HttpResponse {
    file("text/javascript; charset=utf-8", SCRIPT)
}

async fn style() -> HttpResponse {
    file("text/css; charset=utf-8", STYLE)
}

async fn rate_page() -> HttpResponse {
    file("text/html; charset=utf-8", RATE_PAGE)
}

async fn rate_script() -> HttpResponse {
    file("text/javascript; charset=utf-8", RATE_SCRIPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_small_and_loads_nothing_from_elsewhere() {
        assert!(PAGE.len() + SCRIPT.len() + STYLE.len() < 60 * 1024);
        for text in [PAGE, SCRIPT, STYLE] {
            assert!(!text.contains("http://") && !text.contains("https://"));
            assert!(!text.contains("localStorage") && !text.contains("sessionStorage"));
            assert!(!text.contains("document.cookie"));
        }
        // No inline script or style for the policy to allow.
        assert_eq!(PAGE.matches("<script").count(), 1);
        assert!(PAGE.contains("<script src=\"/vote/voter.js\" defer></script>"));
        assert!(!PAGE.contains("<style") && !PAGE.contains(" style=") && !PAGE.contains(" on"));
    }

    #[test]
    fn the_rating_page_keeps_the_same_rules() {
        assert!(RATE_PAGE.len() + RATE_SCRIPT.len() + STYLE.len() < 60 * 1024);
        for text in [RATE_PAGE, RATE_SCRIPT] {
            assert!(!text.contains("http://") && !text.contains("https://"));
            assert!(!text.contains("localStorage") && !text.contains("sessionStorage"));
            assert!(!text.contains("document.cookie"));
        }
        assert_eq!(RATE_PAGE.matches("<script").count(), 1);
        assert!(RATE_PAGE.contains("<script src=\"/rate/rate.js\" defer></script>"));
        assert!(RATE_PAGE.contains("<link rel=\"stylesheet\" href=\"/vote/voter.css\">"));
        assert!(
            !RATE_PAGE.contains("<style")
                && !RATE_PAGE.contains(" style=")
                && !RATE_PAGE.contains(" on")
        );
    }
}
