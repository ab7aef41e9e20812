//! Tickets of an event: issued one at a time or a few together (bulk generation is a job, see
//! [`super::jobs`]), listed, read, refunded, invalidated, and their magic link re-issued.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::engine::IssueRequest;
use ticketing_core::ids::{EventId, TicketId, TicketTypeId};
use ticketing_core::magic_link::{LinksRevoked, MagicLink};
use ticketing_core::status::{TicketAction, TicketStatus};
use ticketing_core::store::TicketFilter;
use ticketing_core::ticket::{HolderSpec, Ticket};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// The longest a magic link may be made to last, in days (a century).
pub const MAX_LINK_DAYS: u32 = 36_500;

/// The most tickets one issue call makes (more is a generation job).
pub const MAX_ISSUE: u32 = 100;

/// A ticket.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketView {
    /// The id.
    pub id: Uuid,
    /// Its event.
    pub event_id: Uuid,
    /// Its type.
    pub ticket_type_id: Uuid,
    /// The code for manual entry, `XXXXX-XXXXX`.
    pub short_code: String,
    /// `issued`, `reserved`, `paid`, `inside`, `outside`, `invalid` or `refunded`.
    pub status: String,
    /// The holder's name.
    pub holder_name: Option<String>,
    /// Entries so far.
    pub entries_used: u32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<&Ticket> for TicketView {
    fn from(t: &Ticket) -> Self {
        Self {
            id: *t.id().as_uuid(),
            event_id: *t.event_id().as_uuid(),
            ticket_type_id: *t.ticket_type_id().as_uuid(),
            short_code: t.short_code().to_string(),
            status: t.status().as_str().to_owned(),
            holder_name: t.holder().map(|h| h.name().to_owned()),
            entries_used: t.entries_used(),
            created_at: t.created_at(),
        }
    }
}

/// A magic link, shown once: the holder opens their ticket with it, no account needed.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct MagicLinkView {
    /// The token (32 characters).
    pub token: String,
    /// The ticket page under this server: `/api/v1/public/tickets/{token}`.
    pub path: String,
    /// When it stops working (never when absent).
    pub expires_at: Option<DateTime<Utc>>,
}

impl MagicLinkView {
    /// The view of the link of `token`.
    pub fn new(token: String, expires_at: Option<DateTime<Utc>>) -> Self {
        Self { path: format!("/api/v1/public/tickets/{token}"), token, expires_at }
    }
}

/// A ticket with its QR text and its live magic link.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketDetail {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: TicketView,
    /// The signed QR text (no personal data in it), for those who manage the event.
    pub qr_payload: Option<String>,
    /// Its newest link that still works, if it has one, for those who manage the event.
    pub magic_link: Option<MagicLinkView>,
}

/// A ticket just issued: its QR text and its magic link.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedTicket {
    /// The ticket.
    #[serde(flatten)]
    pub ticket: TicketView,
    /// The signed QR text (no personal data in it).
    pub qr_payload: String,
    /// Its magic link.
    pub magic_link: MagicLinkView,
}

/// A holder.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderBody {
    /// Up to 200 characters.
    pub name: String,
    /// Optional.
    #[serde(default)]
    pub email: Option<String>,
    /// Optional, international format.
    #[serde(default)]
    pub phone: Option<String>,
}

impl From<&HolderBody> for HolderSpec {
    fn from(h: &HolderBody) -> Self {
        Self { name: h.name.clone(), email: h.email.clone(), phone: h.phone.clone() }
    }
}

/// Tickets to issue now.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"holders": [{"name": "Zoé Lefèvre", "email": "zoe@example.org", "phone": "+33612345678"}], "status": "paid"}))]
pub struct IssueBody {
    /// Anonymous tickets, when `holders` is empty (1 to 100; default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub count: Option<u32>,
    /// One ticket per holder (at most 100).
    #[serde(default)]
    pub holders: Vec<HolderBody>,
    /// `issued` (default), `reserved` or `paid`.
    #[serde(default)]
    #[schema(schema_with = crate::schema::new_ticket_status)]
    pub status: Option<String>,
    /// Days the magic links work (for ever when absent; 1 to 36,500).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 36500)]
    pub link_valid_days: Option<u32>,
}

/// Parses a ticket status, naming `field`.
pub fn parse_status(field: &str, text: &str) -> Result<TicketStatus, ApiError> {
    text.parse().map_err(|_| ApiError::field(field, "not a ticket status"))
}

/// The ticket `id` with the caller's reach on its event; 404 for a ticket not theirs.
async fn reach_ticket(state: &Shared, caller: &Caller, id: Uuid, reach: Reach) -> Result<Ticket, ApiError> {
    caller.require(reach.roles())?;
    let ticket = state.engine.ticket(TicketId::from_uuid(id)).await?;
    caller.reaches(state, ticket.event_id(), reach, "ticket").await?;
    Ok(ticket)
}

/// Issues up to 100 tickets of a type now, each with its QR text and magic link (all or none
/// within the quota and capacity).
#[utoipa::path(
    post,
    operation_id = "tickets_issue",
    path = "/ticket-types/{id}/tickets",
    tag = "tickets",
    params(("id" = Uuid, Path, description = "The ticket type")),
    request_body = IssueBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Issued", body = [IssuedTicket]),
        (status = 404, description = "No such type of yours", body = Problem),
        (status = 409, description = "Sold out, or the event is closed", body = Problem),
        (status = 429, description = "Too many issues by this user", body = Problem),
    )
)]
pub async fn issue(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<IssueBody>,
) -> Result<(StatusCode, Json<Vec<IssuedTicket>>), ApiError> {
    caller.require(Reach::Manage.roles())?;
    state.limits.issue_now.check(&format!("user:{}", caller.user)).await.map_err(ApiError::retry_in)?;
    let ticket_type = state.engine.ticket_type(TicketTypeId::from_uuid(id)).await?;
    caller.reaches(&state, ticket_type.event_id(), Reach::Manage, "ticket type").await?;
    let count = body.count.unwrap_or(1);
    if body.holders.is_empty() && !(1..=MAX_ISSUE).contains(&count) {
        return Err(ApiError::field("count", format!("from 1 to {MAX_ISSUE}; more is a generation job")));
    }
    if body.holders.len() > MAX_ISSUE as usize {
        return Err(ApiError::field("holders", format!("at most {MAX_ISSUE}; more is a generation job")));
    }
    if body.link_valid_days.is_some_and(|d| !(1..=MAX_LINK_DAYS).contains(&d)) {
        return Err(ApiError::field("link_valid_days", "1 to 36,500, or absent for links that do not expire"));
    }
    let status = body.status.as_deref().map(|s| parse_status("status", s)).transpose()?.unwrap_or(TicketStatus::Issued);
    let request = IssueRequest {
        ticket_type_id: ticket_type.id(),
        count,
        holders: body.holders.iter().map(HolderSpec::from).collect(),
        status,
    };
    let link_ttl = body.link_valid_days.map(|d| chrono::Duration::days(i64::from(d)));
    // The tickets and their links are written together: all or none.
    let target = format!("ticket_type:{}", ticket_type.id());
    let entry = Entry::by(&state, &caller, "ticket.issue", target, Some(ticket_type.event_id())).on_write(
        |tickets: &Vec<Ticket>, entry| {
            let codes: Vec<String> = tickets.iter().map(|t| t.short_code().to_string()).collect();
            entry.after = summary(&codes);
        },
    );
    let made = audit::run(entry, state.engine.issue_tickets_with_links(&request, link_ttl)).await?;
    let mut issued = Vec::with_capacity(made.len());
    for one in &made {
        issued.push(IssuedTicket {
            ticket: TicketView::from(&one.ticket),
            qr_payload: state.engine.qr_payload(&one.ticket, None)?,
            magic_link: MagicLinkView::new(one.link.as_text(), one.link_expires_at),
        });
    }
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Filters of a ticket list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    /// Only this type.
    pub ticket_type_id: Option<Uuid>,
    /// Only this status.
    #[param(schema_with = crate::schema::ticket_status)]
    pub status: Option<String>,
    /// The page, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<u32>,
}

/// An event's tickets, oldest first.
#[utoipa::path(
    get,
    operation_id = "tickets_list",
    path = "/events/{id}/tickets",
    tag = "tickets",
    params(("id" = Uuid, Path, description = "The event"), TicketQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of tickets", body = [TicketView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Params(query): Params<TicketQuery>,
) -> Result<Json<Vec<TicketView>>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Read).await?;
    let (per_page, offset) = crate::extract::page_window(query.page, query.per_page, 100, 500)?;
    let filter = TicketFilter {
        event_id: Some(event.id()),
        ticket_type_id: query.ticket_type_id.map(TicketTypeId::from_uuid),
        status: query.status.as_deref().map(|s| parse_status("status", s)).transpose()?,
        limit: per_page,
        offset,
        ..TicketFilter::default()
    };
    let tickets = state.store().tickets(&filter).await?;
    Ok(Json(tickets.iter().map(TicketView::from).collect()))
}

/// A ticket.
#[utoipa::path(
    get,
    operation_id = "tickets_get",
    path = "/tickets/{id}",
    tag = "tickets",
    params(("id" = Uuid, Path, description = "The ticket")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The ticket, its QR text and its live link", body = TicketDetail),
        (status = 404, description = "No such ticket of yours", body = Problem),
    )
)]
pub async fn get(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<TicketDetail>, ApiError> {
    let ticket = reach_ticket(&state, &caller, id, Reach::Read).await?;
    // The QR text and the link let their bearer in: only those who manage the event see them.
    let manages = Reach::Manage.roles().contains(&caller.role)
        && caller.reaches(&state, ticket.event_id(), Reach::Manage, "ticket").await.is_ok();
    if !manages {
        return Ok(Json(TicketDetail { ticket: TicketView::from(&ticket), qr_payload: None, magic_link: None }));
    }
    let links = state.engine.live_magic_links(ticket.event_id(), Some(ticket.id())).await?;
    Ok(Json(TicketDetail {
        ticket: TicketView::from(&ticket),
        qr_payload: Some(state.engine.qr_payload(&ticket, None)?),
        magic_link: links.last().map(|(token, link)| MagicLinkView::new(token.as_text(), link.expires_at)),
    }))
}

/// A ticket's QR code alone, as PNG (`format=png`, the default) or SVG (`format=svg`): for
/// printing on the organiser's own material. Those who manage the event only.
#[utoipa::path(
    get,
    operation_id = "tickets_qr",
    path = "/tickets/{id}/qr",
    tag = "tickets",
    params(("id" = Uuid, Path, description = "The ticket"), QrQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The QR code", content_type = "image/png"),
        (status = 404, description = "No such ticket of yours", body = Problem),
    )
)]
pub async fn qr(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Params(query): Params<QrQuery>,
) -> Result<axum::response::Response, ApiError> {
    let ticket = reach_ticket(&state, &caller, id, Reach::Manage).await?;
    let payload = state.engine.qr_payload(&ticket, None)?;
    match query.format.as_deref().unwrap_or("png") {
        "png" => super::links::qr_png_response(&payload),
        "svg" => super::links::qr_svg_response(&payload),
        _ => Err(ApiError::field("format", "png or svg")),
    }
}

/// The image format of a QR code.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QrQuery {
    /// `png` (default) or `svg`.
    #[param(schema_with = crate::schema::qr_format)]
    pub format: Option<String>,
}

async fn act(
    state: Shared,
    caller: Caller,
    id: Uuid,
    action: TicketAction,
    name: &str,
) -> Result<Json<TicketView>, ApiError> {
    let before = reach_ticket(&state, &caller, id, Reach::Manage).await?;
    // A refund or an invalidation revokes the ticket's links too (the engine's rule).
    let entry = Entry::by(&state, &caller, name, format!("ticket:{}", before.id()), Some(before.event_id()))
        .before(&TicketView::from(&before))
        .on_write(|after: &Ticket, entry| entry.after = summary(&TicketView::from(after)));
    let after = audit::run(entry, state.engine.change_ticket(before.id(), action)).await?;
    Ok(Json(TicketView::from(&after)))
}

/// Refunds a ticket issued by staff: its place is freed, its links stop working. A ticket sold in
/// an order is refunded through its order (`POST /api/v1/orders/{id}/refund`), so the money is
/// recorded and paid back.
#[utoipa::path(
    post,
    operation_id = "tickets_refund",
    path = "/tickets/{id}/refund",
    tag = "tickets",
    params(("id" = Uuid, Path, description = "The ticket")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Refunded", body = TicketView),
        (status = 404, description = "No such ticket of yours", body = Problem),
        (status = 409, description = "Not refundable in its status, or sold in an order (refund the order)", body = Problem),
    )
)]
pub async fn refund(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<TicketView>, ApiError> {
    act(state, caller, id, TicketAction::Refund, "ticket.refund").await
}

/// Invalidates a ticket: its place is freed, its links stop working, it no longer enters.
#[utoipa::path(
    post,
    operation_id = "tickets_invalidate",
    path = "/tickets/{id}/invalidate",
    tag = "tickets",
    params(("id" = Uuid, Path, description = "The ticket")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Invalidated", body = TicketView),
        (status = 404, description = "No such ticket of yours", body = Problem),
        (status = 409, description = "Already dead", body = Problem),
    )
)]
pub async fn invalidate(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<TicketView>, ApiError> {
    act(state, caller, id, TicketAction::Invalidate, "ticket.invalidate").await
}

/// How long a re-issued link works.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"valid_days": 30}))]
pub struct ReissueBody {
    /// Days the link works (for ever when absent).
    #[serde(default)]
    pub valid_days: Option<u32>,
}

/// Revokes a ticket's magic links and issues a new one (shown once).
#[utoipa::path(
    post,
    operation_id = "tickets_reissue_link",
    path = "/tickets/{id}/magic-link",
    tag = "tickets",
    params(("id" = Uuid, Path, description = "The ticket")),
    request_body = ReissueBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The new link; the old ones answer 404", body = MagicLinkView),
        (status = 404, description = "No such ticket of yours", body = Problem),
    )
)]
pub async fn reissue_link(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<ReissueBody>,
) -> Result<(StatusCode, Json<MagicLinkView>), ApiError> {
    let ticket = reach_ticket(&state, &caller, id, Reach::Manage).await?;
    if body.valid_days.is_some_and(|d| !(1..=MAX_LINK_DAYS).contains(&d)) {
        return Err(ApiError::field("valid_days", "1 to 36,500, or absent for a link that does not expire"));
    }
    let ttl = body.valid_days.map(|d| chrono::Duration::days(i64::from(d)));
    let entry =
        Entry::by(&state, &caller, "ticket.magic_link", format!("ticket:{}", ticket.id()), Some(ticket.event_id()))
            .on_write(|link: &MagicLink, entry| entry.after = summary(&link.expires_at));
    let (token, link) = audit::run(entry, state.engine.reissue_magic_link(ticket.id(), ttl)).await?;
    let link = MagicLinkView::new(token.as_text(), link.expires_at);
    Ok((StatusCode::CREATED, Json(link)))
}

/// Revokes every magic link of a ticket: they answer 404 from now on (the ticket itself is
/// unchanged; a new link can be issued later).
#[utoipa::path(
    delete,
    operation_id = "tickets_revoke_links",
    path = "/tickets/{id}/magic-link",
    tag = "tickets",
    params(("id" = Uuid, Path, description = "The ticket")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such ticket of yours", body = Problem),
    )
)]
pub async fn revoke_links(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<StatusCode, ApiError> {
    let ticket = reach_ticket(&state, &caller, id, Reach::Manage).await?;
    let target = format!("ticket:{}", ticket.id());
    let entry = Entry::by(&state, &caller, "ticket.magic_link_revoke", target, Some(ticket.event_id()))
        .on_write(|revoked: &LinksRevoked, entry| entry.after = summary(&revoked.0));
    audit::run(entry, state.store().revoke_magic_links(ticket.id(), state.clock.now())).await?;
    Ok(StatusCode::NO_CONTENT)
}
