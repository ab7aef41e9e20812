//! Bulk generation as durable jobs, run by the server's workers: create, follow, list, cancel,
//! retry. A job survives a restart and resumes from its last committed chunk (no duplicates, no
//! gaps: the engine's `run_next_job`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::engine::GenerationRequest;
use ticketing_core::ids::{JobId, TemplateId, TicketTypeId};
use ticketing_core::job::{Job, JobStatus, JobTask, JobsPurged};
use ticketing_core::status::TicketStatus;
use ticketing_core::store::JobFilter;
use ticketing_core::ticket::{Holder, HolderSpec};
use ticketing_core::user::Role;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::tickets::{HolderBody, parse_status};
use crate::audit::{self, Entry, summary};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// The most tickets one generation makes.
pub const MAX_GENERATION: u32 = 1_000_000;

/// A job.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct JobView {
    /// The id.
    pub id: Uuid,
    /// `generate_tickets`.
    pub kind: String,
    /// The event.
    pub event_id: Option<Uuid>,
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    pub status: String,
    /// Higher runs first.
    pub priority: i32,
    /// Units done (tickets, for a generation).
    pub done: u64,
    /// Units in all.
    pub total: u64,
    /// Claims so far.
    pub attempts: u32,
    /// Claims allowed.
    pub max_attempts: u32,
    /// A cancel was asked while it ran.
    pub cancel_requested: bool,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&Job> for JobView {
    fn from(j: &Job) -> Self {
        Self {
            id: *j.id.as_uuid(),
            kind: j.kind().to_owned(),
            event_id: j.event_id.map(|e| *e.as_uuid()),
            status: j.status.as_str().to_owned(),
            priority: j.priority,
            done: j.progress.done,
            total: j.progress.total,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            cancel_requested: j.cancel_requested,
            last_error: j.last_error.clone(),
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// A generation to run in the background.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"count": 100, "status": "issued", "priority": 0}))]
pub struct GenerationBody {
    /// Tickets to make (1 to 1,000,000).
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub count: u32,
    /// `issued` (default), `reserved` or `paid`.
    #[serde(default)]
    #[schema(schema_with = crate::schema::new_ticket_status)]
    pub status: Option<String>,
    /// Higher runs first (default 0).
    #[serde(default)]
    pub priority: i32,
    /// One ticket per holder, in order: then `count` must equal their number.
    #[serde(default)]
    pub holders: Vec<HolderBody>,
    /// The holders as CSV text instead: a header row naming `name` (required), `email` and
    /// `phone` (optional) in any order, then one row per ticket.
    #[serde(default)]
    pub holders_csv: Option<String>,
    /// The template the tickets are drawn with (default: the event's active one when they are
    /// first downloaded).
    #[serde(default)]
    pub template_id: Option<Uuid>,
    /// Its version (default: its active version).
    #[serde(default)]
    pub template_version: Option<u32>,
    /// Whether each ticket goes to its holder as it is made (email and text message, with its
    /// link; the PDF too when the event says so), for holders who gave an address or a number.
    /// Only with holders; default false.
    #[serde(default)]
    pub notify: bool,
}

/// The holders of a CSV list, or a field error naming the line at fault.
pub fn holders_from_csv(text: &str) -> Result<Vec<HolderSpec>, ApiError> {
    let bad = |line: u64, why: String| ApiError::field("holders_csv", format!("line {line}: {why}"));
    // Spreadsheets often start their CSV with a byte-order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| bad(1, e.to_string()))?.clone();
    let column = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let name = column("name").ok_or_else(|| bad(1, "the header names no `name` column".into()))?;
    let (email, phone) = (column("email"), column("phone"));
    let mut holders = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i as u64 + 2;
        let record = record.map_err(|e| bad(line, e.to_string()))?;
        let cell = |at: Option<usize>| at.and_then(|at| record.get(at)).filter(|v| !v.is_empty()).map(str::to_owned);
        holders.push(HolderSpec {
            name: cell(Some(name)).ok_or_else(|| bad(line, "no name".into()))?,
            email: cell(email),
            phone: cell(phone),
        });
    }
    if holders.is_empty() {
        return Err(bad(2, "the list has a header and no holder".into()));
    }
    Ok(holders)
}

/// Starts generating tickets of a type in the background; answers at once with the job.
#[utoipa::path(
    post,
    operation_id = "jobs_generate",
    path = "/ticket-types/{id}/generations",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The ticket type")),
    request_body = GenerationBody,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued", body = JobView),
        (status = 404, description = "No such type of yours", body = Problem),
        (status = 409, description = "No room for that many now, or the event is closed", body = Problem),
        (status = 429, description = "Too many generations", body = Problem),
    )
)]
pub async fn generate(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
    Body(body): Body<GenerationBody>,
) -> Result<(StatusCode, Json<JobView>), ApiError> {
    caller.require(Reach::Manage.roles())?;
    state.limits.bulk.check(&format!("user:{}", caller.user)).await.map_err(ApiError::retry_in)?;
    let ticket_type = state.engine.ticket_type(TicketTypeId::from_uuid(id)).await?;
    caller.reaches(&state, ticket_type.event_id(), Reach::Manage, "ticket type").await?;
    if !(1..=MAX_GENERATION).contains(&body.count) {
        return Err(ApiError::field("count", format!("from 1 to {MAX_GENERATION}")));
    }
    let status = body.status.as_deref().map(|s| parse_status("status", s)).transpose()?.unwrap_or(TicketStatus::Issued);
    let holders: Vec<HolderSpec> = match (&body.holders_csv, body.holders.is_empty()) {
        (Some(_), false) => return Err(ApiError::field("holders_csv", "give holders or holders_csv, not both")),
        (Some(text), true) => holders_from_csv(text)?,
        (None, _) => body.holders.iter().map(HolderSpec::from).collect(),
    };
    Holder::list(&holders).map_err(|e| ApiError::field(e.path(), e.to_string()))?;
    if !holders.is_empty() && holders.len() != body.count as usize {
        return Err(ApiError::field(
            "count",
            format!("{} holders were given: count must be {}", holders.len(), holders.len()),
        ));
    }
    let template = match (body.template_id, body.template_version) {
        (Some(id), version) => {
            Some(super::templates::resolve(&state, ticket_type.event_id(), TemplateId::from_uuid(id), version).await?)
        }
        (None, Some(_)) => return Err(ApiError::field("template_version", "a version needs its template_id")),
        (None, None) => None,
    };
    if body.notify && holders.is_empty() {
        return Err(ApiError::field("notify", "only tickets with holders can be sent to them"));
    }
    let request = GenerationRequest {
        ticket_type_id: ticket_type.id(),
        count: body.count,
        status,
        priority: body.priority,
        holders,
        template,
        notify: body.notify,
    };
    let entry = Entry::by(&state, &caller, "job.generate", "job:?".into(), Some(ticket_type.event_id())).on_write(
        |job: &Job, entry| {
            entry.target = format!("job:{}", job.id);
            entry.after = summary(&JobView::from(job));
        },
    );
    let job = audit::run(entry, state.engine.start_generation(&request)).await?;
    Ok((StatusCode::ACCEPTED, Json(JobView::from(&job))))
}

/// The job `id`, if the caller manages its event (jobs without an event: superadmins only).
async fn reach_job(state: &Shared, caller: &Caller, id: Uuid) -> Result<Job, ApiError> {
    caller.require(Reach::Manage.roles())?;
    let job = state.engine.job(JobId::from_uuid(id)).await?;
    match job.event_id {
        Some(event) => {
            caller.reaches(state, event, Reach::Manage, "job").await?;
        }
        None if caller.is_superadmin() => {}
        None => return Err(ApiError::not_found("job")),
    }
    Ok(job)
}

/// A job, with its progress.
#[utoipa::path(
    get,
    operation_id = "jobs_get",
    path = "/jobs/{id}",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job of yours", body = Problem),
    )
)]
pub async fn get(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<Json<JobView>, ApiError> {
    Ok(Json(JobView::from(&reach_job(&state, &caller, id).await?)))
}

/// Which jobs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Only this event's (required for organizers).
    pub event_id: Option<Uuid>,
    /// Only in this status.
    #[param(schema_with = crate::schema::job_status)]
    pub status: Option<String>,
    /// At most this many, newest first (1 to 500; default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// Jobs, newest first.
#[utoipa::path(
    get,
    operation_id = "jobs_list",
    path = "/jobs",
    tag = "jobs",
    params(JobQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Jobs", body = [JobView]),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 422, description = "Organizers must name an event", body = Problem),
    )
)]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Params(query): Params<JobQuery>,
) -> Result<Json<Vec<JobView>>, ApiError> {
    caller.require(Reach::Manage.roles())?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be from 1 to 500"));
    }
    let event_id =
        caller.listing_event(&state, query.event_id, "organizers list the jobs of one of their events").await?;
    let status = query
        .status
        .as_deref()
        .map(|s| s.parse::<JobStatus>().map_err(|_| ApiError::field("status", "not a job status")))
        .transpose()?;
    let jobs = state.store().jobs(&JobFilter { event_id, status, limit }).await?;
    Ok(Json(jobs.iter().map(JobView::from).collect()))
}

/// Cancels a job: a queued one at once, a running one at its next chunk (what it made stays).
#[utoipa::path(
    post,
    operation_id = "jobs_cancel",
    path = "/jobs/{id}/cancel",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job as it is now", body = JobView),
        (status = 404, description = "No such job of yours", body = Problem),
    )
)]
pub async fn cancel(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<Json<JobView>, ApiError> {
    act(state, caller, id, false).await
}

/// Queues a failed or cancelled job again, keeping its progress.
#[utoipa::path(
    post,
    operation_id = "jobs_retry",
    path = "/jobs/{id}/retry",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Queued again", body = JobView),
        (status = 404, description = "No such job of yours", body = Problem),
        (status = 409, description = "Queued, running or succeeded", body = Problem),
    )
)]
pub async fn retry(State(state): State<Shared>, caller: Caller, Id(id): Id<Uuid>) -> Result<Json<JobView>, ApiError> {
    act(state, caller, id, true).await
}

/// Cancels, or with `retry` queues again, the job `id`, and records it.
async fn act(state: Shared, caller: Caller, id: Uuid, retry: bool) -> Result<Json<JobView>, ApiError> {
    let job = reach_job(&state, &caller, id).await?;
    let action = if retry { "job.retry" } else { "job.cancel" };
    let entry = Entry::by(&state, &caller, action, format!("job:{}", job.id), job.event_id)
        .before(&JobView::from(&job))
        .on_write(|after: &Job, entry| entry.after = summary(&JobView::from(after)));
    let after = audit::run(entry, async {
        if retry { state.engine.retry_job(job.id).await } else { state.engine.cancel_job(job.id).await }
    })
    .await?;
    Ok(Json(JobView::from(&after)))
}

/// The queue's depth: jobs of each kind by status.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueStats {
    /// Kind → status → how many.
    pub kinds: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
}

/// The queue's depth, for operators (superadmins).
#[utoipa::path(
    get,
    operation_id = "queue_stats",
    path = "/queue/stats",
    tag = "jobs",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Jobs by kind and status", body = QueueStats),
        (status = 403, description = "Not a superadmin", body = Problem),
    )
)]
pub async fn queue_stats(State(state): State<Shared>, caller: Caller) -> Result<Json<QueueStats>, ApiError> {
    caller.require(&[Role::Superadmin])?;
    let mut kinds = std::collections::BTreeMap::new();
    for kind in JobTask::KINDS {
        let mut by_status = std::collections::BTreeMap::new();
        for status in JobStatus::ALL {
            by_status.insert(status.as_str().to_owned(), state.store().count_jobs(kind, status).await?);
        }
        kinds.insert((*kind).to_owned(), by_status);
    }
    Ok(Json(QueueStats { kinds }))
}

/// The oldest cutoff a purge takes, in hours.
const MAX_PURGE_HOURS: u32 = 87_600;

/// Which ended jobs to delete.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"older_than_hours": 720}))]
pub struct PurgeBody {
    /// Delete jobs that ended more than this many hours ago (default 168, a week; 0: all ended;
    /// at most 87,600).
    #[serde(default)]
    pub older_than_hours: Option<u32>,
}

/// What a purge deleted.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Purged {
    /// Jobs deleted.
    pub deleted: u64,
}

/// Cleans the queue: deletes jobs that ended (succeeded, failed, cancelled) long enough ago.
/// Queued and running jobs are never touched; the tickets jobs made stay.
#[utoipa::path(
    post,
    operation_id = "queue_purge",
    path = "/queue/purge",
    tag = "jobs",
    request_body = PurgeBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Deleted", body = Purged),
        (status = 403, description = "Not a superadmin", body = Problem),
    )
)]
pub async fn queue_purge(
    State(state): State<Shared>,
    caller: Caller,
    Body(body): Body<PurgeBody>,
) -> Result<Json<Purged>, ApiError> {
    caller.require(&[Role::Superadmin])?;
    let hours = body.older_than_hours.unwrap_or(168);
    if hours > MAX_PURGE_HOURS {
        return Err(ApiError::field("older_than_hours", format!("at most {MAX_PURGE_HOURS} (ten years)")));
    }
    let before = state.clock.now() - chrono::Duration::hours(i64::from(hours));
    let entry = Entry::by(&state, &caller, "queue.purge", "jobs".into(), None)
        .on_write(|purged: &JobsPurged, entry| entry.after = summary(&purged.0));
    let deleted = audit::run(entry, state.store().purge_jobs(before)).await?;
    Ok(Json(Purged { deleted }))
}
