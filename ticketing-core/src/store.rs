//! The ports the core needs from storage, shaped so SQLite, Postgres, Redis and in-memory
//! backends can all implement them.
//!
//! The traits are coarse where atomicity matters: the core never asks "read, then write" of
//! anything that must not race. [`TicketRepository::insert_tickets`] checks quota and capacity
//! and writes in one step; [`TicketRepository::update_ticket`] is a compare-and-set on the
//! ticket's version; [`ScanRepository::commit_scan`] spends a session, updates a ticket and
//! writes a log line all together or not at all.
//!
//! All traits are object safe (`async_trait`), so `Arc<dyn Store>` works.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEntry;
use crate::credential::{ApiClient, Rotation, StaffAssignment, StoredToken};
use crate::event::{Event, EventStatus};
use crate::fleet::KeyFingerprint;
use crate::gate::Gate;
use crate::hook::Endpoint;
use crate::ids::{
    ApiClientId, EndpointId, EventId, GateId, JobId, OrderId, RefundId, TemplateId, TicketId, TicketTypeId, UserId,
};
use crate::job::{Job, JobEnd, JobStatus, Lease, LeaseCheck, NotificationTopic};
use crate::magic_link::{MagicLink, TokenHash};
use crate::notification::DeliveryRecord;
use crate::notification::templates::MessageTemplate;
use crate::order::{Locale, Order, OrderStatus};
use crate::payment::PaymentDelivery;
use crate::quota::{Allocation, QuotaError};
use crate::refund::Refund;
use crate::scan::{Nonce, ScanLog, ScanSession};
use crate::short_code::ShortCode;
use crate::stats::EventCounts;
use crate::status::{TicketAction, TicketStatus};
use crate::template::{TemplatePin, TemplateSummary, TemplateVersion};
use crate::ticket::Ticket;
use crate::ticket_type::TicketType;
use crate::user::{Role, User};

/// A storage failure a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The referenced row does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness rule was broken (a ticket type name, a short code, an id).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A quota, capacity or limit would be broken.
    #[error(transparent)]
    Quota(#[from] QuotaError),
    /// A compare-and-set lost: the row changed since it was read.
    #[error("the row changed concurrently")]
    Stale,
    /// The backend cannot be reached or failed; nothing was written.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data could not be read back into a valid value.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// This error, a `NotFound` naming `what` (a foreign key's refusal knows no row's name, only
    /// the step does: the event of a template, the role of a user).
    pub fn naming(self, what: &'static str) -> Self {
        match self {
            Self::NotFound(_) => Self::NotFound(what),
            other => other,
        }
    }
}

/// Which events to list. Empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Events that start at or after this.
    pub starts_from: Option<DateTime<Utc>>,
    /// Events that start before this.
    pub starts_before: Option<DateTime<Utc>>,
    /// Events that end at or after this (still running, or yet to come).
    pub ends_after: Option<DateTime<Utc>>,
    /// Events whose location contains this text (case-insensitive).
    pub location: Option<String>,
    /// Events in this status.
    pub status: Option<EventStatus>,
    /// Only events where this user has this duty ([`StaffRepository`]).
    pub staff: Option<StaffAssignment>,
    /// Page size (a backend may cap it).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// Which tickets to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketFilter {
    /// The event (required: tickets are always listed per event).
    pub event_id: Option<EventId>,
    /// Only this type.
    pub ticket_type_id: Option<TicketTypeId>,
    /// Only this status.
    pub status: Option<TicketStatus>,
    /// Only tickets whose holder has this email address (compared without regard to case).
    pub holder_email: Option<String>,
    /// Page size.
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// Which scan log lines to list, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanLogFilter {
    /// Only this event.
    pub event_id: Option<EventId>,
    /// Only these gates (an agent sees only theirs).
    pub gate_ids: Option<Vec<GateId>>,
    /// Only this ticket.
    pub ticket_id: Option<TicketId>,
    /// Page size.
    pub limit: u32,
}

/// Events.
#[async_trait]
pub trait EventRepository: Send + Sync {
    /// Stores a new event; `Conflict` if the id exists.
    async fn insert_event(&self, event: &Event) -> Result<(), StoreError>;
    /// Replaces an event; `Quota(BelowLive)` if its capacity would drop below its live tickets.
    async fn update_event(&self, event: &Event) -> Result<(), StoreError>;
    /// An event by id.
    async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError>;
    /// Events matching `filter`, by start time.
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;
    /// Deletes an event with its types and gates; `Conflict` if it has tickets.
    async fn delete_event(&self, id: EventId) -> Result<(), StoreError>;
}

/// Ticket types.
#[async_trait]
pub trait TicketTypeRepository: Send + Sync {
    /// Stores a new type; `Conflict` if its event already has the name
    /// ([`TicketType::name_key`]), `NotFound` if the event does not exist.
    async fn insert_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError>;
    /// Replaces a type; `Conflict` on a taken name, `Quota(BelowLive)` if the quota would drop
    /// below its live tickets.
    async fn update_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError>;
    /// A type by id.
    async fn ticket_type(&self, id: TicketTypeId) -> Result<Option<TicketType>, StoreError>;
    /// The types of an event, by name.
    async fn ticket_types(&self, event_id: EventId) -> Result<Vec<TicketType>, StoreError>;
    /// Deletes a type; `Conflict` if it has tickets, `NotFound` if there is no such type.
    async fn delete_ticket_type(&self, id: TicketTypeId) -> Result<(), StoreError>;
}

/// Gates.
#[async_trait]
pub trait GateRepository: Send + Sync {
    /// Stores a new gate; `NotFound` if the event does not exist.
    async fn insert_gate(&self, gate: &Gate) -> Result<(), StoreError>;
    /// Replaces a gate.
    async fn update_gate(&self, gate: &Gate) -> Result<(), StoreError>;
    /// A gate by id.
    async fn gate(&self, id: GateId) -> Result<Option<Gate>, StoreError>;
    /// The gates of an event, by name.
    async fn gates(&self, event_id: EventId) -> Result<Vec<Gate>, StoreError>;
    /// The gates an agent is assigned to.
    async fn gates_of_agent(&self, agent: UserId) -> Result<Vec<Gate>, StoreError>;
    /// Deletes a gate; `Conflict` if scans were logged there (the log keeps its gates),
    /// `NotFound` if there is no such gate.
    async fn delete_gate(&self, id: GateId) -> Result<(), StoreError>;
}

/// New tickets of one type and what is written with them, in one atomic step: a magic link per
/// ticket (or none), and the template version they are all pinned to (if chosen).
#[derive(Clone, Copy, Debug)]
pub struct TicketBatch<'a> {
    /// The tickets, all of one type.
    pub tickets: &'a [Ticket],
    /// Links of these tickets.
    pub links: &'a [MagicLink],
    /// The template version every ticket is rendered with.
    pub template: Option<TemplatePin>,
}

impl<'a> TicketBatch<'a> {
    /// Tickets alone: no links, no template pin.
    pub fn plain(tickets: &'a [Ticket]) -> Self {
        Self { tickets, links: &[], template: None }
    }
}

/// Tickets and the counters that guard quotas.
#[async_trait]
pub trait TicketRepository: Send + Sync {
    /// Stores new tickets, all of one type, with their links and template pins, in one atomic
    /// step that also checks the type's quota and the event's capacity against live tickets, and
    /// enqueues `jobs` (what the new tickets cause: notifications, say): either all are written or
    /// none (`Quota(TypeQuota | EventCapacity)`, `Conflict` on a duplicate id, short code, link or
    /// job id, `NotFound` for a template version that does not exist).
    async fn insert_tickets(&self, batch: &TicketBatch<'_>, jobs: &[Job]) -> Result<(), StoreError>;
    /// A ticket by id.
    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;
    /// A ticket by short code.
    async fn ticket_by_code(&self, code: ShortCode) -> Result<Option<Ticket>, StoreError>;
    /// Which of `codes` are already a ticket's short code: new codes are drawn again only where
    /// they collide, so a batch never fails for a collision whatever the number of tickets.
    async fn taken_short_codes(&self, codes: &[ShortCode]) -> Result<Vec<ShortCode>, StoreError>;
    /// Replaces a ticket if its stored version is still `expected_version`, else `Stale`.
    /// Counters follow the status (a ticket that stops being live frees its place), and a ticket
    /// that stops being live (refunded, invalidated) has its magic links revoked at its
    /// `updated_at`, in the same step: a dead ticket's download links never outlive it.
    async fn update_ticket(&self, ticket: &Ticket, expected_version: u64) -> Result<(), StoreError>;
    /// Live tickets of a type and of its event.
    async fn allocation(&self, ticket_type_id: TicketTypeId) -> Result<Allocation, StoreError>;
    /// Tickets matching `filter`, oldest first.
    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError>;
}

/// A ticket's new state, applied only if the stored ticket is still the one it was made from.
#[derive(Clone, Debug)]
pub struct TicketUpdate {
    /// The new state.
    pub next: Ticket,
    /// The version the stored ticket must still have.
    pub expected_version: u64,
    /// Whether the ticket at that version was live, so the counters move without a re-read.
    pub was_live: bool,
}

/// A confirmation to apply atomically: see [`ScanRepository::commit_scan`].
#[derive(Clone, Debug)]
pub struct ScanCommit {
    /// The session to spend.
    pub session: TokenHash,
    /// The ticket's change, when the scan changes it.
    pub ticket: Option<TicketUpdate>,
    /// The log line to write.
    pub log: ScanLog,
}

/// What [`ScanRepository::commit_scan`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Everything was applied.
    Applied,
    /// Nothing was applied: the session was already spent.
    SessionUsed,
    /// Nothing was applied: the session expired (at the log line's time) or does not exist.
    SessionExpired,
    /// Nothing was applied: the ticket changed since it was read; decide again.
    TicketChanged,
    /// Nothing was applied: this agent already confirmed with this nonce; here is that line.
    Replayed(Box<ScanLog>),
}

/// Scan sessions and the scan log.
#[async_trait]
pub trait ScanRepository: Send + Sync {
    /// Stores an open session.
    async fn insert_session(&self, session: &ScanSession) -> Result<(), StoreError>;
    /// A session by token hash, spent or not.
    async fn session(&self, token_hash: &TokenHash) -> Result<Option<ScanSession>, StoreError>;
    /// In one atomic step: checks the nonce (if the log line has one) has not been used by the
    /// agent, spends the session if it is unspent and unexpired at `log.at`, applies the ticket
    /// update if its version still matches, and appends the log line. Any failed check applies
    /// nothing and says which.
    async fn commit_scan(&self, commit: &ScanCommit) -> Result<CommitOutcome, StoreError>;
    /// Appends a log line outside a confirmation (a refused request).
    async fn insert_scan_log(&self, log: &ScanLog) -> Result<(), StoreError>;
    /// The confirmation this agent made with this nonce, if any.
    async fn scan_by_nonce(&self, agent: UserId, nonce: &Nonce) -> Result<Option<ScanLog>, StoreError>;
    /// Log lines matching `filter`, newest first.
    async fn scan_logs(&self, filter: &ScanLogFilter) -> Result<Vec<ScanLog>, StoreError>;
}

/// A ticket with its type and its event: everything a scan decides on, read together.
#[derive(Clone, Debug)]
pub struct ScanView {
    /// The ticket.
    pub ticket: Ticket,
    /// Its type.
    pub ticket_type: TicketType,
    /// Its event.
    pub event: Event,
}

/// The reads of a scan step, gathered so a backend can make them in as few round trips as it
/// can: the gate scanning is hot, and its cost is round trips. Every method has a default built
/// on the other repositories, so a backend need only write `impl ScanReads for MyStore {}`.
#[async_trait]
pub trait ScanReads:
    EventRepository + TicketTypeRepository + GateRepository + TicketRepository + ScanRepository
{
    /// A ticket with its type and event.
    async fn scan_view(&self, ticket_id: TicketId) -> Result<Option<ScanView>, StoreError> {
        match self.ticket(ticket_id).await? {
            Some(ticket) => view_of(self, ticket).await.map(Some),
            None => Ok(None),
        }
    }

    /// For a request by `agent`: the gate, and the ticket with `code` (when a code was read)
    /// as a view. The gate is as `agent` sees it: its agent list holds `agent` alone if assigned,
    /// and is empty otherwise (enough for [`Gate::has_agent`] and the rules, which is what a scan
    /// needs, in one read).
    async fn request_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        code: Option<ShortCode>,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        let gate = self.gate(gate_id).await?.map(|g| g.as_seen_by(agent));
        let view = match code {
            Some(code) => match self.ticket_by_code(code).await? {
                Some(ticket) => Some(view_of(self, ticket).await?),
                None => None,
            },
            None => None,
        };
        Ok((gate, view))
    }

    /// For a confirmation by `agent`: the gate (as `agent` sees it, as for
    /// [`ScanReads::request_context`]), and the session (when a token was given) with its
    /// ticket's view.
    async fn confirm_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        session: Option<&TokenHash>,
    ) -> Result<(Option<Gate>, Option<(ScanSession, ScanView)>), StoreError> {
        let gate = self.gate(gate_id).await?.map(|g| g.as_seen_by(agent));
        let Some(hash) = session else { return Ok((gate, None)) };
        let Some(session) = self.session(hash).await? else { return Ok((gate, None)) };
        let view = self.scan_view(session.ticket_id).await?.ok_or(StoreError::NotFound("ticket"))?;
        Ok((gate, Some((session, view))))
    }
}

async fn view_of<S: ScanReads + ?Sized>(store: &S, ticket: Ticket) -> Result<ScanView, StoreError> {
    let ticket_type = store.ticket_type(ticket.ticket_type_id()).await?.ok_or(StoreError::NotFound("ticket type"))?;
    let event = store.event(ticket.event_id()).await?.ok_or(StoreError::NotFound("event"))?;
    Ok(ScanView { ticket, ticket_type, event })
}

/// Magic links.
#[async_trait]
pub trait MagicLinkRepository: Send + Sync {
    /// Stores a link.
    async fn insert_magic_link(&self, link: &MagicLink) -> Result<(), StoreError>;
    /// A link by token hash.
    async fn magic_link(&self, token_hash: &TokenHash) -> Result<Option<MagicLink>, StoreError>;
    /// Revokes every unrevoked link of a ticket at `at`; returns how many.
    async fn revoke_magic_links(&self, ticket_id: TicketId, at: DateTime<Utc>) -> Result<u64, StoreError>;
    /// The unrevoked links of an event's tickets (of one ticket, when `ticket_id` is given),
    /// expired ones included, oldest first.
    async fn unrevoked_magic_links(
        &self,
        event_id: EventId,
        ticket_id: Option<TicketId>,
    ) -> Result<Vec<MagicLink>, StoreError>;
}

/// The audit trail.
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Appends an entry.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Entries, newest first, optionally of one event.
    async fn audit_entries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Advisory locks with an owner token and a time to live (Redis `SET NX PX` semantics), for
/// work that must run once at a time (a generation job's chunk, a scheduled task). They guard
/// work, never correctness of counters: that is the database's transaction.
#[async_trait]
pub trait Locks: Send + Sync {
    /// Takes `key` for `owner` for `ttl` if it is free or expired; whether it was taken.
    async fn try_lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// Releases `key` if `owner` still holds it; whether it did.
    async fn unlock(&self, key: &str, owner: &str) -> Result<bool, StoreError>;
}

/// The fingerprints of the keys a deployment's instances sign with (see [`crate::fleet`]).
#[async_trait]
pub trait KeyRegistry: Send + Sync {
    /// Every recorded fingerprint, by kind and id.
    async fn key_fingerprints(&self) -> Result<Vec<KeyFingerprint>, StoreError>;
    /// Records each of `fingerprints` whose kind and id has none yet (a recorded one is left as
    /// it is, whatever its digest), at `at`; returns every recorded fingerprint after, so two
    /// instances recording different keys at once both see the one that won.
    async fn record_key_fingerprints(
        &self,
        fingerprints: &[KeyFingerprint],
        at: DateTime<Utc>,
    ) -> Result<Vec<KeyFingerprint>, StoreError>;
}

/// Which jobs to list, newest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs of this event.
    pub event_id: Option<EventId>,
    /// Only jobs in this status.
    pub status: Option<JobStatus>,
    /// Page size.
    pub limit: u32,
}

/// The durable job queue, in the same database as the data (see [`crate::job`] for the life of a
/// job). Every method is one atomic step; the reports a worker makes on a job it holds
/// ([`JobQueue::heartbeat`], [`JobQueue::commit_chunk`], [`JobQueue::finish_job`]) apply only
/// while the worker's lease is the job's current one, and answer [`LeaseCheck`] otherwise.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Stores a queued job; `Conflict` if the id exists.
    async fn enqueue(&self, job: &Job) -> Result<(), StoreError>;
    /// Claims the most urgent due job of one of `kinds` under `lease`: a queued job whose
    /// `run_at` has come, or a running one whose lease lapsed (its worker is gone). Highest
    /// priority first, then the earliest due, then the oldest. A claim counts one attempt. A
    /// lapsed job with no attempts left is failed instead, and one whose cancel was requested is
    /// cancelled. `lease.worker` must be unique per claim.
    async fn claim(&self, kinds: &[&str], lease: &Lease, now: DateTime<Utc>) -> Result<Option<Job>, StoreError>;
    /// Records progress (`done` units) and extends the lease to `lease.until`.
    async fn heartbeat(
        &self,
        id: JobId,
        lease: &Lease,
        done: u64,
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError>;
    /// Commits a chunk of generated tickets with the progress it makes, in one atomic step:
    /// only if the lease holds, no cancel is asked, and the job's progress is still
    /// `done_before`; the batch is inserted as [`TicketRepository::insert_tickets`] does
    /// (quota errors and conflicts are returned and nothing is written), progress becomes
    /// `done_before + tickets.len()`, the lease is extended to `lease.until`, and `jobs` (what
    /// the new tickets cause: their holders' notifications) are enqueued.
    async fn commit_chunk(
        &self,
        id: JobId,
        lease: &Lease,
        done_before: u64,
        batch: &TicketBatch<'_>,
        jobs: &[Job],
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError>;
    /// Ends the job `lease` holds: succeeded, cancelled, failed for good, or failed with a retry
    /// at `retry_at` while attempts are left.
    async fn finish_job(
        &self,
        id: JobId,
        lease: &Lease,
        end: &JobEnd,
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError>;
    /// Cancels a job: a queued one at once; a running one is marked, and its worker stops at its
    /// next report. Ended jobs are left as they are. Returns the job as it is now.
    async fn cancel_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError>;
    /// Queues a failed or cancelled job again, due at `now`, with a fresh attempt budget and its
    /// progress kept; `Conflict` for a job that is queued, running or succeeded.
    async fn retry_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError>;
    /// A job by id.
    async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError>;
    /// Jobs matching `filter`, newest first, their tasks without a generation's holder list
    /// (read one job for it).
    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError>;
    /// How many jobs of `kind` are in `status` (a queue's depth, for metrics).
    async fn count_jobs(&self, kind: &str, status: JobStatus) -> Result<u64, StoreError>;
    /// Deletes the jobs that ended (succeeded, failed or cancelled) before `ended_before`; returns
    /// how many. Queued and running jobs are never touched.
    async fn purge_jobs(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// A new order and what is written with it: see [`OrderRepository::place_order`].
#[derive(Clone, Copy, Debug)]
pub struct OrderPlacement<'a> {
    /// The order.
    pub order: &'a Order,
    /// Its tickets, one batch per line (reserved for a pending order, paid for a desk sale).
    pub batches: &'a [TicketBatch<'a>],
    /// The jobs it causes (its hold's expiry, a notification).
    pub jobs: &'a [Job],
    /// A key that makes a retried placement find this order (unique per event).
    pub idempotency_key: Option<&'a str>,
    /// Whether the order takes its event's next receipt number (a desk sale).
    pub receipt: bool,
    /// The audit entry written with it, if the placement is audited ([`crate::audit::due`]).
    pub audit: Option<&'a AuditEntry>,
}

/// What [`OrderRepository::place_order`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The order was stored; here it is as stored (with its receipt number, if it took one).
    Placed(Order),
    /// An order with the same idempotency key exists at the event: nothing was written.
    Existing(Order),
}

/// A change of an order, applied only if its stored status is still `expected`: see
/// [`OrderRepository::change_order`].
#[derive(Clone, Copy, Debug)]
pub struct OrderChange<'a> {
    /// The order as it becomes.
    pub order: &'a Order,
    /// The status the stored order must still have.
    pub expected: OrderStatus,
    /// What happens to the order's tickets that are still `reserved` ([`TicketAction::Pay`] when
    /// it is paid, [`TicketAction::Invalidate`] when its hold ends), if anything.
    pub reserved_action: Option<TicketAction>,
    /// When the change happens (the tickets' `updated_at`).
    pub at: DateTime<Utc>,
    /// New tickets for the order (a late payment whose places are taken again), each batch
    /// within its quota as [`TicketRepository::insert_tickets`] checks.
    pub batches: &'a [TicketBatch<'a>],
    /// The jobs the change causes (a notification).
    pub jobs: &'a [Job],
    /// The payment delivery that causes the change, recorded with it (unique per provider and
    /// provider event id).
    pub delivery: Option<&'a PaymentDelivery>,
    /// The audit entry written with it, if the change is audited ([`crate::audit::due`]).
    pub audit: Option<&'a AuditEntry>,
}

/// What [`OrderRepository::change_order`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Everything was applied.
    Applied,
    /// Nothing was applied: the order's status is no longer `expected`; read and decide again.
    Stale,
    /// Nothing was applied: this delivery was recorded before; here it is as first recorded.
    Duplicate(Box<PaymentDelivery>),
}

/// A refund recorded with what it changes: see [`OrderRepository::refund`].
#[derive(Clone, Copy, Debug)]
pub struct RefundStep<'a> {
    /// The order as it becomes (its refunded amount raised by the refund's).
    pub order: &'a Order,
    /// The refunded amount (minor units) the stored order must still have.
    pub expected_refunded: i64,
    /// The refund.
    pub refund: &'a Refund,
    /// The refunded tickets' changes, each a compare-and-set on its version.
    pub tickets: &'a [TicketUpdate],
    /// The jobs it causes (asking the provider to pay it back, a notification).
    pub jobs: &'a [Job],
    /// The provider's delivery that reported it (a refund made at the provider), recorded with it.
    pub delivery: Option<&'a PaymentDelivery>,
    /// The audit entry written with it, if the refund is audited ([`crate::audit::due`]).
    pub audit: Option<&'a AuditEntry>,
}

/// Which orders to list, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// The event (required: orders are listed per event).
    pub event_id: Option<EventId>,
    /// Only orders in this status.
    pub status: Option<OrderStatus>,
    /// Page size (0: all).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// Orders, their tickets and the payment deliveries that change them (see [`crate::order`]).
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// Stores an order with its tickets in one atomic step: every batch within its type's quota
    /// and the event's capacity (as [`TicketRepository::insert_tickets`] checks), each ticket
    /// linked to the order at its line's unit price, the jobs enqueued, and, when asked, the
    /// event's next receipt number taken (gap-free: it is taken in the same transaction), and the
    /// audit entry appended (then marked [`crate::audit::committed`]). All or nothing: `Quota` when
    /// a batch does not fit. With an idempotency key already used at the
    /// event, nothing is written and the existing order is returned.
    async fn place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError>;
    /// An order by id.
    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError>;
    /// An order by the hash of its buyer's token.
    async fn order_by_token(&self, token_hash: &TokenHash) -> Result<Option<Order>, StoreError>;
    /// The order paid with this provider reference, if any.
    async fn order_by_reference(&self, provider: &str, reference: &str) -> Result<Option<Order>, StoreError>;
    /// The tickets of an order, oldest first.
    async fn order_tickets(&self, id: OrderId) -> Result<Vec<Ticket>, StoreError>;
    /// The order a ticket was sold in, if it was sold in one.
    async fn ticket_order(&self, ticket_id: TicketId) -> Result<Option<OrderId>, StoreError>;
    /// Orders matching `filter`, oldest first.
    async fn orders(&self, filter: &OrderFilter) -> Result<Vec<Order>, StoreError>;
    /// Applies a change to an order in one atomic step: records the delivery (a duplicate
    /// applies nothing and returns the first record), replaces the order if its stored status is
    /// still `expected` (else nothing is applied: `Stale`), moves its reserved tickets, inserts
    /// new tickets within their quotas (a `Quota` error applies nothing), enqueues the jobs and
    /// appends the audit entry (then marked [`crate::audit::committed`]).
    async fn change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError>;
    /// Records a delivery that changes no order; `Some(first record)` if it was recorded before.
    async fn record_delivery(&self, delivery: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError>;
    /// Deliveries, newest first: of one event's orders when `event_id` is given.
    async fn deliveries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<PaymentDelivery>, StoreError>;
    /// Records a refund in one atomic step: the delivery (a duplicate applies nothing), the
    /// order's refunded amount if it is still `expected_refunded` (else `Stale`), each ticket's
    /// compare-and-set (a lost one: `Stale`, nothing applied), the refund, its jobs and the audit
    /// entry (then marked [`crate::audit::committed`]).
    async fn refund(&self, step: &RefundStep<'_>) -> Result<ChangeOutcome, StoreError>;
    /// A refund by id.
    async fn refund_by_id(&self, id: RefundId) -> Result<Option<Refund>, StoreError>;
    /// An order's refunds, oldest first.
    async fn refunds(&self, order_id: OrderId) -> Result<Vec<Refund>, StoreError>;
    /// Replaces a refund's status, provider refund id and failure (what the provider answered).
    async fn settle_refund(&self, refund: &Refund) -> Result<(), StoreError>;
}

/// Staff users and roles.
#[async_trait]
pub trait UserRepository: Send + Sync {
    /// Stores the roles that are missing, with their descriptions; how many were added.
    async fn ensure_roles(&self, roles: &[Role]) -> Result<u64, StoreError>;
    /// The roles stored.
    async fn roles(&self) -> Result<Vec<Role>, StoreError>;
    /// Stores a new user; `Conflict` if the id or the email (case-insensitively) is taken,
    /// `NotFound` if the role is not stored.
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// A user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// A user by email, case-insensitively.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// The users with a role, oldest first.
    async fn users_with_role(&self, role: Role) -> Result<Vec<User>, StoreError>;
    /// Replaces a user (everything but the id and creation time); `NotFound` if absent,
    /// `Conflict` if the email is another user's, and `Conflict`
    /// ([`LAST_SUPERADMIN`](crate::user::LAST_SUPERADMIN)) if it would leave no active
    /// superadmin. That check and the write are one atomic step: of concurrent demotions of the
    /// last two superadmins, one is refused.
    async fn update_user(&self, user: &User) -> Result<(), StoreError>;
    /// Users, oldest first, a page at a time (`limit` 0: all).
    async fn users(&self, limit: u32, offset: u32) -> Result<Vec<User>, StoreError>;
}

/// OAuth2 clients and the tokens handed out (see [`crate::credential`]).
#[async_trait]
pub trait CredentialRepository: Send + Sync {
    /// Stores a client; `Conflict` if its id or `client_id` is taken, `NotFound` if its owner
    /// does not exist.
    async fn insert_api_client(&self, client: &ApiClient) -> Result<(), StoreError>;
    /// A client by its public `client_id`.
    async fn api_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError>;
    /// A client by id.
    async fn api_client_by_id(&self, id: ApiClientId) -> Result<Option<ApiClient>, StoreError>;
    /// Clients, oldest first; only those `owner` owns when given.
    async fn api_clients(&self, owner: Option<UserId>) -> Result<Vec<ApiClient>, StoreError>;
    /// Revokes a client and every token issued to it, at `at`; whether it was active.
    async fn revoke_api_client(&self, id: ApiClientId, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Stores issued tokens, all or none; `Conflict` on a hash already stored.
    async fn insert_tokens(&self, tokens: &[StoredToken]) -> Result<(), StoreError>;
    /// A token by hash, active or not.
    async fn token(&self, hash: &TokenHash) -> Result<Option<StoredToken>, StoreError>;
    /// Presents the refresh token `hash` at `at`, in one atomic step: an active refresh token
    /// is spent and `issue` stored ([`Rotation::Rotated`]); a spent or revoked one revokes its
    /// whole family ([`Rotation::Reused`]); anything else changes nothing. Of concurrent
    /// presentations of one token, one rotates.
    async fn rotate_refresh(
        &self,
        hash: &TokenHash,
        issue: &[StoredToken],
        at: DateTime<Utc>,
    ) -> Result<Rotation, StoreError>;
    /// Revokes a token at `at`, and with a refresh token its whole family (RFC 7009 §2.1);
    /// whether anything was active.
    async fn revoke_token(&self, hash: &TokenHash, at: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Revokes every active token of a user and of the clients they own (a deactivated user, a
    /// changed password); how many.
    async fn revoke_user_tokens(&self, user: UserId, at: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Deletes tokens that expired before `before`; how many.
    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Who works at which event: an organizer reaches only the events they have a duty at, a
/// cashier sells only there (agents are assigned to gates instead, see [`Gate`]).
#[async_trait]
pub trait StaffRepository: Send + Sync {
    /// Stores a new event with its first staff, all or none (`Conflict` if the id exists,
    /// `NotFound` if a user does not).
    async fn insert_staffed_event(&self, event: &Event, staff: &[StaffAssignment]) -> Result<(), StoreError>;
    /// Gives `assignment.user_id` the duty at `event_id`, replacing any other duty there;
    /// `NotFound` if the event or the user does not exist.
    async fn assign_staff(&self, event_id: EventId, assignment: StaffAssignment) -> Result<(), StoreError>;
    /// Removes a user's duty at an event; whether they had one.
    async fn unassign_staff(&self, event_id: EventId, user_id: UserId) -> Result<bool, StoreError>;
    /// The staff of an event, by user id.
    async fn event_staff(&self, event_id: EventId) -> Result<Vec<StaffAssignment>, StoreError>;
}

/// Template versions and the version each ticket is pinned to (see [`crate::template`]).
#[async_trait]
pub trait TemplateRepository: Send + Sync {
    /// Saves `body` as the next version of `template_id` (version 1 for a new id, which is then
    /// created for `event_id`, or for every event when `None`; a later save keeps that scope and
    /// renames the template to `name`). Concurrent saves get distinct, consecutive versions.
    /// `Conflict` if another template of the same event already has `name`.
    async fn save_template_version(
        &self,
        template_id: TemplateId,
        event_id: Option<EventId>,
        name: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<TemplateVersion, StoreError>;

    /// One version, or the latest when `version` is `None`.
    async fn template_version(
        &self,
        template_id: TemplateId,
        version: Option<u32>,
    ) -> Result<Option<TemplateVersion>, StoreError>;

    /// Every version of a template, oldest first.
    async fn template_versions(&self, template_id: TemplateId) -> Result<Vec<TemplateVersion>, StoreError>;

    /// Pins `ticket_id` to `pin` unless it is pinned already, and returns the pin in force: the
    /// first pin wins, whoever asks. `NotFound` if the ticket or the version does not exist.
    async fn pin_ticket_template(&self, ticket_id: TicketId, pin: TemplatePin) -> Result<TemplatePin, StoreError>;

    /// The version a ticket is pinned to, if any.
    async fn ticket_template(&self, ticket_id: TicketId) -> Result<Option<TemplatePin>, StoreError>;

    /// Pins every ticket of `ticket_ids` not pinned yet to `pin`, in one step, and returns the
    /// pin in force of each of them (tickets that do not exist are left out): the bulk form of
    /// [`Self::pin_ticket_template`], for drawing many tickets at once. `NotFound` if the
    /// version does not exist.
    async fn pin_ticket_templates(
        &self,
        ticket_ids: &[TicketId],
        pin: TemplatePin,
    ) -> Result<HashMap<TicketId, TemplatePin>, StoreError>;

    /// The pins of those of `ticket_ids` that are pinned.
    async fn ticket_templates(&self, ticket_ids: &[TicketId]) -> Result<HashMap<TicketId, TemplatePin>, StoreError>;

    /// A template's summary.
    async fn template(&self, template_id: TemplateId) -> Result<Option<TemplateSummary>, StoreError>;

    /// The templates of an event, oldest first.
    async fn templates(&self, event_id: EventId) -> Result<Vec<TemplateSummary>, StoreError>;

    /// Makes `pin` its template's active version and, for a template of an event, the event's
    /// only active template (another active one of the event stops being so), in one step.
    /// `NotFound` if the version does not exist.
    async fn activate_template(&self, pin: TemplatePin) -> Result<TemplateSummary, StoreError>;
}

/// The record of each message of each notification job ([`crate::notification`]).
#[async_trait]
pub trait NotificationLog: Send + Sync {
    /// Records `record` as its job's message to its channel and recipient: inserted the first
    /// time, replaced after.
    async fn record_notification(&self, record: &DeliveryRecord) -> Result<(), StoreError>;
    /// A job's records, by channel then recipient.
    async fn job_notifications(&self, job_id: JobId) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// An event's records, most recently changed first, at most `limit`.
    async fn event_notifications(&self, event_id: EventId, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError>;
}

/// An event's own message templates, replacing the built-in ones topic by topic and language by
/// language ([`crate::notification::templates`]).
#[async_trait]
pub trait MessageTemplateRepository: Send + Sync {
    /// Saves `template` as its event's for its topic and language, replacing any before.
    /// `NotFound` when the event does not exist.
    async fn save_message_template(&self, template: &MessageTemplate) -> Result<(), StoreError>;
    /// The event's own template for `topic` in `locale`, if it has one.
    async fn message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<Option<MessageTemplate>, StoreError>;
    /// The event's own templates, by topic then language.
    async fn message_templates(&self, event_id: EventId) -> Result<Vec<MessageTemplate>, StoreError>;
    /// Drops the event's own template for `topic` in `locale` (the built-in one is used again);
    /// whether there was one.
    async fn delete_message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<bool, StoreError>;
}

/// A delivery attempt's outcome, as an endpoint's record keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookAttempt {
    /// When.
    pub at: DateTime<Utc>,
    /// Why it failed; `None` when it was delivered.
    pub error: Option<String>,
    /// A failure disables the endpoint when it has failed every attempt since this instant or
    /// before.
    pub disable_if_failing_since: DateTime<Utc>,
}

/// Integrators' webhook endpoints ([`crate::hook`]).
#[async_trait]
pub trait HookRepository: Send + Sync {
    /// Stores a new endpoint; `NotFound` when its event does not exist.
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    /// An endpoint by id.
    async fn endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError>;
    /// An event's endpoints, oldest first.
    async fn endpoints(&self, event_id: EventId) -> Result<Vec<Endpoint>, StoreError>;
    /// Deletes an endpoint; whether it existed.
    async fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError>;
    /// Enables an endpoint again, its run of failures forgotten; `None` when it does not exist.
    async fn enable_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError>;
    /// Records a delivery attempt: a success ends the endpoint's run of failures; a failure
    /// starts or extends it and, when the run began at or before `disable_if_failing_since`,
    /// disables the endpoint and enqueues `notice` in the same step. Returns whether this
    /// attempt disabled it (true for one attempt only, however many workers fail at once).
    async fn record_hook_attempt(
        &self,
        id: EndpointId,
        attempt: &HookAttempt,
        notice: &Job,
    ) -> Result<bool, StoreError>;
}

/// Counts for dashboards, grouped where the data is.
#[async_trait]
pub trait StatsRepository: Send + Sync {
    /// An event's tickets by type and status, its scan-log lines by gate, stage, direction and
    /// reason, and its applied confirmations by `bucket`-long slice of time (aligned on the Unix
    /// epoch; see [`crate::stats::bucket_start`]).
    async fn event_counts(&self, event_id: EventId, bucket: chrono::Duration) -> Result<EventCounts, StoreError>;
}

/// Everything the engine needs from storage.
pub trait Store:
    EventRepository
    + TicketTypeRepository
    + GateRepository
    + TicketRepository
    + ScanRepository
    + ScanReads
    + MagicLinkRepository
    + AuditRepository
    + JobQueue
    + UserRepository
    + TemplateRepository
    + CredentialRepository
    + StaffRepository
    + StatsRepository
    + OrderRepository
    + NotificationLog
    + MessageTemplateRepository
    + HookRepository
    + Locks
    + KeyRegistry
{
}

impl<T> Store for T where
    T: EventRepository
        + TicketTypeRepository
        + GateRepository
        + TicketRepository
        + ScanRepository
        + ScanReads
        + MagicLinkRepository
        + AuditRepository
        + JobQueue
        + UserRepository
        + TemplateRepository
        + CredentialRepository
        + StaffRepository
        + StatsRepository
        + OrderRepository
        + NotificationLog
        + MessageTemplateRepository
        + HookRepository
        + Locks
        + KeyRegistry
{
}
