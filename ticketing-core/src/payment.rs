//! Payment notices: what a payment provider's webhook says, read from its verified raw body, and
//! the record kept of every delivery.
//!
//! Two providers sit behind the [`PaymentProvider`] port:
//!
//! - [`Stripe`] reads `Stripe-Signature` deliveries as Stripe documents them:
//!   `checkout.session.completed` (paid unless its `payment_status` says it is still pending),
//!   `checkout.session.async_payment_succeeded`, `checkout.session.async_payment_failed`,
//!   `checkout.session.expired` (the order is the session's `client_reference_id`, the amount
//!   `amount_total` in `currency`, the reference its `payment_intent`) and `charge.refunded`
//!   (found by its `payment_intent`). Other types are recorded and ignored.
//! - [`Generic`] reads our own scheme, for any provider or a custom integration:
//!   `Ticketing-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{raw body}">` over
//!   `{"id", "type": "payment.succeeded" | "payment.failed" | "payment.refunded", "order_id",
//!   "amount_minor", "currency", "reference"}`.
//!
//! [`read_delivery`] verifies the signature over the raw bytes first (see
//! [`crate::webhook_signature`]) and only then parses them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::ids::{EventId, OrderId};
use crate::money::{Currency, Money};
use crate::webhook_signature::{self, SignatureError};

/// The longest body read: a real notice is a few kilobytes; Stripe's largest events stay far below.
pub const MAX_BODY: usize = 256 * 1024;

/// What a notice says happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// The order was paid.
    Succeeded,
    /// A payment attempt failed (the order stays as it is, its hold runs on).
    Failed,
    /// The payment was refunded at the provider.
    Refunded,
    /// The provider's checkout expired unpaid.
    Expired,
    /// A type we do not act on (recorded all the same).
    Ignored,
}

/// A provider's notice, read from a verified body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentNotice {
    /// The provider's event id: a delivery is applied once per provider and id.
    pub event_id: String,
    /// The provider's own type name.
    pub event_type: String,
    /// What it means.
    pub kind: NoticeKind,
    /// The order, when the notice names it.
    pub order_id: Option<OrderId>,
    /// The amount paid or refunded, when given.
    pub amount: Option<Money>,
    /// The provider's reference of the payment (a payment intent).
    pub reference: Option<String>,
}

/// Why a delivery was refused: a 400 to the sender, with nothing recorded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WebhookError {
    /// The signature header is missing, malformed, stale or does not match.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The body is larger than [`MAX_BODY`].
    #[error("the body is larger than {MAX_BODY} bytes")]
    TooLarge,
    /// The body is not the JSON the provider sends; `field` is the path of what is wrong.
    #[error("{field}: {problem}")]
    Body {
        /// The JSON path.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

fn body_error(field: &str, problem: &str) -> WebhookError {
    WebhookError::Body { field: field.to_owned(), problem: problem.to_owned() }
}

/// A payment provider's webhook format. Pure: signature checks and parsing, no I/O.
pub trait PaymentProvider: Send + Sync {
    /// The name in the route (`/api/v1/payments/{name}/webhook`) and in records.
    fn name(&self) -> &'static str;
    /// The header carrying the signature.
    fn signature_header(&self) -> &'static str;
    /// Reads a notice from a body whose signature was verified.
    fn notice(&self, body: &Value) -> Result<PaymentNotice, WebhookError>;
}

/// Verifies a delivery's signature over the raw `body` with any of `secrets` at `now` (five
/// minutes both ways), then reads the notice.
pub fn read_delivery(
    provider: &dyn PaymentProvider,
    signature: Option<&str>,
    body: &[u8],
    secrets: &[&[u8]],
    now: DateTime<Utc>,
) -> Result<PaymentNotice, WebhookError> {
    if body.len() > MAX_BODY {
        return Err(WebhookError::TooLarge);
    }
    let signature = signature.ok_or(SignatureError::Malformed)?;
    webhook_signature::verify(signature, body, secrets, now, webhook_signature::TOLERANCE)?;
    let value: Value = serde_json::from_slice(body).map_err(|e| body_error("", &format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(body_error("", "must be a JSON object"));
    }
    provider.notice(&value)
}

/// The string at `path` (dot-separated) of `value`, if it is one.
fn text<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.').try_fold(value, |v, key| v.get(key))?.as_str()
}

fn required<'a>(value: &'a Value, path: &str) -> Result<&'a str, WebhookError> {
    match text(value, path) {
        Some(s) if !s.is_empty() && s.len() <= 255 => Ok(s),
        Some(_) => Err(body_error(path, "must be 1 to 255 characters")),
        None => Err(body_error(path, "is required and must be a string")),
    }
}

/// The order a reference names; a reference that is not an order id names no order.
fn order_id(value: &Value, path: &str) -> Option<OrderId> {
    text(value, path)?.parse::<uuid::Uuid>().ok().map(OrderId::from_uuid)
}

fn amount(value: &Value, minor: &str, currency: &str) -> Result<Option<Money>, WebhookError> {
    let (Some(m), Some(c)) = (minor.split('.').try_fold(value, |v, k| v.get(k)), text(value, currency)) else {
        return Ok(None);
    };
    let m = m.as_i64().filter(|m| *m >= 0).ok_or_else(|| body_error(minor, "must be a whole number, at least 0"))?;
    let c = Currency::parse(c).map_err(|_| body_error(currency, "is not an ISO 4217 currency"))?;
    Money::new(m, c).map(Some).map_err(|_| body_error(minor, "must be a whole number, at least 0"))
}

/// Stripe's webhooks (`Stripe-Signature`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stripe;

impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn signature_header(&self) -> &'static str {
        "stripe-signature"
    }

    fn notice(&self, body: &Value) -> Result<PaymentNotice, WebhookError> {
        let event_id = required(body, "id")?.to_owned();
        let event_type = required(body, "type")?.to_owned();
        let object = body
            .get("data")
            .and_then(|d| d.get("object"))
            .filter(|o| o.is_object())
            .ok_or_else(|| body_error("data.object", "is required and must be an object"))?;
        let kind = match event_type.as_str() {
            "checkout.session.completed" if text(object, "payment_status") == Some("unpaid") => NoticeKind::Ignored,
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => NoticeKind::Succeeded,
            "checkout.session.async_payment_failed" => NoticeKind::Failed,
            "checkout.session.expired" => NoticeKind::Expired,
            "charge.refunded" => NoticeKind::Refunded,
            _ => NoticeKind::Ignored,
        };
        let (order_id, amount) = match kind {
            NoticeKind::Refunded => {
                (None, amount(object, "amount_refunded", "currency").map_err(|e| nested(e, "data.object"))?)
            }
            NoticeKind::Ignored => (None, None),
            _ => (
                order_id(object, "client_reference_id"),
                amount(object, "amount_total", "currency").map_err(|e| nested(e, "data.object"))?,
            ),
        };
        let reference = text(object, "payment_intent").map(str::to_owned);
        Ok(PaymentNotice { event_id, event_type, kind, order_id, amount, reference })
    }
}

fn nested(e: WebhookError, prefix: &str) -> WebhookError {
    match e {
        WebhookError::Body { field, problem } => WebhookError::Body { field: format!("{prefix}.{field}"), problem },
        other => other,
    }
}

/// Our documented scheme for any provider (`Ticketing-Signature`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Generic;

impl PaymentProvider for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn signature_header(&self) -> &'static str {
        "ticketing-signature"
    }

    fn notice(&self, body: &Value) -> Result<PaymentNotice, WebhookError> {
        let event_id = required(body, "id")?.to_owned();
        let event_type = required(body, "type")?.to_owned();
        let kind = match event_type.as_str() {
            "payment.succeeded" => NoticeKind::Succeeded,
            "payment.failed" => NoticeKind::Failed,
            "payment.refunded" => NoticeKind::Refunded,
            _ => {
                return Err(body_error("type", "must be payment.succeeded, payment.failed or payment.refunded"));
            }
        };
        let raw_order = required(body, "order_id")?;
        let order = raw_order
            .parse::<uuid::Uuid>()
            .map(OrderId::from_uuid)
            .map_err(|_| body_error("order_id", "must be an order id (a UUID)"))?;
        let amount = amount(body, "amount_minor", "currency")?
            .ok_or_else(|| body_error("amount_minor", "amount_minor and currency are required"))?;
        let reference = match body.get("reference") {
            None | Some(Value::Null) => None,
            Some(_) => Some(required(body, "reference")?.to_owned()),
        };
        Ok(PaymentNotice { event_id, event_type, kind, order_id: Some(order), amount: Some(amount), reference })
    }
}

/// What a delivery did, kept with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// The order was paid.
    Paid,
    /// A late payment: the order was paid again with its places taken anew.
    PaidLate,
    /// A late payment whose places were gone: the order is to be refunded.
    PaidUnfulfilled,
    /// The order had already been changed this way (a repeat, or late news): nothing changed.
    Unchanged,
    /// The order was paid already, by another payment: money taken twice, kept, with an alert.
    PaidTwice,
    /// The provider's checkout expired: the pending order was expired.
    Expired,
    /// The refund was recorded.
    Refunded,
    /// The amount or currency is not the order's: the order stays unpaid.
    PaymentMismatch,
    /// No order matches.
    UnknownOrder,
    /// A failed attempt, or a type we do not act on: recorded only.
    Ignored,
}

impl DeliveryOutcome {
    /// Every outcome.
    pub const ALL: [DeliveryOutcome; 10] = [
        Self::Paid,
        Self::PaidLate,
        Self::PaidUnfulfilled,
        Self::Unchanged,
        Self::PaidTwice,
        Self::Expired,
        Self::Refunded,
        Self::PaymentMismatch,
        Self::UnknownOrder,
        Self::Ignored,
    ];

    /// The stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::PaidLate => "paid_late",
            Self::PaidUnfulfilled => "paid_unfulfilled",
            Self::Unchanged => "unchanged",
            Self::PaidTwice => "paid_twice",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::PaymentMismatch => "payment_mismatch",
            Self::UnknownOrder => "unknown_order",
            Self::Ignored => "ignored",
        }
    }
}

/// A delivery as kept: unique per provider and provider event id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentDelivery {
    /// The provider.
    pub provider: String,
    /// The provider's event id.
    pub event_id: String,
    /// The provider's type name.
    pub event_type: String,
    /// What it meant.
    pub kind: NoticeKind,
    /// The order it concerned, when found.
    pub order_id: Option<OrderId>,
    /// That order's event, for listings and tenancy.
    pub ticketing_event_id: Option<EventId>,
    /// The amount it carried.
    pub amount: Option<Money>,
    /// The provider's reference.
    pub reference: Option<String>,
    /// What it did.
    pub outcome: DeliveryOutcome,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// How long a delivery's signature stays valid either side of now (re-exported for servers).
pub const TOLERANCE: Duration = webhook_signature::TOLERANCE;

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::webhook_signature::sign;

    const SECRET: &[u8] = b"whsec_test";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 6, 1, 12, 0, 0).unwrap()
    }

    fn read(provider: &dyn PaymentProvider, body: &str) -> Result<PaymentNotice, WebhookError> {
        let header = sign(SECRET, body.as_bytes(), now());
        read_delivery(provider, Some(&header), body.as_bytes(), &[SECRET], now())
    }

    #[test]
    fn stripe_checkout_sessions_name_the_order_and_the_amount() {
        let order = "0193a1b2-0000-7000-8000-000000000001";
        let body = format!(
            r#"{{"id":"evt_1","type":"checkout.session.completed","data":{{"object":{{"client_reference_id":"{order}","amount_total":9000,"currency":"eur","payment_status":"paid","payment_intent":"pi_9"}}}}}}"#
        );
        let notice = read(&Stripe, &body).unwrap();
        assert_eq!(notice.kind, NoticeKind::Succeeded);
        assert_eq!(notice.order_id.unwrap().to_string(), order);
        assert_eq!(notice.amount.unwrap().minor(), 9000);
        assert_eq!(notice.amount.unwrap().currency().code(), "EUR");
        assert_eq!(notice.reference.as_deref(), Some("pi_9"));
        let pending = body.replace(r#""paid""#, r#""unpaid""#);
        assert_eq!(read(&Stripe, &pending).unwrap().kind, NoticeKind::Ignored, "an async payment not yet made");
        let other = r#"{"id":"evt_2","type":"customer.created","data":{"object":{}}}"#;
        assert_eq!(read(&Stripe, other).unwrap().kind, NoticeKind::Ignored);
        let refund = r#"{"id":"evt_3","type":"charge.refunded","data":{"object":{"payment_intent":"pi_9","amount_refunded":4500,"currency":"eur"}}}"#;
        let notice = read(&Stripe, refund).unwrap();
        assert_eq!((notice.kind, notice.reference.as_deref()), (NoticeKind::Refunded, Some("pi_9")));
    }

    #[test]
    fn bodies_are_refused_with_the_path_of_what_is_wrong() {
        let cases = [
            (&Generic as &dyn PaymentProvider, "[1]", ""),
            (&Generic, r#"{"type":"payment.succeeded"}"#, "id"),
            (&Generic, r#"{"id":"e","type":"payment.won"}"#, "type"),
            (&Generic, r#"{"id":"e","type":"payment.succeeded","order_id":"x"}"#, "order_id"),
            (
                &Generic,
                r#"{"id":"e","type":"payment.succeeded","order_id":"0193a1b2-0000-7000-8000-000000000001","amount_minor":-1,"currency":"EUR"}"#,
                "amount_minor",
            ),
            (
                &Generic,
                r#"{"id":"e","type":"payment.succeeded","order_id":"0193a1b2-0000-7000-8000-000000000001","amount_minor":1,"currency":"EURO"}"#,
                "currency",
            ),
            (&Stripe, r#"{"id":"e","type":"checkout.session.completed"}"#, "data.object"),
            (
                &Stripe,
                r#"{"id":"e","type":"checkout.session.completed","data":{"object":{"amount_total":"9","currency":"eur"}}}"#,
                "data.object.amount_total",
            ),
        ];
        for (provider, body, field) in cases {
            match read(provider, body) {
                Err(WebhookError::Body { field: f, .. }) => assert_eq!(f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        assert_eq!(read(&Generic, "not json").map(|_| ()).unwrap_err().to_string().split(':').next(), Some(""));
    }

    #[test]
    fn the_signature_is_checked_before_the_body_is_read() {
        let body = b"not even json";
        assert_eq!(
            read_delivery(&Generic, None, body, &[SECRET], now()),
            Err(WebhookError::Signature(SignatureError::Malformed))
        );
        let header = sign(b"another secret", body, now());
        assert_eq!(
            read_delivery(&Generic, Some(&header), body, &[SECRET], now()),
            Err(WebhookError::Signature(SignatureError::Mismatch))
        );
        let huge = vec![b' '; MAX_BODY + 1];
        assert_eq!(read_delivery(&Generic, Some(&header), &huge, &[SECRET], now()), Err(WebhookError::TooLarge));
    }
}
