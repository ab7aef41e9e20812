//! An event's notifications: each message of each notification job, with what became of it.
//! A message that is `dead` (still refused after its job's last attempt) is sent again by
//! retrying its job (`POST /api/v1/jobs/{job_id}/retry`): the messages already settled are not.
//!
//! And the public "email me my tickets again" (`POST /api/v1/public/events/{id}/resend-tickets`):
//! it answers `202` the same way whether or not the address holds tickets (the lookup happens in
//! the notification job, after the answer), and is limited per client address and per asked
//! address, so it can neither enumerate holders nor flood an inbox.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::ids::EventId;
use ticketing_core::notification::{DeliveryRecord, mask};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Caller, Reach};
use crate::client::ClientIp;
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// One message of a notification, as its log shows it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "job_id": "0193a1b2-0000-7000-8000-00000000000a",
    "kind": "payment_succeeded",
    "channel": "email",
    "recipient": "z***@example.org",
    "status": "sent",
    "attempts": 1,
    "last_error": null,
    "message_id": "0193a1b2-0000-7000-8000-00000000000a.email.3f2a9c1e",
    "updated_at": "2026-12-06T20:15:00Z"
}))]
pub struct NotificationView {
    /// The notification job (retry it to send a dead message again).
    pub job_id: Uuid,
    /// What it is about.
    #[schema(schema_with = crate::schema::notification_kind)]
    pub kind: String,
    /// `email` or `sms`.
    #[schema(schema_with = crate::schema::notification_channel)]
    pub channel: String,
    /// The address or number, masked.
    pub recipient: String,
    /// What became of it.
    #[schema(schema_with = crate::schema::notification_status)]
    pub status: String,
    /// Attempts to send it so far.
    pub attempts: u32,
    /// The channel's last refusal.
    pub last_error: Option<String>,
    /// The message's id, the same on every attempt (an email's `Message-ID` is `<{message_id}@…>`).
    pub message_id: String,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&DeliveryRecord> for NotificationView {
    fn from(r: &DeliveryRecord) -> Self {
        Self {
            job_id: *r.job_id.as_uuid(),
            kind: r.topic.as_str().to_owned(),
            channel: r.channel.as_str().to_owned(),
            recipient: mask(&r.recipient),
            status: r.status.as_str().to_owned(),
            attempts: r.attempts,
            last_error: r.last_error.clone(),
            message_id: r.message_id.clone(),
            updated_at: r.updated_at,
        }
    }
}

/// How many to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// How many, most recently changed first: 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The event's notification messages, most recently changed first: a superadmin's of any event,
/// an organizer's of their events.
#[utoipa::path(
    get,
    operation_id = "events_notifications",
    path = "/events/{id}/notifications",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event"), NotificationQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Messages, most recently changed first", body = [NotificationView]),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 422, description = "`limit` out of range", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Params(query): Params<NotificationQuery>,
) -> Result<Json<Vec<NotificationView>>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be from 1 to 500"));
    }
    let records = state.engine.event_notifications(event.id(), limit).await?;
    Ok(Json(records.iter().map(NotificationView::from).collect()))
}

/// Who asks for their tickets again.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "zoe@example.org"}))]
pub struct ResendBody {
    /// The address the tickets were issued or bought under.
    pub email: String,
}

/// The answer to a resend request: the same whether or not the address holds tickets.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "accepted", "detail": "If this address holds tickets for this event, they are on their way to it."}))]
pub struct ResendView {
    /// Always `accepted`.
    pub status: String,
    /// What happens next.
    pub detail: String,
}

/// "Email me my tickets again", no account needed: the event's usable tickets held under the
/// address (issued, paid, inside or outside; bought or issued to it) are emailed to it, with
/// their links (and PDFs when the event attaches them). The answer never tells whether the
/// address is known. Limited per client address and per asked address (3 a window).
#[utoipa::path(
    post,
    operation_id = "tickets_resend",
    path = "/public/events/{id}/resend-tickets",
    tag = "public",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = ResendBody,
    responses(
        (status = 202, description = "Accepted: the tickets go out if there are any", body = ResendView),
        (status = 404, description = "No such event on sale", body = Problem),
        (status = 422, description = "Not an email address", body = Problem),
        (status = 429, description = "Too many requests from this client or for this address", body = Problem),
    )
)]
pub async fn resend(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    Id(id): Id<Uuid>,
    Body(body): Body<ResendBody>,
) -> Result<(StatusCode, Json<ResendView>), ApiError> {
    state.limits.resend.check(&crate::auth::token::client_key(peer)).await.map_err(ApiError::retry_in)?;
    let address =
        ticketing_core::field::Email::parse(&body.email).map_err(|e| ApiError::field(e.field, e.to_string()))?;
    let event = super::public::public_event(&state, id).await?;
    let key = format!("{}:{}", event.id(), address.as_str().to_lowercase());
    state.limits.resend_address.check(&key).await.map_err(ApiError::retry_in)?;
    state.engine.resend_tickets(event.id(), &address).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(ResendView {
            status: "accepted".into(),
            detail: "If this address holds tickets for this event, they are on their way to it.".into(),
        }),
    ))
}
