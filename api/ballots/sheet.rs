//! The printable sheet of a batch of codes, made for the hall: A4 pages of cards to cut
//! apart, each with the category, the campaign, the org, the meeting's date and place, a
//! QR code, the code in large type and the short address to type it at. The QR link carries
//! the code in the URL fragment (`#code=…`), which browsers never send to a server, so no
//! access log or proxy ever sees it.

use qrcode::render::svg;
use qrcode::QrCode;

/// Cards per A4 page (two columns of four): a card never straddles a page.
const CARDS_PER_PAGE: usize = 8;

/// What every card of a batch says besides its code.
pub struct Sheet<'a> {
    pub campaign: &'a str,
    pub org: &'a str,
    /// The participant category, in Chinese.
    pub category: &'a str,
    /// The meeting's date and time (China Standard Time), as printed.
    pub when: &'a str,
    pub place: Option<&'a str>,
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn vote_link(public_url: &str, code: &str) -> String {
    format!("{}/vote#code={code}", public_url.trim_end_matches('/'))
}

/// The address a voter types when they cannot scan: the voter page without the scheme.
pub fn short_address(public_url: &str) -> String {
    let url = public_url.trim_end_matches('/');
    let bare = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(url);
    format!("{bare}/vote")
}

/// The QR code of a link as inline SVG, with the standard quiet zone of four modules.
pub fn qr_svg(link: &str) -> String {
    let svg = QrCode::new(link.as_bytes())
        .map(|q| {
            q.render::<svg::Color<'_>>()
                .min_dimensions(132, 132)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    // The SVG renderer emits its own XML declaration; inline SVG must not carry one.
    svg.find("<svg")
        .map_or_else(String::new, |i| svg[i..].to_owned())
}

const STYLE: &str = "@page{size:A4;margin:10mm}\
*{box-sizing:border-box}\
body{margin:0;font-family:\"Noto Sans CJK SC\",\"WenQuanYi Zen Hei\",\"Microsoft YaHei\",sans-serif;color:#000}\
.intro{margin:0 0 4mm;font-size:11pt}\
.page{display:grid;grid-template-columns:1fr 1fr;grid-auto-rows:68mm;break-after:page;page-break-after:always}\
.page:last-child{break-after:auto;page-break-after:auto}\
.card{border:1px dashed #555;padding:3mm 4mm;display:grid;grid-template-columns:34mm 1fr;gap:0 3mm;align-content:start;break-inside:avoid;page-break-inside:avoid}\
.card svg{width:34mm;height:34mm;grid-row:span 4}\
.category{font-size:14pt;font-weight:700;margin:0}\
.meta{font-size:8.5pt;margin:0;line-height:1.35}\
.code{grid-column:1/3;font-family:\"DejaVu Sans Mono\",Menlo,Consolas,monospace;font-size:19pt;font-weight:700;letter-spacing:1px;margin:2mm 0 0;text-align:center}\
.how{grid-column:1/3;font-size:8.5pt;margin:1mm 0 0;line-height:1.35}\
@media screen{body{padding:10mm;background:#eee}.page{background:#fff;width:190mm;margin:0 auto 10mm}}";

pub fn render(sheet: &Sheet<'_>, public_url: &str, codes: &[String]) -> String {
    let address = escape(&short_address(public_url));
    let when = escape(sheet.when);
    let place = sheet
        .place
        .map(|p| format!(" · {}", escape(p)))
        .unwrap_or_default();
    let (campaign, org, category) = (
        escape(sheet.campaign),
        escape(sheet.org),
        escape(sheet.category),
    );
    let mut pages = String::new();
    for page in codes.chunks(CARDS_PER_PAGE) {
        pages.push_str("<section class=\"page\">\n");
        for code in page {
            let qr = qr_svg(&vote_link(public_url, code));
            pages.push_str(&format!(
                "<div class=\"card\">{qr}<p class=\"category\">{category}</p>\
                 <p class=\"meta\">{campaign}</p><p class=\"meta\">{org}</p>\
                 <p class=\"meta\">{when}{place}</p>\
                 <p class=\"code\">{}</p>\
                 <p class=\"how\">扫码，或在浏览器中打开 <b>{address}</b> 输入评议码。\
                 每个评议码只能使用一次；评议不记名，任何人都无法知道您如何评议。</p></div>\n",
                escape(code)
            ));
        }
        pages.push_str("</section>\n");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>评议码 {campaign} · {org}</title>\
         <style>{STYLE}</style></head><body>\
         <p class=\"intro\">{category} · {count} 个评议码 · 沿虚线裁开，每人一张。</p>\n\
         {pages}</body></html>\n",
        count = codes.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet() -> Sheet<'static> {
        Sheet {
            campaign: "2011年度创先争优群众评议",
            org: "<党支部>",
            category: "群众代表",
            when: "2012年1月5日 14:30",
            place: Some("实训楼 301"),
        }
    }

    #[test]
    fn codes_travel_in_the_fragment_only() {
        let link = vote_link("https://pingyi.example/", "7KQ2-M9XD-4TNB");
        assert_eq!(link, "https://pingyi.example/vote#code=7KQ2-M9XD-4TNB");
        assert!(!link.contains('?'));
        assert_eq!(
            short_address("https://pingyi.example/"),
            "pingyi.example/vote"
        );
    }

    #[test]
    fn every_card_says_who_when_where_and_how() {
        let html = render(
            &sheet(),
            "http://127.0.0.1:8080",
            &["7KQ2-M9XD-4TNB".into(), "H3ZP-0QWE-8RCY".into()],
        );
        assert_eq!(html.matches("<svg").count(), 2);
        assert_eq!(html.matches("class=\"card\"").count(), 2);
        assert!(html.contains("7KQ2-M9XD-4TNB"));
        assert!(html.contains("&lt;党支部&gt;"), "escaped");
        assert_eq!(
            html.matches("群众代表").count(),
            3,
            "the intro and both cards"
        );
        assert!(html.contains("2012年1月5日 14:30 · 实训楼 301"));
        assert!(html.contains("127.0.0.1:8080/vote"));
        assert!(html.contains("只能使用一次"));
        assert!(!html.contains("mass_representative"));
        assert!(!html.contains("<?xml"));
    }

    #[test]
    fn pages_hold_eight_cards_and_never_split_one() {
        let codes: Vec<String> = (0..17).map(|i| format!("CODE-{i:04}")).collect();
        let html = render(&sheet(), "http://x", &codes);
        assert_eq!(html.matches("<section class=\"page\">").count(), 3);
        assert!(STYLE.contains("break-inside:avoid") && STYLE.contains("size:A4"));
    }
}
