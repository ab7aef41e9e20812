//! The audit trail of every state-changing call: who, what, when, and a before/after summary
//! (the JSON of the resource, cut at [`SUMMARY_MAX`] characters; secrets never appear in the
//! views it is made from).
//!
//! The entry is appended right after the change it records. The two are not one transaction:
//! if the append fails, the change stands, the failure is logged at error level, and the call
//! still answers with its result (noted in ARCHITECTURE.md).

use serde::Serialize;
use ticketing_core::audit::{Actor, AuditEntry};
use ticketing_core::ids::{AuditId, EventId};

use crate::auth::Caller;
use crate::state::Shared;

/// The longest summary kept, in characters.
pub const SUMMARY_MAX: usize = 2000;

fn summary(value: &impl Serialize) -> Option<String> {
    let json = serde_json::to_string(value).ok()?;
    Some(match json.char_indices().nth(SUMMARY_MAX) {
        Some((cut, _)) => format!("{}…", &json[..cut]),
        None => json,
    })
}

/// One change to record.
pub struct Change<'a, B: Serialize, A: Serialize> {
    /// `noun.verb`.
    pub action: &'a str,
    /// `kind:id`.
    pub target: String,
    /// The event concerned.
    pub event_id: Option<EventId>,
    /// The state before.
    pub before: Option<&'a B>,
    /// The state after.
    pub after: Option<&'a A>,
}

impl<'a, A: Serialize> Change<'a, (), A> {
    /// A change with nothing before it (a creation, an issue, a purge): `after` is what it made.
    pub fn created(action: &'a str, target: String, event_id: Option<EventId>, after: &'a A) -> Self {
        Self { action, target, event_id, before: None, after: Some(after) }
    }
}

impl<'a, B: Serialize, A: Serialize> Change<'a, B, A> {
    /// A change of something that was `before` and is `after`.
    pub fn updated(action: &'a str, target: String, event_id: Option<EventId>, before: &'a B, after: &'a A) -> Self {
        Self { action, target, event_id, before: Some(before), after: Some(after) }
    }
}

impl<'a, B: Serialize> Change<'a, B, ()> {
    /// A change that left nothing after it (a deletion): `before` is what went.
    pub fn deleted(action: &'a str, target: String, event_id: Option<EventId>, before: &'a B) -> Self {
        Self { action, target, event_id, before: Some(before), after: None }
    }
}

/// Appends `change`, made by `caller`, to the trail.
pub async fn record<B: Serialize, A: Serialize>(state: &Shared, caller: &Caller, change: Change<'_, B, A>) {
    append(state, caller.actor.clone(), change).await;
}

/// Appends `change`, made by the system (a payment provider's webhook), to the trail.
pub async fn record_system<B: Serialize, A: Serialize>(state: &Shared, change: Change<'_, B, A>) {
    append(state, Actor::System, change).await;
}

async fn append<B: Serialize, A: Serialize>(state: &Shared, actor: Actor, change: Change<'_, B, A>) {
    let entry = AuditEntry {
        id: AuditId::generate(&*state.clock, &*state.rng),
        at: state.clock.now(),
        actor,
        action: change.action.to_owned(),
        target: change.target,
        event_id: change.event_id,
        before: change.before.and_then(summary),
        after: change.after.and_then(summary),
    };
    if let Err(e) = state.store().append_audit(&entry).await {
        tracing::error!(error = %e, action = %entry.action, target = %entry.target, "the audit entry was not written");
    }
}
