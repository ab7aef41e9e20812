//! Tickets and their live counters in memory.

use std::collections::HashSet;

use async_trait::async_trait;

use super::{MemoryStore, State, page};
use crate::ids::{TicketId, TicketTypeId};
use crate::job::Job;
use crate::quota::{self, Allocation};
use crate::short_code::ShortCode;
use crate::store::{StoreError, TicketBatch, TicketFilter, TicketRepository};
use crate::ticket::Ticket;

impl State {
    /// Replaces a stored ticket, moving the live counters when it stops (or starts) being live.
    pub(super) fn replace_ticket(&mut self, ticket: &Ticket, expected_version: u64) -> Result<(), StoreError> {
        let current = self.tickets.get(&ticket.id()).ok_or(StoreError::NotFound("ticket"))?;
        if current.version() != expected_version {
            return Err(StoreError::Stale);
        }
        let (was, is) = (current.status().is_live(), ticket.status().is_live());
        if current.short_code() != ticket.short_code() {
            if self.by_code.contains_key(&ticket.short_code()) {
                return Err(StoreError::Conflict("short code".into()));
            }
            self.by_code.remove(&current.short_code());
            self.by_code.insert(ticket.short_code(), ticket.id());
        }
        if was != is {
            let step = |n: &mut u32| *n = if is { *n + 1 } else { n.saturating_sub(1) };
            step(self.live_by_type.entry(ticket.ticket_type_id()).or_default());
            step(self.live_by_event.entry(ticket.event_id()).or_default());
        }
        self.tickets.insert(ticket.id(), ticket.clone());
        Ok(())
    }

    /// Inserts a batch of one type within its quota and its event's capacity, with its links,
    /// its pins and the jobs it causes; all or nothing.
    pub(super) fn insert_tickets(&mut self, batch: &TicketBatch<'_>, jobs: &[Job]) -> Result<(), StoreError> {
        let tickets = batch.tickets;
        if let Some(pin) = batch.template {
            let exists =
                self.templates.get(&pin.template_id).is_some_and(|v| v.iter().any(|t| t.version == pin.version));
            if !exists {
                return Err(StoreError::NotFound("template version"));
            }
        }
        let mut hashes = HashSet::with_capacity(batch.links.len());
        for link in batch.links {
            if self.magic_links.contains_key(&link.token_hash) || !hashes.insert(link.token_hash) {
                return Err(StoreError::Conflict("magic link token".into()));
            }
            if !tickets.iter().any(|t| t.id() == link.ticket_id) {
                return Err(StoreError::NotFound("ticket"));
            }
        }
        for job in jobs {
            if self.jobs.contains_key(&job.id) || jobs.iter().filter(|j| j.id == job.id).count() > 1 {
                return Err(StoreError::Conflict("job id".into()));
            }
        }
        if let Some(first) = tickets.first() {
            let ticket_type =
                self.ticket_types.get(&first.ticket_type_id()).ok_or(StoreError::NotFound("ticket type"))?;
            let event = self.events.get(&ticket_type.event_id()).ok_or(StoreError::NotFound("event"))?;
            if tickets.iter().any(|t| t.ticket_type_id() != ticket_type.id() || t.event_id() != event.id()) {
                return Err(StoreError::Conflict("a batch holds tickets of one type of one event".into()));
            }
            let live: u32 = tickets.iter().filter(|t| t.status().is_live()).count().try_into().unwrap_or(u32::MAX);
            quota::check_issue(ticket_type.quota(), event.capacity(), self.allocation(ticket_type.id())?, live)?;
            let mut codes = HashSet::with_capacity(tickets.len());
            let mut ids = HashSet::with_capacity(tickets.len());
            for t in tickets {
                if self.by_code.contains_key(&t.short_code()) || !codes.insert(t.short_code()) {
                    return Err(StoreError::Conflict("short code".into()));
                }
                if self.tickets.contains_key(&t.id()) || !ids.insert(t.id()) {
                    return Err(StoreError::Conflict("ticket id".into()));
                }
            }
            let (type_id, event_id) = (ticket_type.id(), event.id());
            *self.live_by_type.entry(type_id).or_default() += live;
            *self.live_by_event.entry(event_id).or_default() += live;
            for t in tickets {
                self.by_code.insert(t.short_code(), t.id());
                self.ticket_order.push(t.id());
                self.tickets.insert(t.id(), t.clone());
                if let Some(pin) = batch.template {
                    self.template_pins.insert(t.id(), pin);
                }
            }
        }
        for link in batch.links {
            self.magic_links.insert(link.token_hash, link.clone());
        }
        for job in jobs {
            self.push_job(job.clone());
        }
        Ok(())
    }

    pub(super) fn allocation(&self, ticket_type_id: TicketTypeId) -> Result<Allocation, StoreError> {
        let ticket_type = self.ticket_types.get(&ticket_type_id).ok_or(StoreError::NotFound("ticket type"))?;
        Ok(Allocation {
            type_live: self.live_by_type.get(&ticket_type_id).copied().unwrap_or(0),
            event_live: self.live_by_event.get(&ticket_type.event_id()).copied().unwrap_or(0),
        })
    }
}

#[async_trait]
impl TicketRepository for MemoryStore {
    async fn insert_tickets(&self, batch: &TicketBatch<'_>, jobs: &[Job]) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        s.insert_tickets(batch, jobs)?;
        s.audit_commit(due);
        Ok(())
    }

    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        Ok(self.state().tickets.get(&id).cloned())
    }

    async fn ticket_by_code(&self, code: ShortCode) -> Result<Option<Ticket>, StoreError> {
        let s = self.state();
        Ok(s.by_code.get(&code).and_then(|id| s.tickets.get(id)).cloned())
    }

    async fn taken_short_codes(&self, codes: &[ShortCode]) -> Result<Vec<ShortCode>, StoreError> {
        let s = self.state();
        Ok(codes.iter().copied().filter(|code| s.by_code.contains_key(code)).collect())
    }

    async fn update_ticket(&self, ticket: &Ticket, expected_version: u64) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        s.replace_ticket(ticket, expected_version)?;
        if !ticket.status().is_live() {
            for link in s.magic_links.values_mut().filter(|l| l.ticket_id == ticket.id() && l.revoked_at.is_none()) {
                link.revoked_at = Some(ticket.updated_at());
            }
        }
        s.audit_commit(due);
        Ok(())
    }

    async fn allocation(&self, ticket_type_id: TicketTypeId) -> Result<Allocation, StoreError> {
        self.state().allocation(ticket_type_id)
    }

    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let s = self.state();
        let matching = s
            .ticket_order
            .iter()
            .filter_map(|id| s.tickets.get(id))
            .filter(|t| filter.event_id.is_none_or(|e| t.event_id() == e))
            .filter(|t| filter.ticket_type_id.is_none_or(|tt| t.ticket_type_id() == tt))
            .filter(|t| filter.status.is_none_or(|st| t.status() == st))
            .filter(|t| {
                filter.holder_email.as_deref().is_none_or(|wanted| {
                    t.holder()
                        .and_then(|h| h.email())
                        .is_some_and(|e| e.as_str().to_lowercase() == wanted.to_lowercase())
                })
            })
            .cloned();
        Ok(page(matching, filter.offset, filter.limit))
    }
}
