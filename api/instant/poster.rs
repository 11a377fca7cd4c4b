//! Printable pages: a service point's poster (its open-QR link, to hang at the counter) and
//! slips of service tickets (one per service, handed over or shown on a counter screen).
//! Tickets travel in the URL fragment (`#ticket=…`), which browsers never send to a server.

use crate::ballots::sheet::{escape, qr_svg};

pub fn rate_link(public_url: &str, fragment: &str) -> String {
    format!("{}/rate#{fragment}", public_url.trim_end_matches('/'))
}

pub fn point_link(public_url: &str, point_key: &str) -> String {
    rate_link(public_url, &format!("point={point_key}"))
}

pub fn ticket_link(public_url: &str, ticket: &str) -> String {
    rate_link(public_url, &format!("ticket={ticket}"))
}

const STYLE: &str = "@page{size:A4;margin:12mm}\
*{box-sizing:border-box}\
body{margin:0;font-family:\"Noto Sans CJK SC\",\"WenQuanYi Zen Hei\",\"Microsoft YaHei\",sans-serif;color:#000;text-align:center}\
.poster{padding:10mm 8mm}\
.poster h1{font-size:30pt;margin:0 0 4mm}\
.poster .unit{font-size:16pt;margin:0 0 8mm}\
.poster svg{width:110mm;height:110mm}\
.poster .how{font-size:14pt;margin:6mm 0 2mm}\
.poster .note{font-size:10pt;color:#333;margin:0}\
.slips{display:grid;grid-template-columns:1fr 1fr 1fr;gap:4mm;text-align:left}\
.slip{border:1px dashed #555;padding:3mm;break-inside:avoid;page-break-inside:avoid}\
.slip svg{width:40mm;height:40mm;display:block;margin:0 auto}\
.slip .code{font-family:\"DejaVu Sans Mono\",Menlo,Consolas,monospace;font-size:14pt;font-weight:700;text-align:center;margin:1mm 0}\
.slip .meta{font-size:8pt;margin:0;line-height:1.35}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{}</title>\
         <style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    )
}

/// What a poster or slip says about its point.
pub struct PointLabel<'a> {
    pub point: &'a str,
    pub org: &'a str,
    pub location: &'a str,
}

/// The poster of a point: its name, its unit, a large QR code to the rating page.
pub fn render_poster(label: &PointLabel<'_>, link: &str, open_rating: bool) -> String {
    let how = if open_rating {
        "请扫码对本次服务进行评价（好差评）"
    } else {
        "请扫描工作人员提供的评价码对本次服务进行评价（好差评）"
    };
    let location = if label.location.is_empty() {
        String::new()
    } else {
        format!(" · {}", escape(label.location))
    };
    let body = format!(
        "<div class=\"poster\"><h1>{point}</h1><p class=\"unit\">{org}{location}</p>{qr}\
         <p class=\"how\">{how}</p>\
         <p class=\"note\">非常满意 · 满意 · 基本满意 · 不满意 · 非常不满意。差评件件核实、限期整改、有回复。</p></div>",
        point = escape(label.point),
        org = escape(label.org),
        qr = qr_svg(link),
    );
    page(&format!("服务评价 {} · {}", label.point, label.org), &body)
}

/// Slips of tickets, three to a row.
pub fn render_slips(
    label: &PointLabel<'_>,
    public_url: &str,
    tickets: &[String],
    expires: &str,
) -> String {
    let mut slips = String::new();
    for ticket in tickets {
        slips.push_str(&format!(
            "<div class=\"slip\">{qr}<p class=\"code\">{code}</p>\
             <p class=\"meta\">{point} · {org}</p>\
             <p class=\"meta\">扫码或打开评价页输入此码，对本次服务评价一次。有效期至 {expires}。</p></div>\n",
            qr = qr_svg(&ticket_link(public_url, ticket)),
            code = escape(ticket),
            point = escape(label.point),
            org = escape(label.org),
            expires = escape(expires),
        ));
    }
    page(
        &format!("服务评价码 {}", label.point),
        &format!("<div class=\"slips\">{slips}</div>"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: PointLabel<'static> = PointLabel {
        point: "1号窗口",
        org: "<后勤服务中心>",
        location: "行政楼一楼",
    };

    #[test]
    fn tickets_and_points_travel_in_the_fragment() {
        assert_eq!(
            ticket_link("https://p.example/", "7KQ2-M9XD-4TNB"),
            "https://p.example/rate#ticket=7KQ2-M9XD-4TNB"
        );
        assert_eq!(
            point_link("https://p.example", "abc"),
            "https://p.example/rate#point=abc"
        );
    }

    #[test]
    fn posters_and_slips_escape_names_and_carry_a_qr_code() {
        let poster = render_poster(&LABEL, "https://p.example/rate#point=abc", true);
        assert!(poster.contains("&lt;后勤服务中心&gt;") && !poster.contains("<后勤"));
        assert!(poster.contains("<svg") && poster.contains("请扫码"));
        let slips = render_slips(
            &LABEL,
            "https://p.example",
            &["7KQ2-M9XD-4TNB".into(), "H3ZP-0QWE-8RCY".into()],
            "2026年12月7日",
        );
        assert_eq!(slips.matches("class=\"slip\"").count(), 2);
        assert_eq!(slips.matches("<svg").count(), 2);
    }
}
