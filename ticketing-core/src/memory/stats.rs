//! Dashboard counts in memory.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::MemoryStore;
use crate::ids::{EventId, TicketTypeId};
use crate::scan::ScanStage;
use crate::stats::{EventCounts, FlowCount, SaleCount, ScanCount, TicketCount, bucket_start};
use crate::status::TicketStatus;
use crate::store::{StatsRepository, StoreError};

#[async_trait]
impl StatsRepository for MemoryStore {
    async fn event_counts(&self, event_id: EventId, bucket: chrono::Duration) -> Result<EventCounts, StoreError> {
        let s = self.state();
        let mut tickets = BTreeMap::new();
        for t in s.tickets.values().filter(|t| t.event_id() == event_id) {
            tickets.entry((t.ticket_type_id(), t.status().as_str())).or_insert((t.status(), 0u64)).1 += 1;
        }
        let mut scans = BTreeMap::new();
        let mut flow = BTreeMap::new();
        for log in s.scan_logs.iter().filter(|l| l.event_id == event_id) {
            let key =
                (log.gate_id, log.stage == ScanStage::Confirm, log.direction.map(|d| d.as_str()), log.reason.code());
            scans.entry(key).or_insert_with(|| (log.stage, log.direction, log.reason, 0u64)).3 += 1;
            if let (ScanStage::Confirm, Some(direction), true) = (log.stage, log.direction, log.reason.is_ok()) {
                flow.entry((bucket_start(log.at, bucket), direction.as_str())).or_insert((direction, 0u64)).1 += 1;
            }
        }
        let mut sales: BTreeMap<(TicketTypeId, String, &'static str), SaleCount> = BTreeMap::new();
        for order in s.orders.values().filter(|o| o.event_id() == event_id) {
            let ids = s.order_tickets.get(&order.id()).map(Vec::as_slice).unwrap_or_default();
            for ticket in ids.iter().filter_map(|id| s.tickets.get(id)) {
                if !matches!(ticket.status(), TicketStatus::Paid | TicketStatus::Inside | TicketStatus::Outside) {
                    continue;
                }
                let currency = order.total().currency();
                let key = (ticket.ticket_type_id(), currency.code().to_owned(), order.channel().as_str());
                let line = sales.entry(key).or_insert(SaleCount {
                    ticket_type_id: ticket.ticket_type_id(),
                    currency,
                    channel: order.channel(),
                    tickets: 0,
                    amount_minor: 0,
                });
                line.tickets += 1;
                line.amount_minor += s.ticket_prices.get(&ticket.id()).copied().unwrap_or(0);
            }
        }
        Ok(EventCounts {
            sales: sales.into_values().collect(),
            tickets: tickets
                .into_iter()
                .map(|((ticket_type_id, _), (status, count))| TicketCount { ticket_type_id, status, count })
                .collect(),
            scans: scans
                .into_iter()
                .map(|((gate_id, ..), (stage, direction, reason, count))| ScanCount {
                    gate_id,
                    stage,
                    direction,
                    reason,
                    count,
                })
                .collect(),
            flow: flow
                .into_iter()
                .map(|((bucket_start, _), (direction, count))| FlowCount { bucket_start, direction, count })
                .collect(),
        })
    }
}
