//! Redis beside a SQL store: scan sessions (TTL, single use) and advisory locks (owner token,
//! TTL) move to Redis; everything else stays in the database, which remains the record.
//!
//! Nothing is lost when a key expires or Redis restarts: a lost session means the agent scans
//! again (sessions live seconds), a lost lock means two workers may start the same work, which
//! the database's conditional updates make harmless. Entries are still decided in the database:
//! a confirmation writes the ticket and the log line in its transaction, then spends the Redis
//! session, then commits, so a session spent twice or a ticket confirmed from two gates at once
//! still enters once. When Redis cannot be reached, scans fail closed with
//! [`StoreError::Unavailable`] and nothing is written.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use ticketing_core::audit::AuditEntry;
use ticketing_core::credential::{ApiClient, Rotation, StaffAssignment, StoredToken};
use ticketing_core::event::Event;
use ticketing_core::fleet::KeyFingerprint;
use ticketing_core::gate::Gate;
use ticketing_core::hook::Endpoint;
use ticketing_core::ids::{
    ApiClientId, EndpointId, EventId, GateId, JobId, OrderId, RefundId, TemplateId, TicketId, TicketTypeId, UserId,
};
use ticketing_core::job::{Job, JobEnd, JobStatus, Lease, LeaseCheck, NotificationTopic};
use ticketing_core::magic_link::{MagicLink, TokenHash};
use ticketing_core::notification::DeliveryRecord;
use ticketing_core::notification::templates::MessageTemplate;
use ticketing_core::order::{Locale, Order};
use ticketing_core::payment::PaymentDelivery;
use ticketing_core::quota::Allocation;
use ticketing_core::refund::Refund;
use ticketing_core::scan::{Direction, Nonce, ScanLog, ScanSession};
use ticketing_core::short_code::ShortCode;
use ticketing_core::stats::EventCounts;
use ticketing_core::store::{
    AuditRepository, ChangeOutcome, CommitOutcome, CredentialRepository, EventFilter, EventRepository, GateRepository,
    HookAttempt, HookRepository, JobFilter, JobQueue, KeyRegistry, Locks, MagicLinkRepository,
    MessageTemplateRepository, NotificationLog, OrderChange, OrderFilter, OrderPlacement, OrderRepository, Placement,
    RefundStep, ScanCommit, ScanLogFilter, ScanReads, ScanRepository, ScanView, StaffRepository, StatsRepository,
    Store, StoreError, TemplateRepository, TicketBatch, TicketFilter, TicketRepository, TicketTypeRepository,
    UserRepository,
};
use ticketing_core::template::{TemplatePin, TemplateSummary, TemplateVersion};
use ticketing_core::ticket::Ticket;
use ticketing_core::ticket_type::TicketType;
use ticketing_core::user::{Role, User};

use crate::OpenError;
use crate::codec::{corrupt, direction, expiry, instant, join, micros, opt_instant, split};

/// What spending a session did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spent {
    /// It was unspent and unexpired: it is spent now.
    Now,
    /// It was spent before.
    Already,
    /// It expired, or never existed (or its key is gone).
    Expired,
}

/// Where scan sessions live when not in the database.
#[async_trait]
pub trait SessionSpender: Send + Sync {
    /// Spends the session at `at` if it is unspent and unexpired, atomically.
    async fn spend(&self, session: &TokenHash, at: DateTime<Utc>) -> Result<Spent, StoreError>;
    /// Undoes [`spend`](Self::spend) made at `at`, when the commit it guarded failed.
    async fn unspend(&self, session: &TokenHash, at: DateTime<Utc>) -> Result<(), StoreError>;
}

/// A store that can apply a confirmation while its session is spent elsewhere.
#[async_trait]
pub trait ExternalSessions: Store {
    /// The gate `gate_id` as `agent` sees it, and ticket `ticket_id` (a session's) with its type
    /// and event, in one read: a confirmation's context once its session was read elsewhere.
    async fn ticket_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        ticket_id: TicketId,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError>;

    /// Like [`ScanRepository::commit_scan`], with the session spent by `sessions` inside the
    /// transaction's lifetime: a refused spend applies nothing.
    async fn commit_scan_spending(
        &self,
        commit: &ScanCommit,
        sessions: &dyn SessionSpender,
    ) -> Result<CommitOutcome, StoreError>;
}

/// Spends a session: `now`, `used` or `expired`.
const SPEND: &str = r"
local expires = redis.call('HGET', KEYS[1], 'expires_at')
if not expires then return 'expired' end
if redis.call('HEXISTS', KEYS[1], 'used_at') == 1 then return 'used' end
if tonumber(expires) <= tonumber(ARGV[1]) then return 'expired' end
redis.call('HSET', KEYS[1], 'used_at', ARGV[1])
return 'now'
";

/// Gives a session back if it is still marked spent at `ARGV[1]`.
const UNSPEND: &str = r"
if redis.call('HGET', KEYS[1], 'used_at') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'used_at')
  return 1
end
return 0
";

/// Takes a lock stored as `<expiry micros> <owner>` if absent or expired by the caller's clock.
const TRY_LOCK: &str = r"
local held = redis.call('GET', KEYS[1])
if held then
  local space = string.find(held, ' ', 1, true)
  if tonumber(string.sub(held, 1, space - 1)) > tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3] .. ' ' .. ARGV[1], 'PX', ARGV[4])
return 1
";

/// Releases a lock held, unexpired, by `ARGV[1]`.
const UNLOCK: &str = r"
local held = redis.call('GET', KEYS[1])
if not held then return 0 end
local space = string.find(held, ' ', 1, true)
if string.sub(held, space + 1) ~= ARGV[1] or tonumber(string.sub(held, 1, space - 1)) <= tonumber(ARGV[2]) then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
";

/// How long a spent or expired session stays readable (to answer `session_used`).
const SESSION_GRACE: Duration = Duration::from_secs(600);

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// A client of the Redis at `url` and a connection (multiplexed, reconnecting) whose commands
/// time out after two seconds, so a caller gets an answer (an error) rather than a hang.
pub(crate) async fn connect(url: &str) -> Result<(redis::Client, ConnectionManager), OpenError> {
    let client = redis::Client::open(url).map_err(OpenError::Redis)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(2);
    let redis = ConnectionManager::new_with_config(client.clone(), config).await.map_err(OpenError::Redis)?;
    Ok((client, redis))
}

/// A SQL store `S` with Redis holding scan sessions and locks.
#[derive(Clone)]
pub struct RedisLayer<S> {
    db: S,
    redis: ConnectionManager,
    prefix: String,
    clock: std::sync::Arc<dyn ticketing_core::env::Clock>,
    spend: Script,
    unspend: Script,
    try_lock: Script,
    unlock: Script,
}

impl<S> std::fmt::Debug for RedisLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLayer").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl<S: ExternalSessions> RedisLayer<S> {
    /// Connects to Redis at `url` (`redis://host:port/db`) in front of `db`. Every key starts with
    /// `prefix`, so several deployments (or test runs) can share a server. `clock` times lock
    /// expiry, like the database store's. Commands time out after two seconds, so a gate gets an
    /// answer (an error, failing closed) rather than a hang.
    pub async fn connect(
        db: S,
        url: &str,
        prefix: &str,
        clock: std::sync::Arc<dyn ticketing_core::env::Clock>,
    ) -> Result<Self, OpenError> {
        let (_, redis) = connect(url).await?;
        Ok(Self {
            db,
            redis,
            prefix: prefix.to_owned(),
            clock,
            spend: Script::new(SPEND),
            unspend: Script::new(UNSPEND),
            try_lock: Script::new(TRY_LOCK),
            unlock: Script::new(UNLOCK),
        })
    }

    /// The database store behind.
    pub fn database(&self) -> &S {
        &self.db
    }

    /// A connection to Redis (multiplexed and reconnecting), for health checks and tools.
    pub fn redis(&self) -> ConnectionManager {
        self.redis.clone()
    }

    fn session_key(&self, hash: &TokenHash) -> String {
        format!("{}session:{}", self.prefix, hex::encode(hash.0))
    }

    fn lock_key(&self, key: &str) -> String {
        format!("{}lock:{key}", self.prefix)
    }
}

#[async_trait]
impl<S: ExternalSessions> SessionSpender for RedisLayer<S> {
    async fn spend(&self, session: &TokenHash, at: DateTime<Utc>) -> Result<Spent, StoreError> {
        let mut redis = self.redis.clone();
        let outcome: String = self
            .spend
            .key(self.session_key(session))
            .arg(micros(at))
            .invoke_async(&mut redis)
            .await
            .map_err(unavailable)?;
        match outcome.as_str() {
            "now" => Ok(Spent::Now),
            "used" => Ok(Spent::Already),
            "expired" => Ok(Spent::Expired),
            other => Err(corrupt("session spend", other)),
        }
    }

    async fn unspend(&self, session: &TokenHash, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let _: i64 = self
            .unspend
            .key(self.session_key(session))
            .arg(micros(at))
            .invoke_async(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[async_trait]
impl<S: ExternalSessions> ScanRepository for RedisLayer<S> {
    async fn insert_session(&self, session: &ScanSession) -> Result<(), StoreError> {
        let key = self.session_key(&session.token_hash);
        let allowed: Vec<&str> = session.allowed.iter().map(Direction::as_str).collect();
        let mut fields = vec![
            ("ticket", session.ticket_id.to_string()),
            ("event", session.event_id.to_string()),
            ("gate", session.gate_id.to_string()),
            ("agent", session.agent_id.to_string()),
            ("allowed", join(&allowed)),
            ("created_at", micros(session.created_at).to_string()),
            ("expires_at", micros(session.expires_at).to_string()),
        ];
        if let Some(at) = session.code_expires_at {
            fields.push(("code_expires_at", micros(at).to_string()));
        }
        if let Some(at) = session.used_at {
            fields.push(("used_at", micros(at).to_string()));
        }
        let lifetime = (session.expires_at - session.created_at).to_std().unwrap_or_default() + SESSION_GRACE;
        let ttl_ms = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
        let mut redis = self.redis.clone();
        redis::pipe()
            .atomic()
            .hset_multiple(&key, &fields)
            .ignore()
            .pexpire(&key, ttl_ms)
            .ignore()
            .query_async::<()>(&mut redis)
            .await
            .map_err(unavailable)
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<ScanSession>, StoreError> {
        let mut redis = self.redis.clone();
        let fields: std::collections::HashMap<String, String> =
            redis.hgetall(self.session_key(token_hash)).await.map_err(unavailable)?;
        if fields.is_empty() {
            return Ok(None);
        }
        let text = |name: &str| fields.get(name).ok_or_else(|| corrupt("session field", name));
        let at = |name: &str| -> Result<Option<i64>, StoreError> {
            fields.get(name).map(|v| v.parse().map_err(|_| corrupt(name, v))).transpose()
        };
        let id = |name: &str| -> Result<uuid::Uuid, StoreError> {
            let v = text(name)?;
            v.parse().map_err(|_| corrupt(name, v))
        };
        let allowed = split::<String>(text("allowed")?)?.iter().map(|d| direction(d)).collect::<Result<_, _>>()?;
        Ok(Some(ScanSession {
            token_hash: *token_hash,
            ticket_id: TicketId::from_uuid(id("ticket")?),
            event_id: EventId::from_uuid(id("event")?),
            gate_id: GateId::from_uuid(id("gate")?),
            agent_id: UserId::from_uuid(id("agent")?),
            allowed,
            code_expires_at: opt_instant(at("code_expires_at")?)?,
            created_at: instant(at("created_at")?.ok_or_else(|| corrupt("session field", "created_at"))?)?,
            expires_at: instant(at("expires_at")?.ok_or_else(|| corrupt("session field", "expires_at"))?)?,
            used_at: opt_instant(at("used_at")?)?,
        }))
    }

    async fn commit_scan(&self, commit: &ScanCommit) -> Result<CommitOutcome, StoreError> {
        self.db.commit_scan_spending(commit, self).await
    }

    async fn insert_scan_log(&self, log: &ScanLog) -> Result<(), StoreError> {
        self.db.insert_scan_log(log).await
    }

    async fn scan_by_nonce(&self, agent: UserId, nonce: &Nonce) -> Result<Option<ScanLog>, StoreError> {
        self.db.scan_by_nonce(agent, nonce).await
    }

    async fn scan_logs(&self, filter: &ScanLogFilter) -> Result<Vec<ScanLog>, StoreError> {
        self.db.scan_logs(filter).await
    }
}

#[async_trait]
impl<S: ExternalSessions> KeyRegistry for RedisLayer<S> {
    async fn key_fingerprints(&self) -> Result<Vec<KeyFingerprint>, StoreError> {
        self.db.key_fingerprints().await
    }

    async fn record_key_fingerprints(
        &self,
        fingerprints: &[KeyFingerprint],
        at: DateTime<Utc>,
    ) -> Result<Vec<KeyFingerprint>, StoreError> {
        self.db.record_key_fingerprints(fingerprints, at).await
    }
}

#[async_trait]
impl<S: ExternalSessions> Locks for RedisLayer<S> {
    async fn try_lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let until = expiry(now, ttl);
        // Redis drops the key after the TTL in its own time too, so nothing is left behind.
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut redis = self.redis.clone();
        let taken: i64 = self
            .try_lock
            .key(self.lock_key(key))
            .arg(owner)
            .arg(micros(now))
            .arg(micros(until))
            .arg(ttl_ms)
            .invoke_async(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok(taken == 1)
    }

    async fn unlock(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let mut redis = self.redis.clone();
        let released: i64 = self
            .unlock
            .key(self.lock_key(key))
            .arg(owner)
            .arg(micros(self.clock.now()))
            .invoke_async(&mut redis)
            .await
            .map_err(unavailable)?;
        Ok(released == 1)
    }
}

// Everything else is the database's, unchanged.

#[async_trait]
impl<S: ExternalSessions> EventRepository for RedisLayer<S> {
    async fn insert_event(&self, event: &Event) -> Result<(), StoreError> {
        self.db.insert_event(event).await
    }
    async fn update_event(&self, event: &Event) -> Result<(), StoreError> {
        self.db.update_event(event).await
    }
    async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.db.event(id).await
    }
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        self.db.list_events(filter).await
    }
    async fn delete_event(&self, id: EventId) -> Result<(), StoreError> {
        self.db.delete_event(id).await
    }
}

#[async_trait]
impl<S: ExternalSessions> TicketTypeRepository for RedisLayer<S> {
    async fn insert_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError> {
        self.db.insert_ticket_type(ticket_type).await
    }
    async fn update_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError> {
        self.db.update_ticket_type(ticket_type).await
    }
    async fn ticket_type(&self, id: TicketTypeId) -> Result<Option<TicketType>, StoreError> {
        self.db.ticket_type(id).await
    }
    async fn ticket_types(&self, event_id: EventId) -> Result<Vec<TicketType>, StoreError> {
        self.db.ticket_types(event_id).await
    }
    async fn delete_ticket_type(&self, id: TicketTypeId) -> Result<(), StoreError> {
        self.db.delete_ticket_type(id).await
    }
}

#[async_trait]
impl<S: ExternalSessions> GateRepository for RedisLayer<S> {
    async fn insert_gate(&self, gate: &Gate) -> Result<(), StoreError> {
        self.db.insert_gate(gate).await
    }
    async fn update_gate(&self, gate: &Gate) -> Result<(), StoreError> {
        self.db.update_gate(gate).await
    }
    async fn gate(&self, id: GateId) -> Result<Option<Gate>, StoreError> {
        self.db.gate(id).await
    }
    async fn gates(&self, event_id: EventId) -> Result<Vec<Gate>, StoreError> {
        self.db.gates(event_id).await
    }
    async fn gates_of_agent(&self, agent: UserId) -> Result<Vec<Gate>, StoreError> {
        self.db.gates_of_agent(agent).await
    }
    async fn delete_gate(&self, id: GateId) -> Result<(), StoreError> {
        self.db.delete_gate(id).await
    }
}

#[async_trait]
impl<S: ExternalSessions> TicketRepository for RedisLayer<S> {
    async fn insert_tickets(&self, batch: &TicketBatch<'_>, jobs: &[Job]) -> Result<(), StoreError> {
        self.db.insert_tickets(batch, jobs).await
    }
    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        self.db.ticket(id).await
    }
    async fn ticket_by_code(&self, code: ShortCode) -> Result<Option<Ticket>, StoreError> {
        self.db.ticket_by_code(code).await
    }
    async fn taken_short_codes(&self, codes: &[ShortCode]) -> Result<Vec<ShortCode>, StoreError> {
        self.db.taken_short_codes(codes).await
    }
    async fn update_ticket(&self, ticket: &Ticket, expected_version: u64) -> Result<(), StoreError> {
        self.db.update_ticket(ticket, expected_version).await
    }
    async fn allocation(&self, ticket_type_id: TicketTypeId) -> Result<Allocation, StoreError> {
        self.db.allocation(ticket_type_id).await
    }
    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        self.db.tickets(filter).await
    }
}

#[async_trait]
impl<S: ExternalSessions> MagicLinkRepository for RedisLayer<S> {
    async fn insert_magic_link(&self, link: &MagicLink) -> Result<(), StoreError> {
        self.db.insert_magic_link(link).await
    }
    async fn magic_link(&self, token_hash: &TokenHash) -> Result<Option<MagicLink>, StoreError> {
        self.db.magic_link(token_hash).await
    }
    async fn revoke_magic_links(&self, ticket_id: TicketId, at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.db.revoke_magic_links(ticket_id, at).await
    }
    async fn unrevoked_magic_links(
        &self,
        event_id: EventId,
        ticket_id: Option<TicketId>,
    ) -> Result<Vec<MagicLink>, StoreError> {
        self.db.unrevoked_magic_links(event_id, ticket_id).await
    }
}

#[async_trait]
impl<S: ExternalSessions> TemplateRepository for RedisLayer<S> {
    async fn save_template_version(
        &self,
        template_id: TemplateId,
        event_id: Option<EventId>,
        name: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<TemplateVersion, StoreError> {
        self.db.save_template_version(template_id, event_id, name, body, at).await
    }
    async fn template_version(
        &self,
        template_id: TemplateId,
        version: Option<u32>,
    ) -> Result<Option<TemplateVersion>, StoreError> {
        self.db.template_version(template_id, version).await
    }
    async fn template_versions(&self, template_id: TemplateId) -> Result<Vec<TemplateVersion>, StoreError> {
        self.db.template_versions(template_id).await
    }
    async fn pin_ticket_template(&self, ticket_id: TicketId, pin: TemplatePin) -> Result<TemplatePin, StoreError> {
        self.db.pin_ticket_template(ticket_id, pin).await
    }
    async fn ticket_template(&self, ticket_id: TicketId) -> Result<Option<TemplatePin>, StoreError> {
        self.db.ticket_template(ticket_id).await
    }
    async fn pin_ticket_templates(
        &self,
        ticket_ids: &[TicketId],
        pin: TemplatePin,
    ) -> Result<HashMap<TicketId, TemplatePin>, StoreError> {
        self.db.pin_ticket_templates(ticket_ids, pin).await
    }
    async fn ticket_templates(&self, ticket_ids: &[TicketId]) -> Result<HashMap<TicketId, TemplatePin>, StoreError> {
        self.db.ticket_templates(ticket_ids).await
    }
    async fn template(&self, template_id: TemplateId) -> Result<Option<TemplateSummary>, StoreError> {
        self.db.template(template_id).await
    }
    async fn templates(&self, event_id: EventId) -> Result<Vec<TemplateSummary>, StoreError> {
        self.db.templates(event_id).await
    }
    async fn activate_template(&self, pin: TemplatePin) -> Result<TemplateSummary, StoreError> {
        self.db.activate_template(pin).await
    }
}

#[async_trait]
impl<S: ExternalSessions> NotificationLog for RedisLayer<S> {
    async fn record_notification(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        self.db.record_notification(record).await
    }
    async fn job_notifications(&self, job_id: JobId) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.db.job_notifications(job_id).await
    }
    async fn event_notifications(&self, event_id: EventId, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.db.event_notifications(event_id, limit).await
    }
}

#[async_trait]
impl<S: ExternalSessions> HookRepository for RedisLayer<S> {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.db.insert_endpoint(endpoint).await
    }
    async fn endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        self.db.endpoint(id).await
    }
    async fn endpoints(&self, event_id: EventId) -> Result<Vec<Endpoint>, StoreError> {
        self.db.endpoints(event_id).await
    }
    async fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError> {
        self.db.delete_endpoint(id).await
    }
    async fn enable_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        self.db.enable_endpoint(id).await
    }
    async fn record_hook_attempt(
        &self,
        id: EndpointId,
        attempt: &HookAttempt,
        notice: &Job,
    ) -> Result<bool, StoreError> {
        self.db.record_hook_attempt(id, attempt, notice).await
    }
}

#[async_trait]
impl<S: ExternalSessions> MessageTemplateRepository for RedisLayer<S> {
    async fn save_message_template(&self, template: &MessageTemplate) -> Result<(), StoreError> {
        self.db.save_message_template(template).await
    }
    async fn message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<Option<MessageTemplate>, StoreError> {
        self.db.message_template(event_id, topic, locale).await
    }
    async fn message_templates(&self, event_id: EventId) -> Result<Vec<MessageTemplate>, StoreError> {
        self.db.message_templates(event_id).await
    }
    async fn delete_message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<bool, StoreError> {
        self.db.delete_message_template(event_id, topic, locale).await
    }
}

#[async_trait]
impl<S: ExternalSessions> AuditRepository for RedisLayer<S> {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.db.append_audit(entry).await
    }
    async fn audit_entries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        self.db.audit_entries(event_id, limit).await
    }
}

#[async_trait]
impl<S: ExternalSessions> JobQueue for RedisLayer<S> {
    async fn enqueue(&self, job: &Job) -> Result<(), StoreError> {
        self.db.enqueue(job).await
    }
    async fn claim(&self, kinds: &[&str], lease: &Lease, now: DateTime<Utc>) -> Result<Option<Job>, StoreError> {
        self.db.claim(kinds, lease, now).await
    }
    async fn heartbeat(
        &self,
        id: JobId,
        lease: &Lease,
        done: u64,
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        self.db.heartbeat(id, lease, done, now).await
    }
    async fn commit_chunk(
        &self,
        id: JobId,
        lease: &Lease,
        done_before: u64,
        batch: &TicketBatch<'_>,
        jobs: &[Job],
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        self.db.commit_chunk(id, lease, done_before, batch, jobs, now).await
    }
    async fn finish_job(
        &self,
        id: JobId,
        lease: &Lease,
        end: &JobEnd,
        now: DateTime<Utc>,
    ) -> Result<LeaseCheck, StoreError> {
        self.db.finish_job(id, lease, end, now).await
    }
    async fn cancel_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError> {
        self.db.cancel_job(id, now).await
    }
    async fn retry_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError> {
        self.db.retry_job(id, now).await
    }
    async fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        self.db.job(id).await
    }
    async fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError> {
        self.db.jobs(filter).await
    }
    async fn count_jobs(&self, kind: &str, status: JobStatus) -> Result<u64, StoreError> {
        self.db.count_jobs(kind, status).await
    }
    async fn purge_jobs(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.db.purge_jobs(ended_before).await
    }
}

#[async_trait]
impl<S: ExternalSessions> UserRepository for RedisLayer<S> {
    async fn ensure_roles(&self, roles: &[Role]) -> Result<u64, StoreError> {
        self.db.ensure_roles(roles).await
    }
    async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        self.db.roles().await
    }
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        self.db.insert_user(user).await
    }
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.db.user(id).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        self.db.user_by_email(email).await
    }
    async fn users_with_role(&self, role: Role) -> Result<Vec<User>, StoreError> {
        self.db.users_with_role(role).await
    }
    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        self.db.update_user(user).await
    }
    async fn users(&self, limit: u32, offset: u32) -> Result<Vec<User>, StoreError> {
        self.db.users(limit, offset).await
    }
}

#[async_trait]
impl<S: ExternalSessions> CredentialRepository for RedisLayer<S> {
    async fn insert_api_client(&self, client: &ApiClient) -> Result<(), StoreError> {
        self.db.insert_api_client(client).await
    }
    async fn api_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError> {
        self.db.api_client(client_id).await
    }
    async fn api_client_by_id(&self, id: ApiClientId) -> Result<Option<ApiClient>, StoreError> {
        self.db.api_client_by_id(id).await
    }
    async fn api_clients(&self, owner: Option<UserId>) -> Result<Vec<ApiClient>, StoreError> {
        self.db.api_clients(owner).await
    }
    async fn revoke_api_client(&self, id: ApiClientId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.db.revoke_api_client(id, at).await
    }
    async fn insert_tokens(&self, tokens: &[StoredToken]) -> Result<(), StoreError> {
        self.db.insert_tokens(tokens).await
    }
    async fn token(&self, hash: &TokenHash) -> Result<Option<StoredToken>, StoreError> {
        self.db.token(hash).await
    }
    async fn rotate_refresh(
        &self,
        hash: &TokenHash,
        issue: &[StoredToken],
        at: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        self.db.rotate_refresh(hash, issue, at).await
    }
    async fn revoke_token(&self, hash: &TokenHash, at: DateTime<Utc>) -> Result<bool, StoreError> {
        self.db.revoke_token(hash, at).await
    }
    async fn revoke_user_tokens(&self, user: UserId, at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.db.revoke_user_tokens(user, at).await
    }
    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.db.purge_tokens(before).await
    }
}

#[async_trait]
impl<S: ExternalSessions> StatsRepository for RedisLayer<S> {
    async fn event_counts(&self, event_id: EventId, bucket: chrono::Duration) -> Result<EventCounts, StoreError> {
        self.db.event_counts(event_id, bucket).await
    }
}

#[async_trait]
impl<S: ExternalSessions> StaffRepository for RedisLayer<S> {
    async fn insert_staffed_event(&self, event: &Event, staff: &[StaffAssignment]) -> Result<(), StoreError> {
        self.db.insert_staffed_event(event, staff).await
    }
    async fn assign_staff(&self, event_id: EventId, assignment: StaffAssignment) -> Result<(), StoreError> {
        self.db.assign_staff(event_id, assignment).await
    }
    async fn unassign_staff(&self, event_id: EventId, user_id: UserId) -> Result<bool, StoreError> {
        self.db.unassign_staff(event_id, user_id).await
    }
    async fn event_staff(&self, event_id: EventId) -> Result<Vec<StaffAssignment>, StoreError> {
        self.db.event_staff(event_id).await
    }
}

#[async_trait]
impl<S: ExternalSessions> OrderRepository for RedisLayer<S> {
    async fn place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError> {
        self.db.place_order(placement).await
    }
    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.db.order(id).await
    }
    async fn order_by_token(&self, token_hash: &TokenHash) -> Result<Option<Order>, StoreError> {
        self.db.order_by_token(token_hash).await
    }
    async fn order_by_reference(&self, provider: &str, reference: &str) -> Result<Option<Order>, StoreError> {
        self.db.order_by_reference(provider, reference).await
    }
    async fn order_tickets(&self, id: OrderId) -> Result<Vec<Ticket>, StoreError> {
        self.db.order_tickets(id).await
    }
    async fn ticket_order(&self, ticket_id: TicketId) -> Result<Option<OrderId>, StoreError> {
        self.db.ticket_order(ticket_id).await
    }
    async fn orders(&self, filter: &OrderFilter) -> Result<Vec<Order>, StoreError> {
        self.db.orders(filter).await
    }
    async fn change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError> {
        self.db.change_order(change).await
    }
    async fn record_delivery(&self, delivery: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError> {
        self.db.record_delivery(delivery).await
    }
    async fn deliveries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<PaymentDelivery>, StoreError> {
        self.db.deliveries(event_id, limit).await
    }
    async fn refund(&self, step: &RefundStep<'_>) -> Result<ChangeOutcome, StoreError> {
        self.db.refund(step).await
    }
    async fn refund_by_id(&self, id: RefundId) -> Result<Option<Refund>, StoreError> {
        self.db.refund_by_id(id).await
    }
    async fn refunds(&self, order_id: OrderId) -> Result<Vec<Refund>, StoreError> {
        self.db.refunds(order_id).await
    }
    async fn settle_refund(&self, refund: &Refund) -> Result<(), StoreError> {
        self.db.settle_refund(refund).await
    }
}

/// The database reads the ticket's view; the session comes from Redis. A confirmation's context is
/// two reads: the session from Redis, then the gate and the session's ticket in one query.
#[async_trait]
impl<S: ExternalSessions> ScanReads for RedisLayer<S> {
    async fn scan_view(&self, ticket_id: TicketId) -> Result<Option<ScanView>, StoreError> {
        self.db.scan_view(ticket_id).await
    }
    async fn request_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        code: Option<ShortCode>,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        self.db.request_context(gate_id, agent, code).await
    }
    async fn confirm_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        session: Option<&TokenHash>,
    ) -> Result<(Option<Gate>, Option<(ScanSession, ScanView)>), StoreError> {
        let session = match session {
            Some(hash) => self.session(hash).await?,
            None => None,
        };
        let Some(session) = session else { return Ok((self.db.request_context(gate_id, agent, None).await?.0, None)) };
        let (gate, view) = self.db.ticket_context(gate_id, agent, session.ticket_id).await?;
        let Some(gate) = gate else { return Ok((None, None)) };
        let view = view.ok_or(StoreError::NotFound("ticket"))?;
        Ok((Some(gate), Some((session, view))))
    }
}
