//! Gate scanning in two steps: a request (the QR text or the short code, and the gate) answers a
//! verdict and, when the ticket may pass, a short-lived single-use `scan_session_token`; the
//! confirmation (the token and a direction) applies it. A token works once, only for the agent
//! and the gate it was issued to. Everything is decided by the engine, in the store's
//! transactions: if storage cannot be reached the gate gets 503 and nobody is admitted.
//!
//! Who scans: an agent at the gates they are assigned to; an organizer at any gate of their
//! events; a superadmin anywhere.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::credential::{Duty, StaffAssignment};
use ticketing_core::fleet::ScanSeen;
use ticketing_core::ids::{EventId, GateId};
use ticketing_core::scan::{
    ConfirmRequest, Credential, Direction, Nonce, ScanAgent, ScanLog, ScanRequest, Suspicion, TicketSummary,
};
use ticketing_core::signing::{Algorithm, KeyState};
use ticketing_core::store::{EventFilter, ScanLogFilter};
use ticketing_core::user::Role;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::{Caller, Reach};
use crate::extract::{Body, Id, Params};
use crate::problem::{ApiError, Problem};
use crate::state::Shared;

/// What the gate read.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"gate_id": "01937a3c-5e1f-7d2a-9b4e-3f0c8d2a6b11", "short_code": "26H5A-JV4X2"}))]
pub struct ScanRequestBody {
    /// The gate scanning.
    pub gate_id: Uuid,
    /// The QR text, as read.
    #[serde(default)]
    pub qr: Option<String>,
    /// Or the short code, as typed.
    #[serde(default)]
    pub short_code: Option<String>,
}

/// A ticket as the gate sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanTicket {
    /// The ticket.
    pub ticket_id: Uuid,
    /// Its short code.
    pub short_code: String,
    /// Its type's name.
    pub ticket_type: String,
    /// The holder's name.
    pub holder_name: Option<String>,
    /// Its status.
    pub status: String,
    /// Entries used.
    pub entries_used: u32,
    /// Entries allowed.
    pub entries_allowed: u32,
}

impl From<&TicketSummary> for ScanTicket {
    fn from(t: &TicketSummary) -> Self {
        Self {
            ticket_id: *t.ticket_id.as_uuid(),
            short_code: t.short_code.to_string(),
            ticket_type: t.ticket_type.clone(),
            holder_name: t.holder_name.clone(),
            status: t.status.as_str().to_owned(),
            entries_used: t.entries_used,
            entries_allowed: t.entries_allowed,
        }
    }
}

/// The verdict on a request.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanVerdict {
    /// Whether the ticket may pass now.
    pub ok: bool,
    /// The stable reason code: `ok`, `bad_signature`, `unknown_ticket`, `already_inside`…
    pub reason: String,
    /// The directions it may pass (`in`, `out`).
    pub allowed: Vec<String>,
    /// The ticket, when one was found.
    pub ticket: Option<ScanTicket>,
    /// The token to confirm with, when the ticket may pass.
    pub scan_session_token: Option<String>,
    /// When the token stops working.
    pub expires_at: Option<DateTime<Utc>>,
}

/// The scanning agent for `caller` at `gate`, or 403/404.
async fn agent(state: &Shared, caller: &Caller, gate: GateId) -> Result<ScanAgent, ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer, Role::Agent])?;
    let any_gate = match caller.role {
        Role::Superadmin => true,
        Role::Organizer => {
            let gate = state.engine.gate(gate).await?;
            caller.reaches(state, gate.event_id(), Reach::Manage, "gate").await?;
            true
        }
        // The engine checks the agent is assigned to the gate.
        _ => false,
    };
    Ok(ScanAgent { id: caller.user, any_gate })
}

/// Step one: what the gate read, and the verdict.
#[utoipa::path(
    post,
    operation_id = "scan_request",
    path = "/scan/request",
    tag = "scanning",
    request_body = ScanRequestBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verdict (a refusal is a verdict too, with its reason)", body = ScanVerdict),
        (status = 403, description = "Not a scanning role, or not an agent of this gate", body = Problem),
        (status = 404, description = "No such gate (of the caller's events)", body = Problem),
        (status = 429, description = "Too many scan requests from this agent or at this gate", body = Problem),
    )
)]
pub async fn request(
    State(state): State<Shared>,
    caller: Caller,
    Body(body): Body<ScanRequestBody>,
) -> Result<Json<ScanVerdict>, ApiError> {
    let gate_id = GateId::from_uuid(body.gate_id);
    let credential = match (body.qr, body.short_code) {
        (Some(qr), None) => Credential::Qr(qr),
        (None, Some(code)) => Credential::ShortCode(code),
        _ => return Err(ApiError::field("qr", "give the QR text or the short code, not both")),
    };
    let agent = agent(&state, &caller, gate_id).await?;
    // Generous limits (a busy lane scans about one ticket a second): they stop a flood, not a
    // queue. The gate's is only counted once the engine accepted the agent there, so nobody can
    // use up another gate's allowance. The shared calls made together go out together (one
    // round trip to Redis rather than two).
    let (agent_key, gate_key) = (caller.user.to_string(), gate_id.to_string());
    let (by_agent, at_gate) =
        tokio::join!(state.limits.scan_agent.check(&agent_key), state.limits.scan_gate.peek(&gate_key));
    by_agent.and(at_gate).map_err(ApiError::retry_in)?;
    let outcome = state.engine.scan_request(&ScanRequest { credential, gate_id, agent }).await?;
    let ticket_id = outcome.ticket.as_ref().map(|t| t.ticket_id);
    let seen = ScanSeen { gate_id, ticket_id, reason: outcome.reason, at: state.clock.now() };
    let (_, suspicions) = tokio::join!(state.limits.scan_gate.check(&gate_key), observe(&state, seen));
    for suspicion in suspicions {
        report(&state, &caller, &suspicion).await;
    }
    Ok(Json(ScanVerdict {
        ok: outcome.reason.is_ok(),
        reason: outcome.reason.code().to_owned(),
        allowed: outcome.allowed.iter().map(|d| d.as_str().to_owned()).collect(),
        ticket: outcome.ticket.as_ref().map(ScanTicket::from),
        expires_at: outcome.session.as_ref().map(|s| s.expires_at),
        scan_session_token: outcome.session.map(|s| s.token),
    }))
}

/// A confirmation.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"gate_id": "01937a3c-5e1f-7d2a-9b4e-3f0c8d2a6b11", "scan_session_token": "k3Vq0aZ8r1JmT5yWcXe2Lg", "direction": "in", "nonce": "lane-3:1042"}))]
pub struct ScanConfirmBody {
    /// The gate confirming (the one the token was issued at).
    pub gate_id: Uuid,
    /// The token from the request.
    pub scan_session_token: String,
    /// `in` or `out`.
    #[schema(schema_with = crate::schema::direction)]
    pub direction: String,
    /// An idempotency key: the same one again returns the first result and changes nothing.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// What the confirmation did.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanResult {
    /// Whether it was applied.
    pub ok: bool,
    /// The stable reason code.
    pub reason: String,
    /// `in` or `out`.
    pub direction: String,
    /// The ticket.
    pub ticket_id: Option<Uuid>,
    /// Its status after.
    pub status: Option<String>,
    /// Entries used after.
    pub entries_used: Option<u32>,
    /// Whether this repeats an earlier confirmation with the same nonce.
    pub replayed: bool,
}

/// Step two: apply the request's verdict, once.
#[utoipa::path(
    post,
    operation_id = "scan_confirm",
    path = "/scan/confirm",
    tag = "scanning",
    request_body = ScanConfirmBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "What was applied (a refusal is a result too, with its reason)", body = ScanResult),
        (status = 403, description = "Not a scanning role, or not an agent of this gate", body = Problem),
        (status = 404, description = "No such gate (of the caller's events)", body = Problem),
    )
)]
pub async fn confirm(
    State(state): State<Shared>,
    caller: Caller,
    Body(body): Body<ScanConfirmBody>,
) -> Result<Json<ScanResult>, ApiError> {
    let gate_id = GateId::from_uuid(body.gate_id);
    let direction = match body.direction.as_str() {
        "in" => Direction::In,
        "out" => Direction::Out,
        _ => return Err(ApiError::field("direction", "must be in or out")),
    };
    let nonce = match &body.nonce {
        Some(n) => Some(Nonce::parse(n).ok_or_else(|| ApiError::field("nonce", "1 to 64 printable ASCII characters"))?),
        None => None,
    };
    let agent = agent(&state, &caller, gate_id).await?;
    let request = ConfirmRequest { token: body.scan_session_token, direction, gate_id, agent, nonce };
    let outcome = state.engine.scan_confirm(&request).await?;
    Ok(Json(ScanResult {
        ok: outcome.reason.is_ok(),
        reason: outcome.reason.code().to_owned(),
        direction: outcome.direction.as_str().to_owned(),
        ticket_id: outcome.ticket_id.map(|id| *id.as_uuid()),
        status: outcome.status.map(|s| s.as_str().to_owned()),
        entries_used: outcome.entries_used,
        replayed: outcome.replayed,
    }))
}

/// Which scan log lines.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only this event's (required for organizers).
    pub event_id: Option<Uuid>,
    /// Only this gate's.
    pub gate_id: Option<Uuid>,
    /// At most this many, newest first (1 to 1,000; default 200).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

/// One scan log line.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ScanLogView {
    /// When.
    pub at: DateTime<Utc>,
    /// The event.
    pub event_id: Uuid,
    /// The gate.
    pub gate_id: Uuid,
    /// Who scanned.
    pub agent_id: Uuid,
    /// The ticket, when one was found.
    pub ticket_id: Option<Uuid>,
    /// `request` (refused requests only) or `confirm`.
    pub stage: String,
    /// `in` or `out`, for a confirmation.
    pub direction: Option<String>,
    /// The reason code.
    pub reason: String,
    /// The ticket's status after.
    pub status_after: Option<String>,
}

impl From<&ScanLog> for ScanLogView {
    fn from(l: &ScanLog) -> Self {
        Self {
            at: l.at,
            event_id: *l.event_id.as_uuid(),
            gate_id: *l.gate_id.as_uuid(),
            agent_id: *l.agent_id.as_uuid(),
            ticket_id: l.ticket_id.map(|t| *t.as_uuid()),
            stage: l.stage.as_str().to_owned(),
            direction: l.direction.map(|d| d.as_str().to_owned()),
            reason: l.reason.code().to_owned(),
            status_after: l.status_after.map(|s| s.as_str().to_owned()),
        }
    }
}

/// The scan log: an agent sees only their gates' lines, an organizer their events', a
/// superadmin everything.
#[utoipa::path(
    get,
    operation_id = "scan_logs",
    path = "/scan/logs",
    tag = "scanning",
    params(LogQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Lines, newest first", body = [ScanLogView]),
        (status = 404, description = "No such event or gate of yours", body = Problem),
        (status = 422, description = "Organizers must name an event", body = Problem),
    )
)]
pub async fn logs(
    State(state): State<Shared>,
    caller: Caller,
    Params(query): Params<LogQuery>,
) -> Result<Json<Vec<ScanLogView>>, ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer, Role::Agent])?;
    let limit = query.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::field("limit", "must be from 1 to 1000"));
    }
    let mut filter = ScanLogFilter { event_id: query.event_id.map(EventId::from_uuid), limit, ..Default::default() };
    let asked_gate = query.gate_id.map(GateId::from_uuid);
    match caller.role {
        Role::Agent => {
            let mine: Vec<GateId> = state.store().gates_of_agent(caller.user).await?.iter().map(|g| g.id()).collect();
            filter.gate_ids = Some(match asked_gate {
                Some(gate) if mine.contains(&gate) => vec![gate],
                Some(_) => return Err(ApiError::not_found("gate")),
                None => mine,
            });
            if filter.gate_ids.as_ref().is_some_and(Vec::is_empty) {
                return Ok(Json(Vec::new()));
            }
        }
        Role::Organizer => {
            let event =
                filter.event_id.ok_or_else(|| ApiError::field("event_id", "organizers read one of their events"))?;
            caller.event(&state, event, Reach::Manage).await?;
            filter.gate_ids = asked_gate.map(|g| vec![g]);
        }
        _ => filter.gate_ids = asked_gate.map(|g| vec![g]),
    }
    let lines = state.store().scan_logs(&filter).await?;
    Ok(Json(lines.iter().map(ScanLogView::from).collect()))
}

/// A gate the caller may scan at, with its event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "01937a3c-5e1f-7d2a-9b4e-3f0c8d2a6b11", "name": "North gate", "event_id": "01937a3c-5e1f-7d2a-9b4e-3f0c8d2a6b00", "event_title": "Jazz à la Villette", "starts_at": "2026-07-14T18:00:00Z", "ends_at": "2026-07-14T23:30:00Z"}))]
pub struct ScanGateView {
    /// The gate.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its event.
    pub event_id: Uuid,
    /// The event's title.
    pub event_title: String,
    /// When the event starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
}

/// How many events a gate list looks through for an organizer or a superadmin.
const GATE_LIST_EVENTS: u32 = 500;

/// The gates the caller may scan at, for the scanner's gate picker: an agent's own gates; an
/// organizer's events' gates; every event's for a superadmin. Events over for more than a day
/// are left out (an agent's gates are listed whatever the date: they were assigned). By event
/// start, then gate name.
#[utoipa::path(
    get,
    operation_id = "scan_gates",
    path = "/scan/gates",
    tag = "scanning",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The gates, by event start then name", body = [ScanGateView]),
        (status = 403, description = "Not a scanning role", body = Problem),
    )
)]
pub async fn gates(State(state): State<Shared>, caller: Caller) -> Result<Json<Vec<ScanGateView>>, ApiError> {
    caller.require(&[Role::Superadmin, Role::Organizer, Role::Agent])?;
    let store = state.store();
    let mut pairs = Vec::new();
    if caller.role == Role::Agent {
        let mut events = std::collections::HashMap::new();
        for gate in store.gates_of_agent(caller.user).await? {
            let event = match events.get(&gate.event_id()) {
                Some(known) => Option::clone(known),
                None => {
                    let found = store.event(gate.event_id()).await?;
                    events.insert(gate.event_id(), found.clone());
                    found
                }
            };
            if let Some(event) = event {
                pairs.push((event, gate));
            }
        }
    } else {
        let staff =
            (caller.role == Role::Organizer).then_some(StaffAssignment { user_id: caller.user, duty: Duty::Organizer });
        let ends_after = Some(state.clock.now() - chrono::Duration::days(1));
        let filter = EventFilter { staff, ends_after, limit: GATE_LIST_EVENTS, ..Default::default() };
        for event in store.list_events(&filter).await? {
            for gate in store.gates(event.id()).await? {
                pairs.push((event.clone(), gate));
            }
        }
    }
    pairs.sort_by(|(a, g), (b, h)| (a.starts_at(), a.id(), g.name()).cmp(&(b.starts_at(), b.id(), h.name())));
    let views = pairs
        .iter()
        .map(|(event, gate)| ScanGateView {
            id: *gate.id().as_uuid(),
            name: gate.name().to_owned(),
            event_id: *event.id().as_uuid(),
            event_title: event.title().to_owned(),
            starts_at: event.starts_at(),
            ends_at: event.ends_at(),
        })
        .collect();
    Ok(Json(views))
}

/// Shows the suspicion watch a request's answer: the fleet's, in Redis, or this instance's own
/// while there is no fleet or it cannot be reached.
async fn observe(state: &Shared, seen: ScanSeen) -> Vec<Suspicion> {
    let local = || {
        state.suspicions.lock().unwrap_or_else(|e| e.into_inner()).observe(
            seen.gate_id,
            seen.ticket_id,
            seen.reason,
            seen.at,
        )
    };
    let Some(fleet) = &state.fleet else { return local() };
    let rules = state.suspicions.lock().unwrap_or_else(|e| e.into_inner()).rules();
    match fleet.observe_scan(seen, &rules).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "the shared suspicion watch is unreachable: watching here");
            local()
        }
    }
}

/// Records a suspicious pattern in the audit trail, against the gate's event, and tells the
/// event's organisers (a `suspicious_activity` notification).
async fn report(state: &Shared, caller: &Caller, suspicion: &Suspicion) {
    tracing::warn!(gate = %suspicion.gate_id(), pattern = suspicion.action(), "suspicious scanning");
    let event_id = match state.engine.alert_suspicion(suspicion).await {
        Ok(job) => job.and_then(|j| j.event_id),
        Err(e) => {
            tracing::error!(error = %e, "the suspicious activity alert was not queued");
            None
        }
    };
    let target = format!("gate:{}", suspicion.gate_id());
    audit::note(state, Entry::by(state, caller, suspicion.action(), target, event_id).after(suspicion)).await;
}

/// A public key an offline scanner verifies QR texts with.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScannerKeyView {
    /// The key id every payload it signed carries (bytes 1–2 of the decoded payload).
    pub id: u16,
    /// Always `ed25519`: an HMAC key is a shared secret and is never served.
    pub algorithm: String,
    /// The Ed25519 public key, 32 bytes in hex.
    pub public_key: String,
    /// Whether it signs new tickets now (else it verifies tickets signed before a rotation).
    pub current: bool,
}

/// The keys an event's scanners verify with.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "event_id": "0190f5a2-7c1e-7d3a-9b4f-2a6c8e0d1f3b",
    "signing_algorithm": "ed25519",
    "keys": [{"id": 2, "algorithm": "ed25519", "public_key": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "current": true}]
}))]
pub struct ScannerKeysView {
    /// The event.
    pub event_id: Uuid,
    /// How new tickets are signed: `ed25519` (verifiable with the keys below) or `hmac-sha256`
    /// (only the server can verify: scan online).
    pub signing_algorithm: String,
    /// The Ed25519 keys that still verify, current or kept from before a rotation.
    pub keys: Vec<ScannerKeyView>,
}

/// The public keys an event's QR texts verify with, for a scanner that checks signatures
/// offline: its agents (a gate of theirs is at the event), its organizers and superadmins.
/// The keys are the deployment's; no secret is ever served.
#[utoipa::path(
    get,
    operation_id = "scan_keys",
    path = "/events/{id}/scanner-keys",
    tag = "scanning",
    params(("id" = Uuid, Path, description = "The event")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The verification keys", body = ScannerKeysView),
        (status = 403, description = "Not a scanning role", body = Problem),
        (status = 404, description = "No such event of yours", body = Problem),
    )
)]
pub async fn scanner_keys(
    State(state): State<Shared>,
    caller: Caller,
    Id(id): Id<Uuid>,
) -> Result<Json<ScannerKeysView>, ApiError> {
    let event_id = EventId::from_uuid(id);
    if caller.role == Role::Agent {
        crate::request_id::event(event_id);
        let gates = state.store().gates_of_agent(caller.user).await?;
        if !gates.iter().any(|g| g.event_id() == event_id) {
            return Err(ApiError::not_found("event"));
        }
    } else {
        caller.event(&state, event_id, Reach::Manage).await?;
    }
    let keyring = state.engine.keyring();
    let current: Vec<_> =
        keyring.keys().into_iter().filter(|(_, _, s)| *s == KeyState::Current).map(|(id, ..)| id).collect();
    let keys = keyring
        .ed25519_public_keys()
        .into_iter()
        .map(|(key, public)| ScannerKeyView {
            id: key.0,
            algorithm: "ed25519".into(),
            public_key: hex::encode(public),
            current: current.contains(&key),
        })
        .collect();
    let signing_algorithm = match state.engine.config().qr_algorithm {
        Algorithm::Ed25519 => "ed25519",
        Algorithm::HmacSha256 => "hmac-sha256",
    };
    Ok(Json(ScannerKeysView { event_id: id, signing_algorithm: signing_algorithm.into(), keys }))
}
