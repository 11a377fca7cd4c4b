//! When an import becomes a job, and what a failed job reports.

use crate::error::{ApiError, FieldError};

/// Rows past which an import answers 202 with a job rather than waiting for the write.
pub const ASYNC_ROWS: usize = 10_000;

/// Whether an import runs as a job: asked for with `Prefer: respond-async` (RFC 7240) or
/// larger than [`ASYNC_ROWS`], unless `?wait=true`.
pub fn runs_as_job(prefer: Option<&str>, lines: usize, wait: bool) -> bool {
    !wait && (prefers_async(prefer) || lines > ASYNC_ROWS)
}

/// Whether a `Prefer` header asks for `respond-async` (then the 202 says it was applied).
pub fn prefers_async(prefer: Option<&str>) -> bool {
    prefer.is_some_and(|header| {
        header
            .split(',')
            .any(|p| p.trim().eq_ignore_ascii_case("respond-async"))
    })
}

/// A failed job's errors: the rows' own, or one about the whole file.
pub fn errors_of(e: &ApiError) -> Vec<FieldError> {
    if e.errors.is_empty() {
        vec![FieldError::new("file", e.detail.clone())]
    } else {
        e.errors.clone()
    }
}

/// What a job a restart cut short reports.
pub fn interrupted() -> FieldError {
    FieldError::new(
        "job",
        "interrupted by a restart of the server; nothing was written",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_and_those_who_prefer_it_get_a_job() {
        assert!(runs_as_job(Some("respond-async"), 3, false));
        assert!(runs_as_job(Some("wait=10, Respond-Async"), 3, false));
        assert!(runs_as_job(None, ASYNC_ROWS + 1, false));
        assert!(!runs_as_job(None, ASYNC_ROWS, false));
        assert!(!runs_as_job(Some("respond-async"), ASYNC_ROWS + 1, true));
        assert!(!runs_as_job(Some("return=minimal"), 3, false));
    }

    #[test]
    fn a_failure_without_row_errors_is_reported_about_the_file() {
        let e = ApiError::internal("boom");
        assert_eq!(errors_of(&e)[0].field, "file");
        let rows = ApiError::validation(vec![FieldError::at_line(3, "name", "is empty")]);
        assert_eq!(errors_of(&rows)[0].line, Some(3));
    }
}
