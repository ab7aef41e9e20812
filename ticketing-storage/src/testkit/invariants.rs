//! Random sequences of scans, payments, refunds, invalidations and time passing never break the
//! rules: entries stay within the usage and daily limits, no second entry without re-entry,
//! status agrees with entries, a refused step changes nothing, counters equal rows.

use chrono::Duration;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use ticketing_core::env::Clock;
use ticketing_core::scan::Direction;
use ticketing_core::status::{TicketAction, TicketStatus};
use ticketing_core::store::TicketFilter;

use super::support::{Backend, ConfirmOrRefusal, Options, World, event_start};

#[derive(Clone, Debug)]
enum Op {
    Scan { ticket: usize, direction: Direction, vip_gate: bool },
    Change { ticket: usize, action: TicketAction },
    Wait { hours: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, prop_oneof![Just(Direction::In), Just(Direction::Out)], proptest::bool::weighted(0.2))
            .prop_map(|(ticket, direction, vip_gate)| Op::Scan { ticket, direction, vip_gate }),
        2 => (0..3usize, prop_oneof![Just(TicketAction::Pay), Just(TicketAction::Refund), Just(TicketAction::Invalidate), Just(TicketAction::Reserve), Just(TicketAction::Release)])
            .prop_map(|(ticket, action)| Op::Change { ticket, action }),
        1 => (1..20i64).prop_map(|hours| Op::Wait { hours }),
    ]
}

/// The property: `cases` random sequences, each on a fresh store of `backend`.
pub fn random_sequences_keep_the_rules(backend: &Backend, cases: u32) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let strategy = (
        any::<bool>(),
        1u32..4,
        proptest::option::of(1u32..3),
        proptest::collection::vec(any::<bool>(), 3),
        proptest::collection::vec(op(), 1..40),
    );
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    let result = runner.run(&strategy, |(allow_reentry, usage_limit, daily_entry_limit, paid, ops)| {
        runtime.block_on(async {
            let result = run_sequence(backend, allow_reentry, usage_limit, daily_entry_limit, paid, ops).await;
            backend.finish().await;
            result
        })
    });
    if let Err(e) = result {
        panic!("{} backend: {e}", backend.name());
    }
}

async fn run_sequence(
    backend: &Backend,
    allow_reentry: bool,
    usage_limit: u32,
    daily_entry_limit: Option<u32>,
    paid: Vec<bool>,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let w = World::new(backend, Options { allow_reentry, usage_limit, daily_entry_limit, ..Options::default() }).await;
    w.clock.set(event_start());
    let mut tickets = Vec::new();
    for p in &paid {
        tickets.push(w.ticket(&w.standard, if *p { TicketStatus::Paid } else { TicketStatus::Issued }).await.id());
    }
    for op in ops {
        match op {
            Op::Scan { ticket, direction, vip_gate } => {
                let before = w.engine.ticket(tickets[ticket]).await.unwrap();
                let gate = if vip_gate { &w.vip_gate } else { &w.main_gate };
                let requested = w.request(w.qr(&before), gate, w.agent).await;
                let outcome = match requested.session {
                    Some(s) => ConfirmOrRefusal::Confirmed(w.confirm(&s.token, direction, gate, w.agent).await),
                    None => ConfirmOrRefusal::Refused(requested),
                };
                let after = w.engine.ticket(tickets[ticket]).await.unwrap();
                if outcome.reason().is_ok() {
                    let expected = match direction {
                        Direction::In => (TicketStatus::Inside, before.entries_used() + 1),
                        Direction::Out => (TicketStatus::Outside, before.entries_used()),
                    };
                    prop_assert_eq!((after.status(), after.entries_used()), expected);
                } else {
                    prop_assert_eq!(&after, &before, "a refused scan changed the ticket: {:?}", outcome);
                }
            }
            Op::Change { ticket, action } => {
                let before = w.engine.ticket(tickets[ticket]).await.unwrap();
                if w.engine.change_ticket(tickets[ticket], action).await.is_err() {
                    prop_assert_eq!(&w.engine.ticket(tickets[ticket]).await.unwrap(), &before);
                }
            }
            Op::Wait { hours } => w.clock.advance(Duration::hours(hours)),
        }
        let today = w.event.time_zone().local_date(w.clock.now());
        for id in &tickets {
            let t = w.engine.ticket(*id).await.unwrap();
            prop_assert!(t.entries_used() <= usage_limit);
            if !allow_reentry {
                prop_assert!(t.entries_used() <= 1, "entered twice without re-entry");
            }
            if let Some(limit) = daily_entry_limit {
                prop_assert!(t.entries_on(today) <= limit);
            }
            match t.status() {
                TicketStatus::Inside | TicketStatus::Outside => prop_assert!(t.entries_used() >= 1),
                TicketStatus::Issued | TicketStatus::Reserved | TicketStatus::Paid => {
                    prop_assert_eq!(t.entries_used(), 0)
                }
                TicketStatus::Invalid | TicketStatus::Refunded => {}
            }
        }
        let rows = w
            .engine
            .store()
            .tickets(&TicketFilter { ticket_type_id: Some(w.standard.id()), ..Default::default() })
            .await
            .unwrap();
        let live = rows.iter().filter(|t| t.status().is_live()).count() as u32;
        prop_assert_eq!(w.engine.store().allocation(w.standard.id()).await.unwrap().type_live, live);
    }
    Ok(())
}
