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
        /// How many.
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
}

impl SuspicionWatch {
    /// A watch with `rules`.
    pub fn new(rules: SuspicionRules) -> Self {
        Self { rules, ..Self::default() }
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
                let since = recent.front().copied().unwrap_or(at);
                found.push(Suspicion::RepeatedBadSignatures { gate_id, count: recent.len(), since });
                recent.clear();
            }
        }
        // A ticket of another event says nothing about this one's; a refused request (not paid,
        // wrong gate) followed by an accepted one elsewhere is a person walking to the right gate.
        if let Some(ticket_id) = ticket_id.filter(|_| reason != ScanReason::WrongEvent) {
            if let Some((first_gate, when)) = self.seen.get(&ticket_id).copied()
                && first_gate != gate_id
                && at - when <= self.rules.two_gates_window
            {
                found.push(Suspicion::TicketAtTwoGates {
                    ticket_id,
                    first_gate,
                    second_gate: gate_id,
                    seconds_apart: (at - when).num_seconds(),
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
                seconds_apart: 30
            }]
        );
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
            for (g, t, forged, wait) in steps {
                at += Duration::seconds(wait);
                let reason = if forged { ScanReason::BadSignature } else { ScanReason::Ok };
                let found = watch.observe(gate(g), (!forged).then(|| ticket(t)), reason, at);
                bad += usize::from(forged);
                reports += found.iter().filter(|s| matches!(s, Suspicion::RepeatedBadSignatures { .. })).count();
                prop_assert!(watch.seen.len() <= rules.capacity && watch.order.len() <= rules.capacity);
                prop_assert!(watch.bad.len() <= rules.capacity + 1);
                prop_assert!(watch.seen.values().all(|(_, when)| at - *when <= rules.two_gates_window));
            }
            prop_assert!(reports * rules.bad_signatures <= bad);
        }
    }
}
