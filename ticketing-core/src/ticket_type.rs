//! Ticket types: what is sold for an event, at what price, how many, and how a ticket of the
//! type may be used at the gates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::field::{self, FieldError, FieldProblem};
use crate::ids::{EventId, GateId, TicketTypeId};
use crate::money::{Currency, Money, MoneyError};

/// Why a ticket type could not be created or changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TicketTypeError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// The price is invalid.
    #[error("price: {0}")]
    Price(#[from] MoneyError),
    /// Another type of the same event already has this name (compared case-insensitively).
    #[error("the event already has a ticket type named `{0}`")]
    DuplicateName(String),
    /// `validity_to` is not after `validity_from`.
    #[error("validity_to must be after validity_from")]
    ValidityReversed,
}

/// Raw input for a ticket type, validated by [`TicketType::new`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketTypeSpec {
    /// Unique within the event (case-insensitively), up to 100 characters.
    pub name: String,
    /// Price in minor units (cents). Zero for free tickets.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// How many live tickets of this type may exist.
    pub quota: u32,
    /// How many entries one ticket allows in all (at least 1).
    pub usage_limit: u32,
    /// At most this many entries per calendar day in the event's time zone (multi-day events).
    #[serde(default)]
    pub daily_entry_limit: Option<u32>,
    /// Entry refused (`too_early`) before this instant.
    #[serde(default)]
    pub validity_from: Option<DateTime<Utc>>,
    /// Entry refused (`expired`) after this instant; the event's end applies when absent.
    #[serde(default)]
    pub validity_to: Option<DateTime<Utc>>,
    /// When set, tickets of this type may enter only through these gates.
    #[serde(default)]
    pub gates: Option<Vec<GateId>>,
}

/// Why a ticket type is refused when another of its event has the same name (case-insensitively).
pub const NAME_TAKEN: &str = "a ticket type of this event has this name";

/// A ticket type. A value of this type always satisfies its invariants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketType {
    id: TicketTypeId,
    event_id: EventId,
    name: String,
    price: Money,
    quota: u32,
    usage_limit: u32,
    daily_entry_limit: Option<u32>,
    validity_from: Option<DateTime<Utc>>,
    validity_to: Option<DateTime<Utc>>,
    gates: Option<Vec<GateId>>,
}

impl TicketType {
    /// Validates `spec` into a ticket type of `event_id`. `siblings` are the event's other types:
    /// a name already used there (case-insensitively) is refused. Storage enforces the same rule
    /// with a unique index on [`TicketType::name_key`], so concurrent creations cannot both win.
    pub fn new<'a>(
        id: TicketTypeId,
        event_id: EventId,
        spec: &TicketTypeSpec,
        siblings: impl IntoIterator<Item = &'a TicketType>,
    ) -> Result<Self, TicketTypeError> {
        let name = field::single_line("name", &spec.name, 100)?;
        let key = name_key(&name);
        if siblings.into_iter().any(|t| t.id != id && t.name_key() == key) {
            return Err(TicketTypeError::DuplicateName(name));
        }
        if spec.usage_limit == 0 {
            return Err(FieldError::new("usage_limit", FieldProblem::Range("must be at least 1")).into());
        }
        if spec.daily_entry_limit == Some(0) {
            return Err(FieldError::new("daily_entry_limit", FieldProblem::Range("must be at least 1")).into());
        }
        if let (Some(from), Some(to)) = (spec.validity_from, spec.validity_to)
            && to <= from
        {
            return Err(TicketTypeError::ValidityReversed);
        }
        let gates = match &spec.gates {
            Some(g) if g.is_empty() => {
                return Err(
                    FieldError::new("gates", FieldProblem::Range("must list at least one gate, or be absent")).into()
                );
            }
            Some(g) => {
                let mut g = g.clone();
                g.sort();
                g.dedup();
                Some(g)
            }
            None => None,
        };
        Ok(Self {
            id,
            event_id,
            name,
            price: Money::new(spec.price_minor, Currency::parse(&spec.currency)?)?,
            quota: spec.quota,
            usage_limit: spec.usage_limit,
            daily_entry_limit: spec.daily_entry_limit,
            validity_from: spec.validity_from,
            validity_to: spec.validity_to,
            gates,
        })
    }

    /// The id.
    pub fn id(&self) -> TicketTypeId {
        self.id
    }
    /// The event it belongs to.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }
    /// The name as entered (trimmed).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The name folded for the uniqueness rule: lower case, inner white space collapsed.
    pub fn name_key(&self) -> String {
        name_key(&self.name)
    }
    /// The price.
    pub fn price(&self) -> Money {
        self.price
    }
    /// Maximum number of live tickets of this type.
    pub fn quota(&self) -> u32 {
        self.quota
    }
    /// Entries allowed per ticket in all.
    pub fn usage_limit(&self) -> u32 {
        self.usage_limit
    }
    /// Entries allowed per ticket per local day, if limited.
    pub fn daily_entry_limit(&self) -> Option<u32> {
        self.daily_entry_limit
    }
    /// Start of the validity window, if any.
    pub fn validity_from(&self) -> Option<DateTime<Utc>> {
        self.validity_from
    }
    /// End of the validity window, if any (the event's end applies otherwise).
    pub fn validity_to(&self) -> Option<DateTime<Utc>> {
        self.validity_to
    }
    /// The gates this type may enter by; `None` means any gate of the event.
    pub fn gates(&self) -> Option<&[GateId]> {
        self.gates.as_deref()
    }
    /// Whether this type may enter through `gate`.
    pub fn may_enter_by(&self, gate: GateId) -> bool {
        self.gates.as_ref().is_none_or(|g| g.binary_search(&gate).is_ok())
    }
    /// The spec this type was built from, for editing.
    pub fn spec(&self) -> TicketTypeSpec {
        TicketTypeSpec {
            name: self.name.clone(),
            price_minor: self.price.minor(),
            currency: self.price.currency().code().to_owned(),
            quota: self.quota,
            usage_limit: self.usage_limit,
            daily_entry_limit: self.daily_entry_limit,
            validity_from: self.validity_from,
            validity_to: self.validity_to,
            gates: self.gates.clone(),
        }
    }
}

fn name_key(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
pub(crate) mod tests {
    use uuid::Uuid;

    use super::*;

    pub(crate) fn spec() -> TicketTypeSpec {
        TicketTypeSpec {
            name: "Pass 3 jours".into(),
            price_minor: 8900,
            currency: "EUR".into(),
            quota: 500,
            usage_limit: 3,
            daily_entry_limit: Some(1),
            validity_from: None,
            validity_to: None,
            gates: None,
        }
    }

    fn tid(n: u128) -> TicketTypeId {
        TicketTypeId::from_uuid(Uuid::from_u128(n))
    }

    fn event() -> EventId {
        EventId::from_uuid(Uuid::nil())
    }

    #[test]
    fn a_valid_spec_round_trips() {
        let t = TicketType::new(tid(1), event(), &spec(), []).unwrap();
        assert_eq!(t.spec(), spec());
        assert_eq!(t.price().to_string(), "89.00 EUR");
    }

    #[test]
    fn names_are_unique_per_event_ignoring_case_and_spacing() {
        let first = TicketType::new(tid(1), event(), &spec(), []).unwrap();
        let mut again = spec();
        again.name = "  pass   3 JOURS ".into();
        assert_eq!(
            TicketType::new(tid(2), event(), &again, [&first]),
            Err(TicketTypeError::DuplicateName("pass   3 JOURS".into()))
        );
        // Renaming a type to its own name is not a conflict with itself.
        assert!(TicketType::new(tid(1), event(), &again, [&first]).is_ok());
    }

    #[test]
    fn limits_prices_and_windows_are_checked() {
        let mut s = spec();
        s.usage_limit = 0;
        assert!(
            matches!(TicketType::new(tid(1), event(), &s, []), Err(TicketTypeError::Field(e)) if e.field == "usage_limit")
        );
        let mut s = spec();
        s.daily_entry_limit = Some(0);
        assert!(
            matches!(TicketType::new(tid(1), event(), &s, []), Err(TicketTypeError::Field(e)) if e.field == "daily_entry_limit")
        );
        let mut s = spec();
        s.price_minor = -1;
        assert_eq!(TicketType::new(tid(1), event(), &s, []), Err(TicketTypeError::Price(MoneyError::Negative)));
        let mut s = spec();
        s.currency = "EURO".into();
        assert!(matches!(
            TicketType::new(tid(1), event(), &s, []),
            Err(TicketTypeError::Price(MoneyError::UnknownCurrency(_)))
        ));
        let mut s = spec();
        s.validity_from = Some(Utc::now());
        s.validity_to = s.validity_from;
        assert_eq!(TicketType::new(tid(1), event(), &s, []), Err(TicketTypeError::ValidityReversed));
        let mut s = spec();
        s.gates = Some(vec![]);
        assert!(
            matches!(TicketType::new(tid(1), event(), &s, []), Err(TicketTypeError::Field(e)) if e.field == "gates")
        );
    }

    #[test]
    fn gate_lists_restrict_entry() {
        let (a, b) = (GateId::from_uuid(Uuid::from_u128(7)), GateId::from_uuid(Uuid::from_u128(8)));
        let open = TicketType::new(tid(1), event(), &spec(), []).unwrap();
        assert!(open.may_enter_by(a) && open.may_enter_by(b));
        let mut s = spec();
        s.gates = Some(vec![b, b]);
        let vip = TicketType::new(tid(2), event(), &s, []).unwrap();
        assert_eq!(vip.gates(), Some(&[b][..]));
        assert!(!vip.may_enter_by(a) && vip.may_enter_by(b));
    }
}
