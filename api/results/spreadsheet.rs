//! Spreadsheets of results, rankings and coverage: one table per report, with Chinese
//! headers, written as an xlsx workbook (frozen header row, percentages formatted) or as
//! CSV in UTF-8 with a BOM (so that Excel opens it). Text that a spreadsheet would take for
//! a formula is neutralized: imported names are stored verbatim.

use std::borrow::Cow;

use rust_xlsxwriter::{Format, Workbook, XlsxError};

use super::model::{ExportFormat, ExportReport, Figures, MissingMember, OrgRef, RankingItem};
use super::model::{OrgResults, SubtreeFigures};
use crate::error::{ApiError, ApiResult};
use crate::rectifications::model::RectificationStatus;
use crate::rectifications::queries::LedgerRow;
use crate::templates::model::SubjectType;

/// One cell of a report.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A fraction 0–1, shown as a percentage.
    Percent(f64),
    /// A score 0–100.
    Score(f64),
    Empty,
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    fn yes_no(b: bool) -> Cell {
        Cell::text(if b { "是" } else { "否" })
    }

    fn percent(x: Option<f64>) -> Cell {
        x.map_or(Cell::Empty, Cell::Percent)
    }

    fn score(x: Option<f64>) -> Cell {
        x.map_or(Cell::Empty, Cell::Score)
    }
}

/// A report as a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The sheet's name.
    pub title: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// Text a spreadsheet would evaluate (a formula, or DDE through `@`) gets a leading
/// apostrophe, as OWASP advises for CSV injection; so does text starting with a tab or a
/// carriage return, which some programs strip before looking.
pub fn neutralize(text: &str) -> Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{text}")),
        _ => Cow::Borrowed(text),
    }
}

pub fn subject_type_label(t: SubjectType) -> &'static str {
    match t {
        SubjectType::Org => "党组织",
        SubjectType::Secretary => "书记",
        SubjectType::Member => "党员",
    }
}

/// The roll-up of every org in a subtree, in tree order.
pub fn results_table(subject_type: SubjectType, orgs: &[OrgResults]) -> Table {
    let own = |f: Option<&Figures>| -> [Cell; 5] {
        match f {
            Some(f) => [
                Cell::Int(f.ballots),
                Cell::yes_no(f.withheld),
                Cell::percent(f.satisfaction_rate),
                Cell::score(f.score),
                Cell::yes_no(f.flagged),
            ],
            None => [
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
                Cell::Empty,
            ],
        }
    };
    let subtree = |s: &SubtreeFigures| -> [Cell; 8] {
        [
            Cell::Int(s.units_in_scope),
            Cell::Int(s.units_evaluated),
            Cell::Int(s.ballots),
            Cell::Int(s.flagged),
            Cell::percent(s.weighted.satisfaction_rate),
            Cell::score(s.weighted.score),
            Cell::percent(s.unit_average.satisfaction_rate),
            Cell::score(s.unit_average.score),
        ]
    };
    Table {
        title: "评议结果",
        headers: vec![
            "组织ID",
            "组织",
            "评议对象",
            "本级票数",
            "本级结果隐藏(票数不足)",
            "本级满意率",
            "本级得分",
            "本级低于满意率线",
            "应评数",
            "已评数",
            "票数",
            "低于满意率线数",
            "满意率(按票加权)",
            "得分(按票加权)",
            "满意率(单位平均)",
            "得分(单位平均)",
        ],
        rows: orgs
            .iter()
            .map(|o| {
                let mut row = vec![
                    Cell::Int(o.org_id),
                    Cell::text(o.name.clone()),
                    Cell::text(subject_type_label(subject_type)),
                ];
                row.extend(own(o.own.as_ref()));
                row.extend(subtree(&o.subtree));
                row
            })
            .collect(),
    }
}

pub fn rankings_table(items: &[RankingItem]) -> Table {
    Table {
        title: "排名",
        headers: vec![
            "名次",
            "评议对象",
            "名称",
            "所在组织ID",
            "所在组织",
            "票数",
            "结果隐藏(票数不足)",
            "满意率",
            "得分",
            "低于满意率线",
            "表彰候选",
        ],
        rows: items
            .iter()
            .map(|i| {
                vec![
                    i.rank.map_or(Cell::Empty, Cell::Int),
                    Cell::text(subject_type_label(i.subject_type)),
                    Cell::text(i.name.clone()),
                    Cell::Int(i.org_id),
                    Cell::text(i.org_name.clone()),
                    Cell::Int(i.ballots),
                    Cell::yes_no(i.withheld),
                    Cell::percent(i.satisfaction_rate),
                    Cell::score(i.score),
                    Cell::yes_no(i.flagged),
                    Cell::yes_no(i.candidate),
                ]
            })
            .collect(),
    }
}

/// Everything in scope that is not evaluated yet: orgs first, then members.
pub fn coverage_table(orgs: &[OrgRef], members: &[MissingMember]) -> Table {
    let org_rows = orgs.iter().map(|o| {
        vec![
            Cell::text("党组织"),
            Cell::Int(o.id),
            Cell::text(o.name.clone()),
            Cell::Empty,
        ]
    });
    let member_rows = members.iter().map(|m| {
        vec![
            Cell::text("党员"),
            Cell::Int(m.id),
            Cell::text(m.name.clone()),
            Cell::Int(m.org_id),
        ]
    });
    Table {
        title: "未评议",
        headers: vec!["类别", "ID", "名称", "所在组织ID"],
        rows: org_rows.chain(member_rows).collect(),
    }
}

/// The rectification ledger (整改台账), one row per item.
pub fn ledger_table(rows: &[LedgerRow], today: chrono::NaiveDate) -> Table {
    Table {
        title: "整改台账",
        headers: vec![
            "编号",
            "组织",
            "评议对象",
            "对象名称",
            "问题",
            "原因剖析",
            "整改措施",
            "责任人",
            "整改时限",
            "状态",
            "是否逾期",
            "验收人",
            "验收时间",
        ],
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Int(r.id),
                    Cell::text(r.org_name.clone()),
                    r.subject_type
                        .map_or(Cell::Empty, |t| Cell::text(subject_type_label(t))),
                    r.subject_name.clone().map_or(Cell::Empty, Cell::Text),
                    Cell::text(r.problem.clone()),
                    Cell::text(r.cause.clone()),
                    Cell::text(r.measures.clone()),
                    r.owner.clone().map_or(Cell::Empty, Cell::Text),
                    Cell::text(r.due_on.to_string()),
                    Cell::text(status_label(r.status)),
                    Cell::yes_no(crate::rectifications::rules::is_overdue(
                        r.due_on, r.status, today,
                    )),
                    r.verified_by.clone().map_or(Cell::Empty, Cell::Text),
                    r.verified_at.map_or(Cell::Empty, |t| {
                        Cell::text(crate::types::local_date(t.and_utc()).to_string())
                    }),
                ]
            })
            .collect(),
    }
}

fn status_label(s: RectificationStatus) -> &'static str {
    match s {
        RectificationStatus::Open => "待整改",
        RectificationStatus::InProgress => "整改中",
        RectificationStatus::Submitted => "待验收",
        RectificationStatus::Returned => "已退回",
        RectificationStatus::Verified => "已验收",
    }
}

/// The file's bytes and its media type.
pub fn render(table: &Table, format: ExportFormat) -> ApiResult<(Vec<u8>, &'static str)> {
    match format {
        ExportFormat::Xlsx => Ok((
            xlsx(table).map_err(ApiError::internal)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )),
        ExportFormat::Csv => Ok((csv(table)?, "text/csv; charset=utf-8")),
    }
}

fn xlsx(table: &Table) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let header = Format::new().set_bold();
    let percent = Format::new().set_num_format("0.00%");
    let score = Format::new().set_num_format("0.00");
    let sheet = workbook.add_worksheet();
    sheet.set_name(table.title)?;
    for (col, title) in table.headers.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, *title, &header)?;
        sheet.set_column_width(col, (title.chars().count() as f64 * 2.2).max(10.0))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    for (r, row) in table.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (col, cell) in row.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(s) => {
                    sheet.write_string(r, col, neutralize(s))?;
                }
                Cell::Int(n) => {
                    sheet.write_number(r, col, *n as f64)?;
                }
                Cell::Percent(x) => {
                    sheet.write_number_with_format(r, col, *x, &percent)?;
                }
                Cell::Score(x) => {
                    sheet.write_number_with_format(r, col, *x, &score)?;
                }
                Cell::Empty => {}
            }
        }
    }
    workbook.save_to_buffer()
}

fn csv(table: &Table) -> ApiResult<Vec<u8>> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer
            .write_record(&table.headers)
            .map_err(ApiError::internal)?;
        for row in &table.rows {
            let record: Vec<Cow<'_, str>> = row
                .iter()
                .map(|cell| match cell {
                    Cell::Text(s) => neutralize(s),
                    Cell::Int(n) => Cow::Owned(n.to_string()),
                    Cell::Percent(x) => Cow::Owned(format!("{:.2}%", x * 100.0)),
                    Cell::Score(x) => Cow::Owned(format!("{x:.2}")),
                    Cell::Empty => Cow::Borrowed(""),
                })
                .collect();
            writer
                .write_record(record.iter().map(|c| c.as_bytes()))
                .map_err(ApiError::internal)?;
        }
        writer.flush().map_err(ApiError::internal)?;
    }
    Ok(out)
}

/// The file's name: ASCII for old clients, the campaign's title (Chinese allowed) for
/// RFC 6266 `filename*`.
pub fn file_names(
    campaign_id: i64,
    title: &str,
    report: ExportReport,
    format: ExportFormat,
) -> (String, String) {
    let label = match report {
        ExportReport::Results => "评议结果",
        ExportReport::Rankings => "排名",
        ExportReport::Coverage => "未评议",
        ExportReport::Rectifications => "整改台账",
    };
    // Characters no file system takes are dropped from the title.
    let title: String = title
        .chars()
        .filter(|c| !c.is_control() && !"\\/:*?\"<>|".contains(*c))
        .collect();
    (
        format!("campaign-{campaign_id}-{report}.{format}"),
        format!("{title}-{label}.{format}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_text_is_neutralized() {
        for evil in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralize(evil), format!("'{evil}"));
        }
        assert_eq!(neutralize("王一"), "王一");
        assert_eq!(neutralize(""), "");
    }

    fn table() -> Table {
        Table {
            title: "排名",
            headers: vec!["名称", "满意率", "得分", "票数"],
            rows: vec![vec![
                Cell::text("=HYPERLINK(\"x\")"),
                Cell::Percent(0.9167),
                Cell::Score(86.1111),
                Cell::Int(36),
            ]],
        }
    }

    #[test]
    fn csv_has_a_bom_headers_and_neutralized_cells() {
        let bytes = csv(&table()).unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let text = String::from_utf8(bytes).unwrap();
        let mut lines = text.trim_start_matches('\u{feff}').lines();
        assert_eq!(lines.next(), Some("名称,满意率,得分,票数"));
        assert_eq!(
            lines.next(),
            Some("\"'=HYPERLINK(\"\"x\"\")\",91.67%,86.11,36")
        );
    }

    #[test]
    fn xlsx_is_a_zip_workbook() {
        let bytes = xlsx(&table()).unwrap();
        assert!(bytes.starts_with(b"PK"));
    }

    #[test]
    fn file_names_keep_chinese_and_drop_path_characters() {
        let (ascii, full) = file_names(
            3,
            "2011年/度\"评议\"",
            ExportReport::Rankings,
            ExportFormat::Csv,
        );
        assert_eq!(ascii, "campaign-3-rankings.csv");
        assert_eq!(full, "2011年度评议-排名.csv");
    }
}
