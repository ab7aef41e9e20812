//! The organiser's events: create, read, replace, change status, delete, and the event's staff.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use ticketing_core::credential::{Duty, StaffAssignment};
use ticketing_core::ids::{EventId, UserId};
use ticketing_core::user::Role;
use uuid::Uuid;

use super::public::{EventQuery, page_of};
use crate::audit::{Change, record};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;
use crate::views::{DutyBody, EventBody, EventPage, EventView, StaffView, StatusBody};

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
    let event = state.engine.create_staffed_event(&body.spec(), &staff).await?;
    let view = EventView::from(&event);
    let change = Change::created("event.create", format!("event:{}", event.id()), Some(event.id()), &view);
    record(&state, &caller, change).await;
    Ok((StatusCode::CREATED, Json(view)))
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
    let event = state.engine.update_event(before.id(), &body.spec()).await?;
    let (before, after) = (EventView::from(&before), EventView::from(&event));
    let change = Change::updated("event.update", format!("event:{}", event.id()), Some(event.id()), &before, &after);
    record(&state, &caller, change).await;
    Ok(Json(after))
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
    let event = state.engine.set_event_status(before.id(), status).await?;
    let (before, after) = (EventView::from(&before), EventView::from(&event));
    let change = Change::updated("event.status", format!("event:{}", event.id()), Some(event.id()), &before, &after);
    record(&state, &caller, change).await;
    Ok(Json(after))
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
    state.engine.delete_event(event.id()).await?;
    let before = EventView::from(&event);
    let change = Change::deleted("event.delete", format!("event:{}", event.id()), Some(event.id()), &before);
    record(&state, &caller, change).await;
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
    state.store().assign_staff(event.id(), assignment).await?;
    let view = StaffView::from(&assignment);
    let change = Change::created("event.staff.assign", format!("user:{}", user.id), Some(event.id()), &view);
    record(&state, &caller, change).await;
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
    if !state.store().unassign_staff(event.id(), user).await? {
        return Err(ApiError::not_found("staff assignment"));
    }
    let change = Change {
        action: "event.staff.unassign",
        target: format!("user:{user}"),
        event_id: Some(event.id()),
        before: None::<&()>,
        after: None::<&()>,
    };
    record(&state, &caller, change).await;
    Ok(StatusCode::NO_CONTENT)
}
