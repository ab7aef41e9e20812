//! Refunds: money given back for some of an order's tickets (or, for an order paid after its
//! places were gone, for the order alone). The tickets become `refunded` (not while inside: the
//! ticket status machine), their places are freed, and the refund is recorded with the order in
//! one step; when the order was paid through a provider, a job asks the provider to pay it back
//! ([`RefundGateway`]), with the refund's id as the idempotency key, retried until it answers.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{EventId, OrderId, RefundId, TicketId, UserId};
use crate::money::Money;

/// Where a refund stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Recorded; the provider is being asked to pay it back.
    Requested,
    /// Paid back (by the provider, or at the desk), or done at the provider already.
    Done,
    /// The provider refused it for good: staff must settle it by hand.
    Failed,
}

impl RefundStatus {
    /// The stable snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

/// A refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// Its id (the provider's idempotency key is made from it).
    pub id: RefundId,
    /// The order.
    pub order_id: OrderId,
    /// The order's event.
    pub event_id: EventId,
    /// The tickets refunded (none for an order whose places were gone).
    pub tickets: Vec<TicketId>,
    /// How much.
    pub amount: Money,
    /// Why, as staff wrote it.
    pub reason: Option<String>,
    /// Who asked (none: the provider reported a refund made there).
    pub staff: Option<UserId>,
    /// The provider to ask to pay it back (none: paid at the desk, or done at the provider).
    pub provider: Option<String>,
    /// The provider's reference of the payment.
    pub payment_reference: Option<String>,
    /// Where it stands.
    pub status: RefundStatus,
    /// The provider's id of the refund, once it answered.
    pub provider_refund_id: Option<String>,
    /// Why the provider refused it, when it did.
    pub failure: Option<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

impl Refund {
    /// The idempotency key the provider is asked with: the same on every retry.
    pub fn idempotency_key(&self) -> String {
        format!("refund-{}", self.id)
    }
}

/// Why a provider did not pay a refund back.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum GatewayError {
    /// Not now (unreachable, a 5xx, a rate limit): ask again later.
    #[error("the provider did not answer: {0}")]
    Retry(String),
    /// Refused for good (a 4xx): staff must settle it.
    #[error("the provider refused the refund: {0}")]
    Refused(String),
}

/// The port to payment providers' refund APIs (the server's adapter calls Stripe's refunds API or
/// the generic provider's refund URL).
#[async_trait]
pub trait RefundGateway: Send + Sync {
    /// Asks the refund's provider to pay it back; the provider's refund id.
    async fn refund(&self, refund: &Refund) -> Result<String, GatewayError>;
}
