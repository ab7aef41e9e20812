//! Suspicious patterns at the gates, spotted as scan requests come in, for the audit trail (and
//! later notifications):
//!
//! - **repeated bad signatures at one gate**: `bad_signatures` QR codes refused as
//!   `bad_signature` at a gate within `bad_signature_window` (someone is trying forged codes);
//!   reported once, then counting starts again;
//! - **one ticket at two gates**: a ticket presented at a gate within `two_gates_window` of being
//!   let through a request at another (a copied QR code in two hands). Refusals are not
//!   remembered (a holder sent from the wrong gate to the right one is no copy), nor are tickets
//!   of another event.
//!
//! Reports are throttled: at most one per pattern per gate per window (the pattern's own window).
//! What happens meanwhile is counted and carried by the next report, so a flood of forged codes
//! costs audit rows in proportion to time, not to requests.
//!
//! [`SuspicionWatch`] is pure state over the requests it is shown, bounded in memory; a server
//! keeps one and shows it every request it answers.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{GateId, TicketId};
use crate::scan::ScanReason;

/// The thresholds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SuspicionRules {
    /// Bad signatures at one gate that make a report.
    pub bad_signatures: usize,
    /// Within this long.
    pub bad_signature_window: Duration,
    /// A ticket seen at two gates within this long makes a report.
    pub two_gates_window: Duration,
    /// The most tickets and gates remembered; beyond it the oldest memories are dropped.
    pub capacity: usize,
}

impl Default for SuspicionRules {
    fn default() -> Self {
        Self {
            bad_signatures: 5,
            bad_signature_window: Duration::minutes(1),
            two_gates_window: Duration::minutes(2),
            capacity: 100_000,
        }
    }
}

/// A pattern worth an audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pattern", rename_all = "snake_case")]
pub enum Suspicion {
    /// Many forged or damaged QR codes at one gate.
    RepeatedBadSignatures {
        /// The gate.
        gate_id: GateId,
        /// How many since the gate's last report (at least the threshold within the window).
        count: usize,
        /// Since when.
        since: DateTime<Utc>,
    },
    /// One ticket at two gates in a short time.
    TicketAtTwoGates {
        /// The ticket.
        ticket_id: TicketId,
        /// Where it was first.
        first_gate: GateId,
        /// Where it is now.
        second_gate: GateId,
        /// Seconds between the two.
        seconds_apart: i64,
        /// Other tickets seen at two gates, arriving at this gate since its last report of this
        /// pattern, held back by the throttle.
        held_back: usize,
    },
}

impl Suspicion {
    /// The audit action name: `suspicious.bad_signatures` or `suspicious.two_gates`.
    pub fn action(&self) -> &'static str {
        match self {
            Self::RepeatedBadSignatures { .. } => "suspicious.bad_signatures",
            Self::TicketAtTwoGates { .. } => "suspicious.two_gates",
        }
    }

    /// The gate where it was seen (the second gate, for a ticket at two).
    pub fn gate_id(&self) -> GateId {
        match self {
            Self::RepeatedBadSignatures { gate_id, .. } => *gate_id,
            Self::TicketAtTwoGates { second_gate, .. } => *second_gate,
        }
    }
}

/// What the watch remembers.
#[derive(Debug, Default)]
pub struct SuspicionWatch {
    rules: SuspicionRules,
    /// Recent bad signatures per gate, oldest first.
    bad: HashMap<GateId, VecDeque<DateTime<Utc>>>,
    /// Where and when each ticket was last let through a request.
    seen: HashMap<TicketId, (GateId, DateTime<Utc>)>,
    /// The same, oldest first, to forget in time order.
    order: VecDeque<(DateTime<Utc>, TicketId)>,
    /// Per gate: the last report of each pattern, and what was held back since.
    throttle: HashMap<(GateId, Pattern), Throttle>,
}

/// The two patterns, as throttle keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pattern {
    BadSignatures,
    TwoGates,
}

/// When a gate last reported a pattern, and how much it held back since.
#[derive(Clone, Copy, Debug)]
struct Throttle {
    last: DateTime<Utc>,
    held: usize,
}

impl SuspicionWatch {
    /// Whether `gate` may report `pattern` at `at` (one report per window); if it may, what was
    /// held back since its last report (and the count starts again), else `amount` is held back.
    fn may_report(&mut self, gate: GateId, pattern: Pattern, amount: usize, at: DateTime<Utc>) -> Option<usize> {
        let window = match pattern {
            Pattern::BadSignatures => self.rules.bad_signature_window,
            Pattern::TwoGates => self.rules.two_gates_window,
        };
        match self.throttle.get_mut(&(gate, pattern)) {
            Some(t) if at - t.last < window => {
                t.held += amount;
                None
            }
            Some(t) => {
                let held = t.held;
                *t = Throttle { last: at, held: 0 };
                Some(held)
            }
            None => {
                self.throttle.insert((gate, pattern), Throttle { last: at, held: 0 });
                Some(0)
            }
        }
    }
}

impl SuspicionWatch {
    /// A watch with `rules`.
    pub fn new(rules: SuspicionRules) -> Self {
        Self { rules, ..Self::default() }
    }

    /// Its rules.
    pub fn rules(&self) -> SuspicionRules {
        self.rules
    }

    /// Shows the watch one scan request answered at `at`: its gate, its ticket when it was
    /// identified, and its reason. Returns the patterns it completes.
    pub fn observe(
        &mut self,
        gate_id: GateId,
        ticket_id: Option<TicketId>,
        reason: ScanReason,
        at: DateTime<Utc>,
    ) -> Vec<Suspicion> {
        let mut found = Vec::new();
        if reason == ScanReason::BadSignature {
            let window = self.rules.bad_signature_window;
            let recent = self.bad.entry(gate_id).or_default();
            recent.push_back(at);
            while recent.front().is_some_and(|first| at - *first > window) {
                recent.pop_front();
            }
            if recent.len() >= self.rules.bad_signatures.max(1) {
                let (count, since) = (recent.len(), recent.front().copied().unwrap_or(at));
                recent.clear();
                if let Some(held) = self.may_report(gate_id, Pattern::BadSignatures, count, at) {
                    found.push(Suspicion::RepeatedBadSignatures { gate_id, count: count + held, since });
                }
            }
        }
        // A ticket of another event says nothing about this one's; a refused request (not paid,
        // wrong gate) followed by an accepted one elsewhere is a person walking to the right gate.
        if let Some(ticket_id) = ticket_id.filter(|_| reason != ScanReason::WrongEvent) {
            if let Some((first_gate, when)) = self.seen.get(&ticket_id).copied()
                && first_gate != gate_id
                && at - when <= self.rules.two_gates_window
                && let Some(held_back) = self.may_report(gate_id, Pattern::TwoGates, 1, at)
            {
                found.push(Suspicion::TicketAtTwoGates {
                    ticket_id,
                    first_gate,
                    second_gate: gate_id,
                    seconds_apart: (at - when).num_seconds(),
                    held_back,
                });
            }
            if reason.is_ok() {
                self.seen.insert(ticket_id, (gate_id, at));
                self.order.push_back((at, ticket_id));
            }
        }
        self.forget_before(at);
        found
    }

    /// Keeps memory bounded: tickets are forgotten in time order once their window has passed,
    /// or sooner past the capacity; gates' bad signatures once theirs has.
    fn forget_before(&mut self, at: DateTime<Utc>) {
        let window = self.rules.two_gates_window;
        while let Some(&(when, ticket_id)) = self.order.front() {
            if at - when <= window && self.order.len() <= self.rules.capacity {
                break;
            }
            self.order.pop_front();
            // A later presentation of the ticket has its own, later entry in the queue.
            if self.seen.get(&ticket_id).is_some_and(|(_, last)| *last == when) {
                self.seen.remove(&ticket_id);
            }
        }
        if self.bad.len() > self.rules.capacity {
            let window = self.rules.bad_signature_window;
            self.bad.retain(|_, recent| recent.back().is_some_and(|last| at - *last <= window));
            if self.bad.len() > self.rules.capacity {
                self.bad.clear();
            }
        }
        if self.throttle.len() > self.rules.capacity {
            let window = self.rules.bad_signature_window.max(self.rules.two_gates_window);
            self.throttle.retain(|_, t| at - t.last < window);
            if self.throttle.len() > self.rules.capacity {
                self.throttle.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    fn gate(n: u128) -> GateId {
        GateId::from_uuid(Uuid::from_u128(n))
    }

    fn ticket(n: u128) -> TicketId {
        TicketId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn five_bad_signatures_in_a_minute_make_one_report() {
        let mut watch = SuspicionWatch::new(SuspicionRules::default());
        let t0 = Utc::now();
        for i in 0..4 {
            assert!(watch.observe(gate(1), None, ScanReason::BadSignature, t0 + Duration::seconds(i)).is_empty());
        }
        // Another gate's and good requests do not count.
        assert!(watch.observe(gate(2), None, ScanReason::BadSignature, t0).is_empty());
        assert!(watch.observe(gate(1), Some(ticket(1)), ScanReason::Ok, t0).is_empty());
        let found = watch.observe(gate(1), None, ScanReason::BadSignature, t0 + Duration::seconds(10));
        assert_eq!(found, [Suspicion::RepeatedBadSignatures { gate_id: gate(1), count: 5, since: t0 }]);
        assert_eq!(found[0].action(), "suspicious.bad_signatures");
        assert!(watch.observe(gate(1), None, ScanReason::BadSignature, t0 + Duration::seconds(11)).is_empty());
    }

    #[test]
    fn a_flood_of_forged_codes_makes_one_report_per_gate_per_window_with_its_count() {
        let mut watch = SuspicionWatch::new(SuspicionRules::default());
        let t0 = Utc::now();
        let mut reports = Vec::new();
        // 10,000 forged codes over 10 minutes at one gate (about 17 a second).
        for i in 0..10_000 {
            let at = t0 + Duration::milliseconds(i * 60);
            reports.extend(watch.observe(gate(1), None, ScanReason::BadSignature, at));
        }
        assert!((10..=11).contains(&reports.len()), "one a minute, not one per five codes: {}", reports.len());
        let counted: usize = reports
            .iter()
            .map(|r| match r {
                Suspicion::RepeatedBadSignatures { count, .. } => *count,
                other => panic!("{other:?}"),
            })
            .sum();
        assert!(counted > 9_000, "the reports carry what the throttle held back: {counted}");
    }

    #[test]
    fn bad_signatures_spread_out_are_not_reported() {
        let mut watch = SuspicionWatch::new(SuspicionRules::default());
        let t0 = Utc::now();
        for i in 0..20 {
            let at = t0 + Duration::seconds(20 * i);
            assert!(watch.observe(gate(1), None, ScanReason::BadSignature, at).is_empty(), "{i}");
        }
    }

    #[test]
    fn a_ticket_at_two_gates_within_the_window_is_reported() {
        let mut watch = SuspicionWatch::new(SuspicionRules::default());
        let t0 = Utc::now();
        // Refused at one gate, then let through at the right one: nothing suspicious.
        assert!(watch.observe(gate(3), Some(ticket(7)), ScanReason::WrongGate, t0).is_empty());
        assert!(watch.observe(gate(1), Some(ticket(7)), ScanReason::Ok, t0).is_empty());
        assert!(watch.observe(gate(1), Some(ticket(7)), ScanReason::AlreadyInside, t0).is_empty(), "same gate");
        // Another event's ticket at this event's gate is another matter (wrong_event).
        assert!(watch.observe(gate(2), Some(ticket(7)), ScanReason::WrongEvent, t0).is_empty());
        let found = watch.observe(gate(2), Some(ticket(7)), ScanReason::AlreadyInside, t0 + Duration::seconds(30));
        assert_eq!(
            found,
            [Suspicion::TicketAtTwoGates {
                ticket_id: ticket(7),
                first_gate: gate(1),
                second_gate: gate(2),
                seconds_apart: 30,
                held_back: 0,
            }]
        );
        // Within the window, more tickets at two gates are held back and counted by the next report.
        for n in 10..13 {
            assert!(watch.observe(gate(1), Some(ticket(n)), ScanReason::Ok, t0 + Duration::seconds(31)).is_empty());
            assert!(watch.observe(gate(2), Some(ticket(n)), ScanReason::Ok, t0 + Duration::seconds(40)).is_empty());
        }
        let at = t0 + Duration::seconds(160);
        assert!(watch.observe(gate(1), Some(ticket(20)), ScanReason::Ok, at).is_empty());
        let found = watch.observe(gate(2), Some(ticket(20)), ScanReason::AlreadyInside, at);
        assert!(matches!(found[..], [Suspicion::TicketAtTwoGates { held_back: 3, .. }]), "{found:?}");
        // Long after, a move to another gate is normal.
        assert!(watch.observe(gate(1), Some(ticket(7)), ScanReason::Ok, t0 + Duration::hours(2)).is_empty());
    }

    proptest! {
        /// Memory stays bounded, and bad-signature reports never come faster than the threshold.
        #[test]
        fn reports_are_rare_and_memory_bounded(steps in proptest::collection::vec((0u128..4, 0u128..50, any::<bool>(), 0i64..5), 1..400)) {
            let rules = SuspicionRules { capacity: 20, ..SuspicionRules::default() };
            let mut watch = SuspicionWatch::new(rules);
            let mut at = Utc::now();
            let (mut bad, mut reports) = (0usize, 0usize);
            let mut last_report = HashMap::new();
            for (g, t, forged, wait) in steps {
                at += Duration::seconds(wait);
                let reason = if forged { ScanReason::BadSignature } else { ScanReason::Ok };
                let found = watch.observe(gate(g), (!forged).then(|| ticket(t)), reason, at);
                for report in &found {
                    let (gate_id, window) = match report {
                        Suspicion::RepeatedBadSignatures { gate_id, .. } => (*gate_id, rules.bad_signature_window),
                        Suspicion::TicketAtTwoGates { second_gate, .. } => (*second_gate, rules.two_gates_window),
                    };
                    let key = (gate_id, report.action());
                    if let Some(last) = last_report.insert(key, at) {
                        prop_assert!(at - last >= window, "one report per pattern per gate per window");
                    }
                }
                bad += usize::from(forged);
                reports += found.iter().filter(|s| matches!(s, Suspicion::RepeatedBadSignatures { .. })).count();
                prop_assert!(watch.seen.len() <= rules.capacity && watch.order.len() <= rules.capacity);
                prop_assert!(watch.bad.len() <= rules.capacity + 1);
                prop_assert!(watch.throttle.len() <= rules.capacity + 1);
                prop_assert!(watch.seen.values().all(|(_, when)| at - *when <= rules.two_gates_window));
            }
            prop_assert!(reports * rules.bad_signatures <= bad);
        }
    }
}
