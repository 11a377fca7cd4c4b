//! One error type for the whole API, rendered as RFC 9457 `application/problem+json`
//! with a stable machine-readable `code`.

use std::fmt;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

crate::text_enum! {
    /// The stable, machine-readable kind of a problem. Programs branch on it; the `title`
    /// and `detail` beside it are for people.
    pub enum ErrorCode {
        ValidationFailed => "validation_failed",
        BadRequest => "bad_request",
        Unauthorized => "unauthorized",
        InvalidCredentials => "invalid_credentials",
        Forbidden => "forbidden",
        NotFound => "not_found",
        MethodNotAllowed => "method_not_allowed",
        PayloadTooLarge => "payload_too_large",
        UnsupportedMediaType => "unsupported_media_type",
        RateLimited => "rate_limited",
        Internal => "internal",
        Unavailable => "unavailable",
        /// A unique value is taken, or a reference is missing or still in use.
        Conflict => "conflict",
        UsernameTaken => "username_taken",
        GrantExists => "grant_exists",
        ParentArchived => "parent_archived",
        HasActiveChildren => "has_active_children",
        Cycle => "cycle",
        BuiltinTemplate => "builtin_template",
        CampaignNotDraft => "campaign_not_draft",
        CampaignNotActive => "campaign_not_active",
        CampaignClosed => "campaign_closed",
        OutsideCampaignDates => "outside_campaign_dates",
        InvalidTransition => "invalid_transition",
        SessionExists => "session_exists",
        SessionNotScheduled => "session_not_scheduled",
        SessionNotOpen => "session_not_open",
        SessionNotClosed => "session_not_closed",
        SessionClosed => "session_closed",
        SubjectExists => "subject_exists",
        /// Codes have been issued for the session: its ballot (the subjects) is fixed.
        SubjectsFixed => "subjects_fixed",
        /// A session opens only with its org on the ballot.
        OrgSubjectMissing => "org_subject_missing",
        /// A session of an org with a secretary opens only with a secretary subject.
        SecretarySubjectMissing => "secretary_subject_missing",
        /// More paper ballots than the paper forms the session handed out.
        PaperFormsExceeded => "paper_forms_exceeded",
        InvalidCode => "invalid_code",
        CodeUsed => "code_used",
        /// The last active administrator cannot be disabled or lose the admin grant.
        LastAdmin => "last_admin",
        /// The session already has this document (one self-inspection and one duty report
        /// per session, one summary per member): change it instead.
        DocumentExists => "document_exists",
        /// An on-time report no longer changes once its due date has passed.
        ReportClosed => "report_closed",
        /// Instant evaluation: no such service ticket.
        InvalidTicket => "invalid_ticket",
        /// The service has been rated with this ticket already (一次一评).
        TicketUsed => "ticket_used",
        TicketExpired => "ticket_expired",
        /// No service point has this key.
        InvalidPoint => "invalid_point",
        /// The service point is inactive, or takes no ratings without a ticket.
        PointClosed => "point_closed",
        /// Service points belong to window units (`window_unit` orgs) only.
        NotWindowUnit => "not_window_unit",
    }
}

/// A problem detail (RFC 9457). `code` is stable and meant for programs; `title` and
/// `detail` are for people.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:pingyi:problem:validation_failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "The request has invalid fields.",
    "code": "validation_failed",
    "errors": [{"line": null, "field": "name", "message": "must not be empty"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:pingyi:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable code for programs; it never depends on the language of `title` and `detail`.
    pub code: ErrorCode,
    /// Per-field errors, for `validation_failed` (empty otherwise).
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// For CSV imports: the line of the file (the header is line 1); null otherwise.
    pub line: Option<u64>,
    /// The field's name in the request (or the CSV column).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line: None,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn at_line(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error answered to the client. Internal errors keep their cause for the log only.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Rarely set, so boxed to keep `Result<T, ApiError>` small.
    pub extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
pub struct Extra {
    pub retry_after: Option<u64>,
    pub allow: Option<String>,
    /// Logged with the request id, never sent.
    pub cause: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            extra: None,
        }
    }

    fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.extra_mut().retry_after = Some(secs.max(1));
        self
    }

    pub fn with_allow(mut self, methods: String) -> Self {
        self.extra_mut().allow = Some(methods);
        self
    }

    pub fn with_cause(mut self, cause: impl fmt::Display) -> Self {
        self.extra_mut().cause = Some(cause.to_string());
        self
    }

    pub fn cause(&self) -> Option<&str> {
        self.extra.as_ref()?.cause.as_deref()
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, detail)
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::ValidationFailed,
            "The request has invalid fields.",
        );
        e.errors = errors;
        e
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, detail)
    }

    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "You may see this, but not do this.",
        )
    }

    pub fn forbidden_because(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, detail)
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "No such resource.",
        )
    }

    pub fn conflict(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimited,
            "Too many attempts; try again later.",
        )
        .with_retry_after(retry_after_secs)
    }

    pub fn internal(cause: impl fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "Something went wrong on our side; the request id identifies it in our logs.",
        )
        .with_cause(cause)
    }

    pub fn pool(cause: impl fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "The database is busy or unreachable; try again shortly.",
        )
        .with_retry_after(1)
        .with_cause(cause)
    }

    /// Too many writes are already waiting for the database's one writer: refused at once
    /// rather than left to wait without bound.
    pub fn queue_full() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "Too many ballots are waiting to be written; try again in a moment.",
        )
        .with_retry_after(1)
    }

    /// The detail followed by the field errors (one a line, with the file's line when
    /// there is one), for messages on a console.
    pub fn detail_with_fields(&self) -> String {
        let mut out = self.detail.clone();
        for e in &self.errors {
            let line = e.line.map(|l| format!("line {l}, ")).unwrap_or_default();
            out.push_str(&format!("\n  {line}{}: {}", e.field, e.message));
        }
        out
    }

    pub fn problem(&self) -> Problem {
        self.problem_in(Language::English)
    }

    /// The problem with `title` and `detail` in `language`; `code` and field errors stay.
    pub fn problem_in(&self, language: Language) -> Problem {
        let (title, detail) = match language {
            Language::English => (
                self.status.canonical_reason().unwrap_or("Error").to_owned(),
                self.detail.clone(),
            ),
            Language::Chinese => (
                chinese_title(self.status).to_owned(),
                self.code.chinese_detail().to_owned(),
            ),
        };
        Problem {
            type_uri: format!("urn:pingyi:problem:{}", self.code),
            title,
            status: self.status.as_u16(),
            detail,
            code: self.code,
            errors: self.errors.clone(),
        }
    }
}

/// The language of a problem's `title` and `detail`, from the request's `Accept-Language`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    Chinese,
}

impl Language {
    /// The language the client prefers most (by `q`, then by order), Chinese when that is
    /// any `zh` tag, else English.
    pub fn from_accept_language(header: Option<&str>) -> Language {
        let Some(header) = header else {
            return Language::English;
        };
        let mut best: Option<(f32, &str)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if !tag.is_empty() && q > 0.0 && best.is_none_or(|(best_q, _)| q > best_q) {
                best = Some((q, tag));
            }
        }
        match best {
            Some((_, tag))
                if tag
                    .split('-')
                    .next()
                    .is_some_and(|p| p.eq_ignore_ascii_case("zh")) =>
            {
                Language::Chinese
            }
            _ => Language::English,
        }
    }
}

impl ErrorCode {
    /// What the problem means, in Chinese, for people reading it in a Chinese client.
    pub fn chinese_detail(self) -> &'static str {
        match self {
            ErrorCode::ValidationFailed => "请求中有字段不符合要求，详见 errors。",
            ErrorCode::BadRequest => "请求格式有误（JSON、路径或查询参数）。",
            ErrorCode::Unauthorized => "需要有效的访问令牌，请重新登录。",
            ErrorCode::InvalidCredentials => "用户名或密码错误，或账号已停用。",
            ErrorCode::Forbidden => "您可以查看，但无权进行此操作。",
            ErrorCode::NotFound => "资源不存在，或您无权查看。",
            ErrorCode::MethodNotAllowed => "该地址不支持此请求方法。",
            ErrorCode::PayloadTooLarge => "请求内容超过了允许的大小。",
            ErrorCode::UnsupportedMediaType => "请求内容的类型（Content-Type）不受支持。",
            ErrorCode::RateLimited => "尝试次数过多，请稍后再试。",
            ErrorCode::Internal => "服务器内部错误，请凭请求编号联系管理员。",
            ErrorCode::Unavailable => "数据库繁忙或无法连接，请稍后再试。",
            ErrorCode::Conflict => {
                "与已有记录冲突（唯一值已被使用，或引用的记录不存在或仍被引用）。"
            }
            ErrorCode::UsernameTaken => "该用户名已被使用。",
            ErrorCode::GrantExists => "该用户在此组织已拥有此角色。",
            ErrorCode::ParentArchived => "上级党组织已撤销（归档）。",
            ErrorCode::HasActiveChildren => "请先撤销或移走其下级党组织。",
            ErrorCode::Cycle => "党组织不能移到其自身的下级之中。",
            ErrorCode::BuiltinTemplate => "内置测评标准不能修改。",
            ErrorCode::CampaignNotDraft => "评议活动已启动，此项不能再修改。",
            ErrorCode::CampaignNotActive => "评议活动未在进行中。",
            ErrorCode::CampaignClosed => "评议活动已结束。",
            ErrorCode::OutsideCampaignDates => "不在评议活动的起止日期之内。",
            ErrorCode::InvalidTransition => "当前状态下不能进行此操作。",
            ErrorCode::SessionExists => "该组织在本次评议活动中已有评议会。",
            ErrorCode::SessionNotScheduled => "评议会已开始，此项不能再修改。",
            ErrorCode::SessionNotOpen => "该评议会未在进行中，不接受投票。",
            ErrorCode::SessionNotClosed => "评议会结束后才能查看结果。",
            ErrorCode::SessionClosed => "评议会已结束。",
            ErrorCode::SubjectExists => "该评议对象已在票上。",
            ErrorCode::SubjectsFixed => "该评议会已发放评议码，评议对象不能再更改。",
            ErrorCode::OrgSubjectMissing => "票上缺少本组织，补上后才能开始评议会。",
            ErrorCode::PaperFormsExceeded => "录入的纸质票超过了发出的纸质票数。",
            ErrorCode::SecretarySubjectMissing => {
                "该组织有书记，但票上缺少书记，补上后才能开始评议会。"
            }
            ErrorCode::InvalidCode => "评议码无效。",
            ErrorCode::CodeUsed => "该评议码已使用过。",
            ErrorCode::LastAdmin => "不能停用最后一个系统管理员，也不能收回其管理员角色。",
            ErrorCode::DocumentExists => "该评议会已有此材料，请修改已有的材料。",
            ErrorCode::ReportClosed => "已按时报送的材料在截止日期后不能再修改。",
            ErrorCode::InvalidTicket => "评价码无效。",
            ErrorCode::TicketUsed => "这次服务已经评价过了（一次一评）。",
            ErrorCode::TicketExpired => "评价码已过期。",
            ErrorCode::InvalidPoint => "服务窗口不存在。",
            ErrorCode::PointClosed => "该服务窗口现在不接受这种方式的评价。",
            ErrorCode::NotWindowUnit => "只有窗口单位才能设置服务窗口。",
        }
    }
}

/// The reason phrase of a status, in Chinese.
fn chinese_title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "请求有误",
        401 => "未登录",
        403 => "无权操作",
        404 => "未找到",
        405 => "方法不允许",
        409 => "状态冲突",
        413 => "内容过大",
        415 => "类型不支持",
        422 => "字段有误",
        429 => "请求过多",
        503 => "服务暂不可用",
        _ => "服务器错误",
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)?;
        if let Some(cause) = self.cause() {
            write!(f, " ({cause})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        if let Some(extra) = &self.extra {
            if let Some(secs) = extra.retry_after {
                res.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            if let Some(allow) = &extra.allow {
                res.insert_header((header::ALLOW, allow.clone()));
            }
        }
        res.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::not_found(),
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => ApiError::conflict(
                ErrorCode::Conflict,
                "Another record already has this unique value.",
            ),
            Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => ApiError::conflict(
                ErrorCode::Conflict,
                "The change refers to a record that does not exist or is still referred to.",
            ),
            // Values the database cannot hold (a date in year 200000): the client's data,
            // not a fault of ours. The database's own words stay in the log.
            Error::DatabaseError(DatabaseErrorKind::Unknown, info)
                if ["invalid byte sequence", "out of range"]
                    .iter()
                    .any(|m| info.message().contains(m)) =>
            {
                ApiError::bad_request(
                    "A value cannot be stored; the request id identifies the cause in our logs.",
                )
                .with_cause(info.message())
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(errors: validator::ValidationErrors) -> Self {
        ApiError::validation(flatten_validation(&errors))
    }
}

/// Turns validator's nested error map into sorted `{field, message}` pairs.
pub fn flatten_validation(errors: &validator::ValidationErrors) -> Vec<FieldError> {
    let mut out: Vec<FieldError> = errors
        .field_errors()
        .into_iter()
        .flat_map(|(field, list)| {
            list.iter().map(move |e| {
                let message = e
                    .message
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| default_message(e));
                FieldError::new(field.to_string(), message)
            })
        })
        .collect();
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn default_message(e: &validator::ValidationError) -> String {
    match e.code.as_ref() {
        "length" => match (e.params.get("min"), e.params.get("max")) {
            (Some(min), Some(max)) => format!("length must be between {min} and {max}"),
            (Some(min), None) => format!("length must be at least {min}"),
            (None, Some(max)) => format!("length must be at most {max}"),
            _ => "invalid length".into(),
        },
        "range" => match (e.params.get("min"), e.params.get("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "out of range".into(),
        },
        other => format!("invalid ({other})"),
    }
}

/// Validates a request body with its `validator` rules.
pub fn validate<T: validator::Validate>(value: &T) -> ApiResult<()> {
    value.validate().map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_has_rfc9457_members_and_code() {
        let p = ApiError::field("name", "must not be empty").problem();
        let v = serde_json::to_value(p).unwrap();
        assert_eq!(v["type"], "urn:pingyi:problem:validation_failed");
        assert_eq!(v["status"], 422);
        assert_eq!(v["code"], "validation_failed");
        assert_eq!(v["errors"][0]["field"], "name");
    }

    #[test]
    fn internal_errors_keep_their_cause_out_of_the_body() {
        let e = ApiError::internal("password authentication failed for user x");
        let body = serde_json::to_string(&e.problem()).unwrap();
        assert!(!body.contains("password"));
        assert_eq!(e.problem().code, ErrorCode::Internal);
    }

    #[test]
    fn not_found_rows_are_404() {
        let e: ApiError = diesel::result::Error::NotFound.into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.code, ErrorCode::NotFound);
    }

    /// Builds the error diesel reports for a violated constraint.
    fn database_error(kind: diesel::result::DatabaseErrorKind) -> diesel::result::Error {
        diesel::result::Error::DatabaseError(kind, Box::new(String::from("secret table detail")))
    }

    #[test]
    fn unique_violation_is_a_conflict() {
        let e: ApiError = database_error(diesel::result::DatabaseErrorKind::UniqueViolation).into();
        assert_eq!(e.status, StatusCode::CONFLICT);
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(!e.detail.contains("secret"));
        let e: ApiError =
            database_error(diesel::result::DatabaseErrorKind::ForeignKeyViolation).into();
        assert_eq!(e.status, StatusCode::CONFLICT);
    }

    #[test]
    fn database_text_never_reaches_the_body() {
        let e: ApiError = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new(String::from(
                "invalid byte sequence for encoding \"UTF8\": 0x00",
            )),
        )
        .into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let body = serde_json::to_string(&e.problem()).unwrap();
        assert!(!body.contains("UTF8") && !body.contains("0x00"), "{body}");
        assert!(e.cause().is_some_and(|c| c.contains("UTF8")));
    }

    #[test]
    fn the_language_follows_accept_language() {
        use Language::*;
        for (header, expected) in [
            (None, English),
            (Some("zh-CN,zh;q=0.9,en;q=0.8"), Chinese),
            (Some("en-US,en;q=0.9,zh-CN;q=0.8"), English),
            (Some("en;q=0.5, zh-Hans;q=0.9"), Chinese),
            (Some("ZH"), Chinese),
            (Some("zh;q=0, en"), English),
            (Some("fr"), English),
            (Some(""), English),
        ] {
            assert_eq!(
                Language::from_accept_language(header),
                expected,
                "{header:?}"
            );
        }
    }

    #[test]
    fn chinese_problems_keep_their_code_and_fields() {
        let e = ApiError::field("name", "must not be empty");
        let zh = e.problem_in(Language::Chinese);
        assert_eq!(zh.code, ErrorCode::ValidationFailed);
        assert_eq!(zh.title, "字段有误");
        assert_eq!(zh.errors, e.problem().errors);
        assert_ne!(zh.detail, e.problem().detail);
    }

    #[test]
    fn every_error_code_round_trips_through_its_wire_value() {
        for code in ErrorCode::ALL {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, code.as_str());
            assert_eq!(serde_json::from_value::<ErrorCode>(wire).unwrap(), *code);
        }
    }
}
