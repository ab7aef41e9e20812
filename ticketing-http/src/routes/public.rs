//! The public catalogue: no account needed. Drafts never show.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::event::EventStatus;
use ticketing_core::ids::EventId;
use ticketing_core::store::EventFilter;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::events::{EventPage, EventView};
use crate::extract::{Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// The largest page.
pub const MAX_PER_PAGE: u32 = 100;

/// Filters and paging of an event list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Events starting at or after this (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Events starting before this (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Events whose venue contains this text (case-insensitive).
    pub location: Option<String>,
    /// `published` (the default on the public list), `cancelled` or `ended`; staff lists also
    /// take `draft`.
    #[param(schema_with = crate::schema::event_status)]
    pub status: Option<String>,
    /// The page, from 1.
    #[param(minimum = 1)]
    pub page: Option<u32>,
    /// Items per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
}

impl EventQuery {
    /// The store filter for this query, with `status` as parsed; one more row than the page
    /// is asked for, to tell whether another page follows.
    pub fn filter(&self, status: Option<EventStatus>) -> Result<(EventFilter, u32, u32), ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if page == 0 {
            return Err(ApiError::field("page", "pages count from 1"));
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(ApiError::field("per_page", format!("must be from 1 to {MAX_PER_PAGE}")));
        }
        if self.location.as_deref().is_some_and(|l| l.chars().count() > 300 || l.chars().any(char::is_control)) {
            return Err(ApiError::field("location", "at most 300 characters, no control characters"));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to <= from
        {
            return Err(ApiError::field("to", "must be after from"));
        }
        let offset = (page - 1).checked_mul(per_page).ok_or_else(|| ApiError::field("page", "too large"))?;
        let filter = EventFilter {
            starts_from: self.from,
            starts_before: self.to,
            ends_after: None,
            location: self.location.as_ref().map(|l| l.trim().to_owned()).filter(|l| !l.is_empty()),
            status,
            staff: None,
            limit: per_page + 1,
            offset,
        };
        Ok((filter, page, per_page))
    }

    /// The status filter, parsed.
    pub fn status(&self) -> Result<Option<EventStatus>, ApiError> {
        self.status
            .as_deref()
            .map(|s| s.parse().map_err(|e: ticketing_core::field::FieldError| ApiError::field("status", e.to_string())))
            .transpose()
    }
}

/// A page from `events` fetched with one extra row.
pub fn page_of(mut events: Vec<ticketing_core::event::Event>, page: u32, per_page: u32) -> EventPage {
    let has_more = events.len() > per_page as usize;
    events.truncate(per_page as usize);
    EventPage { items: events.iter().map(EventView::from).collect(), page, per_page, has_more }
}

/// Lists public events.
#[utoipa::path(
    get,
    operation_id = "public_list",
    path = "/public/events",
    tag = "public",
    params(EventQuery),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 422, description = "A bad filter", body = Problem),
    )
)]
pub async fn list(State(state): State<Shared>, Params(query): Params<EventQuery>) -> Result<Json<EventPage>, ApiError> {
    let status = query.status()?.unwrap_or(EventStatus::Published);
    if status == EventStatus::Draft {
        return Err(ApiError::field("status", "drafts are not public"));
    }
    let (filter, page, per_page) = query.filter(Some(status))?;
    let events = state.store().list_events(&filter).await?;
    Ok(Json(page_of(events, page, per_page)))
}

/// A ticket type as the public sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicTicketType {
    /// The id.
    pub id: Uuid,
    /// The name.
    pub name: String,
    /// Price in minor units.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The quota.
    pub quota: u32,
    /// Places left: the quota, and the event's capacity, less live tickets.
    pub remaining: u32,
    /// No entry before.
    pub validity_from: Option<DateTime<Utc>>,
    /// No entry after.
    pub validity_to: Option<DateTime<Utc>>,
}

/// An event with its ticket types and what is left.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicEventDetail {
    /// The event.
    #[serde(flatten)]
    pub event: EventView,
    /// Places left in the whole event.
    pub remaining_capacity: u32,
    /// Its ticket types, by name.
    pub ticket_types: Vec<PublicTicketType>,
}

/// An event the public may see (any but a draft), or 404 alike for a draft and an unknown id.
pub async fn public_event(state: &Shared, id: Uuid) -> Result<ticketing_core::event::Event, ApiError> {
    state
        .store()
        .event(EventId::from_uuid(id))
        .await?
        .filter(|e| e.status() != EventStatus::Draft)
        .ok_or_else(|| ApiError::not_found("event"))
}

/// An event's public page.
#[utoipa::path(
    get,
    operation_id = "public_detail",
    path = "/public/events/{id}",
    tag = "public",
    params(("id" = Uuid, Path, description = "The event")),
    responses(
        (status = 200, description = "The event", body = PublicEventDetail),
        (status = 404, description = "No such public event", body = Problem),
    )
)]
pub async fn detail(State(state): State<Shared>, Id(id): Id<Uuid>) -> Result<Json<PublicEventDetail>, ApiError> {
    let event = public_event(&state, id).await?;
    let types = state.store().ticket_types(event.id()).await?;
    Ok(Json(event_detail(&state, &event, &types).await?))
}

/// `event` with its ticket `types` and what is left of each (the API's detail and the event
/// page, which read the event and its types once).
pub async fn event_detail(
    state: &Shared,
    event: &ticketing_core::event::Event,
    types: &[ticketing_core::ticket_type::TicketType],
) -> Result<PublicEventDetail, ApiError> {
    let store = state.store();
    let mut event_live = 0;
    let mut ticket_types = Vec::with_capacity(types.len());
    for t in types {
        let allocation = store.allocation(t.id()).await?;
        event_live = allocation.event_live;
        ticket_types.push((t, allocation.type_live));
    }
    let remaining_capacity = event.capacity().saturating_sub(event_live);
    Ok(PublicEventDetail {
        event: EventView::from(event),
        remaining_capacity,
        ticket_types: ticket_types
            .into_iter()
            .map(|(t, live)| PublicTicketType {
                id: *t.id().as_uuid(),
                name: t.name().to_owned(),
                price_minor: t.price().minor(),
                currency: t.price().currency().code().to_owned(),
                quota: t.quota(),
                remaining: t.quota().saturating_sub(live).min(remaining_capacity),
                validity_from: t.validity_from(),
                validity_to: t.validity_to(),
            })
            .collect(),
    })
}
