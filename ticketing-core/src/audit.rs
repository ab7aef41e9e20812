//! The audit trail: who changed what, when, with a before/after summary. An entry is written in
//! the same transaction as the change it records ([`Pending`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AuditId, EventId, UserId};

mod pending;
pub use pending::{Pending, Recorded, carried, committed, due, pending, writing};

/// Who made a change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A staff user.
    User(UserId),
    /// An API client (OAuth2 client credentials), by client id.
    Client(String),
    /// The system itself (a worker, a seeder, a scheduled task).
    System,
}

/// One audited change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The id.
    pub id: AuditId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it.
    pub actor: Actor,
    /// What was done, as `noun.verb`: `event.update`, `ticket.refund`, `scan.suspicious`…
    pub action: String,
    /// What it was done to, as `kind:id`.
    pub target: String,
    /// The event concerned, so organisers can read the trail of their own events.
    pub event_id: Option<EventId>,
    /// A short summary of the state before, if there was one.
    pub before: Option<String>,
    /// A short summary of the state after, if there is one.
    pub after: Option<String>,
}

impl AuditEntry {
    /// The entry with `key` set to `value` in its state after, when that is a JSON object: what
    /// only the store learns as it writes (the receipt number a desk sale takes).
    pub fn with_after_field(&self, key: &str, value: serde_json::Value) -> Self {
        let after = self.after.as_deref().and_then(|after| match serde_json::from_str(after) {
            Ok(serde_json::Value::Object(mut fields)) => {
                fields.insert(key.to_owned(), value);
                serde_json::to_string(&fields).ok()
            }
            _ => None,
        });
        Self { after: after.or_else(|| self.after.clone()), ..self.clone() }
    }
}
