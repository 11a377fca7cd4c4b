//! Logging: human-readable by default, one JSON object per line with
//! `PINGYI_LOG_FORMAT=json`.
//!
//! Human lines escape every control character in field values and messages (a username
//! holding a newline or an escape sequence cannot forge or colour a log line), and carry
//! ANSI colours only when standard output is a terminal.

use std::fmt::Write as _;
use std::io::IsTerminal;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|e| format!("PINGYI_LOG is invalid: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stdout().is_terminal())
            .fmt_fields(human_fields())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
    Ok(())
}

/// The field formatter of human lines: `message key=value …`, control characters escaped.
pub fn human_fields(
) -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    debug_fn(
        |writer: &mut Writer<'_>, field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
            let text = escape_controls(&format!("{value:?}"));
            if field.name() == "message" {
                writer.write_str(&text)
            } else {
                write!(writer, "{}={}", field.name(), text)
            }
        },
    )
    .delimited(" ")
}

/// A human-format subscriber writing to `writer` (tests, and `init` without the filter).
pub fn human_subscriber<W>(writer: W, ansi: bool) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(ansi)
        .fmt_fields(human_fields())
        .with_writer(writer)
        .finish()
}

/// Every control character (line breaks, tabs, escape, NUL, C1) as a visible escape.
pub fn escape_controls(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_controls("plain 名字"), "plain 名字");
        assert_eq!(
            escape_controls("a\nb\r\t\u{1b}[31m\0"),
            "a\\nb\\r\\t\\u{1b}[31m\\u{0}"
        );
    }
}
