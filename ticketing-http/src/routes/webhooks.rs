//! Integrators' webhook endpoints of an event: register one (its signing secret is answered
//! this once), list them with their health, delete one, enable one again after it was disabled
//! for failing. Deliveries follow the Standard Webhooks specification (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`; see
//! [`ticketing_core::hook`]).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::hook::Endpoint;
use ticketing_core::ids::{EndpointId, EventId};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// An endpoint to register.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://crm.example.org/hooks/ticketing", "events": ["order.paid", "ticket.scanned"]}))]
pub struct EndpointBody {
    /// Where deliveries go: `https://`, not a private, loopback or link-local address.
    pub url: String,
    /// What it receives: `ticket.created`, `order.paid`, `ticket.refunded`, `ticket.scanned`.
    #[schema(example = json!(["order.paid"]))]
    pub events: Vec<String>,
}

/// An endpoint, with its health.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1b2-0000-7000-8000-00000000000e",
    "event_id": "0193a1b2-0000-7000-8000-000000000001",
    "url": "https://crm.example.org/hooks/ticketing",
    "events": ["order.paid", "ticket.scanned"],
    "enabled": true,
    "failing_since": null,
    "last_error": null,
    "last_success_at": "2026-12-06T20:15:00Z",
    "created_at": "2026-12-01T09:00:00Z"
}))]
pub struct EndpointView {
    /// The id.
    pub id: Uuid,
    /// The event.
    pub event_id: Uuid,
    /// Where deliveries go.
    pub url: String,
    /// What it receives.
    pub events: Vec<String>,
    /// Whether it receives deliveries (it is disabled after failing every delivery for a day).
    pub enabled: bool,
    /// Since when every delivery has failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// The last failure's reason.
    pub last_error: Option<String>,
    /// When a delivery last succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl From<&Endpoint> for EndpointView {
    fn from(e: &Endpoint) -> Self {
        Self {
            id: *e.id.as_uuid(),
            event_id: *e.event_id.as_uuid(),
            url: e.url.clone(),
            events: e.topics.iter().map(|t| t.as_str().to_owned()).collect(),
            enabled: e.enabled,
            failing_since: e.failing_since,
            last_error: e.last_error.clone(),
            last_success_at: e.last_success_at,
            created_at: e.created_at,
        }
    }
}

/// An endpoint just registered, with its secret.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "endpoint": {
        "id": "0193a1b2-0000-7000-8000-00000000000e",
        "event_id": "0193a1b2-0000-7000-8000-000000000001",
        "url": "https://crm.example.org/hooks/ticketing",
        "events": ["order.paid"],
        "enabled": true,
        "failing_since": null,
        "last_error": null,
        "last_success_at": null,
        "created_at": "2026-12-01T09:00:00Z"
    },
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
}))]
pub struct RegisteredView {
    /// The endpoint.
    pub endpoint: EndpointView,
    /// The signing secret for Standard Webhooks libraries: shown this once, never again.
    pub secret: String,
}

impl std::fmt::Debug for RegisteredView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredView").field("endpoint", &self.endpoint).finish_non_exhaustive()
    }
}

/// Registers an endpoint at the event; the answer carries its signing secret, shown this once.
#[utoipa::path(
    post,
    operation_id = "webhooks_register",
    path = "/events/{id}/webhooks",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = EndpointBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Registered", body = RegisteredView),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 409, description = "The event has its 10 endpoints already", body = Problem),
        (status = 422, description = "A URL refused (`url`) or an unknown topic (`events`)", body = Problem),
    )
)]
pub async fn register(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<EndpointBody>,
) -> Result<(StatusCode, Json<RegisteredView>), ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let entry = Entry::by(&state, &caller, "webhook.register", "webhook:?".into(), Some(event.id())).on_write(
        |endpoint: &Endpoint, entry| {
            entry.target = format!("webhook:{}", endpoint.id);
            entry.after = summary(&EndpointView::from(endpoint));
        },
    );
    let registered = audit::run(entry, state.engine.register_endpoint(event.id(), &body.url, &body.events)).await?;
    let view = EndpointView::from(&registered.endpoint);
    Ok((StatusCode::CREATED, Json(RegisteredView { endpoint: view, secret: registered.secret })))
}

/// The event's endpoints, oldest first, with their health (never their secrets).
#[utoipa::path(
    get,
    operation_id = "webhooks_list",
    path = "/events/{id}/webhooks",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Oldest first", body = [EndpointView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<Vec<EndpointView>>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let endpoints = state.engine.endpoints(event.id()).await?;
    Ok(Json(endpoints.iter().map(EndpointView::from).collect()))
}

/// The endpoint, if the caller manages its event.
async fn reach(state: &Shared, caller: &Caller, id: Uuid) -> Result<Endpoint, ApiError> {
    caller.require(Reach::Manage.roles())?;
    let endpoint = state.engine.endpoint(EndpointId::from_uuid(id)).await?;
    caller.reaches(state, endpoint.event_id, Reach::Manage, "endpoint").await?;
    Ok(endpoint)
}

/// Deletes an endpoint: it receives nothing more (deliveries still queued are dropped).
#[utoipa::path(
    delete,
    operation_id = "webhooks_delete",
    path = "/webhooks/{id}",
    tag = "events",
    params(("id" = Uuid, Path, description = "The endpoint")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such endpoint of yours", body = Problem),
    )
)]
pub async fn delete(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<StatusCode, ApiError> {
    let endpoint = reach(&state, &caller, id).await?;
    let entry = Entry::by(&state, &caller, "webhook.delete", format!("webhook:{id}"), Some(endpoint.event_id))
        .before(&EndpointView::from(&endpoint));
    audit::run(entry.ready(), state.engine.delete_endpoint(&endpoint)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables an endpoint again (one disabled for failing), its failures forgotten. Messages made
/// while it was disabled are not sent.
#[utoipa::path(
    post,
    operation_id = "webhooks_enable",
    path = "/webhooks/{id}/enable",
    tag = "events",
    params(("id" = Uuid, Path, description = "The endpoint")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Enabled", body = EndpointView),
        (status = 404, description = "No such endpoint of yours", body = Problem),
    )
)]
pub async fn enable(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<EndpointView>, ApiError> {
    let endpoint = reach(&state, &caller, id).await?;
    let after = Endpoint { enabled: true, failing_since: None, ..endpoint.clone() };
    let entry = Entry::by(&state, &caller, "webhook.enable", format!("webhook:{id}"), Some(endpoint.event_id))
        .before(&EndpointView::from(&endpoint))
        .after(&EndpointView::from(&after));
    let enabled = audit::run(entry.ready(), state.engine.enable_endpoint(&endpoint)).await?;
    Ok(Json(EndpointView::from(&enabled)))
}
