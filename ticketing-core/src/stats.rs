//! An event's dashboard: tickets by type and status, revenue, occupancy now, entries and exits
//! over time, scans per gate, refusals by reason.
//!
//! Storage counts ([`EventCounts`], grouped in the database by
//! [`StatsRepository::event_counts`](crate::store::StatsRepository::event_counts)); this module
//! turns the counts into the [`Dashboard`], with no I/O.
//!
//! Revenue follows the money: the price each ticket was sold at (its order's line), for the
//! tickets sold through orders (online or at the desk) that are still sold (`paid`, `inside`,
//! `outside`: a refunded or invalidated ticket no longer counts), per currency and per channel.
//! Tickets staff issue directly (invitations, the generator) were not sold: they count as
//! `sold` by status, not as revenue.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{GateId, TicketTypeId};
use crate::money::Currency;
use crate::order::SaleChannel;
use crate::scan::{Direction, ScanReason, ScanStage};
use crate::status::TicketStatus;
use crate::ticket_type::TicketType;

/// How many tickets of a type are in a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketCount {
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// The status.
    pub status: TicketStatus,
    /// How many.
    pub count: u64,
}

/// How many scan-log lines share a gate, a stage, a direction and a reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanCount {
    /// The gate.
    pub gate_id: GateId,
    /// Request or confirm.
    pub stage: ScanStage,
    /// The direction (confirm lines).
    pub direction: Option<Direction>,
    /// The outcome.
    pub reason: ScanReason,
    /// How many.
    pub count: u64,
}

/// Applied movements through the gates in one time bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowCount {
    /// The bucket's start (a multiple of the bucket's length since the Unix epoch).
    pub bucket_start: DateTime<Utc>,
    /// Which way.
    pub direction: Direction,
    /// How many.
    pub count: u64,
}

/// What the tickets of one type sold through one channel in one currency, and still sold, were
/// sold for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaleCount {
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// The orders' currency.
    pub currency: Currency,
    /// Online or at the desk.
    pub channel: SaleChannel,
    /// How many tickets.
    pub tickets: u64,
    /// Their sale prices added up, in minor units.
    pub amount_minor: i64,
}

/// What storage counts for an event's dashboard.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// Tickets by type and status (only pairs with tickets).
    pub tickets: Vec<TicketCount>,
    /// Scan-log lines by gate, stage, direction and reason.
    pub scans: Vec<ScanCount>,
    /// Applied confirmations (reason `ok`) by time bucket and direction, oldest first.
    pub flow: Vec<FlowCount>,
    /// Tickets sold through orders and still sold, by type, currency and channel.
    #[serde(default)]
    pub sales: Vec<SaleCount>,
}

/// One type's line of the dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeLine {
    /// The type.
    pub ticket_type_id: TicketTypeId,
    /// Its name.
    pub name: String,
    /// Its quota.
    pub quota: u32,
    /// Tickets by status name (every status, zeros included).
    pub by_status: BTreeMap<String, u64>,
    /// Sold and not refunded: `paid`, `inside`, `outside`.
    pub sold: u64,
    /// What its tickets sold through orders (and still sold) were sold for, in minor units of
    /// `currency`.
    pub revenue_minor: i64,
    /// The currency.
    pub currency: String,
}

/// One gate's scans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateLine {
    /// The gate.
    pub gate_id: GateId,
    /// Entries applied.
    pub entries: u64,
    /// Exits applied.
    pub exits: u64,
    /// Requests and confirmations refused.
    pub refusals: u64,
}

/// An event's dashboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    /// By type, in the order the types were given.
    pub types: Vec<TypeLine>,
    /// Every type together, by status name.
    pub by_status: BTreeMap<String, u64>,
    /// Revenue per currency, in minor units.
    pub revenue_minor: BTreeMap<String, i64>,
    /// Revenue per channel (`online`, `box_office`), then per currency, in minor units.
    pub revenue_by_channel: BTreeMap<String, BTreeMap<String, i64>>,
    /// Tickets inside now.
    pub inside: u64,
    /// The event's capacity.
    pub capacity: u32,
    /// Entries and exits per bucket, oldest first.
    pub flow: Vec<FlowBucket>,
    /// The length of a flow bucket, in seconds.
    pub bucket_secs: i64,
    /// Per gate.
    pub gates: Vec<GateLine>,
    /// Refusals by reason code.
    pub refusals: BTreeMap<String, u64>,
}

/// Entries and exits in one bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowBucket {
    /// The bucket's start.
    pub start: DateTime<Utc>,
    /// Entries applied.
    pub entries: u64,
    /// Exits applied.
    pub exits: u64,
}

/// Whether a ticket in `status` counts as sold.
fn is_sold(status: TicketStatus) -> bool {
    matches!(status, TicketStatus::Paid | TicketStatus::Inside | TicketStatus::Outside)
}

impl Dashboard {
    /// The dashboard of an event of `capacity` with `types`, from its `counts` with flow buckets
    /// of `bucket`.
    pub fn new(capacity: u32, types: &[TicketType], counts: &EventCounts, bucket: Duration) -> Self {
        let zeros: BTreeMap<String, u64> = TicketStatus::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
        let mut lines: Vec<TypeLine> = types
            .iter()
            .map(|t| TypeLine {
                ticket_type_id: t.id(),
                name: t.name().to_owned(),
                quota: t.quota(),
                by_status: zeros.clone(),
                sold: 0,
                revenue_minor: 0,
                currency: t.price().currency().code().to_owned(),
            })
            .collect();
        let mut by_status = zeros;
        let mut inside = 0;
        for c in &counts.tickets {
            *by_status.entry(c.status.as_str().to_owned()).or_default() += c.count;
            if c.status == TicketStatus::Inside {
                inside += c.count;
            }
            let Some(i) = types.iter().position(|t| t.id() == c.ticket_type_id) else { continue };
            let line = &mut lines[i];
            *line.by_status.entry(c.status.as_str().to_owned()).or_default() += c.count;
            if is_sold(c.status) {
                line.sold += c.count;
            }
        }
        let mut revenue_minor: BTreeMap<String, i64> = BTreeMap::new();
        let mut revenue_by_channel: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        for sale in &counts.sales {
            let currency = sale.currency.code().to_owned();
            let add = |total: &mut i64| *total = total.saturating_add(sale.amount_minor);
            add(revenue_minor.entry(currency.clone()).or_default());
            add(revenue_by_channel
                .entry(sale.channel.as_str().to_owned())
                .or_default()
                .entry(currency.clone())
                .or_default());
            if let Some(line) =
                lines.iter_mut().find(|l| l.ticket_type_id == sale.ticket_type_id && l.currency == currency)
            {
                add(&mut line.revenue_minor);
            }
        }
        let mut gates: BTreeMap<GateId, GateLine> = BTreeMap::new();
        let mut refusals: BTreeMap<String, u64> = BTreeMap::new();
        for s in &counts.scans {
            let gate =
                gates.entry(s.gate_id).or_insert(GateLine { gate_id: s.gate_id, entries: 0, exits: 0, refusals: 0 });
            match (s.reason.is_ok(), s.stage, s.direction) {
                (true, ScanStage::Confirm, Some(Direction::In)) => gate.entries += s.count,
                (true, ScanStage::Confirm, Some(Direction::Out)) => gate.exits += s.count,
                (true, _, _) => {}
                (false, _, _) => {
                    gate.refusals += s.count;
                    *refusals.entry(s.reason.code().to_owned()).or_default() += s.count;
                }
            }
        }
        let mut flow: BTreeMap<DateTime<Utc>, FlowBucket> = BTreeMap::new();
        for f in &counts.flow {
            let bucket =
                flow.entry(f.bucket_start).or_insert(FlowBucket { start: f.bucket_start, entries: 0, exits: 0 });
            match f.direction {
                Direction::In => bucket.entries += f.count,
                Direction::Out => bucket.exits += f.count,
            }
        }
        Self {
            types: lines,
            by_status,
            revenue_minor,
            revenue_by_channel,
            inside,
            capacity,
            flow: flow.into_values().collect(),
            bucket_secs: bucket.num_seconds(),
            gates: gates.into_values().collect(),
            refusals,
        }
    }
}

/// The start of the `bucket`-long bucket holding `at` (buckets are aligned on the Unix epoch).
pub fn bucket_start(at: DateTime<Utc>, bucket: Duration) -> DateTime<Utc> {
    let len = bucket.num_microseconds().unwrap_or(i64::MAX).max(1);
    let micros = at.timestamp_micros();
    DateTime::from_timestamp_micros(micros - micros.rem_euclid(len)).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::ids::EventId;
    use crate::ticket_type::TicketTypeSpec;

    fn kind(n: u128, price_minor: i64, currency: &str) -> TicketType {
        let spec = TicketTypeSpec {
            name: format!("Type {n}"),
            price_minor,
            currency: currency.to_owned(),
            quota: 100,
            usage_limit: 1,
            daily_entry_limit: None,
            validity_from: None,
            validity_to: None,
            gates: None,
        };
        TicketType::new(TicketTypeId::from_uuid(Uuid::from_u128(n)), EventId::from_uuid(Uuid::nil()), &spec, [])
            .unwrap()
    }

    #[test]
    fn counts_become_the_dashboard() {
        let (a, b) = (kind(1, 2500, "EUR"), kind(2, 1000, "USD"));
        let gate = GateId::from_uuid(Uuid::from_u128(9));
        let t0 = Utc.with_ymd_and_hms(2026, 7, 1, 20, 0, 0).unwrap();
        let count = |t: &TicketType, status, count| TicketCount { ticket_type_id: t.id(), status, count };
        let scan = |stage, direction, reason, count| ScanCount { gate_id: gate, stage, direction, reason, count };
        let sale = |t: &TicketType, channel, tickets, amount_minor| SaleCount {
            ticket_type_id: t.id(),
            currency: t.price().currency(),
            channel,
            tickets,
            amount_minor,
        };
        let counts = EventCounts {
            tickets: vec![
                count(&a, TicketStatus::Paid, 3),
                count(&a, TicketStatus::Inside, 2),
                count(&a, TicketStatus::Refunded, 4),
                count(&a, TicketStatus::Issued, 1),
                count(&b, TicketStatus::Outside, 1),
            ],
            scans: vec![
                scan(ScanStage::Confirm, Some(Direction::In), ScanReason::Ok, 3),
                scan(ScanStage::Confirm, Some(Direction::Out), ScanReason::Ok, 1),
                scan(ScanStage::Request, None, ScanReason::BadSignature, 5),
                scan(ScanStage::Confirm, Some(Direction::In), ScanReason::AlreadyInside, 2),
            ],
            flow: vec![
                FlowCount { bucket_start: t0, direction: Direction::In, count: 2 },
                FlowCount { bucket_start: t0, direction: Direction::Out, count: 1 },
                FlowCount { bucket_start: t0 + Duration::minutes(15), direction: Direction::In, count: 1 },
            ],
            sales: vec![
                sale(&a, SaleChannel::Online, 3, 7_500),
                sale(&a, SaleChannel::BoxOffice, 1, 2_000),
                sale(&b, SaleChannel::Online, 1, 1_000),
            ],
        };
        let d = Dashboard::new(500, &[a, b], &counts, Duration::minutes(15));
        assert_eq!(
            (d.types[0].sold, d.types[0].revenue_minor),
            (5, 9_500),
            "refunded and issued are not sold; revenue is what the sold tickets were sold for (one issued by staff)"
        );
        assert_eq!(d.types[0].by_status["refunded"], 4);
        assert_eq!(d.types[0].by_status["invalid"], 0, "every status is listed");
        assert_eq!(d.revenue_minor, BTreeMap::from([("EUR".into(), 9_500), ("USD".into(), 1_000)]));
        assert_eq!(d.revenue_by_channel["box_office"], BTreeMap::from([("EUR".into(), 2_000)]));
        assert_eq!(d.revenue_by_channel["online"], BTreeMap::from([("EUR".into(), 7_500), ("USD".into(), 1_000)]));
        assert_eq!((d.inside, d.capacity, d.by_status["paid"]), (2, 500, 3));
        assert_eq!(d.gates, [GateLine { gate_id: gate, entries: 3, exits: 1, refusals: 7 }]);
        assert_eq!(d.refusals, BTreeMap::from([("bad_signature".into(), 5), ("already_inside".into(), 2)]));
        let flow: Vec<(u64, u64)> = d.flow.iter().map(|b| (b.entries, b.exits)).collect();
        assert_eq!((flow, d.bucket_secs), (vec![(2, 1), (1, 0)], 900));
    }

    #[test]
    fn buckets_align_on_the_epoch() {
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 20, 7, 31).unwrap();
        assert_eq!(bucket_start(at, Duration::minutes(15)), Utc.with_ymd_and_hms(2026, 7, 1, 20, 0, 0).unwrap());
        assert_eq!(bucket_start(at, Duration::hours(1)), Utc.with_ymd_and_hms(2026, 7, 1, 20, 0, 0).unwrap());
    }
}
