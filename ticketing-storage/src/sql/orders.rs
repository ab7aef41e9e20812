//! Orders, their tickets and payment deliveries. Shared by the SQL backends.
//!
//! An order is stored whole as JSON (`body`, read back through the core's checks) beside the
//! columns it is looked up by. Every step is one write transaction: a placement takes its places
//! within their quotas (`tickets::take_places`), takes the event's next receipt number when asked
//! (a conditional update of the event's counters, so receipts are gap-free: a rolled-back sale
//! gives its number back), and writes its tickets, the order and its ticket links; a change
//! records the delivery first (its `(provider, provider_event_id)` is unique: a repeat finds the
//! first record and applies nothing), then replaces the order only if its status is still the
//! expected one, moves its reserved tickets and their counters, and inserts new tickets.
//!
//! Places are taken before any row is written: on Postgres a sale then locks its counters' rows
//! before its rows' foreign keys lock the type's and the event's rows, the order every sale and
//! every edit of a limit keeps (`catalog`), so none waits on another in turn. The common
//! placement and payment run as one statement there (`postgres::purchase`), which holds the
//! counters' rows for that statement and its commit only.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use sqlx::QueryBuilder;
use ticketing_core::audit;
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

use super::{Db, DbRow, DbStore, extras, jobs, rows, tickets};
use crate::codec::{Columns, Param, corrupt, db_error, get, micros};
use crate::exec::{Decided, Exec, Table, list};

fn body(order: &Order) -> Result<String, StoreError> {
    serde_json::to_string(order).map_err(|e| corrupt("order", e))
}

/// A row's `body` column read back as `T` (an order, a refund, a delivery).
fn from_body<T: serde::de::DeserializeOwned>(row: &dyn Columns, what: &str) -> Result<T, StoreError> {
    let body: String = get(row, "body")?;
    serde_json::from_str(&body).map_err(|e| corrupt(what, e))
}

fn order_from(row: &DbRow) -> Result<Order, StoreError> {
    from_body(row, "order")
}

fn refund_from(row: &DbRow) -> Result<Refund, StoreError> {
    from_body(row, "refund")
}

fn delivery_from(row: &DbRow) -> Result<PaymentDelivery, StoreError> {
    from_body(row, "payment delivery")
}

fn uuid(id: Uuid) -> Param {
    Param::Uuid(Some(id))
}

/// The places the batches of one order (all of `event`) take, per type, for
/// [`tickets::take_places`]; `Conflict` for a batch of several types or of another event.
pub(super) fn wanted(event: EventId, batches: &[TicketBatch<'_>]) -> Result<Vec<(Uuid, u32)>, StoreError> {
    let mut wanted = Vec::with_capacity(batches.len());
    for batch in batches {
        let Some(first) = batch.tickets.first() else { continue };
        if batch.tickets.iter().any(|t| t.ticket_type_id() != first.ticket_type_id() || t.event_id() != event) {
            return Err(StoreError::Conflict("a batch holds tickets of one type of the order's event".into()));
        }
        let live = batch.tickets.iter().filter(|t| t.status().is_live()).count();
        wanted.push((*first.ticket_type_id().as_uuid(), u32::try_from(live).unwrap_or(u32::MAX)));
    }
    Ok(wanted)
}

/// Enqueues `jobs` and writes the batches (their places taken).
async fn write_batches<E: Exec>(e: &mut E, batches: &[TicketBatch<'_>], jobs: &[Job]) -> Result<(), StoreError> {
    for job in jobs {
        jobs::enqueue_on(e, job).await?;
    }
    for batch in batches {
        tickets::write_batch(e, batch).await?;
    }
    Ok(())
}

/// Takes the places `wanted` of `event` (nothing when empty).
async fn take<E: Exec>(e: &mut E, event: EventId, wanted: &[(Uuid, u32)]) -> Result<(), StoreError> {
    if wanted.is_empty() { Ok(()) } else { tickets::take_places(e, *event.as_uuid(), wanted).await }
}

/// The insert of each sold ticket with its order and price.
pub(super) const ORDER_TICKETS: Table =
    Table { head: "INSERT INTO order_tickets (ticket_id, order_id, price_minor)", width: 3 };

/// The parameters of [`ORDER_TICKETS`]'s rows for `tickets` of `order`, each at its line's unit
/// price.
pub(super) fn order_ticket_params(order: &Order, tickets: &[&Ticket]) -> Vec<Param> {
    let price: HashMap<_, _> = order.lines().iter().map(|l| (l.ticket_type_id, l.unit_price.minor())).collect();
    let mut params = Vec::with_capacity(tickets.len() * ORDER_TICKETS.width);
    for t in tickets {
        params.extend([
            uuid(*t.id().as_uuid()),
            uuid(*order.id().as_uuid()),
            Param::Int(Some(price.get(&t.ticket_type_id()).copied().unwrap_or(0))),
        ]);
    }
    params
}

/// Links each ticket of `batches` to `order` at its line's unit price.
async fn link_tickets<E: Exec>(e: &mut E, order: &Order, batches: &[TicketBatch<'_>]) -> Result<(), StoreError> {
    let all: Vec<&Ticket> = batches.iter().flat_map(|b| b.tickets.iter()).collect();
    for chunk in all.chunks(1000) {
        e.execute(ORDER_TICKETS.insert(chunk.len()).into(), order_ticket_params(order, chunk)).await?;
    }
    Ok(())
}

/// Gives back the places of tickets that stopped being live: `freed` per type, the type rows in
/// id order, then the event's row once, the order every writer takes them in.
async fn free_places<E: Exec>(e: &mut E, event: EventId, freed: BTreeMap<Uuid, i64>) -> Result<(), StoreError> {
    let total: i64 = freed.values().sum();
    for (type_id, n) in freed {
        e.execute(tickets::COUNTERS[0].into(), vec![uuid(type_id), Param::Int(Some(-n))]).await?;
    }
    if total > 0 {
        e.execute(tickets::COUNTERS[1].into(), vec![uuid(*event.as_uuid()), Param::Int(Some(-total))]).await?;
    }
    Ok(())
}

/// Revokes, at `at`, the live links of the tickets `ids` (inside the caller's transaction).
async fn revoke_links<E: Exec>(e: &mut E, ids: &[Uuid], at: chrono::DateTime<chrono::Utc>) -> Result<(), StoreError> {
    for chunk in ids.chunks(1000) {
        let sql = format!(
            "UPDATE magic_links SET revoked_at = $1 WHERE revoked_at IS NULL AND ticket_id IN ({})",
            list(2, chunk.len())
        );
        let mut params = Vec::with_capacity(chunk.len() + 1);
        params.push(Param::Int(Some(micros(at))));
        params.extend(chunk.iter().map(|id| uuid(*id)));
        e.execute(sql.into(), params).await?;
    }
    Ok(())
}

/// Records a delivery inside the caller's transaction; the first record if it was recorded
/// before (then the caller writes nothing).
async fn record_in<E: Exec>(e: &mut E, d: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError> {
    let sql = format!("{} {RECORD_ONCE}", DELIVERIES.insert(1));
    if e.execute(sql.into(), delivery_params(d)?).await? == 1 {
        return Ok(None);
    }
    let sql = "SELECT body FROM payment_deliveries WHERE provider = $1 AND provider_event_id = $2";
    let first = e.query_opt(sql.into(), vec![Param::name(&d.provider), Param::name(&d.event_id)], |row| {
        from_body(row, "payment delivery")
    });
    first.await?.ok_or(StoreError::NotFound("payment delivery")).map(Some)
}

/// The payment deliveries' insert, followed by [`RECORD_ONCE`].
pub(super) const DELIVERIES: Table = Table {
    head: "INSERT INTO payment_deliveries (provider, provider_event_id, event_id, order_id, outcome, received_at, body)",
    width: 7,
};

/// A delivery is recorded once per provider and provider event id.
pub(super) const RECORD_ONCE: &str = "ON CONFLICT (provider, provider_event_id) DO NOTHING";

/// The parameters of a delivery's row in [`DELIVERIES`].
pub(super) fn delivery_params(d: &PaymentDelivery) -> Result<Vec<Param>, StoreError> {
    let body = serde_json::to_string(d).map_err(|e| corrupt("payment delivery", e))?;
    Ok(vec![
        Param::name(&d.provider),
        Param::name(&d.event_id),
        Param::Uuid(d.ticketing_event_id.map(|e| *e.as_uuid())),
        Param::Uuid(d.order_id.map(|o| *o.as_uuid())),
        Param::name(d.outcome.as_str()),
        Param::Int(Some(micros(d.received_at))),
        Param::Text(Some(body)),
    ])
}

/// The orders' insert.
pub(super) const ORDERS: Table = Table {
    head: "INSERT INTO orders (id, event_id, status, channel, token_hash, idempotency_key, provider, reference, \
           receipt, created_at, hold_expires_at, body, currency)",
    width: 13,
};

/// The parameters of an order's row in [`ORDERS`].
pub(super) fn order_params(order: &Order, idempotency_key: Option<&str>) -> Result<Vec<Param>, StoreError> {
    let payment = order.payment();
    Ok(vec![
        uuid(*order.id().as_uuid()),
        uuid(*order.event_id().as_uuid()),
        Param::name(order.status().as_str()),
        Param::name(order.channel().as_str()),
        Param::bytes(&order.token_hash().0),
        Param::Text(idempotency_key.map(str::to_owned)),
        Param::Text(payment.and_then(|p| p.provider.clone())),
        Param::Text(payment.and_then(|p| p.reference.clone())),
        Param::Int(order.receipt().map(|r| i64::try_from(r).unwrap_or(i64::MAX))),
        Param::Int(Some(micros(order.created_at()))),
        Param::Int(Some(micros(order.hold_expires_at()))),
        Param::Text(Some(body(order)?)),
        Param::name(order.total().currency().code()),
    ])
}

/// An order changed from the status `$2` (and the refunded amount `$7`: a refund recorded since
/// the order was read makes the change stale too); see [`change_params`].
pub(super) const CHANGE_ORDER: &str = "UPDATE orders SET status = $3, provider = $4, reference = $5, body = $6 \
    WHERE id = $1 AND status = $2 AND refunded_minor = $7";

/// The parameters of [`CHANGE_ORDER`].
pub(super) fn change_params(change: &OrderChange<'_>) -> Result<Vec<Param>, StoreError> {
    let (order, payment) = (change.order, change.order.payment());
    Ok(vec![
        uuid(*order.id().as_uuid()),
        Param::name(change.expected.as_str()),
        Param::name(order.status().as_str()),
        Param::Text(payment.and_then(|p| p.provider.clone())),
        Param::Text(payment.and_then(|p| p.reference.clone())),
        Param::Text(Some(body(order)?)),
        Param::Int(Some(order.refunded_minor())),
    ])
}

/// An order's reserved tickets moved to `$2` at `$3` (`$1` the order), answering each one moved.
pub(super) const MOVE_RESERVED: &str = "UPDATE tickets SET status = $2, version = version + 1, updated_at = $3 \
    WHERE status = 'reserved' AND id IN (SELECT ticket_id FROM order_tickets WHERE order_id = $1) \
    RETURNING id, ticket_type_id";

/// [`OrderRepository::place_order`] inside the caller's write transaction.
pub(super) async fn place_in<E: Exec>(
    e: &mut E,
    placement: &OrderPlacement<'_>,
) -> Result<Decided<Placement>, StoreError> {
    let order = placement.order;
    let event = *order.event_id().as_uuid();
    if let Some(key) = placement.idempotency_key {
        let sql = "SELECT body FROM orders WHERE event_id = $1 AND idempotency_key = $2";
        let existing =
            e.query_opt(sql.into(), vec![uuid(event), Param::name(key)], |row| from_body(row, "order")).await?;
        if let Some(existing) = existing {
            return Ok(Decided::Rollback(Placement::Existing(existing)));
        }
    }
    take(e, order.event_id(), &wanted(order.event_id(), placement.batches)?).await?;
    let mut stored = order.clone();
    let mut audit = placement.audit.cloned();
    if placement.receipt {
        // A desk sale's number is written in the order; after its places (the event's counters
        // are the last row a sale takes).
        let sql = "UPDATE event_counters SET receipts_issued = receipts_issued + 1 WHERE event_id = $1 \
                   RETURNING receipts_issued";
        let receipt: i64 = e
            .query_opt(sql.into(), vec![uuid(event)], |row| get(row, "receipts_issued"))
            .await?
            .ok_or(StoreError::NotFound("event"))?;
        stored = stored.with_receipt(u64::try_from(receipt).map_err(|_| corrupt("receipt", receipt))?);
        audit = audit.map(|entry| entry.with_after_field("receipt", receipt.into()));
    }
    write_batches(e, placement.batches, placement.jobs).await?;
    e.execute(ORDERS.insert(1).into(), order_params(&stored, placement.idempotency_key)?).await?;
    link_tickets(e, &stored, placement.batches).await?;
    extras::audit_on(e, audit.as_ref()).await?;
    Ok(Decided::Commit(Placement::Placed(stored)))
}

/// [`OrderRepository::change_order`] inside the caller's write transaction.
pub(super) async fn change_in<E: Exec>(
    e: &mut E,
    change: &OrderChange<'_>,
) -> Result<Decided<ChangeOutcome>, StoreError> {
    let order = change.order;
    if let Some(delivery) = change.delivery
        && let Some(first) = record_in(e, delivery).await?
    {
        return Ok(Decided::Rollback(ChangeOutcome::Duplicate(Box::new(first))));
    }
    if e.execute(CHANGE_ORDER.into(), change_params(change)?).await? == 0 {
        let found =
            e.query_opt("SELECT id FROM orders WHERE id = $1".into(), vec![uuid(*order.id().as_uuid())], |_| Ok(()));
        return if found.await?.is_some() {
            Ok(Decided::Rollback(ChangeOutcome::Stale))
        } else {
            Err(StoreError::NotFound("order"))
        };
    }
    if let Some(action) = change.reserved_action {
        let to = status::next(TicketStatus::Reserved, action).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let params = vec![uuid(*order.id().as_uuid()), Param::name(to.as_str()), Param::Int(Some(micros(change.at)))];
        let moved: Vec<(Uuid, Uuid)> =
            e.query(MOVE_RESERVED.into(), params, |row| Ok((get(row, "id")?, get(row, "ticket_type_id")?))).await?;
        if !to.is_live() && !moved.is_empty() {
            let ids: Vec<Uuid> = moved.iter().map(|(id, _)| *id).collect();
            revoke_links(e, &ids, change.at).await?;
            let mut per_type: BTreeMap<Uuid, i64> = BTreeMap::new();
            for (_, type_id) in &moved {
                *per_type.entry(*type_id).or_default() += 1;
            }
            free_places(e, order.event_id(), per_type).await?;
        }
    }
    take(e, order.event_id(), &wanted(order.event_id(), change.batches)?).await?;
    write_batches(e, change.batches, change.jobs).await?;
    link_tickets(e, order, change.batches).await?;
    extras::audit_on(e, change.audit).await?;
    Ok(Decided::Commit(ChangeOutcome::Applied))
}

/// [`OrderRepository::record_delivery`] inside the caller's write transaction.
pub(super) async fn record_delivery_in<E: Exec>(
    e: &mut E,
    delivery: &PaymentDelivery,
) -> Result<Decided<Option<PaymentDelivery>>, StoreError> {
    record_in(e, delivery).await.map(Decided::Commit)
}

/// [`OrderRepository::refund`] inside the caller's write transaction.
async fn refund_in<E: Exec>(e: &mut E, step: &RefundStep<'_>) -> Result<Decided<ChangeOutcome>, StoreError> {
    let (order, refund) = (step.order, step.refund);
    if let Some(delivery) = step.delivery
        && let Some(first) = record_in(e, delivery).await?
    {
        return Ok(Decided::Rollback(ChangeOutcome::Duplicate(Box::new(first))));
    }
    let params = vec![
        uuid(*order.id().as_uuid()),
        Param::Int(Some(step.expected_refunded)),
        Param::Int(Some(order.refunded_minor())),
        Param::Text(Some(body(order)?)),
    ];
    let sql = "UPDATE orders SET refunded_minor = $3, body = $4 WHERE id = $1 AND refunded_minor = $2";
    if e.execute(sql.into(), params).await? == 0 {
        return Ok(Decided::Rollback(ChangeOutcome::Stale));
    }
    // Tickets in id order, then their counters: type rows in id order, then the event's, the
    // order every writer takes them in (a counter per ticket would interleave them).
    let mut updates: Vec<_> = step.tickets.iter().collect();
    updates.sort_by_key(|u| u.next.id());
    let mut freed: BTreeMap<Uuid, i64> = BTreeMap::new();
    for update in &updates {
        if e.execute(tickets::REPLACE.into(), tickets::replace_params(&update.next, update.expected_version)).await?
            == 0
        {
            return Ok(Decided::Rollback(ChangeOutcome::Stale));
        }
        if update.was_live && !update.next.status().is_live() {
            *freed.entry(*update.next.ticket_type_id().as_uuid()).or_default() += 1;
        }
    }
    free_places(e, order.event_id(), freed).await?;
    // A refunded ticket's links stop working with it.
    let ids: Vec<Uuid> = updates.iter().map(|u| *u.next.id().as_uuid()).collect();
    revoke_links(e, &ids, refund.at).await?;
    for job in step.jobs {
        jobs::enqueue_on(e, job).await?;
    }
    let params = vec![
        uuid(*refund.id.as_uuid()),
        uuid(*refund.order_id.as_uuid()),
        uuid(*refund.event_id.as_uuid()),
        Param::name(refund.status.as_str()),
        Param::Int(Some(micros(refund.at))),
        Param::Text(Some(serde_json::to_string(refund).map_err(|e| corrupt("refund", e))?)),
    ];
    let sql = "INSERT INTO refunds (id, order_id, event_id, status, at, body) VALUES ($1, $2, $3, $4, $5, $6)";
    e.execute(sql.into(), params).await?;
    extras::audit_on(e, step.audit).await?;
    Ok(Decided::Commit(ChangeOutcome::Applied))
}

/// Ends the step `decided` in `tx`: commits its writes, or drops them.
async fn finish<T>(tx: sqlx::Transaction<'static, Db>, decided: Decided<T>) -> Result<T, StoreError> {
    match decided {
        // Not `extras::commit`: the step writes its audit entry itself, as it does on a lane.
        Decided::Commit(done) => tx.commit().await.map_err(db_error).map(|()| done),
        Decided::Rollback(done) => Ok(done),
    }
}

/// The order writes on a pooled connection (each in a write transaction of its own).
impl DbStore {
    pub(super) async fn pooled_place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError> {
        let mut tx = self.begin_write().await?;
        let decided = place_in(&mut *tx, placement).await?;
        finish(tx, decided).await
    }

    pub(super) async fn pooled_change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let decided = change_in(&mut *tx, change).await?;
        finish(tx, decided).await
    }

    pub(super) async fn pooled_record_delivery(
        &self,
        delivery: &PaymentDelivery,
    ) -> Result<Option<PaymentDelivery>, StoreError> {
        let mut tx = self.begin_write().await?;
        let decided = record_delivery_in(&mut *tx, delivery).await?;
        finish(tx, decided).await
    }
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
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "place_order"))]
    async fn place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError> {
        let placed = self.hot_place_order(placement).await?;
        if matches!(placed, Placement::Placed(_)) {
            audit::carried(placement.audit);
        }
        Ok(placed)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "order"))]
    async fn order(&self, id: OrderId) -> Result<Option<Order>, StoreError> {
        self.read_one("SELECT body FROM orders WHERE id = $1", vec![uuid(*id.as_uuid())], |row| from_body(row, "order"))
            .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "order_by_token"))]
    async fn order_by_token(&self, token_hash: &TokenHash) -> Result<Option<Order>, StoreError> {
        let query = sqlx::query("SELECT body FROM orders WHERE token_hash = $1").bind(token_hash.0.to_vec());
        one_order(query, &self.pool).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "order_by_reference"))]
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

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "order_tickets"))]
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

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ticket_order"))]
    async fn ticket_order(&self, ticket_id: TicketId) -> Result<Option<OrderId>, StoreError> {
        let row: Option<(Uuid,)> = sqlx::query_as("SELECT order_id FROM order_tickets WHERE ticket_id = $1")
            .bind(*ticket_id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(row.map(|(id,)| OrderId::from_uuid(id)))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "orders"))]
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

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "change_order"))]
    async fn change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let outcome = self.hot_change_order(change).await?;
        if outcome == ChangeOutcome::Applied {
            audit::carried(change.audit);
        }
        Ok(outcome)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "record_delivery"))]
    async fn record_delivery(&self, delivery: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError> {
        self.hot_record_delivery(delivery).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "refund"))]
    async fn refund(&self, step: &RefundStep<'_>) -> Result<ChangeOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let decided = refund_in(&mut *tx, step).await?;
        let outcome = finish(tx, decided).await?;
        if outcome == ChangeOutcome::Applied {
            audit::carried(step.audit);
        }
        Ok(outcome)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "refund_by_id"))]
    async fn refund_by_id(&self, id: RefundId) -> Result<Option<Refund>, StoreError> {
        let row = sqlx::query("SELECT body FROM refunds WHERE id = $1")
            .bind(*id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(refund_from).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "refunds"))]
    async fn refunds(&self, order_id: OrderId) -> Result<Vec<Refund>, StoreError> {
        let rows = sqlx::query("SELECT body FROM refunds WHERE order_id = $1 ORDER BY at, id")
            .bind(*order_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(refund_from).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "settle_refund"))]
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
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "deliveries"))]
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
