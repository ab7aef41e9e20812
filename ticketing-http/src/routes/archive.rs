//! An event's tickets as one ZIP of PDFs (or PNGs), streamed as it is drawn: the seed's
//! `batch-pdf` and `full-batch` (a generation job, then this). Each ticket is drawn with its
//! template, as its magic-link download is (pinned at its first drawing). Rendering runs on the
//! blocking pool; the archive goes to the client chunk by chunk, never whole in memory.

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::Response;
use http_body::Frame;
use serde::Deserialize;
use ticketing_core::ids::{EventId, TicketTypeId};
use ticketing_core::store::TicketFilter;
use ticketing_pdf::batch::{Format, render_batch};
use ticketing_pdf::export::{ZipStream, file_name};
use ticketing_pdf::{Renderer, TicketData};
use tokio::sync::mpsc;
use utoipa::IntoParams;
use uuid::Uuid;

use super::tickets::parse_status;
use crate::auth::{Caller, Reach};
use crate::extract::{Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// The most tickets in one archive: more is several archives, by type or status.
pub const MAX_ARCHIVE: usize = 10_000;

/// Bytes sent to the client at a time.
const CHUNK: usize = 64 * 1024;

/// Threads drawing one archive.
const THREADS: usize = 2;

/// Which tickets, and how.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArchiveQuery {
    /// Only this type.
    pub ticket_type_id: Option<Uuid>,
    /// Only this status.
    #[param(schema_with = crate::schema::ticket_status)]
    pub status: Option<String>,
    /// `pdf` (default) or `png` (150 dpi).
    #[param(schema_with = crate::schema::ticket_format)]
    pub format: Option<String>,
}

/// A response body fed by a channel: the blocking task sends the archive's chunks as it writes.
struct ChannelBody(mpsc::Receiver<io::Result<Bytes>>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|r| r.map(Frame::data)))
    }
}

/// Writes into the channel in chunks, waiting while the client is slow to read (so memory stays
/// bounded); fails once the client has gone, which stops the drawing.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

/// Tickets drawn with one renderer, in a row.
type Group = (Arc<Renderer>, Vec<TicketData>);

/// Draws `groups` into a ZIP written to `tx`; a failure midway ends the body with an error, so
/// the client sees a broken download rather than a short archive that looks whole.
fn write_archive(groups: Vec<Group>, format: Format, tx: mpsc::Sender<io::Result<Bytes>>) {
    let mut zip = ZipStream::new(ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(CHUNK) });
    let mut drawn = Ok(());
    for (renderer, tickets) in groups {
        let step = render_batch(&renderer, tickets.into_iter(), THREADS, format, |rendered| {
            zip.add(&file_name(&rendered, format), &rendered.bytes)
        });
        if let Err(e) = step {
            drawn = Err(io::Error::other(e.to_string()));
            break;
        }
    }
    let finished = drawn.and_then(|()| zip.finish()).and_then(|mut out| out.flush());
    if let Err(e) = finished {
        tracing::warn!(error = %e, "a ticket archive stopped midway");
        let _ = tx.blocking_send(Err(e));
    }
}

/// The event's tickets as a ZIP, one file per ticket (`ticket-XXXXX-XXXXX.pdf`), streamed.
#[utoipa::path(
    get,
    operation_id = "exports_tickets_zip",
    path = "/events/{id}/tickets.zip",
    tag = "exports",
    params(("id" = Uuid, Path, description = "The event"), ArchiveQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The archive", content_type = "application/zip"),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 422, description = "More than 10,000 tickets match, or an unknown format", body = Problem),
        (status = 429, description = "Too many archives by this user (they count against the generation-job limit)", body = Problem),
    )
)]
pub async fn tickets_zip(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Params(query): Params<ArchiveQuery>,
) -> Result<Response, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let format = match query.format.as_deref().unwrap_or("pdf") {
        "pdf" => Format::Pdf,
        "png" => Format::Png { dpi: 150 },
        _ => return Err(ApiError::field("format", "pdf or png")),
    };
    let filter = TicketFilter {
        event_id: Some(event.id()),
        ticket_type_id: query.ticket_type_id.map(TicketTypeId::from_uuid),
        status: query.status.as_deref().map(|s| parse_status("status", s)).transpose()?,
        limit: u32::try_from(MAX_ARCHIVE + 1).unwrap_or(u32::MAX),
        ..TicketFilter::default()
    };
    state.limits.bulk.check(&format!("user:{}", caller.user)).await.map_err(ApiError::retry_in)?;
    let tickets = state.store().tickets(&filter).await?;
    if tickets.len() > MAX_ARCHIVE {
        return Err(ApiError::field(
            "ticket_type_id",
            format!("more than {MAX_ARCHIVE} tickets match: ask for one type or one status at a time"),
        ));
    }
    let types = state.store().ticket_types(event.id()).await?;
    // Every ticket's template as its magic link chooses it, in three store calls (pinned now if
    // it was not yet, as its first drawing); the built-in template for the rest.
    let ids: Vec<_> = tickets.iter().map(|t| t.id()).collect();
    let renderers = state.templates.event_renderers(event.id(), &ids).await.map_err(super::links::library_error)?;
    let default = super::links::built_in(&state)?;
    let mut groups: Vec<Group> = Vec::new();
    for ticket in &tickets {
        let Some(ticket_type) = types.iter().find(|t| t.id() == ticket.ticket_type_id()) else { continue };
        let renderer = renderers.get(&ticket.id()).cloned().unwrap_or_else(|| Arc::clone(&default));
        let data = TicketData::new(&event, ticket_type, ticket, state.engine.qr_payload(ticket, None)?);
        // One group per renderer (a handful: the template versions in use), drawn in turn.
        match groups.iter_mut().find(|(r, _)| Arc::ptr_eq(r, &renderer)) {
            Some((_, same)) => same.push(data),
            None => groups.push((renderer, vec![data])),
        }
    }
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || write_archive(groups, format, tx));
    let name = format!("tickets-{}.zip", event.id());
    Ok(super::exports::attachment(name, "application/zip", Body::new(ChannelBody(rx))))
}
