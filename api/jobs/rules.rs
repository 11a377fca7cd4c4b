//! When an import becomes a job, and what a failed job reports.

use crate::error::{ApiError, FieldError};

/// How much work a request may do before it becomes a job.
pub struct JobThreshold {
    /// Rows (or sessions) past which the request answers 202 with a job.
    pub above: usize,
}

/// Imports: rows of the file.
pub const IMPORTS: JobThreshold = JobThreshold { above: 10_000 };

/// Bulk scheduling: sessions to create.
pub const SESSIONS: JobThreshold = JobThreshold { above: 1_000 };

impl JobThreshold {
    /// Whether the work runs as a job: asked for with `Prefer: respond-async` (RFC 7240)
    /// or larger than the threshold, unless `?wait=true`.
    pub fn runs_as_job(&self, prefer: Option<&str>, size: usize, wait: bool) -> bool {
        !wait && (prefers_async(prefer) || size > self.above)
    }
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
        "interrupted by a restart of the server; nothing it wrote was kept",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_files_and_those_who_prefer_it_get_a_job() {
        let rows = IMPORTS.above;
        assert!(IMPORTS.runs_as_job(Some("respond-async"), 3, false));
        assert!(IMPORTS.runs_as_job(Some("wait=10, Respond-Async"), 3, false));
        assert!(IMPORTS.runs_as_job(None, rows + 1, false));
        assert!(!IMPORTS.runs_as_job(None, rows, false));
        assert!(!IMPORTS.runs_as_job(Some("respond-async"), rows + 1, true));
        assert!(!IMPORTS.runs_as_job(Some("return=minimal"), 3, false));
        assert!(SESSIONS.runs_as_job(None, 1_001, false));
        assert!(!SESSIONS.runs_as_job(None, 1_000, false));
    }

    #[test]
    fn a_failure_without_row_errors_is_reported_about_the_file() {
        let e = ApiError::internal("boom");
        assert_eq!(errors_of(&e)[0].field, "file");
        let rows = ApiError::validation(vec![FieldError::at_line(3, "name", "is empty")]);
        assert_eq!(errors_of(&rows)[0].line, Some(3));
    }
}
