//! Gates: the doors of an event. A gate says which agents may scan there and, optionally, which
//! ticket types it admits. Both restrictions are enforced by the scan, not just recorded.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::field::{self, FieldError};
use crate::ids::{EventId, GateId, TicketTypeId, UserId};

/// Why a gate could not be created or changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GateError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
}

/// Raw input for a gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateSpec {
    /// Up to 100 characters, such as `North entrance`.
    pub name: String,
    /// The agents who may scan at this gate.
    #[serde(default)]
    pub agents: Vec<UserId>,
    /// When set, only these ticket types may enter here.
    #[serde(default)]
    pub ticket_types: Option<Vec<TicketTypeId>>,
}

/// A gate of an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    id: GateId,
    event_id: EventId,
    name: String,
    agents: Vec<UserId>,
    ticket_types: Option<Vec<TicketTypeId>>,
}

impl Gate {
    /// Validates `spec` into a gate of `event_id`.
    pub fn new(id: GateId, event_id: EventId, spec: &GateSpec) -> Result<Self, GateError> {
        Ok(Self {
            id,
            event_id,
            name: field::single_line("name", &spec.name, 100)?,
            agents: sorted(spec.agents.clone()),
            ticket_types: spec.ticket_types.clone().map(sorted),
        })
    }

    /// The id.
    pub fn id(&self) -> GateId {
        self.id
    }
    /// The event.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The agents assigned here.
    pub fn agents(&self) -> &[UserId] {
        &self.agents
    }
    /// The ticket types admitted here; `None` means all of the event's types.
    pub fn ticket_types(&self) -> Option<&[TicketTypeId]> {
        self.ticket_types.as_deref()
    }
    /// The same gate with its agent list cut down to `agent` (if assigned): what a scan by
    /// `agent` needs to know of it.
    #[must_use]
    pub fn as_seen_by(mut self, agent: UserId) -> Self {
        self.agents.retain(|a| *a == agent);
        self
    }
    /// Whether `agent` is assigned to this gate.
    pub fn has_agent(&self, agent: UserId) -> bool {
        self.agents.binary_search(&agent).is_ok()
    }
    /// Whether tickets of `ticket_type` may enter here (the gate's side of the rule; the type may
    /// restrict its gates too, see [`crate::ticket_type::TicketType::may_enter_by`]).
    pub fn admits(&self, ticket_type: TicketTypeId) -> bool {
        self.ticket_types.as_ref().is_none_or(|t| t.binary_search(&ticket_type).is_ok())
    }
    /// The spec, for editing.
    pub fn spec(&self) -> GateSpec {
        GateSpec { name: self.name.clone(), agents: self.agents.clone(), ticket_types: self.ticket_types.clone() }
    }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    #[test]
    fn agents_and_types_restrict() {
        let (alice, bob) = (UserId::from_uuid(Uuid::from_u128(1)), UserId::from_uuid(Uuid::from_u128(2)));
        let (vip, standard) =
            (TicketTypeId::from_uuid(Uuid::from_u128(3)), TicketTypeId::from_uuid(Uuid::from_u128(4)));
        let spec = GateSpec { name: "Entrée VIP".into(), agents: vec![alice, alice], ticket_types: Some(vec![vip]) };
        let gate = Gate::new(GateId::from_uuid(Uuid::nil()), EventId::from_uuid(Uuid::nil()), &spec).unwrap();
        assert_eq!(gate.agents(), &[alice]);
        assert!(gate.has_agent(alice) && !gate.has_agent(bob));
        assert!(gate.admits(vip) && !gate.admits(standard));
        let open = Gate::new(gate.id(), gate.event_id(), &GateSpec { ticket_types: None, ..spec }).unwrap();
        assert!(open.admits(standard));
    }

    #[test]
    fn the_name_is_required() {
        let spec = GateSpec { name: " ".into(), agents: vec![], ticket_types: None };
        let err = Gate::new(GateId::from_uuid(Uuid::nil()), EventId::from_uuid(Uuid::nil()), &spec);
        assert!(matches!(err, Err(GateError::Field(e)) if e.field == "name"));
    }
}
