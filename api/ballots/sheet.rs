//! The printable sheet of a batch of codes: each code with a QR code whose link carries
//! the code in the URL fragment (`#code=…`), which browsers never send to a server, so no
//! access log or proxy ever sees it.

use qrcode::render::svg;
use qrcode::QrCode;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn vote_link(public_url: &str, code: &str) -> String {
    format!("{}/vote#code={code}", public_url.trim_end_matches('/'))
}

pub fn render(title: &str, category_zh: &str, public_url: &str, codes: &[String]) -> String {
    let mut cards = String::new();
    for code in codes {
        let link = vote_link(public_url, code);
        let qr = QrCode::new(link.as_bytes())
            .map(|q| {
                q.render::<svg::Color<'_>>()
                    .min_dimensions(120, 120)
                    .quiet_zone(false)
                    .build()
            })
            .unwrap_or_default();
        // The SVG renderer emits its own XML declaration; inline SVG must not carry one.
        let qr = qr.find("<svg").map_or("", |i| &qr[i..]);
        cards.push_str(&format!(
            "<div class=\"card\">{qr}<p class=\"code\">{}</p></div>\n",
            escape(code)
        ));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>评议码 {title}</title>\
         <style>body{{font-family:sans-serif}}.grid{{display:flex;flex-wrap:wrap;gap:12px}}\
         .card{{border:1px dashed #999;padding:10px;width:160px;text-align:center;page-break-inside:avoid}}\
         .code{{font-family:monospace;font-size:16px;letter-spacing:1px}}</style></head>\
         <body><h1>{title}</h1><p>{category} · 扫码或输入评议码参加测评,每码限用一次。\
         Scan or type the code to vote; each code works once.</p>\
         <div class=\"grid\">\n{cards}</div></body></html>\n",
        title = escape(title),
        category = escape(category_zh),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_travel_in_the_fragment_only() {
        let link = vote_link("https://pingyi.example/", "7KQ2-M9XD-4TNB");
        assert_eq!(link, "https://pingyi.example/vote#code=7KQ2-M9XD-4TNB");
        assert!(!link.contains('?'));
    }

    #[test]
    fn renders_a_card_with_a_qr_code_per_code() {
        let html = render(
            "<党支部>",
            "群众代表",
            "http://127.0.0.1:8080",
            &["7KQ2-M9XD-4TNB".into(), "H3ZP-0QWE-8RCY".into()],
        );
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("7KQ2-M9XD-4TNB"));
        assert!(html.contains("&lt;党支部&gt;"));
        assert!(!html.contains("<?xml"));
    }
}
