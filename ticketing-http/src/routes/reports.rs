//! An event's dashboard as JSON: tickets by type and status, revenue, occupancy now, entries and
//! exits over time, scans per gate, refusals by reason. The database does the counting
//! ([`ticketing_core::store::StatsRepository`]); [`ticketing_core::stats::Dashboard`] shapes it.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::ids::EventId;
use ticketing_core::stats::Dashboard;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::{Caller, Reach};
use crate::extract::{Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// One type's tickets.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TypeLineView {
    /// The type.
    pub ticket_type_id: Uuid,
    /// Its name.
    pub name: String,
    /// Its quota.
    pub quota: u32,
    /// Tickets by status (every status, zeros included).
    pub by_status: BTreeMap<String, u64>,
    /// Sold and not refunded (`paid`, `inside`, `outside`).
    pub sold: u64,
    /// What its tickets sold through orders (online or at the desk) and still sold were sold
    /// for, in minor units (tickets issued by staff are not revenue).
    pub revenue_minor: i64,
    /// The currency.
    pub currency: String,
}

/// One gate's scans.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GateLineView {
    /// The gate.
    pub gate_id: Uuid,
    /// Its name.
    pub name: String,
    /// Entries applied.
    pub entries: u64,
    /// Exits applied.
    pub exits: u64,
    /// Requests and confirmations refused.
    pub refusals: u64,
}

/// Entries and exits in one slice of time.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct FlowView {
    /// The slice's start.
    pub start: DateTime<Utc>,
    /// Entries applied.
    pub entries: u64,
    /// Exits applied.
    pub exits: u64,
}

/// An event's dashboard.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DashboardView {
    /// The event.
    pub event_id: Uuid,
    /// When it was counted.
    pub at: DateTime<Utc>,
    /// The event's capacity.
    pub capacity: u32,
    /// Tickets inside now.
    pub inside: u64,
    /// Every type together, by status.
    pub by_status: BTreeMap<String, u64>,
    /// Revenue per currency, in minor units: the sale prices of the tickets sold and not
    /// refunded.
    pub revenue_minor: BTreeMap<String, i64>,
    /// Revenue per channel (`online`, `box_office`), then per currency.
    pub revenue_by_channel: BTreeMap<String, BTreeMap<String, i64>>,
    /// Per type.
    pub types: Vec<TypeLineView>,
    /// Per gate (gates with scans).
    pub gates: Vec<GateLineView>,
    /// Refusals by reason code.
    pub refusals: BTreeMap<String, u64>,
    /// The length of a slice of `flow`, in minutes.
    pub bucket_minutes: i64,
    /// Entries and exits per slice of time, oldest first (slices with movements).
    pub flow: Vec<FlowView>,
}

/// How to slice time.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// Minutes per slice of the flow, 1 to 1440 (default 15).
    #[param(minimum = 1, maximum = 1440)]
    pub bucket_minutes: Option<u32>,
}

/// An event's dashboard.
#[utoipa::path(
    get,
    operation_id = "reports_dashboard",
    path = "/events/{id}/dashboard",
    tag = "reports",
    params(("id" = Uuid, Path, description = "The event"), DashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard", body = DashboardView),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn dashboard(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Params(query): Params<DashboardQuery>,
) -> Result<Json<DashboardView>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let minutes = query.bucket_minutes.unwrap_or(15);
    if !(1..=1440).contains(&minutes) {
        return Err(ApiError::field("bucket_minutes", "from 1 to 1440"));
    }
    let bucket = chrono::Duration::minutes(i64::from(minutes));
    let at = state.clock.now();
    let counts = state.store().event_counts(event.id(), bucket).await?;
    let types = state.store().ticket_types(event.id()).await?;
    let gates = state.store().gates(event.id()).await?;
    let d = Dashboard::new(event.capacity(), &types, &counts, bucket);
    Ok(Json(DashboardView {
        event_id: *event.id().as_uuid(),
        at,
        capacity: d.capacity,
        inside: d.inside,
        by_status: d.by_status,
        revenue_minor: d.revenue_minor,
        revenue_by_channel: d.revenue_by_channel,
        types: d
            .types
            .into_iter()
            .map(|t| TypeLineView {
                ticket_type_id: *t.ticket_type_id.as_uuid(),
                name: t.name,
                quota: t.quota,
                by_status: t.by_status,
                sold: t.sold,
                revenue_minor: t.revenue_minor,
                currency: t.currency,
            })
            .collect(),
        gates: d
            .gates
            .into_iter()
            .map(|g| GateLineView {
                gate_id: *g.gate_id.as_uuid(),
                name: gates.iter().find(|x| x.id() == g.gate_id).map_or_else(String::new, |x| x.name().to_owned()),
                entries: g.entries,
                exits: g.exits,
                refusals: g.refusals,
            })
            .collect(),
        refusals: d.refusals,
        bucket_minutes: i64::from(minutes),
        flow: d.flow.into_iter().map(|f| FlowView { start: f.start, entries: f.entries, exits: f.exits }).collect(),
    }))
}
