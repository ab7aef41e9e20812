//! Dashboard counts, grouped by the database. Shared by the SQL backends.

use async_trait::async_trait;
use sqlx::Row;
use ticketing_core::ids::{EventId, GateId, TicketTypeId};
use ticketing_core::money::Currency;
use ticketing_core::order::SaleChannel;
use ticketing_core::scan::{ScanReason, ScanStage};
use ticketing_core::stats::{EventCounts, FlowCount, SaleCount, ScanCount, TicketCount};
use ticketing_core::store::{StatsRepository, StoreError};

use super::DbStore;
use crate::codec::{corrupt, db_error, direction, instant};

fn tally(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| corrupt("count", n))
}

#[async_trait]
impl StatsRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "event_counts"))]
    async fn event_counts(&self, event_id: EventId, bucket: chrono::Duration) -> Result<EventCounts, StoreError> {
        let event = *event_id.as_uuid();
        let rows = sqlx::query(
            "SELECT ticket_type_id, status, COUNT(*) AS n FROM tickets WHERE event_id = $1 \
             GROUP BY ticket_type_id, status ORDER BY ticket_type_id, status",
        )
        .bind(event)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let tickets = rows
            .iter()
            .map(|row| {
                let status: String = row.try_get("status").map_err(db_error)?;
                Ok(TicketCount {
                    ticket_type_id: TicketTypeId::from_uuid(row.try_get("ticket_type_id").map_err(db_error)?),
                    status: status.parse().map_err(|_| corrupt("status", &status))?,
                    count: tally(row.try_get("n").map_err(db_error)?)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let rows = sqlx::query(
            "SELECT gate_id, stage, direction, reason, COUNT(*) AS n FROM scan_logs WHERE event_id = $1 \
             GROUP BY gate_id, stage, direction, reason ORDER BY gate_id, stage, direction, reason",
        )
        .bind(event)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let scans = rows
            .iter()
            .map(|row| {
                let stage: String = row.try_get("stage").map_err(db_error)?;
                let reason: String = row.try_get("reason").map_err(db_error)?;
                let way: Option<String> = row.try_get("direction").map_err(db_error)?;
                Ok(ScanCount {
                    gate_id: GateId::from_uuid(row.try_get("gate_id").map_err(db_error)?),
                    stage: ScanStage::parse(&stage).ok_or_else(|| corrupt("stage", &stage))?,
                    direction: way.as_deref().map(direction).transpose()?,
                    reason: ScanReason::from_code(&reason).ok_or_else(|| corrupt("reason", &reason))?,
                    count: tally(row.try_get("n").map_err(db_error)?)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        // Instants are microseconds since the epoch: a bucket is an integer division away.
        let len = bucket.num_microseconds().unwrap_or(i64::MAX).max(1);
        let rows = sqlx::query(
            "SELECT (at - ((at % $2) + $2) % $2) AS bucket, direction, COUNT(*) AS n FROM scan_logs \
             WHERE event_id = $1 AND stage = 'confirm' AND reason = 'ok' AND direction IS NOT NULL \
             GROUP BY bucket, direction ORDER BY bucket, direction",
        )
        .bind(event)
        .bind(len)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let flow = rows
            .iter()
            .map(|row| {
                let way: String = row.try_get("direction").map_err(db_error)?;
                Ok(FlowCount {
                    bucket_start: instant(row.try_get("bucket").map_err(db_error)?)?,
                    direction: direction(&way)?,
                    count: tally(row.try_get("n").map_err(db_error)?)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        let rows = sqlx::query(
            "SELECT t.ticket_type_id, o.currency, o.channel, COUNT(*) AS n, CAST(SUM(ot.price_minor) AS BIGINT) AS amount \
             FROM order_tickets ot JOIN orders o ON o.id = ot.order_id JOIN tickets t ON t.id = ot.ticket_id \
             WHERE o.event_id = $1 AND t.status IN ('paid', 'inside', 'outside') \
             GROUP BY t.ticket_type_id, o.currency, o.channel ORDER BY t.ticket_type_id, o.currency, o.channel",
        )
        .bind(event)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let sales = rows
            .iter()
            .map(|row| {
                let currency: String = row.try_get("currency").map_err(db_error)?;
                let channel: String = row.try_get("channel").map_err(db_error)?;
                Ok(SaleCount {
                    ticket_type_id: TicketTypeId::from_uuid(row.try_get("ticket_type_id").map_err(db_error)?),
                    currency: Currency::parse(&currency).map_err(|_| corrupt("currency", &currency))?,
                    channel: SaleChannel::ALL
                        .into_iter()
                        .find(|c| c.as_str() == channel)
                        .ok_or_else(|| corrupt("channel", &channel))?,
                    tickets: tally(row.try_get("n").map_err(db_error)?)?,
                    amount_minor: row.try_get("amount").map_err(db_error)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(EventCounts { sales, tickets, scans, flow })
    }
}
