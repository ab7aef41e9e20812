//! An in-memory [`Store`](crate::store::Store): for tests, examples and applications that embed
//! the engine without a database. One mutex guards all state, so every trait method is atomic;
//! the live-ticket counters are kept beside the rows exactly as a SQL backend keeps them.

mod catalog;
mod credentials;
mod hooks;
mod jobs;
mod notifications;
mod orders;
mod scans;
mod stats;
mod templates;
mod tickets;
mod users;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::{self, AuditEntry};
use crate::credential::{ApiClient, StaffAssignment, StoredToken};
use crate::env::Clock;
use crate::event::Event;
use crate::fleet::KeyFingerprint;
use crate::gate::Gate;
use crate::ids::{EventId, GateId, JobId, OrderId, RefundId, TemplateId, TicketId, TicketTypeId, UserId};
use crate::job::Job;
use crate::magic_link::{MagicLink, TokenHash};
use crate::order::Order;
use crate::payment::PaymentDelivery;
use crate::refund::Refund;
use crate::scan::{Nonce, ScanLog, ScanSession};
use crate::short_code::ShortCode;
use crate::store::{AuditRepository, KeyRegistry, Locks, MagicLinkRepository, StoreError};
use crate::template::{TemplatePin, TemplateVersion};
use crate::ticket::Ticket;
use crate::ticket_type::TicketType;
use crate::user::{Role, User};

#[derive(Default)]
struct State {
    events: BTreeMap<EventId, Event>,
    ticket_types: HashMap<TicketTypeId, TicketType>,
    gates: HashMap<GateId, Gate>,
    tickets: HashMap<TicketId, Ticket>,
    /// Insertion order, for stable listings.
    ticket_order: Vec<TicketId>,
    by_code: HashMap<ShortCode, TicketId>,
    live_by_type: HashMap<TicketTypeId, u32>,
    live_by_event: HashMap<EventId, u32>,
    sessions: HashMap<TokenHash, ScanSession>,
    scan_logs: Vec<ScanLog>,
    nonces: HashMap<(UserId, Nonce), usize>,
    magic_links: HashMap<TokenHash, MagicLink>,
    audit: Vec<AuditEntry>,
    locks: HashMap<String, (String, DateTime<Utc>)>,
    /// Recorded key fingerprints, by kind and id.
    key_fingerprints: Vec<KeyFingerprint>,
    jobs: HashMap<JobId, Job>,
    /// Enqueue order, for claims among equals and listings.
    job_order: Vec<JobId>,
    roles: HashSet<Role>,
    /// In creation order.
    users: Vec<User>,
    /// Each template's versions, oldest first.
    templates: HashMap<TemplateId, Vec<TemplateVersion>>,
    /// Each template's event (none: every event) and name.
    template_scopes: HashMap<TemplateId, (Option<EventId>, String)>,
    /// The active version of each active template.
    template_active: HashMap<TemplateId, u32>,
    template_pins: HashMap<TicketId, TemplatePin>,
    /// Each event's staff, in assignment order.
    staff: HashMap<EventId, Vec<StaffAssignment>>,
    /// In creation order.
    api_clients: Vec<ApiClient>,
    tokens: HashMap<TokenHash, StoredToken>,
    /// Each notification message's record, least recently changed first.
    notifications: Vec<crate::notification::DeliveryRecord>,
    /// Integrators' webhook endpoints, in registration order.
    endpoints: Vec<crate::hook::Endpoint>,
    /// Events' own message templates.
    message_templates: HashMap<
        (EventId, crate::job::NotificationTopic, crate::order::Locale),
        crate::notification::templates::MessageTemplate,
    >,
    orders: HashMap<OrderId, Order>,
    /// In placement order.
    order_seq: Vec<OrderId>,
    order_by_token: HashMap<TokenHash, OrderId>,
    order_keys: HashMap<(EventId, String), OrderId>,
    order_tickets: HashMap<OrderId, Vec<TicketId>>,
    /// Each sold ticket's price in minor units of its order's currency.
    ticket_prices: HashMap<TicketId, i64>,
    /// Each event's last receipt number.
    receipts: HashMap<EventId, u64>,
    /// In arrival order.
    deliveries: Vec<PaymentDelivery>,
    delivery_keys: HashMap<(String, String), usize>,
    refunds: HashMap<RefundId, Refund>,
    /// In recording order.
    refund_seq: Vec<RefundId>,
}

impl State {
    /// The audit entry due with the change being made ([`crate::audit::Pending`]), checked before
    /// anything changes, as a SQL backend's key would: `Conflict` if its id is taken.
    fn audit_due(&self) -> Result<Option<AuditEntry>, StoreError> {
        let due = audit::due();
        self.check_audit(due.as_ref())?;
        Ok(due)
    }

    /// Writes `due`, from [`Self::audit_due`], with the change just made.
    fn audit_commit(&mut self, due: Option<AuditEntry>) {
        if let Some(entry) = due {
            self.audit.push(entry);
            audit::committed();
        }
    }

    /// Refuses `entry` (one a step carries, or one due) if its id is taken, as a SQL key would.
    fn check_audit(&self, entry: Option<&AuditEntry>) -> Result<(), StoreError> {
        match entry {
            Some(entry) if self.audit.iter().any(|e| e.id == entry.id) => {
                Err(StoreError::Conflict("a stored audit_log row has the same id".into()))
            }
            _ => Ok(()),
        }
    }

    /// Writes the entry a step carried, checked with [`Self::check_audit`], with the step.
    fn push_carried(&mut self, entry: Option<&AuditEntry>) {
        if let Some(entry) = entry {
            self.audit.push(entry.clone());
        }
        audit::carried(entry);
    }
}

/// The in-memory store.
pub struct MemoryStore {
    state: Mutex<State>,
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    /// An empty store; `clock` times lock expiry.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { state: Mutex::new(State::default()), clock }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied change: every method checks
        // first and mutates last. So a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state();
        f.debug_struct("MemoryStore").field("events", &s.events.len()).field("tickets", &s.tickets.len()).finish()
    }
}

fn page<T: Clone>(items: impl Iterator<Item = T>, offset: u32, limit: u32) -> Vec<T> {
    let limit = if limit == 0 { usize::MAX } else { limit as usize };
    items.skip(offset as usize).take(limit).collect()
}

#[async_trait]
impl MagicLinkRepository for MemoryStore {
    async fn insert_magic_link(&self, link: &MagicLink) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.tickets.contains_key(&link.ticket_id) {
            return Err(StoreError::NotFound("ticket"));
        }
        if s.magic_links.contains_key(&link.token_hash) {
            return Err(StoreError::Conflict("magic link token".into()));
        }
        s.magic_links.insert(link.token_hash, link.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn magic_link(&self, token_hash: &TokenHash) -> Result<Option<MagicLink>, StoreError> {
        Ok(self.state().magic_links.get(token_hash).cloned())
    }

    async fn revoke_magic_links(&self, ticket_id: TicketId, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut s = self.state();
        let live = |l: &MagicLink| l.ticket_id == ticket_id && l.revoked_at.is_none();
        let n = s.magic_links.values().filter(|l| live(l)).count() as u64;
        audit::writing(&crate::magic_link::LinksRevoked(n));
        let due = s.audit_due()?;
        for link in s.magic_links.values_mut().filter(|l| live(l)) {
            link.revoked_at = Some(at);
        }
        if n > 0 {
            s.audit_commit(due);
        }
        Ok(n)
    }

    async fn unrevoked_magic_links(
        &self,
        event_id: EventId,
        ticket_id: Option<TicketId>,
    ) -> Result<Vec<MagicLink>, StoreError> {
        let s = self.state();
        let mut links: Vec<MagicLink> = s
            .magic_links
            .values()
            .filter(|l| l.revoked_at.is_none() && ticket_id.is_none_or(|t| t == l.ticket_id))
            .filter(|l| s.tickets.get(&l.ticket_id).is_some_and(|t| t.event_id() == event_id))
            .cloned()
            .collect();
        links.sort_by_key(|l| (l.created_at, l.token_hash.0));
        Ok(links)
    }
}

#[async_trait]
impl AuditRepository for MemoryStore {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut s = self.state();
        s.check_audit(Some(entry))?;
        s.audit.push(entry.clone());
        Ok(())
    }

    async fn audit_entries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let s = self.state();
        let matching = s.audit.iter().rev().filter(|e| event_id.is_none() || e.event_id == event_id).cloned();
        Ok(page(matching, 0, limit))
    }
}

#[async_trait]
impl KeyRegistry for MemoryStore {
    async fn key_fingerprints(&self) -> Result<Vec<KeyFingerprint>, StoreError> {
        Ok(self.state().key_fingerprints.clone())
    }

    async fn record_key_fingerprints(
        &self,
        fingerprints: &[KeyFingerprint],
        _at: DateTime<Utc>,
    ) -> Result<Vec<KeyFingerprint>, StoreError> {
        let mut s = self.state();
        for print in fingerprints {
            if !s.key_fingerprints.iter().any(|r| (r.kind, r.key_id) == (print.kind, print.key_id)) {
                s.key_fingerprints.push(*print);
            }
        }
        s.key_fingerprints.sort();
        Ok(s.key_fingerprints.clone())
    }
}

#[async_trait]
impl Locks for MemoryStore {
    async fn try_lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let until = chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|ttl| now.checked_add_signed(ttl))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut s = self.state();
        match s.locks.get(key) {
            Some((_, expires)) if *expires > now => Ok(false),
            _ => {
                s.locks.insert(key.to_owned(), (owner.to_owned(), until));
                Ok(true)
            }
        }
    }

    async fn unlock(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut s = self.state();
        match s.locks.get(key) {
            Some((holder, expires)) if holder == owner && *expires > now => {
                s.locks.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
