//! Events: what tickets are sold for and scanned at.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::field::{self, FieldError, FieldProblem};
use crate::ids::EventId;
use crate::payment_link::{PaymentLink, PaymentLinkError};

/// Why an event could not be created, changed or moved to another status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EventError {
    /// A field is invalid.
    #[error(transparent)]
    Field(#[from] FieldError),
    /// `ends_at` is not after `starts_at`.
    #[error("ends_at must be after starts_at")]
    EndsBeforeStart,
    /// The status change is not allowed.
    #[error("an event cannot go from {from} to {to}")]
    StatusChange {
        /// The current status.
        from: EventStatus,
        /// The requested one.
        to: EventStatus,
    },
    /// The payment link template is refused (field `payment_url`).
    #[error("payment_url: {0}")]
    PaymentLink(#[from] PaymentLinkError),
}

/// Where an event is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    /// Being prepared; not listed publicly, not admitting.
    Draft,
    /// Listed and admitting.
    Published,
    /// Called off; tickets no longer admit.
    Cancelled,
    /// Over.
    Ended,
}

impl EventStatus {
    /// Every status.
    pub const ALL: [EventStatus; 4] = [Self::Draft, Self::Published, Self::Cancelled, Self::Ended];

    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Cancelled => "cancelled",
            Self::Ended => "ended",
        }
    }

    /// Whether an event may go from `self` to `to`: draft → published → ended, and cancelled
    /// from draft or published. Cancelled and ended are final.
    pub fn can_become(self, to: EventStatus) -> bool {
        use EventStatus::*;
        matches!((self, to), (Draft, Published) | (Draft, Cancelled) | (Published, Cancelled) | (Published, Ended))
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventStatus {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "draft" => Ok(Self::Draft),
            "published" => Ok(Self::Published),
            "cancelled" => Ok(Self::Cancelled),
            "ended" => Ok(Self::Ended),
            _ => Err(FieldError::new("status", FieldProblem::Format("must be draft, published, cancelled or ended"))),
        }
    }
}

/// An IANA time zone such as `Europe/Paris`, validated against the tz database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TimeZone(Tz);

impl TimeZone {
    /// Parses an IANA name.
    pub fn parse(name: &str) -> Result<Self, FieldError> {
        name.trim().parse::<Tz>().map(Self).map_err(|_| {
            FieldError::new("time_zone", FieldProblem::Format("must be an IANA time zone such as Europe/Paris"))
        })
    }

    /// The IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The calendar day `at` falls on in this zone.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.0).date_naive()
    }

    /// The chrono-tz zone, for formatting local times.
    pub fn tz(&self) -> Tz {
        self.0
    }
}

impl TryFrom<String> for TimeZone {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<TimeZone> for String {
    fn from(tz: TimeZone) -> Self {
        tz.name().to_owned()
    }
}

/// What an organiser fills in to create or change an event: raw input, validated by
/// [`Event::new`] and [`Event::revise`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSpec {
    /// Up to 200 characters.
    pub title: String,
    /// Up to 10,000 characters; line breaks allowed.
    #[serde(default)]
    pub description: String,
    /// When the event starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends; after `starts_at`.
    pub ends_at: DateTime<Utc>,
    /// IANA name, such as `Africa/Abidjan`.
    pub time_zone: String,
    /// The venue, up to 300 characters.
    pub location: String,
    /// How many tickets may exist for the event in all (at least 1).
    pub capacity: u32,
    /// Optional, up to 200 characters.
    #[serde(default)]
    pub dress_code: Option<String>,
    /// Whether a ticket may enter again after an exit.
    #[serde(default)]
    pub allow_reentry: bool,
    /// Optional external payment link template (see [`crate::payment_link`]): `https://` only,
    /// placeholders `{order_id}`, `{order_token}`, `{amount_minor}`, `{amount}`, `{currency}`,
    /// `{email}`, `{return_url}`.
    #[serde(default)]
    pub payment_url: Option<String>,
    /// The most tickets one order may hold (1 to 1,000; [`DEFAULT_MAX_TICKETS_PER_ORDER`] when
    /// absent).
    #[serde(default = "default_max_per_order")]
    pub max_tickets_per_order: u32,
    /// How many minutes before `starts_at` the doors open: an entry earlier is refused as
    /// `too_early`, unless the ticket type's own validity window starts earlier (early access).
    /// 0 to 10,080 (a week); [`DEFAULT_DOORS_OPEN_MINUTES`] (4 hours) when absent.
    #[serde(default = "default_doors_open")]
    pub doors_open_minutes: u32,
    /// Whether the emails that carry tickets (issued, paid, sent again) attach each ticket's PDF
    /// as well as its link; yes when absent.
    #[serde(default = "default_email_pdfs")]
    pub email_pdfs: bool,
}

fn default_email_pdfs() -> bool {
    true
}

/// How long before its start an event lets people in, unless it says otherwise: 4 hours, room for
/// a festival's queues and a concert's early doors, while a ticket for next month's event does
/// not scan today.
pub const DEFAULT_DOORS_OPEN_MINUTES: u32 = 240;

/// The longest doors-open lead: a week.
pub const MAX_DOORS_OPEN_MINUTES: u32 = 7 * 24 * 60;

fn default_doors_open() -> u32 {
    DEFAULT_DOORS_OPEN_MINUTES
}

/// How many tickets one order may hold unless the event says otherwise.
pub const DEFAULT_MAX_TICKETS_PER_ORDER: u32 = 10;

/// The most an event may allow in one order.
pub const MAX_TICKETS_PER_ORDER: u32 = 1000;

fn default_max_per_order() -> u32 {
    DEFAULT_MAX_TICKETS_PER_ORDER
}

/// An event. A value of this type always satisfies its invariants: non-blank title and location,
/// `ends_at` after `starts_at`, a real time zone, a capacity of at least one, an http(s) payment URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    id: EventId,
    title: String,
    description: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    time_zone: TimeZone,
    location: String,
    capacity: u32,
    dress_code: Option<String>,
    allow_reentry: bool,
    doors_open_minutes: u32,
    status: EventStatus,
    payment_url: Option<PaymentLink>,
    max_tickets_per_order: u32,
    email_pdfs: bool,
}

impl Event {
    /// Validates `spec` into a new draft event.
    pub fn new(id: EventId, spec: &EventSpec) -> Result<Self, EventError> {
        if spec.ends_at <= spec.starts_at {
            return Err(EventError::EndsBeforeStart);
        }
        if spec.capacity == 0 {
            return Err(FieldError::new("capacity", FieldProblem::Range("must be at least 1")).into());
        }
        if spec.doors_open_minutes > MAX_DOORS_OPEN_MINUTES {
            return Err(
                FieldError::new("doors_open_minutes", FieldProblem::Range("must be from 0 to 10080 (a week)")).into()
            );
        }
        if !(1..=MAX_TICKETS_PER_ORDER).contains(&spec.max_tickets_per_order) {
            return Err(FieldError::new("max_tickets_per_order", FieldProblem::Range("must be from 1 to 1000")).into());
        }
        Ok(Self {
            id,
            title: field::single_line("title", &spec.title, 200)?,
            description: field::long_text("description", &spec.description, 10_000)?,
            starts_at: spec.starts_at,
            ends_at: spec.ends_at,
            time_zone: TimeZone::parse(&spec.time_zone)?,
            location: field::single_line("location", &spec.location, 300)?,
            capacity: spec.capacity,
            dress_code: field::optional_line("dress_code", spec.dress_code.as_deref(), 200)?,
            allow_reentry: spec.allow_reentry,
            doors_open_minutes: spec.doors_open_minutes,
            status: EventStatus::Draft,
            payment_url: spec
                .payment_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .map(PaymentLink::parse)
                .transpose()?,
            max_tickets_per_order: spec.max_tickets_per_order,
            email_pdfs: spec.email_pdfs,
        })
    }

    /// Rebuilds a stored event: `spec` is validated again, `status` taken as stored. For storage
    /// backends. A payment link saved before links were checked as templates is kept as it was
    /// ([`PaymentLink::stored`]): the event stays readable; saving it again checks it.
    pub fn restore(id: EventId, spec: &EventSpec, status: EventStatus) -> Result<Self, EventError> {
        let checked = EventSpec { payment_url: None, ..spec.clone() };
        let mut event = Self::new(id, &checked)?;
        event.status = status;
        event.payment_url =
            spec.payment_url.as_deref().map(str::trim).filter(|u| !u.is_empty()).map(PaymentLink::stored);
        Ok(event)
    }

    /// The same event with its fields replaced by `spec` (id and status kept), every field
    /// checked. Whether the new capacity still holds the tickets already issued is checked by
    /// [`crate::quota`].
    pub fn revise(&self, spec: &EventSpec) -> Result<Self, EventError> {
        let mut event = Self::new(self.id, spec)?;
        event.status = self.status;
        Ok(event)
    }

    /// The same event in status `to`, if the move is allowed ([`EventStatus::can_become`]).
    pub fn with_status(&self, to: EventStatus) -> Result<Self, EventError> {
        if !self.status.can_become(to) {
            return Err(EventError::StatusChange { from: self.status, to });
        }
        Ok(Self { status: to, ..self.clone() })
    }

    /// The id.
    pub fn id(&self) -> EventId {
        self.id
    }
    /// The title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The description (may be empty).
    pub fn description(&self) -> &str {
        &self.description
    }
    /// Start instant.
    pub fn starts_at(&self) -> DateTime<Utc> {
        self.starts_at
    }
    /// End instant; after the start.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }
    /// The event's time zone, in which "a day" is counted for daily entry limits.
    pub fn time_zone(&self) -> TimeZone {
        self.time_zone
    }
    /// The venue.
    pub fn location(&self) -> &str {
        &self.location
    }
    /// Maximum number of live tickets for the whole event.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
    /// The dress code, if any.
    pub fn dress_code(&self) -> Option<&str> {
        self.dress_code.as_deref()
    }
    /// Whether a ticket may enter again after an exit.
    pub fn allow_reentry(&self) -> bool {
        self.allow_reentry
    }
    /// How many minutes before the start the doors open.
    pub fn doors_open_minutes(&self) -> u32 {
        self.doors_open_minutes
    }
    /// Whether ticket emails attach each ticket's PDF.
    pub fn email_pdfs(&self) -> bool {
        self.email_pdfs
    }
    /// When entries open (the start less the doors-open lead), unless a ticket type's validity
    /// window says otherwise.
    pub fn doors_open_at(&self) -> DateTime<Utc> {
        self.starts_at - chrono::Duration::minutes(i64::from(self.doors_open_minutes))
    }
    /// The status.
    pub fn status(&self) -> EventStatus {
        self.status
    }
    /// The external payment link template, if any.
    pub fn payment_url(&self) -> Option<&PaymentLink> {
        self.payment_url.as_ref()
    }
    /// The most tickets one order may hold.
    pub fn max_tickets_per_order(&self) -> u32 {
        self.max_tickets_per_order
    }
    /// The spec this event was built from, for editing.
    pub fn spec(&self) -> EventSpec {
        EventSpec {
            title: self.title.clone(),
            description: self.description.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            time_zone: self.time_zone.name().to_owned(),
            location: self.location.clone(),
            capacity: self.capacity,
            dress_code: self.dress_code.clone(),
            allow_reentry: self.allow_reentry,
            payment_url: self.payment_url.as_ref().map(|u| u.as_str().to_owned()),
            doors_open_minutes: self.doors_open_minutes,
            max_tickets_per_order: self.max_tickets_per_order,
            email_pdfs: self.email_pdfs,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone as _;

    use super::*;

    pub(crate) fn spec() -> EventSpec {
        EventSpec {
            title: "Festival d'été".into(),
            description: "Trois jours de musique.\nEntrée libre pour les enfants.".into(),
            starts_at: Utc.with_ymd_and_hms(2027, 7, 1, 16, 0, 0).single().unwrap_or_default(),
            ends_at: Utc.with_ymd_and_hms(2027, 7, 3, 23, 0, 0).single().unwrap_or_default(),
            time_zone: "Europe/Paris".into(),
            location: "Parc de la Tête d'Or, Lyon".into(),
            capacity: 1000,
            dress_code: Some("Tenue correcte".into()),
            allow_reentry: true,
            payment_url: Some("https://pay.example.org/festival".into()),
            doors_open_minutes: DEFAULT_DOORS_OPEN_MINUTES,
            max_tickets_per_order: DEFAULT_MAX_TICKETS_PER_ORDER,
            email_pdfs: true,
        }
    }

    fn id() -> EventId {
        EventId::from_uuid(uuid::Uuid::nil())
    }

    #[test]
    fn a_valid_spec_makes_a_draft_event() -> Result<(), EventError> {
        let event = Event::new(id(), &spec())?;
        assert_eq!(event.status(), EventStatus::Draft);
        assert_eq!(event.time_zone().name(), "Europe/Paris");
        assert_eq!(event.spec(), spec());
        Ok(())
    }

    #[test]
    fn end_must_follow_start() {
        let mut s = spec();
        s.ends_at = s.starts_at;
        assert_eq!(Event::new(id(), &s), Err(EventError::EndsBeforeStart));
    }

    #[test]
    fn each_field_is_validated_and_named() {
        type Mutation = Box<dyn Fn(&mut EventSpec)>;
        let cases: Vec<(&str, Mutation)> = vec![
            ("title", Box::new(|s| s.title = "  ".into())),
            ("title", Box::new(|s| s.title = "x".repeat(201))),
            ("description", Box::new(|s| s.description = "\u{0}".into())),
            ("location", Box::new(|s| s.location = String::new())),
            ("time_zone", Box::new(|s| s.time_zone = "Mars/Olympus".into())),
            ("capacity", Box::new(|s| s.capacity = 0)),
            ("dress_code", Box::new(|s| s.dress_code = Some("a\nb".into()))),
            ("max_tickets_per_order", Box::new(|s| s.max_tickets_per_order = 0)),
            ("max_tickets_per_order", Box::new(|s| s.max_tickets_per_order = 1001)),
        ];
        for (field, mutate) in cases {
            let mut s = spec();
            mutate(&mut s);
            match Event::new(id(), &s) {
                Err(EventError::Field(e)) => assert_eq!(e.field, field),
                other => panic!("{field}: expected a field error, got {other:?}"),
            }
        }
        let legacy = EventSpec { payment_url: Some("http://pay.example.org/old".into()), ..spec() };
        let stored = Event::restore(id(), &legacy, EventStatus::Published).unwrap();
        assert_eq!(stored.payment_url().map(PaymentLink::as_str), Some("http://pay.example.org/old"), "still readable");
        assert!(stored.revise(&legacy).is_err(), "saving it again checks it");
        for link in [
            "javascript:alert(1)",
            "ftp://example.org",
            "http://pay.example.org",
            "https:///path",
            "https://exa mple.org",
            "https://pay.example.org/{order}",
        ] {
            let s = EventSpec { payment_url: Some(link.into()), ..spec() };
            assert!(matches!(Event::new(id(), &s), Err(EventError::PaymentLink(_))), "{link}");
        }
    }

    #[test]
    fn blank_optional_fields_are_absent() -> Result<(), EventError> {
        let mut s = spec();
        s.dress_code = Some(" ".into());
        s.payment_url = Some(String::new());
        let event = Event::new(id(), &s)?;
        assert_eq!((event.dress_code(), event.payment_url()), (None, None));
        Ok(())
    }

    #[test]
    fn status_moves_follow_the_lifecycle() -> Result<(), EventError> {
        use EventStatus::*;
        let all = [Draft, Published, Cancelled, Ended];
        let allowed = [(Draft, Published), (Draft, Cancelled), (Published, Cancelled), (Published, Ended)];
        for from in all {
            for to in all {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
        let published = Event::new(id(), &spec())?.with_status(Published)?;
        assert_eq!(published.with_status(Draft), Err(EventError::StatusChange { from: Published, to: Draft }));
        assert_eq!(published.revise(&spec())?.status(), Published);
        Ok(())
    }

    #[test]
    fn local_dates_follow_the_time_zone() -> Result<(), FieldError> {
        let tz = TimeZone::parse("America/New_York")?;
        let late_evening = Utc.with_ymd_and_hms(2027, 1, 2, 3, 0, 0).single().unwrap_or_default();
        assert_eq!(tz.local_date(late_evening), NaiveDate::from_ymd_opt(2027, 1, 1).unwrap_or_default());
        Ok(())
    }
}
