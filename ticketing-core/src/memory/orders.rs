//! Orders, their tickets and payment deliveries in memory.

use async_trait::async_trait;

use super::{MemoryStore, State, page};
use crate::ids::{EventId, OrderId, RefundId, TicketId};
use crate::job::Job;
use crate::magic_link::TokenHash;
use crate::order::Order;
use crate::payment::PaymentDelivery;
use crate::refund::Refund;
use crate::status::TicketStatus;
use crate::store::{
    ChangeOutcome, OrderChange, OrderFilter, OrderPlacement, OrderRepository, Placement, RefundStep, StoreError,
    TicketBatch,
};
use crate::ticket::Ticket;

impl State {
    /// Inserts every batch within its quota, or none: a batch that fails takes back those
    /// inserted before it. The jobs are checked first and enqueued last.
    fn insert_batches(&mut self, order: &Order, batches: &[TicketBatch<'_>], jobs: &[Job]) -> Result<(), StoreError> {
        for job in jobs {
            if self.jobs.contains_key(&job.id) || jobs.iter().filter(|j| j.id == job.id).count() > 1 {
                return Err(StoreError::Conflict("job id".into()));
            }
        }
        for (i, batch) in batches.iter().enumerate() {
            if let Err(e) = self.insert_tickets(batch, &[]) {
                for done in &batches[..i] {
                    self.take_back(done);
                }
                return Err(e);
            }
        }
        for batch in batches {
            for ticket in batch.tickets {
                let price = order
                    .lines()
                    .iter()
                    .find(|l| l.ticket_type_id == ticket.ticket_type_id())
                    .map_or(0, |l| l.unit_price.minor());
                self.order_tickets.entry(order.id()).or_default().push(ticket.id());
                self.ticket_prices.insert(ticket.id(), price);
            }
        }
        for job in jobs {
            self.push_job(job.clone());
        }
        Ok(())
    }

    /// Removes a batch just inserted, with its links, pins and counters.
    fn take_back(&mut self, batch: &TicketBatch<'_>) {
        for ticket in batch.tickets {
            if self.tickets.remove(&ticket.id()).is_some() {
                self.by_code.remove(&ticket.short_code());
                self.template_pins.remove(&ticket.id());
                if ticket.status().is_live() {
                    let down = |n: &mut u32| *n = n.saturating_sub(1);
                    down(self.live_by_type.entry(ticket.ticket_type_id()).or_default());
                    down(self.live_by_event.entry(ticket.event_id()).or_default());
                }
            }
        }
        let ids: std::collections::HashSet<TicketId> = batch.tickets.iter().map(Ticket::id).collect();
        self.ticket_order.retain(|id| !ids.contains(id));
        for link in batch.links {
            self.magic_links.remove(&link.token_hash);
        }
    }
}

#[async_trait]
impl OrderRepository for MemoryStore {
    async fn place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError> {
        let mut s = self.state();
        let order = placement.order;
        let event_id = order.event_id();
        if let Some(key) = placement.idempotency_key
            && let Some(existing) = s.order_keys.get(&(event_id, key.to_owned())).and_then(|id| s.orders.get(id))
        {
            return Ok(Placement::Existing(existing.clone()));
        }
        if !s.events.contains_key(&event_id) {
            return Err(StoreError::NotFound("event"));
        }
        if s.orders.contains_key(&order.id()) || s.order_by_token.contains_key(order.token_hash()) {
            return Err(StoreError::Conflict("order id or token".into()));
        }
        s.check_audit(placement.audit)?;
        s.insert_batches(order, placement.batches, placement.jobs)?;
        let mut stored = order.clone();
        let mut audit = placement.audit.cloned();
        if placement.receipt {
            let next = s.receipts.entry(event_id).or_default();
            *next += 1;
            stored = stored.with_receipt(*next);
            audit = audit.map(|entry| entry.with_after_field("receipt", (*next).into()));
        }
        if let Some(key) = placement.idempotency_key {
            s.order_keys.insert((event_id, key.to_owned()), order.id());
        }
        s.order_by_token.insert(*order.token_hash(), order.id());
        s.order_seq.push(order.id());
        s.orders.insert(order.id(), stored.clone());
        s.push_carried(audit.as_ref());
        Ok(Placement::Placed(stored))
    }

    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.state().orders.get(&id).cloned())
    }

    async fn order_by_token(&self, token_hash: &TokenHash) -> Result<Option<Order>, StoreError> {
        let s = self.state();
        Ok(s.order_by_token.get(token_hash).and_then(|id| s.orders.get(id)).cloned())
    }

    async fn order_by_reference(&self, provider: &str, reference: &str) -> Result<Option<Order>, StoreError> {
        let s = self.state();
        let matches = |o: &&Order| {
            o.payment()
                .is_some_and(|p| p.provider.as_deref() == Some(provider) && p.reference.as_deref() == Some(reference))
        };
        Ok(s.order_seq.iter().filter_map(|id| s.orders.get(id)).find(matches).cloned())
    }

    async fn order_tickets(&self, id: OrderId) -> Result<Vec<Ticket>, StoreError> {
        let s = self.state();
        let ids = s.order_tickets.get(&id).map(Vec::as_slice).unwrap_or_default();
        Ok(ids.iter().filter_map(|t| s.tickets.get(t)).cloned().collect())
    }

    async fn ticket_order(&self, ticket_id: TicketId) -> Result<Option<OrderId>, StoreError> {
        let s = self.state();
        Ok(s.order_tickets.iter().find(|(_, ids)| ids.contains(&ticket_id)).map(|(id, _)| *id))
    }

    async fn orders(&self, filter: &OrderFilter) -> Result<Vec<Order>, StoreError> {
        let s = self.state();
        let matching = s
            .order_seq
            .iter()
            .filter_map(|id| s.orders.get(id))
            .filter(|o| filter.event_id.is_none_or(|e| o.event_id() == e))
            .filter(|o| filter.status.is_none_or(|st| o.status() == st))
            .cloned();
        Ok(page(matching, filter.offset, filter.limit))
    }

    async fn change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let mut s = self.state();
        if let Some(d) = change.delivery
            && let Some(&i) = s.delivery_keys.get(&(d.provider.clone(), d.event_id.clone()))
        {
            return Ok(ChangeOutcome::Duplicate(Box::new(s.deliveries[i].clone())));
        }
        let order = change.order;
        match s.orders.get(&order.id()) {
            None => return Err(StoreError::NotFound("order")),
            Some(stored) if stored.status() != change.expected || stored.refunded_minor() != order.refunded_minor() => {
                return Ok(ChangeOutcome::Stale);
            }
            Some(_) => {}
        }
        // Every check before any write: all or nothing, as a transaction.
        let mut moved = Vec::new();
        if let Some(action) = change.reserved_action {
            let tz = s.events.get(&order.event_id()).ok_or(StoreError::NotFound("event"))?.time_zone();
            let ids = s.order_tickets.get(&order.id()).cloned().unwrap_or_default();
            let reserved: Vec<Ticket> = ids
                .iter()
                .filter_map(|id| s.tickets.get(id))
                .filter(|t| t.status() == TicketStatus::Reserved)
                .cloned()
                .collect();
            moved = reserved
                .iter()
                .map(|t| t.apply(action, change.at, tz).map(|next| (next, t.version())))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Conflict(e.to_string()))?;
        }
        s.check_audit(change.audit)?;
        s.insert_batches(order, change.batches, change.jobs)?;
        for (next, version) in moved {
            s.replace_ticket(&next, version)?;
            if !next.status().is_live() {
                s.revoke_links(next.id(), change.at);
            }
        }
        if let Some(d) = change.delivery {
            s.push_delivery(d.clone());
        }
        s.orders.insert(order.id(), order.clone());
        s.push_carried(change.audit);
        Ok(ChangeOutcome::Applied)
    }

    async fn record_delivery(&self, delivery: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError> {
        let mut s = self.state();
        if let Some(&i) = s.delivery_keys.get(&(delivery.provider.clone(), delivery.event_id.clone())) {
            return Ok(Some(s.deliveries[i].clone()));
        }
        s.push_delivery(delivery.clone());
        Ok(None)
    }

    async fn refund(&self, step: &RefundStep<'_>) -> Result<ChangeOutcome, StoreError> {
        let mut s = self.state();
        if let Some(d) = step.delivery
            && let Some(&i) = s.delivery_keys.get(&(d.provider.clone(), d.event_id.clone()))
        {
            return Ok(ChangeOutcome::Duplicate(Box::new(s.deliveries[i].clone())));
        }
        match s.orders.get(&step.order.id()) {
            None => return Err(StoreError::NotFound("order")),
            Some(stored) if stored.refunded_minor() != step.expected_refunded => return Ok(ChangeOutcome::Stale),
            Some(_) => {}
        }
        for update in step.tickets {
            match s.tickets.get(&update.next.id()) {
                None => return Err(StoreError::NotFound("ticket")),
                Some(t) if t.version() != update.expected_version => return Ok(ChangeOutcome::Stale),
                Some(_) => {}
            }
        }
        for job in step.jobs {
            if s.jobs.contains_key(&job.id) {
                return Err(StoreError::Conflict("job id".into()));
            }
        }
        s.check_audit(step.audit)?;
        for update in step.tickets {
            s.replace_ticket(&update.next, update.expected_version)?;
            s.revoke_links(update.next.id(), step.refund.at);
        }
        for job in step.jobs {
            s.push_job(job.clone());
        }
        if let Some(d) = step.delivery {
            s.push_delivery(d.clone());
        }
        s.orders.insert(step.order.id(), step.order.clone());
        s.refund_seq.push(step.refund.id);
        s.refunds.insert(step.refund.id, step.refund.clone());
        s.push_carried(step.audit);
        Ok(ChangeOutcome::Applied)
    }

    async fn refund_by_id(&self, id: RefundId) -> Result<Option<Refund>, StoreError> {
        Ok(self.state().refunds.get(&id).cloned())
    }

    async fn refunds(&self, order_id: OrderId) -> Result<Vec<Refund>, StoreError> {
        let s = self.state();
        Ok(s.refund_seq.iter().filter_map(|id| s.refunds.get(id)).filter(|r| r.order_id == order_id).cloned().collect())
    }

    async fn settle_refund(&self, refund: &Refund) -> Result<(), StoreError> {
        let mut s = self.state();
        let stored = s.refunds.get_mut(&refund.id).ok_or(StoreError::NotFound("refund"))?;
        stored.status = refund.status;
        stored.provider_refund_id.clone_from(&refund.provider_refund_id);
        stored.failure.clone_from(&refund.failure);
        Ok(())
    }

    async fn deliveries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<PaymentDelivery>, StoreError> {
        let s = self.state();
        let matching =
            s.deliveries.iter().rev().filter(|d| event_id.is_none_or(|e| d.ticketing_event_id == Some(e))).cloned();
        Ok(page(matching, 0, limit))
    }
}

impl State {
    /// Revokes a ticket's live links at `at`.
    fn revoke_links(&mut self, ticket_id: TicketId, at: chrono::DateTime<chrono::Utc>) {
        for link in self.magic_links.values_mut().filter(|l| l.ticket_id == ticket_id && l.revoked_at.is_none()) {
            link.revoked_at = Some(at);
        }
    }

    fn push_delivery(&mut self, delivery: PaymentDelivery) {
        self.delivery_keys.insert((delivery.provider.clone(), delivery.event_id.clone()), self.deliveries.len());
        self.deliveries.push(delivery);
    }
}
