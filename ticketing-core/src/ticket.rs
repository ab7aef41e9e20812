//! Tickets: one admission right, with its status and how often it has been used.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::event::TimeZone;
use crate::field::{self, Email, FieldError, Phone};
use crate::ids::{EventId, TicketId, TicketTypeId};
use crate::short_code::ShortCode;
use crate::status::{self, TicketAction, TicketStatus, TransitionError};

/// Why a ticket could not be created.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TicketError {
    /// A holder field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// Tickets are created issued, reserved or paid.
    #[error("a ticket cannot be created {0}")]
    InitialStatus(TicketStatus),
}

/// A holder of a list that failed validation: where it is in the list, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{}: {}", self.path(), self.error.problem)]
pub struct HolderListError {
    /// The holder's index in the list (from 0).
    pub index: usize,
    /// What is wrong with it (its field is `holder.name`, `holder.email` or `holder.phone`).
    pub error: FieldError,
}

impl HolderListError {
    /// The field's path in the list, as a client points at it: `holders[1].email`.
    pub fn path(&self) -> String {
        let field = self.error.field.strip_prefix("holder.").unwrap_or(self.error.field);
        format!("holders[{}].{field}", self.index)
    }
}

/// Raw holder details, validated by [`Holder::new`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderSpec {
    /// Up to 200 characters.
    pub name: String,
    /// Optional e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Optional phone number in international form.
    #[serde(default)]
    pub phone: Option<String>,
}

/// The person a ticket is made out to. Personal data: never part of a QR payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    name: String,
    email: Option<Email>,
    phone: Option<Phone>,
}

impl Holder {
    /// Validates holder details.
    pub fn new(spec: &HolderSpec) -> Result<Self, FieldError> {
        let with_prefix = |mut e: FieldError, field| {
            e.field = field;
            e
        };
        Ok(Self {
            name: field::single_line("holder.name", &spec.name, 200)?,
            email: match spec.email.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(e) => Some(Email::parse(e).map_err(|err| with_prefix(err, "holder.email"))?),
            },
            phone: match spec.phone.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(p) => Some(Phone::parse(p).map_err(|err| with_prefix(err, "holder.phone"))?),
            },
        })
    }

    /// Validates a list of holders; a refusal names the holder by its place in the list.
    pub fn list(specs: &[HolderSpec]) -> Result<Vec<Self>, HolderListError> {
        specs
            .iter()
            .enumerate()
            .map(|(index, spec)| Self::new(spec).map_err(|error| HolderListError { index, error }))
            .collect()
    }

    /// Full name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// E-mail, if given.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
    /// Phone, if given.
    pub fn phone(&self) -> Option<&Phone> {
        self.phone.as_ref()
    }

    /// Whether a message can reach them: they gave an email or a phone.
    pub fn reachable(&self) -> bool {
        self.email.is_some() || self.phone.is_some()
    }
}

/// A ticket.
///
/// Invariants, kept by construction and by [`Ticket::apply`]: `entries_used` is 0 while the ticket
/// is issued, reserved or paid and at least 1 once it is inside or outside; `entries_on_day` counts
/// the entries of `last_entry_day`; `version` grows by one with every change, which storage uses
/// for compare-and-set updates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    id: TicketId,
    event_id: EventId,
    ticket_type_id: TicketTypeId,
    short_code: ShortCode,
    holder: Option<Holder>,
    status: TicketStatus,
    entries_used: u32,
    last_entry_day: Option<NaiveDate>,
    entries_on_day: u32,
    version: u64,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Everything needed to create a ticket; see [`Ticket::new`].
#[derive(Clone, Debug)]
pub struct NewTicket {
    /// The id.
    pub id: TicketId,
    /// The event.
    pub event_id: EventId,
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// The short code (unique; storage refuses a duplicate).
    pub short_code: ShortCode,
    /// The holder, if the ticket is personalised.
    pub holder: Option<Holder>,
    /// `issued`, `reserved` or `paid`.
    pub status: TicketStatus,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl Ticket {
    /// A new, unused ticket.
    pub fn new(new: NewTicket) -> Result<Self, TicketError> {
        if !new.status.is_initial() {
            return Err(TicketError::InitialStatus(new.status));
        }
        let created_at = new.created_at;
        Ok(Self::restore(new, 0, None, 0, 0, created_at))
    }

    /// The ticket after `action` at `at`. Entries are counted per calendar day in `tz`, the
    /// event's time zone. Every status change goes through here and [`status::next`].
    pub fn apply(&self, action: TicketAction, at: DateTime<Utc>, tz: TimeZone) -> Result<Self, TransitionError> {
        let status = status::next(self.status, action)?;
        let mut next = Self { status, version: self.version + 1, updated_at: at, ..self.clone() };
        if action == TicketAction::Enter {
            let day = tz.local_date(at);
            next.entries_used += 1;
            next.entries_on_day = if self.last_entry_day == Some(day) { self.entries_on_day + 1 } else { 1 };
            next.last_entry_day = Some(day);
        }
        Ok(next)
    }

    /// Entries already made on `day` (0 when the last entry was another day).
    pub fn entries_on(&self, day: NaiveDate) -> u32 {
        if self.last_entry_day == Some(day) { self.entries_on_day } else { 0 }
    }

    /// Rebuilds a ticket from stored fields. For storage backends: the fields must come from a
    /// ticket that was valid when written.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        new: NewTicket,
        entries_used: u32,
        last_entry_day: Option<NaiveDate>,
        entries_on_day: u32,
        version: u64,
        updated_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id: new.id,
            event_id: new.event_id,
            ticket_type_id: new.ticket_type_id,
            short_code: new.short_code,
            holder: new.holder,
            status: new.status,
            entries_used,
            last_entry_day,
            entries_on_day,
            version,
            created_at: new.created_at,
            updated_at,
        }
    }

    /// The id.
    pub fn id(&self) -> TicketId {
        self.id
    }
    /// The event.
    pub fn event_id(&self) -> EventId {
        self.event_id
    }
    /// The type.
    pub fn ticket_type_id(&self) -> TicketTypeId {
        self.ticket_type_id
    }
    /// The short code for manual entry.
    pub fn short_code(&self) -> ShortCode {
        self.short_code
    }
    /// The holder, if personalised.
    pub fn holder(&self) -> Option<&Holder> {
        self.holder.as_ref()
    }
    /// The status.
    pub fn status(&self) -> TicketStatus {
        self.status
    }
    /// Entries made in all.
    pub fn entries_used(&self) -> u32 {
        self.entries_used
    }
    /// The local day of the last entry.
    pub fn last_entry_day(&self) -> Option<NaiveDate> {
        self.last_entry_day
    }
    /// Entries made on [`Ticket::last_entry_day`].
    pub fn entries_on_last_day(&self) -> u32 {
        self.entries_on_day
    }
    /// Incremented by every change; used for compare-and-set in storage.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// Creation time.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// Time of the last change.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _};
    use uuid::Uuid;

    use super::*;

    fn ticket(status: TicketStatus) -> Result<Ticket, TicketError> {
        Ticket::new(NewTicket {
            id: TicketId::from_uuid(Uuid::from_u128(1)),
            event_id: EventId::from_uuid(Uuid::from_u128(2)),
            ticket_type_id: TicketTypeId::from_uuid(Uuid::from_u128(3)),
            short_code: ShortCode::from_value(42).unwrap(),
            holder: None,
            status,
            created_at: Utc.with_ymd_and_hms(2027, 7, 1, 10, 0, 0).unwrap(),
        })
    }

    #[test]
    fn only_initial_statuses_can_be_created() {
        for s in TicketStatus::ALL {
            assert_eq!(ticket(s).is_ok(), s.is_initial(), "{s}");
        }
    }

    #[test]
    fn entries_are_counted_per_local_day() {
        let tz = TimeZone::parse("Europe/Paris").unwrap();
        let t0 = Utc.with_ymd_and_hms(2027, 7, 1, 20, 0, 0).unwrap();
        let t = ticket(TicketStatus::Paid).unwrap();
        let t = t.apply(TicketAction::Enter, t0, tz).unwrap();
        let t = t.apply(TicketAction::Exit, t0 + Duration::minutes(10), tz).unwrap();
        let t = t.apply(TicketAction::Enter, t0 + Duration::minutes(20), tz).unwrap();
        assert_eq!((t.entries_used(), t.entries_on(tz.local_date(t0)), t.version()), (2, 2, 3));
        // 22:30 UTC on 1 July is already 2 July in Paris.
        let t = t.apply(TicketAction::Exit, t0 + Duration::minutes(30), tz).unwrap();
        let late = Utc.with_ymd_and_hms(2027, 7, 1, 22, 30, 0).unwrap();
        let t = t.apply(TicketAction::Enter, late, tz).unwrap();
        assert_eq!(t.entries_used(), 3);
        assert_eq!(t.entries_on(tz.local_date(late)), 1);
        assert_eq!(t.entries_on(tz.local_date(t0)), 0);
        assert_eq!(t.status(), TicketStatus::Inside);
    }

    #[test]
    fn a_refused_change_leaves_nothing_changed() {
        let tz = TimeZone::parse("UTC").unwrap();
        let t = ticket(TicketStatus::Issued).unwrap();
        assert_eq!(t.apply(TicketAction::Enter, Utc::now(), tz), Err(TransitionError::NotPaid));
        assert_eq!((t.status(), t.entries_used(), t.version()), (TicketStatus::Issued, 0, 0));
    }

    #[test]
    fn a_holder_in_a_list_is_named_by_its_place() {
        let ok = HolderSpec { name: "Ana".into(), email: None, phone: None };
        let bad = HolderSpec { email: Some("nope".into()), ..ok.clone() };
        let refused = Holder::list(&[ok.clone(), bad]).unwrap_err();
        assert_eq!((refused.index, refused.path()), (1, "holders[1].email".to_owned()));
        assert_eq!(Holder::list(&[ok.clone(), ok]).map(|l| l.len()), Ok(2));
    }

    #[test]
    fn holder_fields_are_named_under_holder() {
        let bad = HolderSpec { name: "Zoë".into(), email: Some("zoe@".into()), phone: None };
        assert!(matches!(Holder::new(&bad), Err(e) if e.field == "holder.email"));
        let bad = HolderSpec { name: "Zoë".into(), email: None, phone: Some("12".into()) };
        assert!(matches!(Holder::new(&bad), Err(e) if e.field == "holder.phone"));
        let ok = HolderSpec {
            name: " Zoë Lefèvre ".into(),
            email: Some("".into()),
            phone: Some("+33 6 12 34 56 78".into()),
        };
        let h = Holder::new(&ok).unwrap();
        assert_eq!((h.name(), h.email(), h.phone().map(Phone::as_str)), ("Zoë Lefèvre", None, Some("+33612345678")));
    }
}
