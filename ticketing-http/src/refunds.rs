//! The refund gateway: asks payment providers to pay refunds back, for the engine's refund jobs
//! ([`ticketing_core::refund::RefundGateway`]).
//!
//! - **Stripe**: `POST {TICKETING_STRIPE_API_BASE}/v1/refunds` (`https://api.stripe.com` by
//!   default) with the secret key as a bearer token, the form `payment_intent`, `amount`,
//!   `metadata[order_id]`, `metadata[refund_id]`, and `Idempotency-Key: refund-{id}` (Stripe
//!   answers a retried key with the first result); the answer's `id` is the refund's.
//! - **Generic**: `POST {TICKETING_GENERIC_REFUND_URL}` with the JSON `{"id", "order_id",
//!   "amount_minor", "currency", "reference"}`, signed like the webhooks it sends us
//!   (`Ticketing-Signature: t=…,v1=…` with the first generic secret), and the same
//!   `Idempotency-Key`; a 2xx answer may name the provider's refund `id`.
//!
//! A 2xx is paid back; 401 and 403 (our key), 408, 409, 425, 429, a 5xx, a timeout (10 s) or no
//! connection is "try again" (the job backs off); any other answer is a refusal, left for staff
//! with an alert.

use async_trait::async_trait;
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use ticketing_core::env::Clock;
use ticketing_core::refund::{GatewayError, Refund, RefundGateway};
use ticketing_core::webhook_signature::sign;

use crate::outbound::{Outbound, excerpt, form};

/// Stripe's API.
#[derive(Clone)]
pub struct StripeApi {
    /// `https://api.stripe.com`, or a stand-in.
    pub base: String,
    /// The secret key (`sk_…`); never logged.
    pub key: String,
}

/// The generic provider's refund endpoint.
#[derive(Clone)]
pub struct GenericApi {
    /// Where refunds are asked.
    pub url: String,
    /// The secret requests are signed with; never logged.
    pub secret: String,
}

/// Refunds through the providers' APIs, over HTTPS (or plain HTTP to a local stand-in).
pub struct ProviderRefunds {
    client: Outbound,
    stripe: Option<StripeApi>,
    generic: Option<GenericApi>,
    clock: std::sync::Arc<dyn Clock>,
}

impl ProviderRefunds {
    /// A gateway to the providers configured.
    pub fn new(stripe: Option<StripeApi>, generic: Option<GenericApi>, clock: std::sync::Arc<dyn Clock>) -> Self {
        Self { client: Outbound::default(), stripe, generic, clock }
    }
}

/// The provider's refund id from a 2xx answer, else what to do.
fn outcome(status: StatusCode, body: &[u8], fallback: &str) -> Result<String, GatewayError> {
    if status.is_success() {
        let id = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned));
        return Ok(id.unwrap_or_else(|| fallback.to_owned()));
    }
    // 401 and 403 are our key (rotated, revoked): retried until an operator fixes it.
    let again = matches!(status.as_u16(), 401 | 403 | 408 | 409 | 425 | 429) || status.is_server_error();
    let why = format!("{status}: {}", excerpt(body));
    Err(if again { GatewayError::Retry(why) } else { GatewayError::Refused(why) })
}

#[async_trait]
impl RefundGateway for ProviderRefunds {
    async fn refund(&self, refund: &Refund) -> Result<String, GatewayError> {
        let key = refund.idempotency_key();
        let request = match refund.provider.as_deref() {
            Some("stripe") => {
                let api = self
                    .stripe
                    .as_ref()
                    .ok_or_else(|| GatewayError::Retry("TICKETING_STRIPE_API_KEY is not set".into()))?;
                let intent = refund
                    .payment_reference
                    .as_deref()
                    .ok_or_else(|| GatewayError::Refused("the payment has no payment_intent to refund".into()))?;
                let body = format!(
                    "payment_intent={}&amount={}&metadata%5Border_id%5D={}&metadata%5Brefund_id%5D={}",
                    form(intent),
                    refund.amount.minor(),
                    refund.order_id,
                    refund.id
                );
                Request::builder()
                    .method(Method::POST)
                    .uri(format!("{}/v1/refunds", api.base.trim_end_matches('/')))
                    .header(header::AUTHORIZATION, format!("Bearer {}", api.key))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header("idempotency-key", &key)
                    .body(Full::new(Bytes::from(body)))
            }
            Some("generic") => {
                let api = self
                    .generic
                    .as_ref()
                    .ok_or_else(|| GatewayError::Retry("TICKETING_GENERIC_REFUND_URL is not set".into()))?;
                let body = serde_json::json!({
                    "id": refund.id.to_string(),
                    "order_id": refund.order_id.to_string(),
                    "amount_minor": refund.amount.minor(),
                    "currency": refund.amount.currency().code(),
                    "reference": refund.payment_reference,
                })
                .to_string();
                let signature = sign(api.secret.as_bytes(), body.as_bytes(), self.clock.now());
                Request::builder()
                    .method(Method::POST)
                    .uri(&api.url)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("ticketing-signature", signature)
                    .header("idempotency-key", &key)
                    .body(Full::new(Bytes::from(body)))
            }
            other => return Err(GatewayError::Refused(format!("no refund API for provider {other:?}"))),
        }
        .map_err(|e| GatewayError::Refused(format!("a request that cannot be sent: {e}")))?;
        let (status, body) = self.client.send(request).await.map_err(GatewayError::Retry)?;
        outcome(status, &body, &key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_sorted_into_paid_retry_and_refused() {
        assert_eq!(outcome(StatusCode::OK, br#"{"id":"re_1"}"#, "k"), Ok("re_1".into()));
        assert_eq!(outcome(StatusCode::ACCEPTED, b"", "refund-1"), Ok("refund-1".into()));
        for status in [
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::SERVICE_UNAVAILABLE,
            StatusCode::CONFLICT,
            StatusCode::UNAUTHORIZED,
        ] {
            assert!(matches!(outcome(status, b"busy", "k"), Err(GatewayError::Retry(_))), "{status}");
        }
        assert!(matches!(
            outcome(StatusCode::BAD_REQUEST, b"charge_already_refunded", "k"),
            Err(GatewayError::Refused(_))
        ));
    }
}
