//! Events, ticket types and gates in memory.

use async_trait::async_trait;

use super::{MemoryStore, page};
use crate::event::Event;
use crate::gate::Gate;
use crate::ids::{EventId, GateId, TicketTypeId, UserId};
use crate::quota;
use crate::store::{EventFilter, EventRepository, GateRepository, StoreError, TicketTypeRepository};
use crate::ticket_type::TicketType;

#[async_trait]
impl EventRepository for MemoryStore {
    async fn insert_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if s.events.contains_key(&event.id()) {
            return Err(StoreError::Conflict("event id".into()));
        }
        s.events.insert(event.id(), event.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn update_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.events.contains_key(&event.id()) {
            return Err(StoreError::NotFound("event"));
        }
        let live = s.live_by_event.get(&event.id()).copied().unwrap_or(0);
        quota::check_limit(event.capacity(), live)?;
        s.events.insert(event.id(), event.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        Ok(self.state().events.get(&id).cloned())
    }

    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let s = self.state();
        let location = filter.location.as_ref().map(|l| l.to_lowercase());
        let mut events: Vec<&Event> = s
            .events
            .values()
            .filter(|e| filter.starts_from.is_none_or(|t| e.starts_at() >= t))
            .filter(|e| filter.starts_before.is_none_or(|t| e.starts_at() < t))
            .filter(|e| filter.ends_after.is_none_or(|t| e.ends_at() >= t))
            .filter(|e| filter.status.is_none_or(|st| e.status() == st))
            .filter(|e| location.as_ref().is_none_or(|l| e.location().to_lowercase().contains(l)))
            .filter(|e| filter.staff.is_none_or(|want| s.staff.get(&e.id()).is_some_and(|st| st.contains(&want))))
            .collect();
        events.sort_by_key(|e| (e.starts_at(), e.id()));
        Ok(page(events.into_iter().cloned(), filter.offset, filter.limit))
    }

    async fn delete_event(&self, id: EventId) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.events.contains_key(&id) {
            return Err(StoreError::NotFound("event"));
        }
        if s.tickets.values().any(|t| t.event_id() == id) {
            return Err(StoreError::Conflict("the event has tickets".into()));
        }
        s.events.remove(&id);
        s.staff.remove(&id);
        s.ticket_types.retain(|_, t| t.event_id() != id);
        s.gates.retain(|_, g| g.event_id() != id);
        s.message_templates.retain(|(event, ..), _| *event != id);
        s.endpoints.retain(|e| e.event_id != id);
        s.audit_commit(due);
        Ok(())
    }
}

#[async_trait]
impl TicketTypeRepository for MemoryStore {
    async fn insert_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.events.contains_key(&ticket_type.event_id()) {
            return Err(StoreError::NotFound("event"));
        }
        if s.ticket_types.contains_key(&ticket_type.id()) {
            return Err(StoreError::Conflict("ticket type id".into()));
        }
        let key = ticket_type.name_key();
        if s.ticket_types.values().any(|t| t.event_id() == ticket_type.event_id() && t.name_key() == key) {
            return Err(StoreError::Conflict(crate::ticket_type::NAME_TAKEN.into()));
        }
        s.ticket_types.insert(ticket_type.id(), ticket_type.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn update_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.ticket_types.contains_key(&ticket_type.id()) {
            return Err(StoreError::NotFound("ticket type"));
        }
        let key = ticket_type.name_key();
        if s.ticket_types
            .values()
            .any(|t| t.id() != ticket_type.id() && t.event_id() == ticket_type.event_id() && t.name_key() == key)
        {
            return Err(StoreError::Conflict(crate::ticket_type::NAME_TAKEN.into()));
        }
        let live = s.live_by_type.get(&ticket_type.id()).copied().unwrap_or(0);
        quota::check_limit(ticket_type.quota(), live)?;
        s.ticket_types.insert(ticket_type.id(), ticket_type.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn ticket_type(&self, id: TicketTypeId) -> Result<Option<TicketType>, StoreError> {
        Ok(self.state().ticket_types.get(&id).cloned())
    }

    async fn ticket_types(&self, event_id: EventId) -> Result<Vec<TicketType>, StoreError> {
        let s = self.state();
        let mut types: Vec<TicketType> =
            s.ticket_types.values().filter(|t| t.event_id() == event_id).cloned().collect();
        types.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(types)
    }

    async fn delete_ticket_type(&self, id: TicketTypeId) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.ticket_types.contains_key(&id) {
            return Err(StoreError::NotFound("ticket type"));
        }
        if s.tickets.values().any(|t| t.ticket_type_id() == id) {
            return Err(StoreError::Conflict("the ticket type has tickets".into()));
        }
        s.ticket_types.remove(&id);
        s.live_by_type.remove(&id);
        s.audit_commit(due);
        Ok(())
    }
}

#[async_trait]
impl GateRepository for MemoryStore {
    async fn insert_gate(&self, gate: &Gate) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.events.contains_key(&gate.event_id()) {
            return Err(StoreError::NotFound("event"));
        }
        if s.gates.contains_key(&gate.id()) {
            return Err(StoreError::Conflict("gate id".into()));
        }
        s.gates.insert(gate.id(), gate.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn update_gate(&self, gate: &Gate) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.gates.contains_key(&gate.id()) {
            return Err(StoreError::NotFound("gate"));
        }
        s.gates.insert(gate.id(), gate.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn gate(&self, id: GateId) -> Result<Option<Gate>, StoreError> {
        Ok(self.state().gates.get(&id).cloned())
    }

    async fn gates(&self, event_id: EventId) -> Result<Vec<Gate>, StoreError> {
        let s = self.state();
        let mut gates: Vec<Gate> = s.gates.values().filter(|g| g.event_id() == event_id).cloned().collect();
        gates.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(gates)
    }

    async fn gates_of_agent(&self, agent: UserId) -> Result<Vec<Gate>, StoreError> {
        let s = self.state();
        let mut gates: Vec<Gate> = s.gates.values().filter(|g| g.has_agent(agent)).cloned().collect();
        gates.sort_by(|a, b| a.name().cmp(b.name()));
        Ok(gates)
    }

    async fn delete_gate(&self, id: GateId) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.gates.contains_key(&id) {
            return Err(StoreError::NotFound("gate"));
        }
        if s.scan_logs.iter().any(|l| l.gate_id == id) {
            return Err(StoreError::Conflict("scans were logged at the gate".into()));
        }
        s.gates.remove(&id);
        s.audit_commit(due);
        Ok(())
    }
}
