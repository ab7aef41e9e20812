//! Payment webhooks: `POST /api/v1/payments/{provider}/webhook` verifies the provider's signature
//! over the raw body before reading it, records the delivery once per provider event id, and
//! applies it to its order; every delivery is listed with its outcome.
//!
//! Answers: 200 once the delivery is recorded (even if it changes nothing: a repeat, news that
//! came late), 400 for a bad signature or body (nothing recorded), 404 for a provider this server
//! has no secret for. Storage failing is a 503, so the provider delivers again later.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::payment::{
    DeliveryOutcome, Generic, PaymentDelivery, PaymentProvider, Stripe, WebhookError, read_delivery,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::config::Secret;
use crate::extract::{Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// A payment delivery as kept.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    /// `stripe` or `generic`.
    pub provider: String,
    /// The provider's event id (a delivery is applied once per provider and id).
    pub provider_event_id: String,
    /// The provider's type name.
    pub event_type: String,
    /// The order it concerned, when found.
    pub order_id: Option<Uuid>,
    /// That order's event.
    pub event_id: Option<Uuid>,
    /// The amount it carried, in minor units.
    pub amount_minor: Option<i64>,
    /// Its currency.
    pub currency: Option<String>,
    /// The provider's reference of the payment.
    pub reference: Option<String>,
    /// What it did.
    #[schema(schema_with = crate::schema::delivery_outcome)]
    pub outcome: String,
    /// When it arrived (the first time).
    pub received_at: DateTime<Utc>,
    /// Whether this delivery repeated one recorded before (it changed nothing).
    pub repeat: bool,
}

impl DeliveryView {
    fn new(d: &PaymentDelivery, repeat: bool) -> Self {
        Self {
            provider: d.provider.clone(),
            provider_event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            order_id: d.order_id.map(|o| *o.as_uuid()),
            event_id: d.ticketing_event_id.map(|e| *e.as_uuid()),
            amount_minor: d.amount.map(|a| a.minor()),
            currency: d.amount.map(|a| a.currency().code().to_owned()),
            reference: d.reference.clone(),
            outcome: d.outcome.as_str().to_owned(),
            received_at: d.received_at,
            repeat,
        }
    }
}

/// The provider called `name` and its active secrets, if this server has any for it.
fn provider<'a>(state: &'a Shared, name: &str) -> Option<(&'static dyn PaymentProvider, &'a [Secret])> {
    let (provider, secrets): (&'static dyn PaymentProvider, &[Secret]) = match name {
        "stripe" => (&Stripe, &state.config.stripe_webhook_secrets),
        "generic" => (&Generic, &state.config.generic_webhook_secrets),
        _ => return None,
    };
    (!secrets.is_empty()).then_some((provider, secrets))
}

/// Receives a payment provider's webhook. `stripe` deliveries carry `Stripe-Signature` as Stripe
/// documents it; `generic` ones `Ticketing-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
/// "{t}.{raw body}">` over `{"id", "type": "payment.succeeded" | "payment.failed" |
/// "payment.refunded", "order_id", "amount_minor", "currency", "reference"}` (see the README).
/// The signature is checked over the raw body, in constant time, within five minutes either way,
/// against one or two active secrets.
#[utoipa::path(
    post,
    operation_id = "payments_webhook",
    path = "/payments/{provider}/webhook",
    tag = "payments",
    params(
        ("provider" = String, Path, description = "`stripe` or `generic`"),
        ("Stripe-Signature" = Option<String>, Header, description = "For `stripe`: `t=…,v1=…`"),
        ("Ticketing-Signature" = Option<String>, Header, description = "For `generic`: `t=…,v1=…`"),
    ),
    request_body(content = Object, content_type = "application/json", description = "The provider's event, as it sends it",
        example = json!({"id": "evt_0193a1b2", "type": "payment.succeeded", "order_id": "0193a1b2-0000-7000-8000-000000000001", "amount_minor": 9000, "currency": "EUR", "reference": "pi_3Q"})),
    responses(
        (status = 200, description = "Recorded (and applied, unless it changes nothing)", body = DeliveryView),
        (status = 400, description = "`bad_signature`, or `invalid_webhook` naming the field", body = Problem),
        (status = 404, description = "No such provider configured here", body = Problem),
        (status = 413, description = "The body is too large", body = Problem),
    )
)]
pub async fn webhook(
    State(state): State<Shared>,
    Id(name): Id<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DeliveryView>, ApiError> {
    let Some((provider, secrets)) = provider(&state, &name) else {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "unknown_provider", "no such payment provider is configured"));
    };
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::bad_request(format!("the body could not be read: {e}"))
        }
    })?;
    let signature = headers.get(provider.signature_header()).and_then(|v| v.to_str().ok());
    let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.expose().as_bytes()).collect();
    let notice = read_delivery(provider, signature, &body, &secrets, state.clock.now()).map_err(|e| match e {
        WebhookError::Signature(s) => {
            state.metrics.webhook(provider.name(), "bad_signature");
            ApiError::new(StatusCode::BAD_REQUEST, "bad_signature", s.to_string())
        }
        WebhookError::TooLarge => ApiError::too_large(),
        WebhookError::Body { field, problem } => {
            state.metrics.webhook(provider.name(), "invalid_webhook");
            let field = if field.is_empty() { "body".to_owned() } else { field };
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_webhook", problem).at(field)
        }
    })?;
    // The change the notice makes is recorded with it, as the system's (a repeat, or a notice
    // that changes nothing, is not).
    let entry =
        Entry::system(&state, "order.paid", "order:?".into(), None).on_write_if(|delivery: &PaymentDelivery, entry| {
            let Some((action, order)) = trail_action(delivery.outcome).zip(delivery.order_id) else { return false };
            entry.action = action.to_owned();
            entry.target = format!("order:{order}");
            entry.event_id = delivery.ticketing_event_id;
            entry.after = summary(&DeliveryView::new(delivery, false));
            true
        });
    let delivered = audit::run(entry, state.engine.apply_delivery(provider.name(), &notice)).await?;
    let d = &delivered.delivery;
    state.metrics.webhook(provider.name(), if delivered.repeat { "repeat" } else { d.outcome.as_str() });
    if !delivered.repeat && matches!(d.outcome, DeliveryOutcome::Paid | DeliveryOutcome::PaidLate) {
        state.metrics.order_status("paid");
    }
    Ok(Json(DeliveryView::new(d, delivered.repeat)))
}

/// Filters of the delivery list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only this event's (required unless you are a superadmin).
    pub event_id: Option<Uuid>,
    /// How many, newest first: 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Payment deliveries with their outcomes, newest first: a superadmin's of every event (or one),
/// an organizer's of one of their events.
#[utoipa::path(
    get,
    operation_id = "payments_events",
    path = "/payments/events",
    tag = "payments",
    params(DeliveryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deliveries, newest first", body = [DeliveryView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn events(
    State(state): State<Shared>,
    caller: Caller,
    Params(query): Params<DeliveryQuery>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    caller.require(Reach::Manage.roles())?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be from 1 to 500"));
    }
    let event_id = caller.listing_event(&state, query.event_id, "required: the event whose deliveries to list").await?;
    let deliveries = state.store().deliveries(event_id, limit).await?;
    Ok(Json(deliveries.iter().map(|d| DeliveryView::new(d, false)).collect()))
}

/// The audit trail's action for a provider's notice with `outcome`, if it changed an order.
fn trail_action(outcome: DeliveryOutcome) -> Option<&'static str> {
    match outcome {
        DeliveryOutcome::Paid | DeliveryOutcome::PaidLate => Some("order.paid"),
        DeliveryOutcome::PaidUnfulfilled => Some("order.paid_unfulfilled"),
        DeliveryOutcome::PaymentMismatch => Some("order.payment_mismatch"),
        DeliveryOutcome::Expired => Some("order.expired"),
        _ => None,
    }
}
