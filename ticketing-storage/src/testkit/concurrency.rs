//! Storms: many tasks on a multi-threaded runtime racing for the same places and the same ticket.

use std::sync::Arc;

use ticketing_core::engine::{Error, IssueRequest};
use ticketing_core::gate::GateSpec;
use ticketing_core::quota::QuotaError;
use ticketing_core::scan::{ConfirmRequest, Direction, ScanReason};
use ticketing_core::status::TicketStatus;
use ticketing_core::store::{ScanLogFilter, TicketFilter};

use super::support::{Backend, Options, World};

/// Conformance case.
pub async fn a_thousand_reservations_against_a_quota_of_a_hundred(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options { quota: 100, ..Options::default() }).await);
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let w = w.clone();
            tokio::spawn(async move {
                let request = IssueRequest {
                    ticket_type_id: w.standard.id(),
                    count: 1,
                    holders: vec![],
                    status: TicketStatus::Reserved,
                };
                w.engine.issue_tickets(&request).await
            })
        })
        .collect();
    let (mut won, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(tickets) => won += tickets.len(),
            Err(Error::Quota(QuotaError::TypeQuota { quota: 100, .. })) => refused += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!((won, refused), (100, 900));
    assert_counters_match_rows(&w).await;
}

/// Conformance case.
pub async fn fifty_confirms_of_one_ticket_from_five_gates_enter_once(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options::default()).await);
    let ticket = w.ticket(&w.standard, TicketStatus::Paid).await;
    let mut gates = Vec::new();
    for i in 0..5 {
        let spec = GateSpec { name: format!("Gate {i}"), agents: vec![w.agent.id], ticket_types: None };
        gates.push(w.engine.add_gate(w.event.id(), &spec).await.unwrap());
    }
    let mut confirms = Vec::new();
    for i in 0..50 {
        let gate = &gates[i % 5];
        let session = w.request(w.qr(&ticket), gate, w.agent).await.session.unwrap();
        confirms.push(ConfirmRequest {
            token: session.token,
            direction: Direction::In,
            gate_id: gate.id(),
            agent: w.agent,
            nonce: None,
        });
    }
    let tasks: Vec<_> = confirms
        .into_iter()
        .map(|c| {
            let w = w.clone();
            tokio::spawn(async move { w.engine.scan_confirm(&c).await })
        })
        .collect();
    let mut reasons = Vec::new();
    for task in tasks {
        reasons.push(task.await.unwrap().unwrap().reason);
    }
    assert_eq!(reasons.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(reasons.iter().filter(|r| **r == ScanReason::AlreadyInside).count(), 49);
    let after = w.engine.ticket(ticket.id()).await.unwrap();
    assert_eq!((after.status(), after.entries_used()), (TicketStatus::Inside, 1));
    let logs = w
        .engine
        .store()
        .scan_logs(&ScanLogFilter { ticket_id: Some(ticket.id()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(logs.len(), 50);
    assert_eq!(logs.iter().filter(|l| l.reason.is_ok()).count(), 1);
    assert_counters_match_rows(&w).await;
}

/// Conformance case.
pub async fn the_same_session_confirmed_twenty_times_at_once_enters_once(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options::default()).await);
    let ticket = w.ticket(&w.standard, TicketStatus::Paid).await;
    let token = w.request(w.qr(&ticket), &w.main_gate, w.agent).await.session.unwrap().token;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (w, token) = (w.clone(), token.clone());
            tokio::spawn(async move { w.confirm(&token, Direction::In, &w.main_gate, w.agent).await.reason })
        })
        .collect();
    let mut reasons = Vec::new();
    for task in tasks {
        reasons.push(task.await.unwrap());
    }
    assert_eq!(reasons.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(reasons.iter().all(|r| r.is_ok() || *r == ScanReason::SessionUsed), "{reasons:?}");
    assert_eq!(w.engine.ticket(ticket.id()).await.unwrap().entries_used(), 1);
}

/// The live counters the quota checks read agree with the ticket rows.
async fn assert_counters_match_rows(w: &World) {
    for ticket_type in [&w.standard, &w.vip] {
        let rows = w
            .engine
            .store()
            .tickets(&TicketFilter { ticket_type_id: Some(ticket_type.id()), ..Default::default() })
            .await
            .unwrap();
        let live = rows.iter().filter(|t| t.status().is_live()).count() as u32;
        assert_eq!(w.engine.store().allocation(ticket_type.id()).await.unwrap().type_live, live);
    }
    let rows =
        w.engine.store().tickets(&TicketFilter { event_id: Some(w.event.id()), ..Default::default() }).await.unwrap();
    let live = rows.iter().filter(|t| t.status().is_live()).count() as u32;
    assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().event_live, live);
}

/// Conformance case.
pub async fn twenty_concurrent_creations_of_one_type_name_make_one_type(backend: &Backend) {
    let w = Arc::new(World::new(backend, Options::default()).await);
    let spec = ticketing_core::ticket_type::TicketTypeSpec { name: "Early bird".into(), ..w.standard.spec() };
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (w, spec) = (w.clone(), spec.clone());
            tokio::spawn(async move { w.engine.add_ticket_type(w.event.id(), &spec).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => created += 1,
            // Refused by the engine's check or, when the race passes it, by the store.
            Err(Error::TicketType(_) | Error::Conflict(_)) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 1);
    let names: Vec<String> =
        w.engine.store().ticket_types(w.event.id()).await.unwrap().iter().map(|t| t.name().to_owned()).collect();
    assert_eq!(names.iter().filter(|n| *n == "Early bird").count(), 1);
}
