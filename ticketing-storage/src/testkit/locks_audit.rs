//! The parts of a store the engine does not exercise yet: locks, the audit trail and the keys'
//! fingerprints.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ticketing_core::audit::{Actor, AuditEntry};
use ticketing_core::env::FixedClock;
use ticketing_core::ids::{AuditId, EventId};
use uuid::Uuid;

use super::support::Backend;

/// Conformance case.
pub async fn locks_have_owners_and_expire(backend: &Backend) {
    let clock = Arc::new(FixedClock::new(Utc::now()));
    let store = backend.store(clock.clone()).await;
    let ttl = Duration::from_secs(10);
    assert!(store.try_lock("job:1", "worker-a", ttl).await.unwrap());
    assert!(!store.try_lock("job:1", "worker-b", ttl).await.unwrap());
    assert!(!store.unlock("job:1", "worker-b").await.unwrap(), "only the owner releases");
    assert!(store.try_lock("job:2", "worker-b", ttl).await.unwrap(), "keys are independent");
    clock.advance(chrono::Duration::seconds(10));
    assert!(store.try_lock("job:1", "worker-b", ttl).await.unwrap(), "an expired lock can be taken");
    assert!(!store.unlock("job:1", "worker-a").await.unwrap(), "the old owner lost it");
    assert!(store.unlock("job:1", "worker-b").await.unwrap());
    assert!(store.try_lock("job:1", "worker-a", ttl).await.unwrap());
}

/// Conformance case.
pub async fn audit_entries_are_listed_newest_first_and_by_event(backend: &Backend) {
    let store = backend.store(Arc::new(FixedClock::new(Utc::now()))).await;
    let (a, b) = (EventId::from_uuid(Uuid::from_u128(1)), EventId::from_uuid(Uuid::from_u128(2)));
    for (i, event) in [a, b, a].into_iter().enumerate() {
        let entry = AuditEntry {
            id: AuditId::from_uuid(Uuid::from_u128(i as u128)),
            at: Utc::now(),
            actor: Actor::System,
            action: "event.update".into(),
            target: format!("event:{event}"),
            event_id: Some(event),
            before: Some(format!("v{i}")),
            after: Some(format!("v{}", i + 1)),
        };
        store.append_audit(&entry).await.unwrap();
    }
    let of_a = store.audit_entries(Some(a), 10).await.unwrap();
    assert_eq!(of_a.iter().map(|e| e.before.as_deref()).collect::<Vec<_>>(), [Some("v2"), Some("v0")]);
    assert_eq!(store.audit_entries(None, 2).await.unwrap().len(), 2);
}

/// Conformance case.
pub async fn fifty_audit_entries_appended_at_once_are_each_kept(backend: &Backend) {
    let store = backend.store(Arc::new(FixedClock::new(Utc::now()))).await;
    let event = EventId::from_uuid(Uuid::from_u128(7));
    let tasks: Vec<_> = (0..50u128)
        .map(|i| {
            let store = store.clone();
            let entry = AuditEntry {
                id: AuditId::from_uuid(Uuid::from_u128(100 + i)),
                at: Utc::now(),
                actor: Actor::System,
                action: "order.pay".into(),
                target: format!("order:{i}"),
                event_id: Some(event),
                before: None,
                after: Some(format!("{i}")),
            };
            tokio::spawn(async move { store.append_audit(&entry).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut kept: Vec<_> = store.audit_entries(Some(event), 100).await.unwrap().into_iter().map(|e| e.after).collect();
    kept.sort();
    let mut wanted: Vec<_> = (0..50).map(|i| Some(format!("{i}"))).collect();
    wanted.sort();
    assert_eq!(kept, wanted, "each entry once");
}

/// Conformance case.
pub async fn key_fingerprints_keep_the_first_of_each_kind_and_id(backend: &Backend) {
    use ticketing_core::fleet::{KeyFingerprint, KeyKind};
    let store = backend.store(Arc::new(FixedClock::new(Utc::now()))).await;
    assert!(store.key_fingerprints().await.unwrap().is_empty());
    let print = |kind, key_id, byte| KeyFingerprint { kind, key_id, digest: [byte; 16] };
    let first = [print(KeyKind::Qr, 1, 1), print(KeyKind::Link, 0, 2)];
    let recorded = store.record_key_fingerprints(&first, Utc::now()).await.unwrap();
    assert_eq!(recorded.len(), 2);
    assert!(first.iter().all(|p| recorded.contains(p)));
    // Two instances with different keys racing: each sees the same winner.
    let racers: Vec<_> = (10..20u8)
        .map(|byte| {
            let store = store.clone();
            tokio::spawn(async move {
                store.record_key_fingerprints(&[print(KeyKind::Qr, 2, byte)], Utc::now()).await.unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        let seen = racer.await.unwrap();
        winners.push(*seen.iter().find(|p| p.key_id == 2).unwrap());
    }
    assert!(winners.windows(2).all(|w| w[0] == w[1]), "one winner: {winners:?}");
    let again = store.record_key_fingerprints(&[print(KeyKind::Qr, 1, 9)], Utc::now()).await.unwrap();
    assert!(again.contains(&print(KeyKind::Qr, 1, 1)), "a recorded key is never replaced");
    assert_eq!(store.key_fingerprints().await.unwrap(), again);
}
