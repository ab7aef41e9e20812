//! Events, ticket types and gates.

use super::{Error, Ticketing};
use crate::audit;
use crate::credential::StaffAssignment;
use crate::event::{Event, EventSpec, EventStatus};
use crate::gate::{Gate, GateSpec};
use crate::ids::{EventId, GateId, TicketTypeId};
use crate::store::Store;
use crate::ticket_type::{TicketType, TicketTypeSpec};

impl<S: Store + ?Sized> Ticketing<S> {
    /// Creates a draft event.
    pub async fn create_event(&self, spec: &EventSpec) -> Result<Event, Error> {
        let event = Event::new(EventId::generate(&*self.clock, &*self.rng), spec)?;
        audit::writing(&event);
        self.store.insert_event(&event).await?;
        Ok(event)
    }

    /// Creates a draft event with its first staff (its organizer, say), all in one step.
    pub async fn create_staffed_event(&self, spec: &EventSpec, staff: &[StaffAssignment]) -> Result<Event, Error> {
        let event = Event::new(EventId::generate(&*self.clock, &*self.rng), spec)?;
        audit::writing(&event);
        self.store.insert_staffed_event(&event, staff).await?;
        Ok(event)
    }

    /// Deletes an event with its types, gates and staff; refuses one that has tickets.
    pub async fn delete_event(&self, id: EventId) -> Result<(), Error> {
        Ok(self.store.delete_event(id).await?)
    }

    /// Deletes a ticket type that has no tickets and that no gate lists.
    pub async fn delete_ticket_type(&self, id: TicketTypeId) -> Result<(), Error> {
        let ticket_type = self.ticket_type(id).await?;
        let gates = self.store.gates(ticket_type.event_id()).await?;
        if let Some(gate) = gates.iter().find(|g| g.ticket_types().is_some_and(|t| t.contains(&id))) {
            return Err(Error::Conflict(format!(
                "gate `{}` admits this ticket type; change the gate first",
                gate.name()
            )));
        }
        Ok(self.store.delete_ticket_type(id).await?)
    }

    /// Deletes a gate where nothing was scanned and that no ticket type lists.
    pub async fn delete_gate(&self, id: GateId) -> Result<(), Error> {
        let gate = self.gate(id).await?;
        let types = self.store.ticket_types(gate.event_id()).await?;
        if let Some(t) = types.iter().find(|t| t.gates().is_some_and(|g| g.contains(&id))) {
            return Err(Error::Conflict(format!(
                "ticket type `{}` enters by this gate; change the type first",
                t.name()
            )));
        }
        Ok(self.store.delete_gate(id).await?)
    }

    /// Changes an event's fields; refuses a capacity below its live tickets.
    pub async fn update_event(&self, id: EventId, spec: &EventSpec) -> Result<Event, Error> {
        let event = self.event(id).await?.revise(spec)?;
        audit::writing(&event);
        self.store.update_event(&event).await?;
        Ok(event)
    }

    /// Moves an event to another status (publish, cancel, end).
    pub async fn set_event_status(&self, id: EventId, status: EventStatus) -> Result<Event, Error> {
        let event = self.event(id).await?.with_status(status)?;
        audit::writing(&event);
        self.store.update_event(&event).await?;
        Ok(event)
    }

    /// An event by id.
    pub async fn event(&self, id: EventId) -> Result<Event, Error> {
        self.store.event(id).await?.ok_or(Error::NotFound("event"))
    }

    /// Adds a ticket type to an event.
    pub async fn add_ticket_type(&self, event_id: EventId, spec: &TicketTypeSpec) -> Result<TicketType, Error> {
        let event = self.event(event_id).await?;
        let siblings = self.store.ticket_types(event_id).await?;
        let id = TicketTypeId::generate(&*self.clock, &*self.rng);
        let ticket_type = TicketType::new(id, event.id(), spec, &siblings)?;
        self.check_gates_belong(event_id, ticket_type.gates().unwrap_or_default()).await?;
        audit::writing(&ticket_type);
        self.store.insert_ticket_type(&ticket_type).await?;
        Ok(ticket_type)
    }

    /// Changes a ticket type; refuses a quota below its live tickets or a taken name.
    pub async fn update_ticket_type(&self, id: TicketTypeId, spec: &TicketTypeSpec) -> Result<TicketType, Error> {
        let current = self.ticket_type(id).await?;
        let siblings = self.store.ticket_types(current.event_id()).await?;
        let ticket_type = TicketType::new(id, current.event_id(), spec, &siblings)?;
        self.check_gates_belong(current.event_id(), ticket_type.gates().unwrap_or_default()).await?;
        audit::writing(&ticket_type);
        self.store.update_ticket_type(&ticket_type).await?;
        Ok(ticket_type)
    }

    /// A ticket type by id.
    pub async fn ticket_type(&self, id: TicketTypeId) -> Result<TicketType, Error> {
        self.store.ticket_type(id).await?.ok_or(Error::NotFound("ticket type"))
    }

    /// Adds a gate to an event.
    pub async fn add_gate(&self, event_id: EventId, spec: &GateSpec) -> Result<Gate, Error> {
        let event = self.event(event_id).await?;
        let gate = Gate::new(GateId::generate(&*self.clock, &*self.rng), event.id(), spec)?;
        self.check_types_belong(event_id, gate.ticket_types().unwrap_or_default()).await?;
        audit::writing(&gate);
        self.store.insert_gate(&gate).await?;
        Ok(gate)
    }

    /// Changes a gate (name, agents, admitted types).
    pub async fn update_gate(&self, id: GateId, spec: &GateSpec) -> Result<Gate, Error> {
        let current = self.gate(id).await?;
        let gate = Gate::new(id, current.event_id(), spec)?;
        self.check_types_belong(current.event_id(), gate.ticket_types().unwrap_or_default()).await?;
        audit::writing(&gate);
        self.store.update_gate(&gate).await?;
        Ok(gate)
    }

    /// A gate by id.
    pub async fn gate(&self, id: GateId) -> Result<Gate, Error> {
        self.store.gate(id).await?.ok_or(Error::NotFound("gate"))
    }

    async fn check_gates_belong(&self, event_id: EventId, gates: &[GateId]) -> Result<(), Error> {
        for id in gates {
            match self.store.gate(*id).await? {
                Some(g) if g.event_id() == event_id => {}
                _ => return Err(Error::NotFound("gate")),
            }
        }
        Ok(())
    }

    async fn check_types_belong(&self, event_id: EventId, types: &[TicketTypeId]) -> Result<(), Error> {
        for id in types {
            match self.store.ticket_type(*id).await? {
                Some(t) if t.event_id() == event_id => {}
                _ => return Err(Error::NotFound("ticket type")),
            }
        }
        Ok(())
    }
}
