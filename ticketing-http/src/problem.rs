//! Errors as RFC 9457 problem details: `application/problem+json` with a stable `code` a client
//! can branch on, a `title`, a `detail`, and for validation errors the `field` at fault.
//!
//! Every refusal the server makes goes through [`ApiError`]; nothing answers a bare 500. A
//! storage outage is a 503 `unavailable`; only a bug is a 500 `internal`, and it is logged.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use ticketing_core::engine::Error as EngineError;
use ticketing_core::event::EventError;
use ticketing_core::field::FieldError;
use ticketing_core::gate::GateError;
use ticketing_core::hook::HookError;
use ticketing_core::money::MoneyError;
use ticketing_core::order::OrderError;
use ticketing_core::quota::QuotaError;
use ticketing_core::store::StoreError;
use ticketing_core::ticket::TicketError;
use ticketing_core::ticket_type::TicketTypeError;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank`-style tag under this API).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short, stable summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// The stable machine-readable code: `invalid_field`, `not_found`, `forbidden`…
    pub code: String,
    /// The field at fault (a JSON path such as `ticket_types[2].quota`), for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A refusal: a status, a stable code and a detail.
#[derive(Clone, Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<String>,
    retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge of a 401.
    challenge: Option<&'static str>,
    close: bool,
}

impl ApiError {
    /// A refusal with `status`, `code` and `detail`.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), field: None, retry_after: None, challenge: None, close: false }
    }

    /// 413 `payload_too_large`, closing the connection: the rest of the body is not read, so the
    /// connection cannot carry another request.
    pub fn too_large() -> Self {
        Self { close: true, ..Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the body is too large") }
    }

    /// 422 `invalid_field` naming `field`.
    pub fn field(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { field: Some(field.into()), ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", detail) }
    }

    /// This problem, naming the field of the request it is about.
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// 400 `invalid_request`.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 401 `unauthorized`, with a `WWW-Authenticate: Bearer` challenge (no token was given).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self {
            challenge: Some("Bearer realm=\"ticketing\""),
            ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
        }
    }

    /// 401 `unauthorized` for a token that is malformed, unknown, expired or revoked, with the
    /// challenge RFC 6750 §3 asks for: `Bearer realm="ticketing", error="invalid_token"`.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self {
            challenge: Some("Bearer realm=\"ticketing\", error=\"invalid_token\""),
            ..Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
        }
    }

    /// 409 `conflict`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 429 `rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs.max(1)),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests; try again later")
        }
    }

    /// 429 `rate_limited`, for a limiter's wait (rounded up to whole seconds).
    pub fn retry_in(wait: std::time::Duration) -> Self {
        Self::rate_limited(wait.as_secs_f64().ceil() as u64)
    }

    /// 503 `unavailable`: storage cannot be reached.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    /// 500 `internal`: a bug. Logged with its detail; the client sees a generic one.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error occurred")
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// What went wrong, in words.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// Seconds to wait before trying again, for a 429.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }

    fn title(&self) -> &'static str {
        self.status.canonical_reason().unwrap_or("Error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: format!("https://ticketing.invalid/problems/{}", self.code),
            title: self.title().to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
            field: self.field,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        response
    }
}

fn field_error(e: &FieldError) -> ApiError {
    ApiError::field(e.field, e.to_string())
}

/// An order that cannot be made, named by the field of the request that is wrong.
fn order_error(e: &OrderError) -> ApiError {
    let detail = e.to_string();
    match *e {
        OrderError::Buyer(ref f) => field_error(f),
        OrderError::NoLines | OrderError::Overflow => ApiError::field("lines", detail),
        OrderError::ZeroQuantity(i) => ApiError::field(format!("lines[{i}].quantity"), detail),
        OrderError::RepeatedType(i) | OrderError::UnknownType(i) => {
            ApiError::field(format!("lines[{i}].ticket_type_id"), detail)
        }
        OrderError::MixedCurrencies(i) => ApiError::field(format!("lines[{i}]"), detail),
        OrderError::TooMany { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "too_many", detail).at("lines"),
    }
}

impl From<QuotaError> for ApiError {
    fn from(e: QuotaError) -> Self {
        let code = match e {
            QuotaError::BelowLive { .. } => "below_issued",
            QuotaError::TypeQuota { .. } | QuotaError::EventCapacity { .. } => "sold_out",
            #[allow(unreachable_patterns)]
            _ => "quota",
        };
        Self::new(StatusCode::CONFLICT, code, e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => Self::not_found(what),
            StoreError::Conflict(what) => Self::conflict(what),
            StoreError::Quota(q) => q.into(),
            StoreError::Stale => Self::new(StatusCode::CONFLICT, "stale", "the row changed concurrently; try again"),
            StoreError::Unavailable(source) => {
                tracing::warn!(error = %source, "storage unavailable");
                Self::unavailable("storage is unavailable; nothing was written")
            }
            StoreError::Corrupt(what) => Self::internal(format!("corrupt row: {what}")),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotFound(what) => Self::not_found(what),
            EngineError::Event(EventError::Field(f))
            | EngineError::TicketType(TicketTypeError::Field(f))
            | EngineError::Gate(GateError::Field(f))
            | EngineError::Ticket(TicketError::Field(f))
            | EngineError::Field(f) => field_error(&f),
            EngineError::Ticket(TicketError::InitialStatus(_)) => Self::field("status", e.to_string()),
            EngineError::Event(EventError::EndsBeforeStart) => Self::field("ends_at", e.to_string()),
            EngineError::Event(EventError::PaymentLink(ref link)) => Self::field("payment_url", link.to_string()),
            EngineError::Order(ref order) => order_error(order),
            EngineError::OrderTransition(t) => Self::new(StatusCode::CONFLICT, "invalid_transition", t.to_string()),
            EngineError::Event(EventError::StatusChange { .. }) => {
                Self::new(StatusCode::CONFLICT, "invalid_transition", e.to_string())
            }
            EngineError::Holders(ref h) => Self::field(h.path(), e.to_string()),
            EngineError::TemplateProblem(ref p) => Self::field(p.part, p.detail.clone()),
            EngineError::Hook(HookError::Url(_)) => Self::field("url", e.to_string()),
            EngineError::Hook(HookError::Topic(_) | HookError::NoTopic) => Self::field("events", e.to_string()),
            EngineError::TicketType(TicketTypeError::Price(MoneyError::UnknownCurrency(_))) => {
                Self::field("currency", e.to_string())
            }
            EngineError::TicketType(TicketTypeError::Price(_)) => Self::field("price_minor", e.to_string()),
            EngineError::TicketType(TicketTypeError::DuplicateName(_)) => {
                Self::new(StatusCode::CONFLICT, "duplicate_name", e.to_string())
            }
            EngineError::TicketType(TicketTypeError::ValidityReversed) => Self::field("validity_to", e.to_string()),
            EngineError::Quota(q) => q.into(),
            EngineError::Password(p) => Self::field("password", p.to_string()),
            EngineError::Conflict(what) => Self::conflict(what),
            EngineError::Forbidden(what) => Self::forbidden(what),
            EngineError::Transition(t) => Self::new(StatusCode::CONFLICT, "invalid_transition", t.to_string()),
            EngineError::EventClosed(_) => Self::new(StatusCode::CONFLICT, "event_closed", e.to_string()),
            EngineError::Invalid(what) => Self::bad_request(what),
            EngineError::Contention => Self::new(StatusCode::SERVICE_UNAVAILABLE, "contention", e.to_string()),
            EngineError::Store(s) => s.into(),
            other => Self::internal(other),
        }
    }
}

/// The answer for a path no route serves.
pub async fn route_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
}
