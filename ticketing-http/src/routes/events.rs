//! The organiser's events: create, read, replace, change status, delete, and the event's staff.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::credential::{Duty, StaffAssignment};
use ticketing_core::event::{DEFAULT_DOORS_OPEN_MINUTES, DEFAULT_MAX_TICKETS_PER_ORDER, Event, EventSpec, EventStatus};
use ticketing_core::ids::{EventId, UserId};
use ticketing_core::user::Role;
use utoipa::ToSchema;
use uuid::Uuid;

use super::public::{EventQuery, page_of};
use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// Lists the events the caller reaches: all for a superadmin, their own for an organizer or a
/// cashier; any status.
#[utoipa::path(
    get,
    operation_id = "events_list",
    path = "/events",
    tag = "events",
    params(EventQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 401, description = "Not signed in", body = Problem),
        (status = 403, description = "Agents have no events to list", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Params(query): Params<EventQuery>,
) -> Result<Json<EventPage>, ApiError> {
    caller.require(Reach::Read.roles())?;
    let (mut filter, page, per_page) = query.filter(query.status()?)?;
    if !caller.is_superadmin() {
        // The duty that matches the caller's role now: a former organizer demoted to cashier
        // does not keep seeing the events they ran.
        let duty = Reach::Read.duty(caller.role).ok_or_else(|| ApiError::forbidden("no events to list"))?;
        filter.staff = Some(StaffAssignment { user_id: caller.user, duty });
    }
    let events = state.store().list_events(&filter).await?;
    Ok(Json(page_of(events, page, per_page)))
}

/// Creates a draft event. An organizer runs the events they create; a superadmin names the
/// organizer in `organizer_id` (or runs it alone).
#[utoipa::path(
    post,
    operation_id = "events_create",
    path = "/events",
    tag = "events",
    request_body = EventBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = EventView),
        (status = 403, description = "Not an organizer", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    Body(body): Body<EventBody>,
) -> Result<(StatusCode, Json<EventView>), ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer])?;
    let organizer = match (body.organizer_id, caller.role) {
        (Some(id), Role::Superadmin) => {
            let user = state.store().user(UserId::from_uuid(id)).await?;
            match user {
                Some(u) if u.role == Role::Organizer => Some(u.id),
                _ => return Err(ApiError::field("organizer_id", "must be a user with the organizer role")),
            }
        }
        (Some(_), _) => return Err(ApiError::field("organizer_id", "only a superadmin names another organizer")),
        (None, Role::Organizer) => Some(caller.user),
        (None, _) => None,
    };
    let staff: Vec<StaffAssignment> =
        organizer.map(|user_id| StaffAssignment { user_id, duty: Duty::Organizer }).into_iter().collect();
    let entry = Entry::by(&state, &caller, "event.create", "event:?".into(), None).on_write(|event: &Event, entry| {
        entry.target = format!("event:{}", event.id());
        entry.event_id = Some(event.id());
        entry.after = summary(&EventView::from(event));
    });
    let event = audit::run(entry, state.engine.create_staffed_event(&body.spec(), &staff)).await?;
    Ok((StatusCode::CREATED, Json(EventView::from(&event))))
}

/// An event.
#[utoipa::path(
    get,
    operation_id = "events_get",
    path = "/events/{id}",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The event", body = EventView),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn get(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<Json<EventView>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Read).await?;
    Ok(Json(EventView::from(&event)))
}

/// Replaces an event's fields (not its status). A capacity below the live tickets is refused
/// with 409 `below_issued`.
#[utoipa::path(
    put,
    operation_id = "events_replace",
    path = "/events/{id}",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = EventBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced", body = EventView),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 409, description = "Capacity below the tickets issued", body = Problem),
        (status = 422, description = "A field is invalid", body = Problem),
    )
)]
pub async fn replace(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<EventBody>,
) -> Result<Json<EventView>, ApiError> {
    let before = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    if body.organizer_id.is_some() {
        return Err(ApiError::field("organizer_id", "set on creation; use the staff endpoints after"));
    }
    let entry = updated(&state, &caller, "event.update", &before);
    let event = audit::run(entry, state.engine.update_event(before.id(), &body.spec())).await?;
    Ok(Json(EventView::from(&event)))
}

/// Publishes, cancels or ends an event.
#[utoipa::path(
    post,
    operation_id = "events_set_status",
    path = "/events/{id}/status",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    request_body = StatusBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = EventView),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 409, description = "Not allowed from the current status", body = Problem),
    )
)]
pub async fn set_status(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<StatusBody>,
) -> Result<Json<EventView>, ApiError> {
    let status = body.parse()?;
    let before = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let entry = updated(&state, &caller, "event.status", &before);
    let event = audit::run(entry, state.engine.set_event_status(before.id(), status)).await?;
    Ok(Json(EventView::from(&event)))
}

/// Deletes an event with its types, gates and staff; one with tickets is refused (409).
#[utoipa::path(
    delete,
    operation_id = "events_delete",
    path = "/events/{id}",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 409, description = "The event has tickets", body = Problem),
    )
)]
pub async fn delete(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<StatusCode, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let entry = Entry::by(&state, &caller, "event.delete", format!("event:{}", event.id()), Some(event.id()))
        .before(&EventView::from(&event));
    audit::run(entry.ready(), state.engine.delete_event(event.id())).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The event's staff.
#[utoipa::path(
    get,
    operation_id = "events_staff",
    path = "/events/{id}/staff",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Organizers and cashiers of the event", body = [StaffView]),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn staff(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<Vec<StaffView>>, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let staff = state.store().event_staff(event.id()).await?;
    Ok(Json(staff.iter().map(StaffView::from).collect()))
}

/// Gives a user a duty at the event: `organizer` (a co-organizer) or `cashier`.
#[utoipa::path(
    put,
    operation_id = "events_assign",
    path = "/events/{id}/staff/{user_id}",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event"), ("user_id" = Uuid, Path, description = "The user")),
    request_body = DutyBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Assigned", body = StaffView),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 422, description = "The user does not hold the duty's role", body = Problem),
    )
)]
pub async fn assign(
    State(state): State<Shared>,
    caller: Caller,
    Id((id, user_id)): Id<(Uuid, Uuid)>,
    Body(body): Body<DutyBody>,
) -> Result<Json<StaffView>, ApiError> {
    let duty = body.parse()?;
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let user = state.store().user(UserId::from_uuid(user_id)).await?.ok_or_else(|| ApiError::not_found("user"))?;
    if user.role != duty.role() {
        return Err(ApiError::field("duty", format!("the user is a {}, not a {}", user.role, duty.role())));
    }
    let assignment = StaffAssignment { user_id: user.id, duty };
    let view = StaffView::from(&assignment);
    let entry = Entry::by(&state, &caller, "event.staff.assign", format!("user:{}", user.id), Some(event.id()));
    audit::run(entry.after(&view).ready(), state.store().assign_staff(event.id(), assignment)).await?;
    Ok(Json(view))
}

/// Removes a user's duty at the event.
#[utoipa::path(
    delete,
    operation_id = "events_unassign",
    path = "/events/{id}/staff/{user_id}",
    tag = "events",
    params(("id" = Uuid, Path, description = "The event"), ("user_id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such event of yours, or no such duty", body = Problem),
    )
)]
pub async fn unassign(
    State(state): State<Shared>,
    caller: Caller,
    Id((id, user_id)): Id<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let event = caller.event(&state, EventId::from_uuid(id), Reach::Manage).await?;
    let user = UserId::from_uuid(user_id);
    let entry = Entry::by(&state, &caller, "event.staff.unassign", format!("user:{user}"), Some(event.id()));
    let removed = async {
        match state.store().unassign_staff(event.id(), user).await? {
            true => Ok(()),
            false => Err(ApiError::not_found("staff assignment")),
        }
    };
    audit::run(entry.ready(), removed).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An event's fields, to create or replace it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Jazz à Vienne", "description": "Une soirée au théâtre antique.", "starts_at": "2027-07-01T18:00:00Z", "ends_at": "2027-07-01T23:00:00Z", "time_zone": "Europe/Paris", "location": "Théâtre antique, Vienne", "capacity": 500, "dress_code": "Tenue correcte", "allow_reentry": true, "doors_open_minutes": 120, "payment_url": "https://buy.stripe.com/test_00g?client_reference_id={order_id}&prefilled_email={email}", "max_tickets_per_order": 6, "email_pdfs": true}))]
pub struct EventBody {
    /// Up to 200 characters.
    pub title: String,
    /// Up to 10,000 characters.
    #[serde(default)]
    pub description: String,
    /// When it starts (RFC 3339).
    pub starts_at: DateTime<Utc>,
    /// When it ends; after `starts_at`.
    pub ends_at: DateTime<Utc>,
    /// An IANA time zone such as `Europe/Paris`.
    pub time_zone: String,
    /// The venue.
    pub location: String,
    /// Tickets that may exist in all; at least 1.
    pub capacity: u32,
    /// Optional.
    #[serde(default)]
    pub dress_code: Option<String>,
    /// Whether a ticket may enter again after going out.
    #[serde(default)]
    pub allow_reentry: bool,
    /// The external payment link buyers are sent to (`GET /pay/{order_token}`): `https://` only,
    /// with placeholders `{order_id}`, `{order_token}`, `{amount_minor}`, `{amount}`,
    /// `{currency}`, `{email}`, `{return_url}`, each filled URL-encoded.
    #[serde(default)]
    pub payment_url: Option<String>,
    /// Minutes before `starts_at` when the doors open (0 to 10,080; default 240): earlier entries
    /// are refused as `too_early`, unless the ticket type's validity window opens earlier.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10080)]
    pub doors_open_minutes: Option<u32>,
    /// The most tickets one order may hold (1 to 1,000; default 10).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_tickets_per_order: Option<u32>,
    /// Whether the emails that carry tickets attach each ticket's PDF as well as its link
    /// (default true).
    #[serde(default)]
    pub email_pdfs: Option<bool>,
    /// On creation by a superadmin: the organizer who runs it. An organizer runs the events they
    /// create.
    #[serde(default)]
    pub organizer_id: Option<Uuid>,
}

impl EventBody {
    /// The domain spec.
    pub fn spec(&self) -> EventSpec {
        EventSpec {
            title: self.title.clone(),
            description: self.description.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            time_zone: self.time_zone.clone(),
            location: self.location.clone(),
            capacity: self.capacity,
            dress_code: self.dress_code.clone(),
            allow_reentry: self.allow_reentry,
            payment_url: self.payment_url.clone(),
            doors_open_minutes: self.doors_open_minutes.unwrap_or(DEFAULT_DOORS_OPEN_MINUTES),
            max_tickets_per_order: self.max_tickets_per_order.unwrap_or(DEFAULT_MAX_TICKETS_PER_ORDER),
            email_pdfs: self.email_pdfs.unwrap_or(true),
        }
    }
}

/// An event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// The id.
    pub id: Uuid,
    /// The title.
    pub title: String,
    /// The description.
    pub description: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Its IANA time zone.
    pub time_zone: String,
    /// The venue.
    pub location: String,
    /// Tickets that may exist in all.
    pub capacity: u32,
    /// The dress code.
    pub dress_code: Option<String>,
    /// Whether re-entry is allowed.
    pub allow_reentry: bool,
    /// `draft`, `published`, `cancelled` or `ended`.
    pub status: String,
    /// The external payment link template.
    pub payment_url: Option<String>,
    /// Minutes before the start when the doors open.
    pub doors_open_minutes: u32,
    /// The most tickets one order may hold.
    pub max_tickets_per_order: u32,
    /// Whether ticket emails attach each ticket's PDF.
    pub email_pdfs: bool,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        Self {
            id: *e.id().as_uuid(),
            title: e.title().to_owned(),
            description: e.description().to_owned(),
            starts_at: e.starts_at(),
            ends_at: e.ends_at(),
            time_zone: e.time_zone().name().to_owned(),
            location: e.location().to_owned(),
            capacity: e.capacity(),
            dress_code: e.dress_code().map(str::to_owned),
            allow_reentry: e.allow_reentry(),
            status: e.status().as_str().to_owned(),
            payment_url: e.payment_url().map(|u| u.as_str().to_owned()),
            doors_open_minutes: e.doors_open_minutes(),
            max_tickets_per_order: e.max_tickets_per_order(),
            email_pdfs: e.email_pdfs(),
        }
    }
}

/// A page of events.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    /// The events, by start time.
    pub items: Vec<EventView>,
    /// This page (from 1).
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Whether another page follows.
    pub has_more: bool,
}

/// A status change.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "published"}))]
pub struct StatusBody {
    /// `published`, `cancelled` or `ended` (draft → published → ended; cancelled from draft or
    /// published).
    #[schema(schema_with = crate::schema::event_status)]
    pub status: String,
}

impl StatusBody {
    /// The status asked for.
    pub fn parse(&self) -> Result<EventStatus, crate::problem::ApiError> {
        self.status
            .parse()
            .map_err(|e: ticketing_core::field::FieldError| crate::problem::ApiError::field("status", e.to_string()))
    }
}

/// A staff assignment at an event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffView {
    /// The user.
    pub user_id: Uuid,
    /// `organizer` or `cashier`.
    pub duty: String,
}

impl From<&StaffAssignment> for StaffView {
    fn from(a: &StaffAssignment) -> Self {
        Self { user_id: *a.user_id.as_uuid(), duty: a.duty.as_str().to_owned() }
    }
}

/// A duty to give.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"duty": "cashier"}))]
pub struct DutyBody {
    /// `organizer` or `cashier`; the user must hold the matching role.
    #[schema(schema_with = crate::schema::duty)]
    pub duty: String,
}

impl DutyBody {
    /// The duty asked for.
    pub fn parse(&self) -> Result<Duty, crate::problem::ApiError> {
        self.duty.parse().map_err(|_| crate::problem::ApiError::field("duty", "must be organizer or cashier"))
    }
}

/// The entry of a change to `before`, completed with the event the change writes.
fn updated(state: &Shared, caller: &Caller, action: &str, before: &Event) -> ticketing_core::audit::Pending {
    Entry::by(state, caller, action, format!("event:{}", before.id()), Some(before.id()))
        .before(&EventView::from(before))
        .on_write(|event: &Event, entry| entry.after = summary(&EventView::from(event)))
}
