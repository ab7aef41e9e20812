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

/// Implements a store trait for the layer by handing each of its methods, as listed, to the
/// database store behind.
macro_rules! forward {
    ($trait:ident { $(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)* }) => {
        #[async_trait]
        impl<S: ExternalSessions> $trait for RedisLayer<S> {
            $(async fn $name(&self $(, $arg: $ty)*) -> $ret {
                self.db.$name($($arg),*).await
            })*
        }
    };
}

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

forward!(KeyRegistry {
    fn key_fingerprints(&self) -> Result<Vec<KeyFingerprint>, StoreError>;
    fn record_key_fingerprints(&self, fingerprints: &[KeyFingerprint], at: DateTime<Utc>) -> Result<Vec<KeyFingerprint>, StoreError>;
});

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

forward!(EventRepository {
    fn insert_event(&self, event: &Event) -> Result<(), StoreError>;
    fn update_event(&self, event: &Event) -> Result<(), StoreError>;
    fn event(&self, id: EventId) -> Result<Option<Event>, StoreError>;
    fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;
    fn delete_event(&self, id: EventId) -> Result<(), StoreError>;
});

forward!(TicketTypeRepository {
    fn insert_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError>;
    fn update_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError>;
    fn ticket_type(&self, id: TicketTypeId) -> Result<Option<TicketType>, StoreError>;
    fn ticket_types(&self, event_id: EventId) -> Result<Vec<TicketType>, StoreError>;
    fn delete_ticket_type(&self, id: TicketTypeId) -> Result<(), StoreError>;
});

forward!(GateRepository {
    fn insert_gate(&self, gate: &Gate) -> Result<(), StoreError>;
    fn update_gate(&self, gate: &Gate) -> Result<(), StoreError>;
    fn gate(&self, id: GateId) -> Result<Option<Gate>, StoreError>;
    fn gates(&self, event_id: EventId) -> Result<Vec<Gate>, StoreError>;
    fn gates_of_agent(&self, agent: UserId) -> Result<Vec<Gate>, StoreError>;
    fn delete_gate(&self, id: GateId) -> Result<(), StoreError>;
});

forward!(TicketRepository {
    fn insert_tickets(&self, batch: &TicketBatch<'_>, jobs: &[Job]) -> Result<(), StoreError>;
    fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError>;
    fn ticket_by_code(&self, code: ShortCode) -> Result<Option<Ticket>, StoreError>;
    fn taken_short_codes(&self, codes: &[ShortCode]) -> Result<Vec<ShortCode>, StoreError>;
    fn update_ticket(&self, ticket: &Ticket, expected_version: u64) -> Result<(), StoreError>;
    fn allocation(&self, ticket_type_id: TicketTypeId) -> Result<Allocation, StoreError>;
    fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError>;
});

forward!(MagicLinkRepository {
    fn insert_magic_link(&self, link: &MagicLink) -> Result<(), StoreError>;
    fn magic_link(&self, token_hash: &TokenHash) -> Result<Option<MagicLink>, StoreError>;
    fn revoke_magic_links(&self, ticket_id: TicketId, at: DateTime<Utc>) -> Result<u64, StoreError>;
    fn unrevoked_magic_links(&self, event_id: EventId, ticket_id: Option<TicketId>) -> Result<Vec<MagicLink>, StoreError>;
});

forward!(TemplateRepository {
    fn save_template_version(&self, template_id: TemplateId, event_id: Option<EventId>, name: &str, body: &str, at: DateTime<Utc>) -> Result<TemplateVersion, StoreError>;
    fn template_version(&self, template_id: TemplateId, version: Option<u32>) -> Result<Option<TemplateVersion>, StoreError>;
    fn template_versions(&self, template_id: TemplateId) -> Result<Vec<TemplateVersion>, StoreError>;
    fn pin_ticket_template(&self, ticket_id: TicketId, pin: TemplatePin) -> Result<TemplatePin, StoreError>;
    fn ticket_template(&self, ticket_id: TicketId) -> Result<Option<TemplatePin>, StoreError>;
    fn pin_ticket_templates(&self, ticket_ids: &[TicketId], pin: TemplatePin) -> Result<HashMap<TicketId, TemplatePin>, StoreError>;
    fn ticket_templates(&self, ticket_ids: &[TicketId]) -> Result<HashMap<TicketId, TemplatePin>, StoreError>;
    fn template(&self, template_id: TemplateId) -> Result<Option<TemplateSummary>, StoreError>;
    fn templates(&self, event_id: EventId) -> Result<Vec<TemplateSummary>, StoreError>;
    fn activate_template(&self, pin: TemplatePin) -> Result<TemplateSummary, StoreError>;
});

forward!(NotificationLog {
    fn record_notification(&self, record: &DeliveryRecord) -> Result<(), StoreError>;
    fn job_notifications(&self, job_id: JobId) -> Result<Vec<DeliveryRecord>, StoreError>;
    fn event_notifications(&self, event_id: EventId, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError>;
});

forward!(HookRepository {
    fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError>;
    fn endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError>;
    fn endpoints(&self, event_id: EventId) -> Result<Vec<Endpoint>, StoreError>;
    fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError>;
    fn enable_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError>;
    fn record_hook_attempt(&self, id: EndpointId, attempt: &HookAttempt, notice: &Job) -> Result<bool, StoreError>;
});

forward!(MessageTemplateRepository {
    fn save_message_template(&self, template: &MessageTemplate) -> Result<(), StoreError>;
    fn message_template(&self, event_id: EventId, topic: NotificationTopic, locale: Locale) -> Result<Option<MessageTemplate>, StoreError>;
    fn message_templates(&self, event_id: EventId) -> Result<Vec<MessageTemplate>, StoreError>;
    fn delete_message_template(&self, event_id: EventId, topic: NotificationTopic, locale: Locale) -> Result<bool, StoreError>;
});

forward!(AuditRepository {
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    fn audit_entries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;
});

forward!(JobQueue {
    fn enqueue(&self, job: &Job) -> Result<(), StoreError>;
    fn claim(&self, kinds: &[&str], lease: &Lease, now: DateTime<Utc>) -> Result<Option<Job>, StoreError>;
    fn heartbeat(&self, id: JobId, lease: &Lease, done: u64, now: DateTime<Utc>) -> Result<LeaseCheck, StoreError>;
    fn commit_chunk(&self, id: JobId, lease: &Lease, done_before: u64, batch: &TicketBatch<'_>, jobs: &[Job], now: DateTime<Utc>) -> Result<LeaseCheck, StoreError>;
    fn finish_job(&self, id: JobId, lease: &Lease, end: &JobEnd, now: DateTime<Utc>) -> Result<LeaseCheck, StoreError>;
    fn cancel_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError>;
    fn retry_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Job, StoreError>;
    fn job(&self, id: JobId) -> Result<Option<Job>, StoreError>;
    fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>, StoreError>;
    fn count_jobs(&self, kind: &str, status: JobStatus) -> Result<u64, StoreError>;
    fn purge_jobs(&self, ended_before: DateTime<Utc>) -> Result<u64, StoreError>;
});

forward!(UserRepository {
    fn ensure_roles(&self, roles: &[Role]) -> Result<u64, StoreError>;
    fn roles(&self) -> Result<Vec<Role>, StoreError>;
    fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    fn user(&self, id: UserId) -> Result<Option<User>, StoreError>;
    fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    fn users_with_role(&self, role: Role) -> Result<Vec<User>, StoreError>;
    fn update_user(&self, user: &User) -> Result<(), StoreError>;
    fn users(&self, limit: u32, offset: u32) -> Result<Vec<User>, StoreError>;
});

forward!(CredentialRepository {
    fn insert_api_client(&self, client: &ApiClient) -> Result<(), StoreError>;
    fn api_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError>;
    fn api_client_by_id(&self, id: ApiClientId) -> Result<Option<ApiClient>, StoreError>;
    fn api_clients(&self, owner: Option<UserId>) -> Result<Vec<ApiClient>, StoreError>;
    fn revoke_api_client(&self, id: ApiClientId, at: DateTime<Utc>) -> Result<bool, StoreError>;
    fn insert_tokens(&self, tokens: &[StoredToken]) -> Result<(), StoreError>;
    fn token(&self, hash: &TokenHash) -> Result<Option<StoredToken>, StoreError>;
    fn rotate_refresh(&self, hash: &TokenHash, issue: &[StoredToken], at: DateTime<Utc>) -> Result<Rotation, StoreError>;
    fn revoke_token(&self, hash: &TokenHash, at: DateTime<Utc>) -> Result<bool, StoreError>;
    fn revoke_user_tokens(&self, user: UserId, at: DateTime<Utc>) -> Result<u64, StoreError>;
    fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
});

forward!(StatsRepository {
    fn event_counts(&self, event_id: EventId, bucket: chrono::Duration) -> Result<EventCounts, StoreError>;
});

forward!(StaffRepository {
    fn insert_staffed_event(&self, event: &Event, staff: &[StaffAssignment]) -> Result<(), StoreError>;
    fn assign_staff(&self, event_id: EventId, assignment: StaffAssignment) -> Result<(), StoreError>;
    fn unassign_staff(&self, event_id: EventId, user_id: UserId) -> Result<bool, StoreError>;
    fn event_staff(&self, event_id: EventId) -> Result<Vec<StaffAssignment>, StoreError>;
});

forward!(OrderRepository {
    fn place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError>;
    fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError>;
    fn order_by_token(&self, token_hash: &TokenHash) -> Result<Option<Order>, StoreError>;
    fn order_by_reference(&self, provider: &str, reference: &str) -> Result<Option<Order>, StoreError>;
    fn order_tickets(&self, id: OrderId) -> Result<Vec<Ticket>, StoreError>;
    fn ticket_order(&self, ticket_id: TicketId) -> Result<Option<OrderId>, StoreError>;
    fn orders(&self, filter: &OrderFilter) -> Result<Vec<Order>, StoreError>;
    fn change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError>;
    fn record_delivery(&self, delivery: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError>;
    fn deliveries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<PaymentDelivery>, StoreError>;
    fn refund(&self, step: &RefundStep<'_>) -> Result<ChangeOutcome, StoreError>;
    fn refund_by_id(&self, id: RefundId) -> Result<Option<Refund>, StoreError>;
    fn refunds(&self, order_id: OrderId) -> Result<Vec<Refund>, StoreError>;
    fn settle_refund(&self, refund: &Refund) -> Result<(), StoreError>;
});

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
