//! The state instances share in Redis ([`RedisFleet`]), with two instances' handles on one Redis:
//! a rate limit holds across them, a revocation announced by one reaches the other, and the
//! shared suspicion watch finds what the pure [`SuspicionWatch`] finds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use proptest::prelude::*;
use ticketing_core::fleet::{CellRate, Coordinator, Revoked, ScanSeen};
use ticketing_core::ids::{GateId, TicketId, UserId};
use ticketing_core::scan::{ScanReason, Suspicion, SuspicionRules, SuspicionWatch};
use ticketing_storage::RedisFleet;
use ticketing_storage::testkit::servers::{Prefixes, redis_url};

/// `REDIS_URL`, or `None` (and a note) when it is not set and not required.
fn redis() -> Option<String> {
    let url = redis_url();
    if url.is_none() {
        assert!(std::env::var_os("TICKETING_REQUIRE_SERVERS").is_none(), "REDIS_URL is not set");
        eprintln!("skipped: REDIS_URL is not set");
    }
    url
}

type Heard = Arc<Mutex<Vec<Option<Revoked>>>>;

async fn instance(url: &str, prefix: &str) -> (RedisFleet, Heard) {
    let heard: Heard = Arc::default();
    let sink = heard.clone();
    let fleet = RedisFleet::connect(url, prefix, Arc::new(move |news| sink.lock().expect("the news heard").push(news)))
        .await
        .expect("Redis");
    (fleet, heard)
}

#[tokio::test]
async fn a_limit_holds_across_instances_and_news_reach_every_one() {
    let Some(url) = redis() else { return };
    let prefixes = Prefixes::default();
    let prefix = prefixes.fresh();
    let (one, heard_one) = instance(&url, &prefix).await;
    let (two, heard_two) = instance(&url, &prefix).await;

    // 10 a minute, asked 30 times through both: 10 pass in all.
    let rate = CellRate { interval: Duration::from_secs(6), tolerance: Duration::from_secs(54) };
    let mut passed = 0;
    for i in 0..30 {
        let fleet = if i % 2 == 0 { &one } else { &two };
        if fleet.check_rate("token:10.0.0.1", rate, true).await.unwrap().is_none() {
            passed += 1;
        }
    }
    assert_eq!(passed, 10, "N in total, not N per instance");
    let wait = two.check_rate("token:10.0.0.1", rate, false).await.unwrap().expect("refused");
    assert!(wait > Duration::from_secs(5) && wait <= Duration::from_secs(6), "the next one in an interval: {wait:?}");
    assert_eq!(one.check_rate("token:10.0.0.2", rate, false).await.unwrap(), None, "cells are separate");

    // A revocation announced by one is heard by both within 100 ms.
    let news = Revoked::User(UserId::from_uuid(uuid::Uuid::from_u128(42)));
    let sent = std::time::Instant::now();
    one.announce(&news).await.unwrap();
    while !(heard_one.lock().unwrap().contains(&Some(news.clone()))
        && heard_two.lock().unwrap().contains(&Some(news.clone())))
    {
        assert!(sent.elapsed() < Duration::from_millis(100), "heard within 100 ms");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(one.listening() && two.listening());

    // Patterns spread over the two are seen: forged codes at one gate, one ticket at two gates.
    let rules = SuspicionRules { bad_signatures: 3, ..SuspicionRules::default() };
    let (gate_a, gate_b) = (GateId::from_uuid(uuid::Uuid::from_u128(1)), GateId::from_uuid(uuid::Uuid::from_u128(2)));
    let at = Utc::now();
    let bad = |i: i64| ScanSeen {
        gate_id: gate_a,
        ticket_id: None,
        reason: ScanReason::BadSignature,
        at: at + chrono::Duration::seconds(i),
    };
    assert!(one.observe_scan(bad(0), &rules).await.unwrap().is_empty());
    assert!(two.observe_scan(bad(1), &rules).await.unwrap().is_empty());
    let found = one.observe_scan(bad(2), &rules).await.unwrap();
    assert!(matches!(found.as_slice(), [Suspicion::RepeatedBadSignatures { count: 3, .. }]), "{found:?}");
    let ticket = Some(TicketId::from_uuid(uuid::Uuid::from_u128(9)));
    let pass = |gate_id, i: i64| ScanSeen {
        gate_id,
        ticket_id: ticket,
        reason: ScanReason::Ok,
        at: at + chrono::Duration::seconds(i),
    };
    assert!(one.observe_scan(pass(gate_a, 10), &rules).await.unwrap().is_empty());
    let found = two.observe_scan(pass(gate_b, 40), &rules).await.unwrap();
    assert!(
        matches!(found.as_slice(), [Suspicion::TicketAtTwoGates { seconds_apart: 30, held_back: 0, .. }]),
        "{found:?}"
    );

    // A broken subscription is made again and announced as `None` (forget everything: news
    // may have been missed meanwhile). In this test only: it breaks every subscription.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: redis::Value =
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("pubsub").query_async(&mut admin).await.unwrap();
    let killed = std::time::Instant::now();
    while !heard_one.lock().unwrap().contains(&None) {
        assert!(killed.elapsed() < Duration::from_secs(5), "subscribed again");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(one.listening());
    let news = Revoked::Client("ci-bot".into());
    one.announce(&news).await.unwrap();
    let sent = std::time::Instant::now();
    while !heard_one.lock().unwrap().contains(&Some(news.clone())) {
        assert!(sent.elapsed() < Duration::from_secs(1), "news heard after the break");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    prefixes.delete_all(&url).await;
}

/// One request of a generated sequence: which instance answers it, at which gate, for which
/// ticket, with what verdict, how many seconds after the previous one.
#[derive(Clone, Debug)]
struct Step {
    instance: bool,
    gate: u8,
    ticket: Option<u8>,
    reason: ScanReason,
    after_secs: u8,
}

fn step() -> impl Strategy<Value = Step> {
    let reason = prop_oneof![
        Just(ScanReason::Ok),
        Just(ScanReason::BadSignature),
        Just(ScanReason::WrongEvent),
        Just(ScanReason::NotPaid),
    ];
    (any::<bool>(), 0u8..3, proptest::option::of(0u8..4), reason, 0u8..40)
        .prop_map(|(instance, gate, ticket, reason, after_secs)| Step { instance, gate, ticket, reason, after_secs })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever instance answers each request, the shared watch reports exactly what one pure
    /// watch shown every request reports.
    #[test]
    fn the_shared_watch_finds_what_the_pure_watch_finds(steps in proptest::collection::vec(step(), 1..60)) {
        let Some(url) = redis() else { return Ok(()) };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let prefixes = Prefixes::default();
            let prefix = prefixes.fresh();
            let (one, _) = instance(&url, &prefix).await;
            let (two, _) = instance(&url, &prefix).await;
            let rules = SuspicionRules { bad_signatures: 3, ..SuspicionRules::default() };
            let mut pure = SuspicionWatch::new(rules);
            // Whole microseconds, as Redis keeps them.
            let mut at = chrono::DateTime::from_timestamp_micros(Utc::now().timestamp_micros()).unwrap();
            for s in &steps {
                at += chrono::Duration::seconds(i64::from(s.after_secs));
                let seen = ScanSeen {
                    gate_id: GateId::from_uuid(uuid::Uuid::from_u128(u128::from(s.gate) + 1)),
                    ticket_id: s.ticket.map(|t| TicketId::from_uuid(uuid::Uuid::from_u128(u128::from(t) + 100))),
                    reason: s.reason,
                    at,
                };
                let fleet = if s.instance { &one } else { &two };
                let shared = fleet.observe_scan(seen, &rules).await.unwrap();
                let wanted = pure.observe(seen.gate_id, seen.ticket_id, seen.reason, seen.at);
                assert_eq!(shared, wanted, "at {s:?}");
            }
            prefixes.delete_all(&url).await;
        });
    }
}
