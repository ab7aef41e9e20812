//! The audit trail of every state-changing call: who, what, when, and a before/after summary
//! (the JSON of the resource, cut at [`SUMMARY_MAX`] characters; secrets never appear in the
//! views it is made from).
//!
//! A route states its change's entry ([`Entry`]) and makes the change through [`run`]: the store
//! writes the entry in the change's own transaction ([`ticketing_core::audit::Pending`]), so the
//! two commit together or not at all. An entry whose summary or target is only known from what
//! the change writes (a creation's id, an update's state after) is completed with that value
//! ([`Entry::on_write`]).

use std::any::Any;
use std::future::Future;

use serde::Serialize;
use ticketing_core::audit::{Actor, AuditEntry, Pending, Recorded};
use ticketing_core::ids::{AuditId, EventId};

use crate::auth::Caller;
use crate::state::Shared;

/// The longest summary kept, in characters.
pub const SUMMARY_MAX: usize = 2000;

/// `value`'s JSON, cut at [`SUMMARY_MAX`] characters.
pub fn summary(value: &impl Serialize) -> Option<String> {
    let json = serde_json::to_string(value).ok()?;
    Some(match json.char_indices().nth(SUMMARY_MAX) {
        Some((cut, _)) => format!("{}…", &json[..cut]),
        None => json,
    })
}

/// A change's entry, as the route states it.
pub struct Entry(AuditEntry);

impl Entry {
    /// An entry of `action` (`noun.verb`) on `target` (`kind:id`, or `kind:?` until the change
    /// writes it), made by `caller`.
    pub fn by(state: &Shared, caller: &Caller, action: &str, target: String, event_id: Option<EventId>) -> Self {
        Self::of(state, caller.actor.clone(), action, target, event_id)
    }

    /// [`Self::by`] for a change made by the system (a payment provider's webhook).
    pub fn system(state: &Shared, action: &str, target: String, event_id: Option<EventId>) -> Self {
        Self::of(state, Actor::System, action, target, event_id)
    }

    fn of(state: &Shared, actor: Actor, action: &str, target: String, event_id: Option<EventId>) -> Self {
        Self(AuditEntry {
            id: AuditId::generate(&*state.clock, &*state.rng),
            at: state.clock.now(),
            actor,
            action: action.to_owned(),
            target,
            event_id,
            before: None,
            after: None,
        })
    }

    /// With the state before.
    pub fn before(mut self, value: &impl Serialize) -> Self {
        self.0.before = summary(value);
        self
    }

    /// With the state after.
    pub fn after(mut self, value: &impl Serialize) -> Self {
        self.0.after = summary(value);
        self
    }

    /// The entry, complete now.
    pub fn ready(self) -> Pending {
        Pending::ready(self.0)
    }

    /// The entry, recorded only when `complete`, given the value of type `T` the change writes,
    /// says so.
    pub fn on_write_if<T: Any>(self, complete: impl FnMut(&T, &mut AuditEntry) -> bool + Send + 'static) -> Pending {
        Pending::on_write_if(self.0, complete)
    }

    /// The entry, completed by `complete` with the value of type `T` the change writes.
    pub fn on_write<T: Any>(self, complete: impl FnMut(&T, &mut AuditEntry) + Send + 'static) -> Pending {
        Pending::on_write(self.0, complete)
    }
}

/// Makes `change` with `entry` pending, so the store writes the entry in the change's
/// transaction: the two commit together, or neither does. A change that fails leaves no entry,
/// and so does one that changed nothing (a repeat of a provider's notice, links revoked when none
/// were live: no step committed), or whose written value says not to record it
/// ([`Entry::on_write_if`]).
pub async fn run<T, E>(entry: Pending, change: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let (result, recorded) = entry.record(change).await;
    match (&result, recorded) {
        (Ok(_), Recorded::Unwritten(entry)) => {
            tracing::debug!(action = %entry.action, target = %entry.target, "the change changed nothing: no audit entry");
        }
        (Ok(_), Recorded::Incomplete) => {
            // A change that wrote without saying what (`audit::writing`): its entry is lost. A
            // bug of the engine or the store, which the tests' debug builds stop at.
            tracing::error!("a change succeeded without completing its audit entry");
            debug_assert!(false, "a change succeeded without completing its audit entry");
        }
        _ => {}
    }
    result
}

/// Appends an entry that records no change of state but a fact (a suspicious scan): the entry is
/// the whole of what happened.
pub async fn note(state: &Shared, entry: Entry) {
    if let Err(e) = state.store().append_audit(&entry.0).await {
        tracing::error!(error = %e, action = %entry.0.action, target = %entry.0.target, "the audit entry was not written");
    }
}
