//! Operations: the audit trail, health and metrics.

use chrono::{DateTime, Utc};
use std::time::Duration;
use ticketing_core::audit::{Actor, AuditEntry};

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use ticketing_core::job::JobStatus;
use ticketing_core::store::JobFilter;
use ticketing_core::user::Role;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::Caller;
use crate::extract::Params;
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// Which audit entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this event's (required for organizers).
    pub event_id: Option<Uuid>,
    /// At most this many, newest first (1 to 500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The audit trail: everything for a superadmin, an event's for its organizers.
#[utoipa::path(
    get,
    operation_id = "ops_audit",
    path = "/audit",
    tag = "audit",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Entries, newest first", body = [AuditView]),
        (status = 403, description = "Superadmins and organizers only", body = Problem),
        (status = 404, description = "No such event of yours", body = Problem),
        (status = 422, description = "Organizers must name an event", body = Problem),
    )
)]
pub async fn audit(
    State(state): State<Shared>,
    caller: Caller,
    Params(query): Params<AuditQuery>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer])?;
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::field("limit", "must be from 1 to 500"));
    }
    let event =
        caller.listing_event(&state, query.event_id, "organizers read the trail of one of their events").await?;
    let entries = state.store().audit_entries(event, limit).await?;
    Ok(Json(entries.iter().map(AuditView::from).collect()))
}

/// One component's state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ComponentHealth {
    /// `up`, `down` or `not_configured`; a notification channel may be `degraded`.
    pub status: String,
    /// What failed, when down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The server's health.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when a component is down.
    pub status: String,
    /// The database.
    pub database: ComponentHealth,
    /// Redis (scan sessions and locks), when configured.
    pub redis: ComponentHealth,
    /// The durable job queue.
    pub queue: ComponentHealth,
    /// The ticket renderer.
    pub renderer: ComponentHealth,
    /// Email (SMTP). `degraded` after a send put off: the server is not down, the messages wait.
    pub email: ComponentHealth,
    /// Text messages (the SMS provider), likewise.
    pub sms: ComponentHealth,
}

/// How long one health probe may take before its component counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

async fn probe<T, E: std::fmt::Display>(check: impl Future<Output = Result<T, E>>) -> ComponentHealth {
    // The error itself goes to the log: the endpoint is public, and storage errors can name
    // hosts and users.
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(Ok(_)) => ComponentHealth { status: "up".into(), detail: None },
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "a health probe failed");
            ComponentHealth { status: "down".into(), detail: Some("the probe failed; see the server log".into()) }
        }
        Err(_) => ComponentHealth { status: "down".into(), detail: Some("no answer within 2 s".into()) },
    }
}

/// Each component's status; 503 when one is down.
#[utoipa::path(
    get,
    operation_id = "ops_health",
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "All up", body = Health),
        (status = 503, description = "A component is down", body = Health),
    )
)]
pub async fn health(State(state): State<Shared>) -> (StatusCode, Json<Health>) {
    let store = state.store();
    let (database, redis) = tokio::join!(database_health(&state), redis_health(&state));
    let queue = probe(store.jobs(&JobFilter { status: Some(JobStatus::Queued), limit: 1, ..Default::default() })).await;
    let renderer = if state.renderer.is_some() {
        ComponentHealth { status: "up".into(), detail: None }
    } else {
        ComponentHealth { status: "down".into(), detail: Some("the default template did not prepare".into()) }
    };
    let channel = |name, configured| {
        let (status, detail) = state.channels.status(name, configured);
        ComponentHealth { status: status.into(), detail }
    };
    let email = channel("email", state.config.smtp.is_some());
    let sms = channel("sms", state.config.sms.is_some());
    // A channel put off never makes the server down: its messages wait in the queue.
    let down = [&database, &redis, &queue, &renderer].iter().any(|c| c.status == "down");
    let status = if down { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    let health =
        Health { status: if down { "degraded" } else { "ok" }.into(), database, redis, queue, renderer, email, sms };
    (status, Json(health))
}

/// The database's state: a read of the roles.
async fn database_health(state: &Shared) -> ComponentHealth {
    probe(state.store().roles()).await
}

/// Redis's state, when it is configured: a lock taken and given back (the lock round trip goes to
/// Redis then).
async fn redis_health(state: &Shared) -> ComponentHealth {
    if state.config.redis_url.is_none() {
        return ComponentHealth { status: "not_configured".into(), detail: None };
    }
    let store = state.store();
    probe(async {
        let owner = format!("health-{}", uuid::Uuid::new_v4());
        store.try_lock("health", &owner, Duration::from_secs(5)).await?;
        store.unlock("health", &owner).await
    })
    .await
}

/// Whether the process answers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "alive"}))]
pub struct Liveness {
    /// Always `alive`.
    pub status: String,
}

/// Liveness, for an orchestrator's restart decision: the process answers. Looks at nothing else
/// (a database away is not cured by a restart).
#[utoipa::path(
    get,
    operation_id = "ops_live",
    path = "/health/live",
    tag = "operations",
    responses((status = 200, description = "The process answers", body = Liveness))
)]
pub async fn live() -> Json<Liveness> {
    Json(Liveness { status: "alive".into() })
}

/// Whether this instance can serve.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "ready", "database": {"status": "up"}, "redis": {"status": "not_configured"}}))]
pub struct Readiness {
    /// `ready`, or `not_ready` when the database or Redis is down.
    pub status: String,
    /// The database.
    pub database: ComponentHealth,
    /// Redis, when configured.
    pub redis: ComponentHealth,
}

/// Readiness, for a load balancer's choice of instances: the database and (when configured)
/// Redis answer; 503 when one does not.
#[utoipa::path(
    get,
    operation_id = "ops_ready",
    path = "/health/ready",
    tag = "operations",
    responses(
        (status = 200, description = "The database and Redis answer", body = Readiness),
        (status = 503, description = "The database or Redis does not answer", body = Readiness),
    )
)]
pub async fn ready(State(state): State<Shared>) -> (StatusCode, Json<Readiness>) {
    let (database, redis) = tokio::join!(database_health(&state), redis_health(&state));
    let down = database.status == "down" || redis.status == "down";
    let status = if down { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, Json(Readiness { status: if down { "not_ready" } else { "ready" }.into(), database, redis }))
}

/// Prometheus metrics (text format 0.0.4). With `TICKETING_METRICS_LISTEN`, served on that
/// listener only (here: 404).
#[utoipa::path(
    get,
    operation_id = "ops_metrics",
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format", body = String, content_type = "text/plain"),
        (status = 404, description = "Served on the metrics listener only (`TICKETING_METRICS_LISTEN`)", body = Problem),
    )
)]
pub async fn metrics(State(state): State<Shared>, alone: Option<Extension<MetricsListener>>) -> Response {
    if state.config.metrics_listen.is_some() && alone.is_none() {
        return crate::problem::route_not_found().await.into_response();
    }
    let body = state.metrics.render();
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], body).into_response()
}

/// Marks the requests that came through the metrics listener.
#[derive(Clone, Copy, Debug)]
pub struct MetricsListener;

/// This API's OpenAPI 3.1 document (the browsable UI is at `/docs`).
#[utoipa::path(
    get,
    operation_id = "ops_openapi",
    path = "/openapi.json",
    tag = "operations",
    responses((
        status = 200,
        description = "The OpenAPI document",
        body = Object,
        content_type = "application/json",
        example = json!({"openapi": "3.1.0", "info": {"title": "ticketing", "version": "0.1.0"}, "paths": {}})
    ))
)]
pub async fn openapi(State(state): State<Shared>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], state.openapi.clone()).into_response()
}

/// One audited change.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditView {
    /// The id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// `user`, `client` or `system`.
    pub actor_kind: String,
    /// The user id or client id.
    pub actor_id: Option<String>,
    /// `noun.verb`, such as `event.update`.
    pub action: String,
    /// `kind:id`.
    pub target: String,
    /// The event concerned.
    pub event_id: Option<Uuid>,
    /// A summary of the state before.
    pub before: Option<String>,
    /// A summary of the state after.
    pub after: Option<String>,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> Self {
        let (actor_kind, actor_id) = match &e.actor {
            Actor::User(id) => ("user", Some(id.to_string())),
            Actor::Client(id) => ("client", Some(id.clone())),
            Actor::System => ("system", None),
        };
        Self {
            id: *e.id.as_uuid(),
            at: e.at,
            actor_kind: actor_kind.into(),
            actor_id,
            action: e.action.clone(),
            target: e.target.clone(),
            event_id: e.event_id.map(|id| *id.as_uuid()),
            before: e.before.clone(),
            after: e.after.clone(),
        }
    }
}
