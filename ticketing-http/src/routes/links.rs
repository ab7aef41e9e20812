//! A ticket through its magic link, no account needed: the ticket page as JSON, the PDF, the QR
//! code as PNG or SVG. An unknown, expired or revoked link answers 404 alike, so a link says
//! nothing of which tickets exist. Downloads are rate-limited per client address.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::event::Event;
use ticketing_core::ticket::Ticket;
use ticketing_core::ticket_type::TicketType;
use ticketing_pdf::qr::{QrStyle, qr_png, qr_svg};
use ticketing_pdf::{Renderer, TicketData};
use utoipa::ToSchema;

use crate::client::ClientIp;
use crate::extract::Id;
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// A ticket as its holder sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketPage {
    /// The code for manual entry.
    pub short_code: String,
    /// `issued`, `reserved`, `paid`, `inside`, `outside`, `invalid` or `refunded`.
    pub status: String,
    /// The holder's name.
    pub holder_name: Option<String>,
    /// The ticket type.
    pub ticket_type: String,
    /// Entries used.
    pub entries_used: u32,
    /// Entries allowed.
    pub entries_allowed: u32,
    /// The event's title.
    pub event_title: String,
    /// The venue.
    pub location: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Its time zone.
    pub time_zone: String,
    /// The dress code.
    pub dress_code: Option<String>,
    /// The event's status.
    pub event_status: String,
    /// The signed QR text, as drawn on the ticket.
    pub qr_payload: String,
}

/// The ticket, type and event a link opens, or 404 alike for every refusal; counted against
/// the download limit.
pub(crate) async fn open(state: &Shared, peer: IpAddr, token: &str) -> Result<(Ticket, TicketType, Event), ApiError> {
    state.limits.download.check(&crate::auth::token::client_key(peer)).await.map_err(ApiError::retry_in)?;
    let ticket = match state.engine.open_magic_link(token).await {
        Ok(ticket) => ticket,
        Err(ticketing_core::engine::Error::Store(e)) => return Err(e.into()),
        Err(_) => return Err(ApiError::not_found("ticket")),
    };
    let ticket_type = state.engine.ticket_type(ticket.ticket_type_id()).await?;
    let event = state.engine.event(ticket.event_id()).await?;
    Ok((ticket, ticket_type, event))
}

/// The ticket page.
#[utoipa::path(
    get,
    operation_id = "links_page",
    path = "/public/tickets/{token}",
    tag = "public",
    params(("token" = String, Path, description = "The magic-link token")),
    responses(
        (status = 200, description = "The ticket", body = TicketPage),
        (status = 404, description = "No such link, or expired, or revoked", body = Problem),
        (status = 429, description = "Too many downloads", body = Problem),
    )
)]
pub async fn page(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    Id(token): Id<String>,
) -> Result<Json<TicketPage>, ApiError> {
    let (ticket, ticket_type, event) = open(&state, peer, &token).await?;
    Ok(Json(TicketPage {
        short_code: ticket.short_code().to_string(),
        status: ticket.status().as_str().to_owned(),
        holder_name: ticket.holder().map(|h| h.name().to_owned()),
        ticket_type: ticket_type.name().to_owned(),
        entries_used: ticket.entries_used(),
        entries_allowed: ticket_type.usage_limit(),
        event_title: event.title().to_owned(),
        location: event.location().to_owned(),
        starts_at: event.starts_at(),
        ends_at: event.ends_at(),
        time_zone: event.time_zone().name().to_owned(),
        dress_code: event.dress_code().map(str::to_owned),
        event_status: event.status().as_str().to_owned(),
        qr_payload: state.engine.qr_payload(&ticket, None)?,
    }))
}

/// A file behind a magic link: its type, and kept by no cache (the link may be revoked).
pub(crate) fn file(content_type: &'static str, bytes: impl IntoResponse) -> Response {
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("private, no-store")),
    ];
    (headers, bytes).into_response()
}

/// The renderer a ticket is drawn with ([`ticketing_pdf::TemplateLibrary::event_renderers`]'s
/// choice, else the built-in template).
pub(crate) async fn ticket_renderer(state: &Shared, ticket: &Ticket) -> Result<Arc<Renderer>, ApiError> {
    let mut chosen = state.templates.event_renderers(ticket.event_id(), &[ticket.id()]).await.map_err(library_error)?;
    chosen.remove(&ticket.id()).map_or_else(|| built_in(state), Ok)
}

/// The built-in template's renderer, for tickets whose event has no template of its own.
pub(crate) fn built_in(state: &Shared) -> Result<Arc<Renderer>, ApiError> {
    state.renderer.clone().ok_or_else(|| ApiError::unavailable("the renderer is not ready"))
}

/// A template library's failure while drawing a stored ticket: storage as itself, anything else
/// (a stored version that no longer prepares) as an internal error.
pub(super) fn library_error(e: ticketing_pdf::LibraryError) -> ApiError {
    match e {
        ticketing_pdf::LibraryError::Store(e) => e.into(),
        e => ApiError::internal(e),
    }
}

/// The ticket as a PDF, drawn with its template (the version it was first drawn with, else the
/// event's active template, else the built-in one).
#[utoipa::path(
    get,
    operation_id = "links_pdf",
    path = "/public/tickets/{token}/pdf",
    tag = "public",
    params(("token" = String, Path, description = "The magic-link token")),
    responses(
        (status = 200, description = "The PDF", content_type = "application/pdf"),
        (status = 404, description = "No such link, or expired, or revoked", body = Problem),
        (status = 429, description = "Too many downloads", body = Problem),
    )
)]
pub async fn pdf(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    Id(token): Id<String>,
) -> Result<Response, ApiError> {
    let (ticket, ticket_type, event) = open(&state, peer, &token).await?;
    let renderer = ticket_renderer(&state, &ticket).await?;
    let data = TicketData::new(&event, &ticket_type, &ticket, state.engine.qr_payload(&ticket, None)?);
    let pdf = tokio::task::spawn_blocking(move || renderer.pdf(&data))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(file("application/pdf", pdf))
}

/// The QR code as a PNG (300 px).
#[utoipa::path(
    get,
    operation_id = "links_qr_png",
    path = "/public/tickets/{token}/qr.png",
    tag = "public",
    params(("token" = String, Path, description = "The magic-link token")),
    responses(
        (status = 200, description = "The QR code", content_type = "image/png"),
        (status = 404, description = "No such link, or expired, or revoked", body = Problem),
        (status = 429, description = "Too many downloads", body = Problem),
    )
)]
pub async fn qr_png_file(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    Id(token): Id<String>,
) -> Result<Response, ApiError> {
    let (ticket, _, _) = open(&state, peer, &token).await?;
    qr_png_response(&state.engine.qr_payload(&ticket, None)?)
}

/// A QR code of `payload` as a PNG answer (300 px).
pub(super) fn qr_png_response(payload: &str) -> Result<Response, ApiError> {
    Ok(file("image/png", qr_png(payload, &QrStyle::default()).map_err(ApiError::internal)?))
}

/// A QR code of `payload` as an SVG answer.
pub(super) fn qr_svg_response(payload: &str) -> Result<Response, ApiError> {
    Ok(file("image/svg+xml", qr_svg(payload, &QrStyle::default()).map_err(ApiError::internal)?))
}

/// The QR code as SVG.
#[utoipa::path(
    get,
    operation_id = "links_qr_svg",
    path = "/public/tickets/{token}/qr.svg",
    tag = "public",
    params(("token" = String, Path, description = "The magic-link token")),
    responses(
        (status = 200, description = "The QR code", content_type = "image/svg+xml"),
        (status = 404, description = "No such link, or expired, or revoked", body = Problem),
        (status = 429, description = "Too many downloads", body = Problem),
    )
)]
pub async fn qr_svg_file(
    State(state): State<Shared>,
    ClientIp(peer): ClientIp,
    Id(token): Id<String>,
) -> Result<Response, ApiError> {
    let (ticket, _, _) = open(&state, peer, &token).await?;
    qr_svg_response(&state.engine.qr_payload(&ticket, None)?)
}
