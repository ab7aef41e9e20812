//! A purchase's writes on Postgres as rows owned, each making one statement alone or with others
//! of its kind (`together`): the placement (the type's and the event's places taken, the order,
//! its tickets, their links, its order lines and its jobs written), the payment (the delivery
//! recorded, the order changed, its reserved tickets paid, its notification queued), each with
//! the audit entry it carries, and the audit entry appended alone.
//!
//! They are the shared steps' statements (`sql/orders.rs`, `sql/tickets.rs`, `sql/jobs.rs`,
//! `sql/extras.rs`), with the same parameters, joined in data-modifying CTEs, each table's rows
//! in one multi-row insert: one round trip and no transaction block instead of nine and six
//! statements for each, and a type's sales hold its counters' rows for one statement and its
//! commit. Only the common case is written this way: a placement of one type without a receipt,
//! a payment that keeps its tickets live and writes none. The statement checks what the shared
//! step checks on the way (the places taken, each delivery new, each order still as read) and
//! divides by zero when one failed; a short code drawn twice or an idempotency key used before
//! fails it on a unique key. Either way nothing it did stays, and each write then runs the shared
//! step in a transaction, which says exactly what happened to it (sold out, a repeat, a stale
//! order, the order placed before with that key).

use ticketing_core::audit::AuditEntry;
use ticketing_core::status::{self, TicketStatus};
use ticketing_core::store::{OrderChange, OrderPlacement, StoreError};
use ticketing_core::ticket::Ticket;

use super::together::Joinable;
use super::{extras, jobs, orders, tickets};
use crate::codec::{Param, micros};
use crate::exec::{Table, renumbered};

/// A statement of several parts, `pN AS (…)`, their parameters numbered in order.
#[derive(Debug, Default)]
pub(super) struct Joined {
    parts: Vec<String>,
    /// Every part's parameters, in order.
    pub(super) params: Vec<Param>,
}

impl Joined {
    /// Adds `sql` as the next part (`$1`… of `sql` numbered after the parameters already bound);
    /// its name.
    fn part(&mut self, sql: &str, params: Vec<Param>) -> String {
        let name = format!("p{}", self.parts.len() + 1);
        self.parts.push(format!("{name} AS ({})", shifted(sql, self.params.len())));
        self.params.extend(params);
        name
    }

    /// Adds the insert of `table`'s rows of each of `rows`, as one insert, unless there are none.
    fn rows<'a>(&mut self, table: &Table, rows: impl Iterator<Item = &'a Rows> + Clone) {
        let count = rows.clone().map(|r| r.count).sum();
        if count > 0 {
            self.part(&table.insert(count), rows.flat_map(|r| r.params.iter().cloned()).collect());
        }
    }

    /// The statement: every part, then a division by zero unless each of `checked` changed
    /// exactly its number of rows, which fails the whole statement.
    pub(super) fn sql(&self, checked: &[(String, usize)]) -> String {
        let each: Vec<String> =
            checked.iter().map(|(name, rows)| format!("(SELECT count(*) FROM {name}) = {rows}")).collect();
        format!("WITH {} SELECT 1 / ({})::int AS applied", self.parts.join(", "), each.join(" AND "))
    }
}

/// `sql` with each parameter `$n` as `$(n + by)`.
fn shifted(sql: &str, by: usize) -> String {
    let shifted = renumbered(sql, |n, out| {
        out.push('$');
        out.push_str(&(n + by).to_string());
        true
    });
    debug_assert!(shifted.is_some(), "every `$` of a shared statement is a parameter: {sql}");
    shifted.unwrap_or_else(|| sql.to_owned())
}

/// Rows of one table, their parameters in order.
#[derive(Debug)]
struct Rows {
    count: usize,
    params: Vec<Param>,
}

impl Rows {
    fn of<T>(
        items: &[T],
        width: usize,
        mut add: impl FnMut(&T, &mut Vec<Param>) -> Result<(), StoreError>,
    ) -> Result<Self, StoreError> {
        let mut params = Vec::with_capacity(items.len() * width);
        for item in items {
            add(item, &mut params)?;
        }
        Ok(Self { count: items.len(), params })
    }
}

/// A placement in the common case, its rows owned: written alone or in one statement with other
/// placements of its type and event ([`Joinable`]).
#[derive(Debug)]
pub(super) struct Placing {
    /// The type whose places it takes: placements are written together by type and event.
    type_id: uuid::Uuid,
    event: uuid::Uuid,
    live: i64,
    jobs: Rows,
    tickets: Rows,
    links: Rows,
    order: Rows,
    order_tickets: Rows,
    audit: Rows,
}

impl Placing {
    /// The placement's rows when it is the common case (one type, some tickets live, no receipt,
    /// no template); `None` otherwise.
    pub(super) fn of(p: &OrderPlacement<'_>) -> Result<Option<Self>, StoreError> {
        let order = p.order;
        // The places as the shared step counts them (a batch of another type or event is its
        // `Conflict` to say): one type, some of them live.
        let Ok(wanted) = orders::wanted(order.event_id(), p.batches) else { return Ok(None) };
        let ([(type_id, live)], [batch]) = (&wanted[..], p.batches) else { return Ok(None) };
        if *live == 0 || p.receipt || batch.template.is_some() {
            return Ok(None);
        }
        let sold: Vec<&Ticket> = batch.tickets.iter().collect();
        Ok(Some(Self {
            type_id: *type_id,
            event: *order.event_id().as_uuid(),
            live: i64::from(*live),
            jobs: Rows::of(p.jobs, jobs::JOBS.width, jobs::job_params)?,
            tickets: Rows::of(batch.tickets, tickets::TICKETS.width, |t, params| {
                tickets::ticket_params(t, params);
                Ok(())
            })?,
            links: Rows::of(batch.links, tickets::LINKS.width, |l, params| {
                tickets::link_params(l, params);
                Ok(())
            })?,
            order: Rows { count: 1, params: orders::order_params(order, p.idempotency_key)? },
            order_tickets: Rows { count: sold.len(), params: orders::order_ticket_params(order, &sold) },
            audit: Rows::of(p.audit.as_slice(), extras::AUDIT.width, |entry, params| {
                params.extend(extras::audit_params(entry));
                Ok(())
            })?,
        }))
    }
}

impl Joinable for Placing {
    /// The type and its event: a placement whose type is of another event is the shared step's
    /// to refuse, never counted against the event of the others.
    type Key = (uuid::Uuid, uuid::Uuid);

    fn key(&self) -> (uuid::Uuid, uuid::Uuid) {
        (self.type_id, self.event)
    }

    fn width(&self) -> usize {
        [&self.jobs, &self.tickets, &self.links, &self.order, &self.order_tickets, &self.audit]
            .iter()
            .map(|rows| rows.params.len())
            .sum()
    }

    /// Placements of one type: each table's rows in one insert, the places of all of them taken
    /// at once.
    fn statement(batch: &[Self]) -> (String, Vec<Param>) {
        let mut joined = Joined::default();
        joined.rows(&jobs::JOBS, batch.iter().map(|p| &p.jobs));
        joined.rows(&tickets::TICKETS, batch.iter().map(|p| &p.tickets));
        joined.rows(&tickets::LINKS, batch.iter().map(|p| &p.links));
        joined.rows(&orders::ORDERS, batch.iter().map(|p| &p.order));
        joined.rows(&orders::ORDER_TICKETS, batch.iter().map(|p| &p.order_tickets));
        joined.rows(&extras::AUDIT, batch.iter().map(|p| &p.audit));
        let (type_id, event) = (batch[0].type_id, batch[0].event);
        let live = Param::Int(Some(batch.iter().map(|p| p.live).sum()));
        let type_params = vec![Param::Uuid(Some(type_id)), live.clone(), Param::Uuid(Some(event))];
        let took_type = joined.part(&format!("{} RETURNING 1", tickets::TAKE_TYPE), type_params);
        let event_params = vec![Param::Uuid(Some(event)), live];
        let took_event = joined.part(&format!("{} RETURNING 1", tickets::TAKE_EVENT), event_params);
        (joined.sql(&[(took_type, 1), (took_event, 1)]), joined.params)
    }
}

/// A payment in the common case (a delivery recorded with a change that keeps the order's
/// tickets live and writes none), its rows owned: written alone or in one statement with other
/// payments of its event ([`Joinable`]).
#[derive(Debug)]
pub(super) struct Paying {
    event: uuid::Uuid,
    delivery: Rows,
    change: Vec<Param>,
    moved: Vec<Param>,
    jobs: Rows,
    audit: Rows,
}

impl Paying {
    /// The payment's rows when it is the common case; `None` otherwise.
    pub(super) fn of(c: &OrderChange<'_>) -> Result<Option<Self>, StoreError> {
        let (Some(delivery), Some(action)) = (c.delivery, c.reserved_action) else { return Ok(None) };
        let Ok(to) = status::next(TicketStatus::Reserved, action) else { return Ok(None) };
        if !to.is_live() || c.batches.iter().any(|b| !b.tickets.is_empty()) {
            return Ok(None);
        }
        let order = *c.order.id().as_uuid();
        Ok(Some(Self {
            event: *c.order.event_id().as_uuid(),
            delivery: Rows { count: 1, params: orders::delivery_params(delivery)? },
            change: orders::change_params(c)?,
            moved: vec![Param::Uuid(Some(order)), Param::name(to.as_str()), Param::Int(Some(micros(c.at)))],
            jobs: Rows::of(c.jobs, jobs::JOBS.width, jobs::job_params)?,
            audit: Rows::of(c.audit.as_slice(), extras::AUDIT.width, |entry, params| {
                params.extend(extras::audit_params(entry));
                Ok(())
            })?,
        }))
    }
}

impl Joinable for Paying {
    type Key = uuid::Uuid;

    fn key(&self) -> uuid::Uuid {
        self.event
    }

    fn width(&self) -> usize {
        self.delivery.params.len()
            + self.change.len()
            + self.moved.len()
            + self.jobs.params.len()
            + self.audit.params.len()
    }

    /// The deliveries recorded in one insert (each new), each order changed (each still as read)
    /// and its reserved tickets moved, the jobs queued in one insert.
    fn statement(batch: &[Self]) -> (String, Vec<Param>) {
        let mut joined = Joined::default();
        let mut checked = Vec::with_capacity(batch.len() + 1);
        let recorded = format!("{} {} RETURNING 1", orders::DELIVERIES.insert(batch.len()), orders::RECORD_ONCE);
        let params = batch.iter().flat_map(|p| p.delivery.params.iter().cloned()).collect();
        checked.push((joined.part(&recorded, params), batch.len()));
        for paying in batch {
            let changed = joined.part(&format!("{} RETURNING 1", orders::CHANGE_ORDER), paying.change.clone());
            checked.push((changed, 1));
            joined.part(orders::MOVE_RESERVED, paying.moved.clone());
        }
        joined.rows(&jobs::JOBS, batch.iter().map(|p| &p.jobs));
        joined.rows(&extras::AUDIT, batch.iter().map(|p| &p.audit));
        (joined.sql(&checked), joined.params)
    }
}

/// An audit entry, written alone or in one insert with others.
#[derive(Debug)]
pub(super) struct Appending(Vec<Param>);

impl Appending {
    /// `entry`'s row.
    pub(super) fn of(entry: &AuditEntry) -> Self {
        Self(extras::audit_params(entry))
    }
}

impl Joinable for Appending {
    type Key = ();

    fn key(&self) {}

    fn width(&self) -> usize {
        self.0.len()
    }

    fn statement(batch: &[Self]) -> (String, Vec<Param>) {
        let sql = format!("WITH p1 AS ({}) SELECT 1", extras::AUDIT.insert(batch.len()));
        (sql, batch.iter().flat_map(|a| a.0.iter().cloned()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_numbered_after_one_another() {
        let mut joined = Joined::default();
        let a = joined.part("UPDATE t SET n = n + $2 WHERE id = $1 RETURNING 1", vec![Param::Int(Some(1)); 2]);
        let b = joined.part("INSERT INTO u (a, b) VALUES ($1, $2)", vec![Param::Int(Some(2)); 2]);
        assert_eq!(
            joined.sql(&[(a, 1)]),
            "WITH p1 AS (UPDATE t SET n = n + $2 WHERE id = $1 RETURNING 1), \
             p2 AS (INSERT INTO u (a, b) VALUES ($3, $4)) SELECT 1 / ((SELECT count(*) FROM p1) = 1)::int AS applied"
        );
        assert_eq!((b.as_str(), joined.params.len()), ("p2", 4));
    }
}
