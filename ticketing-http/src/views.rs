//! The JSON shapes of the API: what is sent and what comes back, with their OpenAPI schemas.
//! Domain values stay in `ticketing-core`; these mirror them for the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ticketing_core::audit::{Actor, AuditEntry};
use ticketing_core::credential::{ApiClient, Duty, StaffAssignment};
use ticketing_core::event::{DEFAULT_DOORS_OPEN_MINUTES, DEFAULT_MAX_TICKETS_PER_ORDER, Event, EventSpec, EventStatus};
use ticketing_core::gate::{Gate, GateSpec};
use ticketing_core::ids::{GateId, TicketTypeId, UserId};
use ticketing_core::ticket_type::{TicketType, TicketTypeSpec};
use ticketing_core::user::{Role, User};
use utoipa::ToSchema;
use uuid::Uuid;

/// An event's fields, to create or replace it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Jazz à Vienne", "description": "Une soirée au théâtre antique.", "starts_at": "2027-07-01T18:00:00Z", "ends_at": "2027-07-01T23:00:00Z", "time_zone": "Europe/Paris", "location": "Théâtre antique, Vienne", "capacity": 500, "dress_code": "Tenue correcte", "allow_reentry": true, "doors_open_minutes": 120, "payment_url": "https://buy.stripe.com/test_00g?client_reference_id={order_id}&prefilled_email={email}", "max_tickets_per_order": 6, "email_pdfs": true}))]
pub struct EventBody {
    /// Up to 200 characters.
    pub title: String,
    /// Up to 10,000 characters.
    #[serde(default)]
    pub description: String,
    /// When it starts (RFC 3339).
    pub starts_at: DateTime<Utc>,
    /// When it ends; after `starts_at`.
    pub ends_at: DateTime<Utc>,
    /// An IANA time zone such as `Europe/Paris`.
    pub time_zone: String,
    /// The venue.
    pub location: String,
    /// Tickets that may exist in all; at least 1.
    pub capacity: u32,
    /// Optional.
    #[serde(default)]
    pub dress_code: Option<String>,
    /// Whether a ticket may enter again after going out.
    #[serde(default)]
    pub allow_reentry: bool,
    /// The external payment link buyers are sent to (`GET /pay/{order_token}`): `https://` only,
    /// with placeholders `{order_id}`, `{order_token}`, `{amount_minor}`, `{amount}`,
    /// `{currency}`, `{email}`, `{return_url}`, each filled URL-encoded.
    #[serde(default)]
    pub payment_url: Option<String>,
    /// Minutes before `starts_at` when the doors open (0 to 10,080; default 240): earlier entries
    /// are refused as `too_early`, unless the ticket type's validity window opens earlier.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10080)]
    pub doors_open_minutes: Option<u32>,
    /// The most tickets one order may hold (1 to 1,000; default 10).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000)]
    pub max_tickets_per_order: Option<u32>,
    /// Whether the emails that carry tickets attach each ticket's PDF as well as its link
    /// (default true).
    #[serde(default)]
    pub email_pdfs: Option<bool>,
    /// On creation by a superadmin: the organizer who runs it. An organizer runs the events they
    /// create.
    #[serde(default)]
    pub organizer_id: Option<Uuid>,
}

impl EventBody {
    /// The domain spec.
    pub fn spec(&self) -> EventSpec {
        EventSpec {
            title: self.title.clone(),
            description: self.description.clone(),
            starts_at: self.starts_at,
            ends_at: self.ends_at,
            time_zone: self.time_zone.clone(),
            location: self.location.clone(),
            capacity: self.capacity,
            dress_code: self.dress_code.clone(),
            allow_reentry: self.allow_reentry,
            payment_url: self.payment_url.clone(),
            doors_open_minutes: self.doors_open_minutes.unwrap_or(DEFAULT_DOORS_OPEN_MINUTES),
            max_tickets_per_order: self.max_tickets_per_order.unwrap_or(DEFAULT_MAX_TICKETS_PER_ORDER),
            email_pdfs: self.email_pdfs.unwrap_or(true),
        }
    }
}

/// An event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// The id.
    pub id: Uuid,
    /// The title.
    pub title: String,
    /// The description.
    pub description: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Its IANA time zone.
    pub time_zone: String,
    /// The venue.
    pub location: String,
    /// Tickets that may exist in all.
    pub capacity: u32,
    /// The dress code.
    pub dress_code: Option<String>,
    /// Whether re-entry is allowed.
    pub allow_reentry: bool,
    /// `draft`, `published`, `cancelled` or `ended`.
    pub status: String,
    /// The external payment link template.
    pub payment_url: Option<String>,
    /// Minutes before the start when the doors open.
    pub doors_open_minutes: u32,
    /// The most tickets one order may hold.
    pub max_tickets_per_order: u32,
    /// Whether ticket emails attach each ticket's PDF.
    pub email_pdfs: bool,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        Self {
            id: *e.id().as_uuid(),
            title: e.title().to_owned(),
            description: e.description().to_owned(),
            starts_at: e.starts_at(),
            ends_at: e.ends_at(),
            time_zone: e.time_zone().name().to_owned(),
            location: e.location().to_owned(),
            capacity: e.capacity(),
            dress_code: e.dress_code().map(str::to_owned),
            allow_reentry: e.allow_reentry(),
            status: e.status().as_str().to_owned(),
            payment_url: e.payment_url().map(|u| u.as_str().to_owned()),
            doors_open_minutes: e.doors_open_minutes(),
            max_tickets_per_order: e.max_tickets_per_order(),
            email_pdfs: e.email_pdfs(),
        }
    }
}

/// A page of events.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EventPage {
    /// The events, by start time.
    pub items: Vec<EventView>,
    /// This page (from 1).
    pub page: u32,
    /// Items per page.
    pub per_page: u32,
    /// Whether another page follows.
    pub has_more: bool,
}

/// A status change.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "published"}))]
pub struct StatusBody {
    /// `published`, `cancelled` or `ended` (draft → published → ended; cancelled from draft or
    /// published).
    #[schema(schema_with = crate::schema::event_status)]
    pub status: String,
}

impl StatusBody {
    /// The status asked for.
    pub fn parse(&self) -> Result<EventStatus, crate::problem::ApiError> {
        self.status
            .parse()
            .map_err(|e: ticketing_core::field::FieldError| crate::problem::ApiError::field("status", e.to_string()))
    }
}

/// A ticket type's fields.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Pass soirée", "price_minor": 4500, "currency": "EUR", "quota": 400, "usage_limit": 1}))]
pub struct TicketTypeBody {
    /// Unique within the event (case-insensitively).
    pub name: String,
    /// Price in minor units (cents); 0 for free.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Live tickets of this type that may exist.
    pub quota: u32,
    /// Entries one ticket allows; at least 1.
    pub usage_limit: u32,
    /// At most this many entries per day (in the event's time zone).
    #[serde(default)]
    pub daily_entry_limit: Option<u32>,
    /// No entry before this.
    #[serde(default)]
    pub validity_from: Option<DateTime<Utc>>,
    /// No entry after this (the event's end when absent).
    #[serde(default)]
    pub validity_to: Option<DateTime<Utc>>,
    /// When set, tickets enter only through these gates.
    #[serde(default)]
    pub gates: Option<Vec<Uuid>>,
}

impl TicketTypeBody {
    /// The domain spec.
    pub fn spec(&self) -> TicketTypeSpec {
        TicketTypeSpec {
            name: self.name.clone(),
            price_minor: self.price_minor,
            currency: self.currency.clone(),
            quota: self.quota,
            usage_limit: self.usage_limit,
            daily_entry_limit: self.daily_entry_limit,
            validity_from: self.validity_from,
            validity_to: self.validity_to,
            gates: self.gates.as_ref().map(|g| g.iter().map(|id| GateId::from_uuid(*id)).collect()),
        }
    }
}

/// A ticket type.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketTypeView {
    /// The id.
    pub id: Uuid,
    /// Its event.
    pub event_id: Uuid,
    /// The name.
    pub name: String,
    /// Price in minor units.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// The quota.
    pub quota: u32,
    /// Entries per ticket.
    pub usage_limit: u32,
    /// Entries per day.
    pub daily_entry_limit: Option<u32>,
    /// No entry before.
    pub validity_from: Option<DateTime<Utc>>,
    /// No entry after.
    pub validity_to: Option<DateTime<Utc>>,
    /// The gates it enters by (none: all).
    pub gates: Option<Vec<Uuid>>,
}

impl From<&TicketType> for TicketTypeView {
    fn from(t: &TicketType) -> Self {
        Self {
            id: *t.id().as_uuid(),
            event_id: *t.event_id().as_uuid(),
            name: t.name().to_owned(),
            price_minor: t.price().minor(),
            currency: t.price().currency().code().to_owned(),
            quota: t.quota(),
            usage_limit: t.usage_limit(),
            daily_entry_limit: t.daily_entry_limit(),
            validity_from: t.validity_from(),
            validity_to: t.validity_to(),
            gates: t.gates().map(|g| g.iter().map(|id| *id.as_uuid()).collect()),
        }
    }
}

/// A gate's fields.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "North entrance"}))]
pub struct GateBody {
    /// Such as `North entrance`.
    pub name: String,
    /// The agents (users with the agent role) who scan here.
    #[serde(default)]
    pub agents: Vec<Uuid>,
    /// When set, only these ticket types enter here.
    #[serde(default)]
    pub ticket_types: Option<Vec<Uuid>>,
}

impl GateBody {
    /// The domain spec.
    pub fn spec(&self) -> GateSpec {
        GateSpec {
            name: self.name.clone(),
            agents: self.agents.iter().map(|id| UserId::from_uuid(*id)).collect(),
            ticket_types: self.ticket_types.as_ref().map(|t| t.iter().map(|id| TicketTypeId::from_uuid(*id)).collect()),
        }
    }
}

/// A gate.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct GateView {
    /// The id.
    pub id: Uuid,
    /// Its event.
    pub event_id: Uuid,
    /// The name.
    pub name: String,
    /// The agents assigned.
    pub agents: Vec<Uuid>,
    /// The types admitted (none: all).
    pub ticket_types: Option<Vec<Uuid>>,
}

impl From<&Gate> for GateView {
    fn from(g: &Gate) -> Self {
        Self {
            id: *g.id().as_uuid(),
            event_id: *g.event_id().as_uuid(),
            name: g.name().to_owned(),
            agents: g.agents().iter().map(|a| *a.as_uuid()).collect(),
            ticket_types: g.ticket_types().map(|t| t.iter().map(|id| *id.as_uuid()).collect()),
        }
    }
}

/// A staff assignment at an event.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StaffView {
    /// The user.
    pub user_id: Uuid,
    /// `organizer` or `cashier`.
    pub duty: String,
}

impl From<&StaffAssignment> for StaffView {
    fn from(a: &StaffAssignment) -> Self {
        Self { user_id: *a.user_id.as_uuid(), duty: a.duty.as_str().to_owned() }
    }
}

/// A duty to give.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"duty": "cashier"}))]
pub struct DutyBody {
    /// `organizer` or `cashier`; the user must hold the matching role.
    #[schema(schema_with = crate::schema::duty)]
    pub duty: String,
}

impl DutyBody {
    /// The duty asked for.
    pub fn parse(&self) -> Result<Duty, crate::problem::ApiError> {
        self.duty.parse().map_err(|_| crate::problem::ApiError::field("duty", "must be organizer or cashier"))
    }
}

/// A staff user.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The id.
    pub id: Uuid,
    /// Their sign-in email.
    pub email: String,
    /// Their name.
    pub name: String,
    /// `superadmin`, `organizer`, `cashier` or `agent`.
    pub role: String,
    /// Whether they may sign in.
    pub active: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: *u.id.as_uuid(),
            email: u.email.as_str().to_owned(),
            name: u.name.clone(),
            role: u.role.as_str().to_owned(),
            active: u.active,
            created_at: u.created_at,
        }
    }
}

/// A new user.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "camille@example.org", "name": "Camille Martin", "role": "cashier", "password": "a long passphrase"}))]
pub struct NewUserBody {
    /// Sign-in email, unique.
    pub email: String,
    /// Their name.
    pub name: String,
    /// `superadmin`, `organizer`, `cashier` or `agent`.
    #[schema(schema_with = crate::schema::role)]
    pub role: String,
    /// At least 12 characters.
    #[schema(min_length = 12)]
    pub password: String,
}

/// Changes to a user; absent fields stay.
#[derive(Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Camille Martin-Durand"}))]
pub struct UserPatch {
    /// A new email.
    pub email: Option<String>,
    /// A new name.
    pub name: Option<String>,
    /// A new role.
    #[schema(schema_with = crate::schema::role)]
    pub role: Option<String>,
    /// Deactivating signs the user out everywhere.
    pub active: Option<bool>,
    /// A new password; signs the user out everywhere.
    #[schema(min_length = 12)]
    pub password: Option<String>,
}

/// Parses a role name, naming `field` when it is not one.
pub fn parse_role(field: &str, name: &str) -> Result<Role, crate::problem::ApiError> {
    name.parse().map_err(|_| crate::problem::ApiError::field(field, "must be superadmin, organizer, cashier or agent"))
}

/// An API client.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ClientView {
    /// The id.
    pub id: Uuid,
    /// What it signs in with.
    pub client_id: String,
    /// A label.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The user it acts for.
    pub owner: Uuid,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<&ApiClient> for ClientView {
    fn from(c: &ApiClient) -> Self {
        Self {
            id: *c.id.as_uuid(),
            client_id: c.client_id.clone(),
            name: c.name.clone(),
            role: c.role.as_str().to_owned(),
            owner: *c.owner.as_uuid(),
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

/// A new API client.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Box office till"}))]
pub struct NewClientBody {
    /// A label.
    pub name: String,
    /// Its role; at most the owner's (default: the owner's).
    #[serde(default)]
    #[schema(schema_with = crate::schema::role)]
    pub role: Option<String>,
    /// The user it acts for (superadmins only; default: the caller).
    #[serde(default)]
    pub owner: Option<Uuid>,
}

/// A new API client with its secret, shown this once.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct NewClientView {
    /// The client.
    #[serde(flatten)]
    pub client: ClientView,
    /// The secret for the client-credentials grant; not kept, shown once.
    pub client_secret: String,
}

/// One audited change.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditView {
    /// The id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// `user`, `client` or `system`.
    pub actor_kind: String,
    /// The user id or client id.
    pub actor_id: Option<String>,
    /// `noun.verb`, such as `event.update`.
    pub action: String,
    /// `kind:id`.
    pub target: String,
    /// The event concerned.
    pub event_id: Option<Uuid>,
    /// A summary of the state before.
    pub before: Option<String>,
    /// A summary of the state after.
    pub after: Option<String>,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> Self {
        let (actor_kind, actor_id) = match &e.actor {
            Actor::User(id) => ("user", Some(id.to_string())),
            Actor::Client(id) => ("client", Some(id.clone())),
            Actor::System => ("system", None),
        };
        Self {
            id: *e.id.as_uuid(),
            at: e.at,
            actor_kind: actor_kind.into(),
            actor_id,
            action: e.action.clone(),
            target: e.target.clone(),
            event_id: e.event_id.map(|id| *id.as_uuid()),
            before: e.before.clone(),
            after: e.after.clone(),
        }
    }
}
