//! Orders, their tickets and payment deliveries. Shared by the SQL backends.
//!
//! An order is stored whole as JSON (`body`, read back through the core's checks) beside the
//! columns it is looked up by. Every step is one write transaction: a placement inserts the
//! tickets within their quotas (`tickets::insert_in`), takes the event's next receipt number when
//! asked (a conditional update of the event's row, so receipts are gap-free: a rolled-back sale
//! gives its number back), and writes the order and its ticket links, its places taken last (on
//! Postgres the type's and the event's rows are every sale's hot rows: their locks are then held
//! only until the commit); a change records the
//! delivery first (its `(provider, provider_event_id)` is unique: a repeat finds the first
//! record and applies nothing), then replaces the order only if its status is still the expected
//! one, moves its reserved tickets and their counters, and inserts new tickets.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use ticketing_core::ids::{EventId, OrderId, RefundId, TicketId};
use ticketing_core::job::Job;
use ticketing_core::magic_link::TokenHash;
use ticketing_core::order::Order;
use ticketing_core::payment::PaymentDelivery;
use ticketing_core::refund::Refund;
use ticketing_core::status::{self, TicketStatus};
use ticketing_core::store::{
    ChangeOutcome, OrderChange, OrderFilter, OrderPlacement, OrderRepository, Placement, RefundStep, StoreError,
    TicketBatch,
};
use ticketing_core::ticket::Ticket;
use uuid::Uuid;

use super::{Conn, Db, DbRow, DbStore, jobs, rows, tickets};
use crate::codec::{corrupt, db_error, micros};

fn body(order: &Order) -> Result<String, StoreError> {
    serde_json::to_string(order).map_err(|e| corrupt("order", e))
}

fn order_from(row: &DbRow) -> Result<Order, StoreError> {
    let body: String = row.try_get("body").map_err(db_error)?;
    serde_json::from_str(&body).map_err(|e| corrupt("order", e))
}

fn refund_from(row: &DbRow) -> Result<Refund, StoreError> {
    let body: String = row.try_get("body").map_err(db_error)?;
    serde_json::from_str(&body).map_err(|e| corrupt("refund", e))
}

fn delivery_from(row: &DbRow) -> Result<PaymentDelivery, StoreError> {
    let body: String = row.try_get("body").map_err(db_error)?;
    serde_json::from_str(&body).map_err(|e| corrupt("payment delivery", e))
}

/// Writes the batches of one order (all of `event`) and enqueues `jobs`; returns the places they
/// take, per type, for [`tickets::take_places`] (called last: on Postgres the type and event rows
/// are every sale's hot rows, so their locks are held only from there to the commit).
async fn write_batches(
    conn: &mut Conn,
    event: EventId,
    batches: &[TicketBatch<'_>],
    jobs: &[Job],
) -> Result<Vec<(Uuid, u32)>, StoreError> {
    for job in jobs {
        jobs::enqueue_in(conn, job).await?;
    }
    let mut wanted = Vec::with_capacity(batches.len());
    for batch in batches {
        let Some(first) = batch.tickets.first() else { continue };
        if batch.tickets.iter().any(|t| t.ticket_type_id() != first.ticket_type_id() || t.event_id() != event) {
            return Err(StoreError::Conflict("a batch holds tickets of one type of the order's event".into()));
        }
        let live = batch.tickets.iter().filter(|t| t.status().is_live()).count();
        wanted.push((*first.ticket_type_id().as_uuid(), u32::try_from(live).unwrap_or(u32::MAX)));
        tickets::write_batch(conn, batch).await?;
    }
    Ok(wanted)
}

/// Takes the places `wanted` of `event` (nothing when empty).
async fn take(conn: &mut Conn, event: EventId, wanted: &[(Uuid, u32)]) -> Result<(), StoreError> {
    if wanted.is_empty() { Ok(()) } else { tickets::take_places(conn, *event.as_uuid(), wanted).await }
}

/// Links each ticket of `batches` to `order` at its line's unit price.
async fn link_tickets(conn: &mut Conn, order: &Order, batches: &[TicketBatch<'_>]) -> Result<(), StoreError> {
    let price: HashMap<_, _> = order.lines().iter().map(|l| (l.ticket_type_id, l.unit_price.minor())).collect();
    let all: Vec<&Ticket> = batches.iter().flat_map(|b| b.tickets.iter()).collect();
    for chunk in all.chunks(1000) {
        let mut q = QueryBuilder::<Db>::new("INSERT INTO order_tickets (ticket_id, order_id, price_minor) ");
        q.push_values(chunk, |mut row, t| {
            row.push_bind(*t.id().as_uuid())
                .push_bind(*order.id().as_uuid())
                .push_bind(price.get(&t.ticket_type_id()).copied().unwrap_or(0));
        });
        q.build().execute(&mut *conn).await.map_err(db_error)?;
    }
    Ok(())
}

/// Gives back the places of tickets that stopped being live: `freed` per type, the type rows in
/// id order, then the event's row once, the order every writer takes them in.
async fn free_places(conn: &mut Conn, event: EventId, freed: BTreeMap<Uuid, i64>) -> Result<(), StoreError> {
    let total: i64 = freed.values().sum();
    for (type_id, n) in freed {
        sqlx::query(tickets::COUNTERS[0]).bind(type_id).bind(-n).execute(&mut *conn).await.map_err(db_error)?;
    }
    if total > 0 {
        sqlx::query(tickets::COUNTERS[1])
            .bind(*event.as_uuid())
            .bind(-total)
            .execute(&mut *conn)
            .await
            .map_err(db_error)?;
    }
    Ok(())
}

/// Revokes, at `at`, the live links of the tickets `ids` (inside the caller's transaction).
async fn revoke_links(conn: &mut Conn, ids: &[Uuid], at: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> {
    for chunk in ids.chunks(1000) {
        let mut q = QueryBuilder::<Db>::new("UPDATE magic_links SET revoked_at = ");
        q.push_bind(micros(at)).push(" WHERE revoked_at IS NULL AND ticket_id IN (");
        let mut list = q.separated(", ");
        for id in chunk {
            list.push_bind(*id);
        }
        q.push(")");
        q.build().execute(&mut *conn).await.map_err(db_error)?;
    }
    Ok(())
}

/// Records a delivery inside the caller's transaction; the first record if it was recorded
/// before (then the caller writes nothing).
async fn record_in(conn: &mut Conn, d: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError> {
    let body = serde_json::to_string(d).map_err(|e| corrupt("payment delivery", e))?;
    let done = sqlx::query(
        "INSERT INTO payment_deliveries (provider, provider_event_id, event_id, order_id, outcome, received_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (provider, provider_event_id) DO NOTHING",
    )
    .bind(&d.provider)
    .bind(&d.event_id)
    .bind(d.ticketing_event_id.map(|e| *e.as_uuid()))
    .bind(d.order_id.map(|o| *o.as_uuid()))
    .bind(d.outcome.as_str())
    .bind(micros(d.received_at))
    .bind(body)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    if done.rows_affected() == 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT body FROM payment_deliveries WHERE provider = $1 AND provider_event_id = $2")
        .bind(&d.provider)
        .bind(&d.event_id)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    delivery_from(&row).map(Some)
}

async fn one_order(
    query: sqlx::query::Query<'_, Db, <Db as sqlx::Database>::Arguments>,
    pool: &sqlx::Pool<Db>,
) -> Result<Option<Order>, StoreError> {
    let row = query.fetch_optional(pool).await.map_err(db_error)?;
    row.as_ref().map(order_from).transpose()
}

#[async_trait]
impl OrderRepository for DbStore {
    async fn place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError> {
        let order = placement.order;
        let mut tx = self.begin_write().await?;
        if let Some(key) = placement.idempotency_key {
            let row = sqlx::query("SELECT body FROM orders WHERE event_id = $1 AND idempotency_key = $2")
                .bind(*order.event_id().as_uuid())
                .bind(key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
            if let Some(row) = row {
                return Ok(Placement::Existing(order_from(&row)?));
            }
        }
        let wanted = write_batches(&mut tx, order.event_id(), placement.batches, placement.jobs).await?;
        let mut stored = order.clone();
        if placement.receipt {
            // A desk sale's number is written in the order: its places and the event's row first.
            take(&mut tx, order.event_id(), &wanted).await?;
            // After the tickets' places: the event's row is the last one taken.
            let receipt: i64 = sqlx::query_scalar(
                "UPDATE events SET receipts_issued = receipts_issued + 1 WHERE id = $1 RETURNING receipts_issued",
            )
            .bind(*order.event_id().as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?
            .ok_or(StoreError::NotFound("event"))?;
            stored = stored.with_receipt(u64::try_from(receipt).map_err(|_| corrupt("receipt", receipt))?);
        }
        let payment = stored.payment();
        sqlx::query(
            "INSERT INTO orders (id, event_id, status, channel, token_hash, idempotency_key, provider, reference, \
             receipt, created_at, hold_expires_at, body, currency) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(*stored.id().as_uuid())
        .bind(*stored.event_id().as_uuid())
        .bind(stored.status().as_str())
        .bind(stored.channel().as_str())
        .bind(&stored.token_hash().0[..])
        .bind(placement.idempotency_key)
        .bind(payment.and_then(|p| p.provider.as_deref()))
        .bind(payment.and_then(|p| p.reference.as_deref()))
        .bind(stored.receipt().map(|r| i64::try_from(r).unwrap_or(i64::MAX)))
        .bind(micros(stored.created_at()))
        .bind(micros(stored.hold_expires_at()))
        .bind(body(&stored)?)
        .bind(stored.total().currency().code().to_owned())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        link_tickets(&mut tx, &stored, placement.batches).await?;
        if !placement.receipt {
            take(&mut tx, order.event_id(), &wanted).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(Placement::Placed(stored))
    }

    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        one_order(sqlx::query("SELECT body FROM orders WHERE id = $1").bind(*id.as_uuid()), &self.pool).await
    }

    async fn order_by_token(&self, token_hash: &TokenHash) -> Result<Option<Order>, StoreError> {
        let query = sqlx::query("SELECT body FROM orders WHERE token_hash = $1").bind(token_hash.0.to_vec());
        one_order(query, &self.pool).await
    }

    async fn order_by_reference(&self, provider: &str, reference: &str) -> Result<Option<Order>, StoreError> {
        let row =
            sqlx::query("SELECT body FROM orders WHERE provider = $1 AND reference = $2 ORDER BY created_at LIMIT 1")
                .bind(provider)
                .bind(reference)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        row.as_ref().map(order_from).transpose()
    }

    async fn order_tickets(&self, id: OrderId) -> Result<Vec<Ticket>, StoreError> {
        let rows = sqlx::query(
            "SELECT t.* FROM tickets t JOIN order_tickets o ON o.ticket_id = t.id WHERE o.order_id = $1 \
             ORDER BY t.created_at, t.id",
        )
        .bind(*id.as_uuid())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        rows.iter().map(rows::ticket).collect()
    }

    async fn ticket_order(&self, ticket_id: TicketId) -> Result<Option<OrderId>, StoreError> {
        let row: Option<(Uuid,)> = sqlx::query_as("SELECT order_id FROM order_tickets WHERE ticket_id = $1")
            .bind(*ticket_id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.map(|(id,)| OrderId::from_uuid(id)))
    }

    async fn orders(&self, filter: &OrderFilter) -> Result<Vec<Order>, StoreError> {
        let mut q = QueryBuilder::<Db>::new("SELECT body FROM orders WHERE 1 = 1");
        if let Some(event) = filter.event_id {
            q.push(" AND event_id = ").push_bind(*event.as_uuid());
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        let limit = if filter.limit == 0 { i64::MAX } else { i64::from(filter.limit) };
        q.push(" ORDER BY created_at, id LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(i64::from(filter.offset));
        let rows = q.build().fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(order_from).collect()
    }

    async fn change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let order = change.order;
        let mut tx = self.begin_write().await?;
        if let Some(delivery) = change.delivery
            && let Some(first) = record_in(&mut tx, delivery).await?
        {
            return Ok(ChangeOutcome::Duplicate(Box::new(first)));
        }
        let payment = order.payment();
        let done = sqlx::query(
            // A refund recorded since the order was read changes `refunded_minor`: stale too.
            "UPDATE orders SET status = $3, provider = $4, reference = $5, body = $6 \
             WHERE id = $1 AND status = $2 AND refunded_minor = $7",
        )
        .bind(*order.id().as_uuid())
        .bind(change.expected.as_str())
        .bind(order.status().as_str())
        .bind(payment.and_then(|p| p.provider.as_deref()))
        .bind(payment.and_then(|p| p.reference.as_deref()))
        .bind(body(order)?)
        .bind(order.refunded_minor())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 0 {
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1)")
                .bind(*order.id().as_uuid())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
            return if exists { Ok(ChangeOutcome::Stale) } else { Err(StoreError::NotFound("order")) };
        }
        if let Some(action) = change.reserved_action {
            let to = status::next(TicketStatus::Reserved, action).map_err(|e| StoreError::Conflict(e.to_string()))?;
            let moved: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE tickets SET status = $2, version = version + 1, updated_at = $3 \
                 WHERE status = 'reserved' AND id IN (SELECT ticket_id FROM order_tickets WHERE order_id = $1) \
                 RETURNING id, ticket_type_id",
            )
            .bind(*order.id().as_uuid())
            .bind(to.as_str())
            .bind(micros(change.at))
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            if !to.is_live() && !moved.is_empty() {
                let ids: Vec<Uuid> = moved.iter().map(|(id, _)| *id).collect();
                revoke_links(&mut tx, &ids, change.at).await?;
                let mut per_type: BTreeMap<Uuid, i64> = BTreeMap::new();
                for (_, type_id) in &moved {
                    *per_type.entry(*type_id).or_default() += 1;
                }
                free_places(&mut tx, order.event_id(), per_type).await?;
            }
        }
        let wanted = write_batches(&mut tx, order.event_id(), change.batches, change.jobs).await?;
        link_tickets(&mut tx, order, change.batches).await?;
        take(&mut tx, order.event_id(), &wanted).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(ChangeOutcome::Applied)
    }

    async fn record_delivery(&self, delivery: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError> {
        let mut tx = self.begin_write().await?;
        let first = record_in(&mut tx, delivery).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(first)
    }

    async fn refund(&self, step: &RefundStep<'_>) -> Result<ChangeOutcome, StoreError> {
        let (order, refund) = (step.order, step.refund);
        let mut tx = self.begin_write().await?;
        if let Some(delivery) = step.delivery
            && let Some(first) = record_in(&mut tx, delivery).await?
        {
            return Ok(ChangeOutcome::Duplicate(Box::new(first)));
        }
        let done =
            sqlx::query("UPDATE orders SET refunded_minor = $3, body = $4 WHERE id = $1 AND refunded_minor = $2")
                .bind(*order.id().as_uuid())
                .bind(step.expected_refunded)
                .bind(order.refunded_minor())
                .bind(body(order)?)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Ok(ChangeOutcome::Stale);
        }
        // Tickets in id order, then their counters: type rows in id order, then the event's, the
        // order every writer takes them in (a counter per ticket would interleave them).
        let mut updates: Vec<_> = step.tickets.iter().collect();
        updates.sort_by_key(|u| u.next.id());
        let mut freed: BTreeMap<Uuid, i64> = BTreeMap::new();
        for update in &updates {
            let done = rows::bind(
                sqlx::query(tickets::REPLACE),
                tickets::replace_params(&update.next, update.expected_version),
            )
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if done.rows_affected() == 0 {
                return Ok(ChangeOutcome::Stale);
            }
            if update.was_live && !update.next.status().is_live() {
                *freed.entry(*update.next.ticket_type_id().as_uuid()).or_default() += 1;
            }
        }
        free_places(&mut tx, order.event_id(), freed).await?;
        // A refunded ticket's links stop working with it.
        let ids: Vec<Uuid> = updates.iter().map(|u| *u.next.id().as_uuid()).collect();
        revoke_links(&mut tx, &ids, refund.at).await?;
        for job in step.jobs {
            jobs::enqueue_in(&mut tx, job).await?;
        }
        sqlx::query("INSERT INTO refunds (id, order_id, event_id, status, at, body) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(*refund.id.as_uuid())
            .bind(*refund.order_id.as_uuid())
            .bind(*refund.event_id.as_uuid())
            .bind(refund.status.as_str())
            .bind(micros(refund.at))
            .bind(serde_json::to_string(refund).map_err(|e| corrupt("refund", e))?)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(ChangeOutcome::Applied)
    }

    async fn refund_by_id(&self, id: RefundId) -> Result<Option<Refund>, StoreError> {
        let row = sqlx::query("SELECT body FROM refunds WHERE id = $1")
            .bind(*id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(refund_from).transpose()
    }

    async fn refunds(&self, order_id: OrderId) -> Result<Vec<Refund>, StoreError> {
        let rows = sqlx::query("SELECT body FROM refunds WHERE order_id = $1 ORDER BY at, id")
            .bind(*order_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(refund_from).collect()
    }

    async fn settle_refund(&self, refund: &Refund) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT body FROM refunds WHERE id = $1")
            .bind(*refund.id.as_uuid())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let mut stored = refund_from(&row.ok_or(StoreError::NotFound("refund"))?)?;
        stored.status = refund.status;
        stored.provider_refund_id.clone_from(&refund.provider_refund_id);
        stored.failure.clone_from(&refund.failure);
        sqlx::query("UPDATE refunds SET status = $2, body = $3 WHERE id = $1")
            .bind(*refund.id.as_uuid())
            .bind(stored.status.as_str())
            .bind(serde_json::to_string(&stored).map_err(|e| corrupt("refund", e))?)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn deliveries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<PaymentDelivery>, StoreError> {
        let mut q = QueryBuilder::<Db>::new("SELECT body FROM payment_deliveries WHERE 1 = 1");
        if let Some(event) = event_id {
            q.push(" AND event_id = ").push_bind(*event.as_uuid());
        }
        let limit = if limit == 0 { i64::MAX } else { i64::from(limit) };
        q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
        let rows = q.build().fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(delivery_from).collect()
    }
}
