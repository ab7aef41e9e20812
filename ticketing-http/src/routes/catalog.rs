//! An event's ticket types and gates. Reading types needs the event's read reach (a cashier
//! sells them); gates, and every change, need the manage reach.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::engine::Error as EngineError;
use ticketing_core::gate::{Gate, GateSpec};
use ticketing_core::ids::UserId;
use ticketing_core::ids::{EventId, GateId, TicketTypeId};
use ticketing_core::ticket_type::{TicketType, TicketTypeSpec};
use ticketing_core::user::Role;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// A body listing a `what` that is not the event's (or does not exist) names its `field`.
fn foreign(what: &'static str, field: &'static str) -> impl Fn(EngineError) -> ApiError {
    move |e| match e {
        EngineError::NotFound(missing) if missing == what => {
            ApiError::field(field, format!("lists a {what} that is not one of the event's"))
        }
        other => other.into(),
    }
}

/// An event's ticket types.
#[utoipa::path(
    get,
    operation_id = "catalog_list_types",
    path = "/events/{id}/ticket-types",
    tag = "ticket types",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The types, by name", body = [TicketTypeView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn list_types(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<Vec<TicketTypeView>>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Read).await?;
    let types = state.store().ticket_types(event.id()).await?;
    Ok(Json(types.iter().map(TicketTypeView::from).collect()))
}

/// Adds a ticket type; a name the event already has is refused (409 `duplicate_name`).
#[utoipa::path(
    post,
    operation_id = "catalog_create_type",
    path = "/events/{id}/ticket-types",
    tag = "ticket types",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = TicketTypeBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = TicketTypeView),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 409, description = "The name is taken", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn create_type(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<TicketTypeBody>,
) -> Result<(StatusCode, Json<TicketTypeView>), ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let entry = Entry::by(&state, &caller, "ticket_type.create", "ticket_type:?".into(), Some(event.id())).on_write(
        |created: &TicketType, entry| {
            entry.target = format!("ticket_type:{}", created.id());
            entry.after = summary(&TicketTypeView::from(created));
        },
    );
    let created = audit::run(entry, state.engine.add_ticket_type(event.id(), &body.spec()))
        .await
        .map_err(foreign("gate", "gates"))?;
    Ok((StatusCode::CREATED, Json(TicketTypeView::from(&created))))
}

/// A ticket type, with the caller's reach on its event.
async fn reach_type(
    state: &Shared,
    caller: &Caller,
    id: Uuid,
    reach: Reach,
) -> Result<ticketing_core::ticket_type::TicketType, ApiError> {
    // The role first, so a role that may never do this learns nothing of which ids exist.
    caller.require(reach.roles())?;
    let ticket_type = state.engine.ticket_type(TicketTypeId::from_uuid(id)).await?;
    caller.reaches(state, ticket_type.event_id(), reach, "ticket type").await?;
    Ok(ticket_type)
}

/// A ticket type.
#[utoipa::path(
    get,
    operation_id = "catalog_get_type",
    path = "/ticket-types/{id}",
    tag = "ticket types",
    params(("id" = Uuid, Path, description = "The ticket type")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The type", body = TicketTypeView),
        (status = 404, description = "No such type of yours", body = Problem),
    )
)]
pub async fn get_type(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<TicketTypeView>, ApiError> {
    Ok(Json(TicketTypeView::from(&reach_type(&state, &caller, id, Reach::Read).await?)))
}

/// Replaces a ticket type. A quota below its live tickets is refused (409 `below_issued`).
#[utoipa::path(
    put,
    operation_id = "catalog_replace_type",
    path = "/ticket-types/{id}",
    tag = "ticket types",
    params(("id" = Uuid, Path, description = "The ticket type")),
    request_body = TicketTypeBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = TicketTypeView),
        (status = 404, description = "No such type of yours", body = Problem),
        (status = 409, description = "Quota below the tickets sold, or the name is taken", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn replace_type(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<TicketTypeBody>,
) -> Result<Json<TicketTypeView>, ApiError> {
    let before = reach_type(&state, &caller, id, Reach::Manage).await?;
    let entry = Entry::by(
        &state,
        &caller,
        "ticket_type.update",
        format!("ticket_type:{}", before.id()),
        Some(before.event_id()),
    )
    .before(&TicketTypeView::from(&before))
    .on_write(|after: &TicketType, entry| entry.after = summary(&TicketTypeView::from(after)));
    let after = audit::run(entry, state.engine.update_ticket_type(before.id(), &body.spec()))
        .await
        .map_err(foreign("gate", "gates"))?;
    Ok(Json(TicketTypeView::from(&after)))
}

/// Deletes a ticket type that has no tickets and that no gate lists (else 409).
#[utoipa::path(
    delete,
    operation_id = "catalog_delete_type",
    path = "/ticket-types/{id}",
    tag = "ticket types",
    params(("id" = Uuid, Path, description = "The ticket type")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such type of yours", body = Problem),
        (status = 409, description = "It has tickets, or a gate lists it", body = Problem),
    )
)]
pub async fn delete_type(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<StatusCode, ApiError> {
    let ticket_type = reach_type(&state, &caller, id, Reach::Manage).await?;
    let target = format!("ticket_type:{}", ticket_type.id());
    let entry = Entry::by(&state, &caller, "ticket_type.delete", target, Some(ticket_type.event_id()))
        .before(&TicketTypeView::from(&ticket_type));
    audit::run(entry.ready(), state.engine.delete_ticket_type(ticket_type.id())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every listed agent must be an active user with the agent role.
async fn check_agents(state: &Shared, body: &GateBody) -> Result<(), ApiError> {
    for (i, id) in body.agents.iter().enumerate() {
        let user = state.store().user(ticketing_core::ids::UserId::from_uuid(*id)).await?;
        if !user.is_some_and(|u| u.role == Role::Agent && u.active) {
            return Err(ApiError::field(format!("agents[{i}]"), "must be an active user with the agent role"));
        }
    }
    Ok(())
}

/// An event's gates.
#[utoipa::path(
    get,
    operation_id = "catalog_list_gates",
    path = "/events/{id}/gates",
    tag = "gates",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The gates, by name", body = [GateView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn list_gates(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<Vec<GateView>>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let gates = state.store().gates(event.id()).await?;
    Ok(Json(gates.iter().map(GateView::from).collect()))
}

/// Adds a gate, with its agents and the ticket types it admits.
#[utoipa::path(
    post,
    operation_id = "catalog_create_gate",
    path = "/events/{id}/gates",
    tag = "gates",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = GateBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = GateView),
        (status = 404, description = "No such event of yours, or a type not of it", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn create_gate(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<GateBody>,
) -> Result<(StatusCode, Json<GateView>), ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    check_agents(&state, &body).await?;
    let entry =
        Entry::by(&state, &caller, "gate.create", "gate:?".into(), Some(event.id())).on_write(|gate: &Gate, entry| {
            entry.target = format!("gate:{}", gate.id());
            entry.after = summary(&GateView::from(gate));
        });
    let gate = audit::run(entry, state.engine.add_gate(event.id(), &body.spec()))
        .await
        .map_err(foreign("ticket type", "ticket_types"))?;
    Ok((StatusCode::CREATED, Json(GateView::from(&gate))))
}

/// A gate, with the caller's manage reach on its event.
async fn reach_gate(state: &Shared, caller: &Caller, id: Uuid) -> Result<ticketing_core::gate::Gate, ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer])?;
    let gate = state.engine.gate(GateId::from_uuid(id)).await?;
    caller.reaches(state, gate.event_id(), Reach::Manage, "gate").await?;
    Ok(gate)
}

/// A gate.
#[utoipa::path(
    get,
    operation_id = "catalog_get_gate",
    path = "/gates/{id}",
    tag = "gates",
    params(("id" = Uuid, Path, description = "The gate")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The gate", body = GateView),
        (status = 404, description = "No such gate of yours", body = Problem),
    )
)]
pub async fn get_gate(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<GateView>, ApiError> {
    Ok(Json(GateView::from(&reach_gate(&state, &caller, id).await?)))
}

/// Replaces a gate: its name, agents and admitted types.
#[utoipa::path(
    put,
    operation_id = "catalog_replace_gate",
    path = "/gates/{id}",
    tag = "gates",
    params(("id" = Uuid, Path, description = "The gate")),
    request_body = GateBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = GateView),
        (status = 404, description = "No such gate of yours", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn replace_gate(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<GateBody>,
) -> Result<Json<GateView>, ApiError> {
    let before = reach_gate(&state, &caller, id).await?;
    check_agents(&state, &body).await?;
    let entry = Entry::by(&state, &caller, "gate.update", format!("gate:{}", before.id()), Some(before.event_id()))
        .before(&GateView::from(&before))
        .on_write(|gate: &Gate, entry| entry.after = summary(&GateView::from(gate)));
    let gate = audit::run(entry, state.engine.update_gate(before.id(), &body.spec()))
        .await
        .map_err(foreign("ticket type", "ticket_types"))?;
    Ok(Json(GateView::from(&gate)))
}

/// Deletes a gate where nothing was scanned and that no ticket type lists (else 409).
#[utoipa::path(
    delete,
    operation_id = "catalog_delete_gate",
    path = "/gates/{id}",
    tag = "gates",
    params(("id" = Uuid, Path, description = "The gate")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such gate of yours", body = Problem),
        (status = 409, description = "Scans were logged there, or a type lists it", body = Problem),
    )
)]
pub async fn delete_gate(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<StatusCode, ApiError> {
    let gate = reach_gate(&state, &caller, id).await?;
    let entry = Entry::by(&state, &caller, "gate.delete", format!("gate:{}", gate.id()), Some(gate.event_id()))
        .before(&GateView::from(&gate));
    audit::run(entry.ready(), state.engine.delete_gate(gate.id())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A ticket type's fields.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Pass soirée", "price_minor": 4500, "currency": "EUR", "quota": 400, "usage_limit": 1}))]
pub struct TicketTypeBody {
    /// Unique within the event (case-insensitively).
    pub name: String,
    /// Price in minor units (cents); 0 for free.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Live tickets of this type that may exist.
    pub quota: u32,
    /// Entries one ticket allows; at least 1.
    pub usage_limit: u32,
    /// At most this many entries per day (in the event's time zone).
    #[serde(default)]
    pub daily_entry_limit: Option<u32>,
    /// No entry before this.
    #[serde(default)]
    pub validity_from: Option<DateTime<Utc>>,
    /// No entry after this (the event's end when absent).
    #[serde(default)]
    pub validity_to: Option<DateTime<Utc>>,
    /// When set, tickets enter only through these gates.
    #[serde(default)]
    pub gates: Option<Vec<Uuid>>,
}

impl TicketTypeBody {
    /// The domain spec.
    pub fn spec(&self) -> TicketTypeSpec {
        TicketTypeSpec {
            name: self.name.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            quota: self.quota,
            usage_limit: self.usage_limit,
            daily_entry_limit: self.daily_entry_limit,
            validity_from: self.validity_from,
            validity_to: self.validity_to,
            gates: self.gates.as_ref().map(|g| g.iter().map(|id| GateId::from_uuid(*id)).collect()),
        }
    }
}

/// A ticket type.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketTypeView {
    /// The id.
    pub id: Uuid,
    /// Its event.
    pub event_id: Uuid,
    /// The name.
    pub name: String,
    /// Price in minor units.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The quota.
    pub quota: u32,
    /// Entries per ticket.
    pub usage_limit: u32,
    /// Entries per day.
    pub daily_entry_limit: Option<u32>,
    /// No entry before.
    pub validity_from: Option<DateTime<Utc>>,
    /// No entry after.
    pub validity_to: Option<DateTime<Utc>>,
    /// The gates it enters by (none: all).
    pub gates: Option<Vec<Uuid>>,
}

impl From<&TicketType> for TicketTypeView {
    fn from(t: &TicketType) -> Self {
        Self {
            id: *t.id().as_uuid(),
            event_id: *t.event_id().as_uuid(),
            name: t.name().to_owned(),
            price_minor: t.price().minor(),
            currency: t.price().currency().code().to_owned(),
            quota: t.quota(),
            usage_limit: t.usage_limit(),
            daily_entry_limit: t.daily_entry_limit(),
            validity_from: t.validity_from(),
            validity_to: t.validity_to(),
            gates: t.gates().map(|g| g.iter().map(|id| *id.as_uuid()).collect()),
        }
    }
}

/// A gate's fields.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "North entrance"}))]
pub struct GateBody {
    /// Such as `North entrance`.
    pub name: String,
    /// The agents (users with the agent role) who scan here.
    #[serde(default)]
    pub agents: Vec<Uuid>,
    /// When set, only these ticket types enter here.
    #[serde(default)]
    pub ticket_types: Option<Vec<Uuid>>,
}

impl GateBody {
    /// The domain spec.
    pub fn spec(&self) -> GateSpec {
        GateSpec {
            name: self.name.clone(),
            agents: self.agents.iter().map(|id| UserId::from_uuid(*id)).collect(),
            ticket_types: self.ticket_types.as_ref().map(|t| t.iter().map(|id| TicketTypeId::from_uuid(*id)).collect()),
        }
    }
}

/// A gate.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GateView {
    /// The id.
    pub id: Uuid,
    /// Its event.
    pub event_id: Uuid,
    /// The name.
    pub name: String,
    /// The agents assigned.
    pub agents: Vec<Uuid>,
    /// The types admitted (none: all).
    pub ticket_types: Option<Vec<Uuid>>,
}

impl From<&Gate> for GateView {
    fn from(g: &Gate) -> Self {
        Self {
            id: *g.id().as_uuid(),
            event_id: *g.event_id().as_uuid(),
            name: g.name().to_owned(),
            agents: g.agents().iter().map(|a| *a.as_uuid()).collect(),
            ticket_types: g.ticket_types().map(|t| t.iter().map(|id| *id.as_uuid()).collect()),
        }
    }
}
