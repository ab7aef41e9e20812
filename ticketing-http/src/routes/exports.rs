//! Exports for organisers: participants and the scan log of an event as CSV (cells that would
//! run as spreadsheet formulas are defused, see [`crate::csv`]).

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ticketing_core::ids::EventId;
use ticketing_core::store::{ScanLogFilter, TicketFilter};
use uuid::Uuid;

use crate::auth::{Caller, Reach};
use crate::csv::Csv;
use crate::extract::Id;
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// The most scan log lines one export holds.
pub const MAX_SCAN_LINES: u32 = 1_000_000;

/// A download named `name`, of `content_type`, kept out of shared caches (exports hold
/// personal data and tickets).
pub(super) fn attachment(name: String, content_type: &'static str, body: impl IntoResponse) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    (headers, body).into_response()
}

/// The event's participants: one row per ticket.
#[utoipa::path(
    get,
    operation_id = "exports_participants",
    path = "/events/{id}/participants.csv",
    tag = "exports",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "ticket_id, short_code, ticket_type, status, holder_name, holder_email, holder_phone, entries_used, created_at, qr_payload, magic_link (the path of the ticket's newest live link)", content_type = "text/csv"),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn participants(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<Response, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let types = state.store().ticket_types(event.id()).await?;
    let tickets = state.store().tickets(&TicketFilter { event_id: Some(event.id()), ..Default::default() }).await?;
    let mut csv = Csv::with_header(&[
        "ticket_id",
        "short_code",
        "ticket_type",
        "status",
        "holder_name",
        "holder_email",
        "holder_phone",
        "entries_used",
        "created_at",
        "qr_payload",
        "magic_link",
    ]);
    // Each ticket's newest live link, given again from its key (no clear token is stored).
    let links: std::collections::HashMap<_, _> = state
        .engine
        .live_magic_links(event.id(), None)
        .await?
        .into_iter()
        .map(|(token, link)| (link.ticket_id, format!("/api/v1/public/tickets/{}", token.as_text())))
        .collect();
    for t in &tickets {
        let type_name = types.iter().find(|ty| ty.id() == t.ticket_type_id()).map_or("", |ty| ty.name());
        let holder = t.holder();
        csv.row([
            t.id().to_string().as_str(),
            &t.short_code().to_string(),
            type_name,
            t.status().as_str(),
            holder.map_or("", |h| h.name()),
            holder.and_then(|h| h.email()).map_or("", |e| e.as_str()),
            holder.and_then(|h| h.phone()).map_or("", |p| p.as_str()),
            &t.entries_used().to_string(),
            &t.created_at().to_rfc3339(),
            &state.engine.qr_payload(t, None)?,
            links.get(&t.id()).map_or("", String::as_str),
        ]);
    }
    Ok(attachment(format!("participants-{}.csv", event.id()), "text/csv; charset=utf-8", csv.finish()))
}

/// The event's scan log, newest first.
#[utoipa::path(
    get,
    operation_id = "exports_scans",
    path = "/events/{id}/scans.csv",
    tag = "exports",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "at, gate, agent_id, ticket_id, stage, direction, reason, status_after, entries_after", content_type = "text/csv"),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn scans(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<Response, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let gates = state.store().gates(event.id()).await?;
    let filter = ScanLogFilter { event_id: Some(event.id()), limit: MAX_SCAN_LINES, ..Default::default() };
    let lines = state.store().scan_logs(&filter).await?;
    let mut csv = Csv::with_header(&[
        "at",
        "gate",
        "agent_id",
        "ticket_id",
        "stage",
        "direction",
        "reason",
        "status_after",
        "entries_after",
    ]);
    for l in &lines {
        let gate =
            gates.iter().find(|g| g.id() == l.gate_id).map_or_else(|| l.gate_id.to_string(), |g| g.name().to_owned());
        csv.row([
            l.at.to_rfc3339().as_str(),
            &gate,
            &l.agent_id.to_string(),
            &l.ticket_id.map(|t| t.to_string()).unwrap_or_default(),
            l.stage.as_str(),
            l.direction.map_or("", |d| d.as_str()),
            l.reason.code(),
            l.status_after.map_or("", |s| s.as_str()),
            &l.entries_after.map(|n| n.to_string()).unwrap_or_default(),
        ]);
    }
    Ok(attachment(format!("scans-{}.csv", event.id()), "text/csv; charset=utf-8", csv.finish()))
}
