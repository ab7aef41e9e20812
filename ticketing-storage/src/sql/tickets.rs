//! Tickets and their live counters. Counters move in the same transaction as the rows, by
//! conditional updates that refuse to pass the quota or the capacity: atomic under SQLite's single
//! writer and under Postgres row locks alike. Shared by the SQL backends.

use async_trait::async_trait;
use sqlx::QueryBuilder;
use ticketing_core::ids::{TicketId, TicketTypeId};
use ticketing_core::job::Job;
use ticketing_core::magic_link::MagicLink;
use ticketing_core::quota::{Allocation, QuotaError};
use ticketing_core::short_code::ShortCode;
use ticketing_core::status::TicketStatus;
use ticketing_core::store::{StoreError, TicketBatch, TicketFilter, TicketRepository};
use ticketing_core::ticket::Ticket;

use super::{Db, DbStore, extras, jobs, rows};
use crate::codec::{Param, corrupt, count, day, db_error, get, micros};
use crate::exec::{Exec, Table};

/// Rows per INSERT statement (14 parameters each, well under SQLite's 32,766).
const INSERT_CHUNK: usize = 1000;

fn code(ticket: &Ticket) -> i64 {
    // Below 31^9 < 2^45: always fits.
    i64::try_from(ticket.short_code().value()).unwrap_or(i64::MAX)
}

/// A ticket's compare-and-set: `$1` its id, `$2` the expected version, then its new state (see
/// [`replace_params`]).
pub(super) const REPLACE: &str = "UPDATE tickets SET short_code = $3, status = $4, entries_used = $5, \
    last_entry_day = $6, entries_on_day = $7, version = $8, updated_at = $9 WHERE id = $1 AND version = $2";

/// The parameters of [`REPLACE`].
pub(super) fn replace_params(ticket: &Ticket, expected: u64) -> Vec<Param> {
    vec![
        Param::Uuid(Some(*ticket.id().as_uuid())),
        Param::unsigned(expected),
        Param::Int(Some(code(ticket))),
        Param::name(ticket.status().as_str()),
        Param::Int(Some(i64::from(ticket.entries_used()))),
        Param::Int32(ticket.last_entry_day().map(day)),
        Param::Int(Some(i64::from(ticket.entries_on_last_day()))),
        Param::unsigned(ticket.version()),
        Param::Int(Some(micros(ticket.updated_at()))),
    ]
}

/// The live counters a ticket moves when it stops (or starts) being live: each statement adds `$2`
/// to the row with id `$1`, with that row's id from [`counter_rows`]. A ticket coming back to life
/// past a limit fails the CHECK constraint: the caller's transaction is dropped and nothing is
/// written.
pub(super) const COUNTERS: [&str; 2] = [
    "UPDATE type_counters SET live_tickets = live_tickets + $2 WHERE type_id = $1",
    "UPDATE event_counters SET live_tickets = live_tickets + $2 WHERE event_id = $1",
];

/// The rows [`COUNTERS`] update for `ticket`, in order.
pub(super) fn counter_rows(ticket: &Ticket) -> [uuid::Uuid; 2] {
    [*ticket.ticket_type_id().as_uuid(), *ticket.event_id().as_uuid()]
}

/// Replaces a ticket if its version is still `expected`, moving the counters when it stops (or
/// starts) being live. `was_live` is the liveness at `expected`, when the caller knows it; else it
/// is read. `Ok(false)` when the compare-and-set lost.
pub(super) async fn replace<E: Exec>(
    e: &mut E,
    ticket: &Ticket,
    expected: u64,
    was_live: Option<bool>,
) -> Result<bool, StoreError> {
    let was_live = match was_live {
        Some(was_live) => was_live,
        None => {
            let params = vec![Param::Uuid(Some(*ticket.id().as_uuid())), Param::unsigned(expected)];
            let before = e.query_opt(STATUS_AT.into(), params, |row| get::<String, _>(row, "status")).await?;
            let Some(before) = before else { return Ok(false) };
            before.parse::<TicketStatus>().map_err(|_| corrupt("ticket status", &before))?.is_live()
        }
    };
    if e.execute(REPLACE.into(), replace_params(ticket, expected)).await? == 0 {
        return Ok(false);
    }
    let is_live = ticket.status().is_live();
    if was_live != is_live {
        let delta = Param::Int(Some(if is_live { 1 } else { -1 }));
        for (sql, id) in COUNTERS.into_iter().zip(counter_rows(ticket)) {
            e.execute(sql.into(), vec![Param::Uuid(Some(id)), delta.clone()]).await?;
        }
    }
    Ok(true)
}

/// A ticket's status at a version.
const STATUS_AT: &str = "SELECT status FROM tickets WHERE id = $1 AND version = $2";

/// Inserts tickets of one type on `e` (inside the caller's transaction) within the type's quota
/// and the event's capacity, with their links and pins and the jobs they cause.
pub(super) async fn insert_in<E: Exec>(e: &mut E, batch: &TicketBatch<'_>, jobs: &[Job]) -> Result<(), StoreError> {
    for job in jobs {
        jobs::enqueue_on(e, job).await?;
    }
    let tickets = batch.tickets;
    let Some(first) = tickets.first() else { return Ok(()) };
    if tickets.iter().any(|t| t.ticket_type_id() != first.ticket_type_id() || t.event_id() != first.event_id()) {
        return Err(StoreError::Conflict("a batch holds tickets of one type of one event".into()));
    }
    let live = tickets.iter().filter(|t| t.status().is_live()).count();
    // More than u32::MAX tickets in one batch cannot fit any quota: saturating keeps that true.
    let requested = u32::try_from(live).unwrap_or(u32::MAX);
    take_places(e, *first.event_id().as_uuid(), &[(*first.ticket_type_id().as_uuid(), requested)]).await?;
    write_batch(e, batch).await
}

/// Takes `$2` places of the type `$1` of the event `$3`, within its quota.
pub(super) const TAKE_TYPE: &str = "UPDATE type_counters SET live_tickets = live_tickets + $2 WHERE type_id = $1 \
    AND event_id = $3 AND live_tickets + $2 <= quota";
/// Takes `$2` places of the event `$1`, within its capacity.
pub(super) const TAKE_EVENT: &str =
    "UPDATE event_counters SET live_tickets = live_tickets + $2 WHERE event_id = $1 AND live_tickets + $2 <= capacity";

/// A type's quota and places taken, when a take was refused.
const TYPE_ROOM: &str = "SELECT quota, live_tickets FROM type_counters WHERE type_id = $1 AND event_id = $2";
/// An event's capacity and places taken, when a take was refused.
const EVENT_ROOM: &str = "SELECT capacity, live_tickets FROM event_counters WHERE event_id = $1";

/// Takes `n` places of each type of `event` (within the type's quota) and their sum of the
/// event's capacity, by conditional updates: the type rows first, in id order, then the event's
/// row, the order every writer takes them in (so two writers never deadlock).
pub(super) async fn take_places<E: Exec>(
    e: &mut E,
    event: uuid::Uuid,
    wanted: &[(uuid::Uuid, u32)],
) -> Result<(), StoreError> {
    let mut wanted = wanted.to_vec();
    wanted.sort_unstable();
    let mut total: u32 = 0;
    for &(type_id, requested) in &wanted {
        total = total.saturating_add(requested);
        let params = vec![Param::Uuid(Some(type_id)), Param::Int(Some(requested.into())), Param::Uuid(Some(event))];
        if e.execute(TAKE_TYPE.into(), params).await? == 0 {
            let params = vec![Param::Uuid(Some(type_id)), Param::Uuid(Some(event))];
            let row = e
                .query_opt(TYPE_ROOM.into(), params, |r| {
                    Ok((count(get(r, "quota")?)?, count(get(r, "live_tickets")?)?))
                })
                .await?;
            let (quota, type_live) = row.ok_or(StoreError::NotFound("ticket type"))?;
            return Err(QuotaError::TypeQuota { quota, remaining: quota.saturating_sub(type_live), requested }.into());
        }
    }
    if e.execute(TAKE_EVENT.into(), vec![Param::Uuid(Some(event)), Param::Int(Some(total.into()))]).await? == 0 {
        let row = e
            .query_opt(EVENT_ROOM.into(), vec![Param::Uuid(Some(event))], |r| {
                Ok((count(get(r, "capacity")?)?, count(get(r, "live_tickets")?)?))
            })
            .await?;
        let (capacity, event_live) = row.ok_or(StoreError::NotFound("event"))?;
        return Err(QuotaError::EventCapacity {
            capacity,
            remaining: capacity.saturating_sub(event_live),
            requested: total,
        }
        .into());
    }
    Ok(())
}

/// The tickets' insert.
pub(super) const TICKETS: Table = Table {
    head: "INSERT INTO tickets (id, event_id, ticket_type_id, short_code, holder_name, holder_email, holder_phone, \
        status, entries_used, last_entry_day, entries_on_day, version, created_at, updated_at)",
    width: 14,
};

/// The magic links' insert.
pub(super) const LINKS: Table =
    Table { head: "INSERT INTO magic_links (token_hash, ticket_id, created_at, expires_at, revoked_at)", width: 5 };

/// The parameters of one link's row in [`LINKS`].
pub(super) fn link_params(link: &MagicLink, params: &mut Vec<Param>) {
    params.extend([
        Param::bytes(&link.token_hash.0),
        Param::Uuid(Some(*link.ticket_id.as_uuid())),
        Param::Int(Some(micros(link.created_at))),
        Param::Int(link.expires_at.map(micros)),
        Param::Int(link.revoked_at.map(micros)),
    ]);
}

/// The parameters of one ticket's row in [`TICKETS`].
pub(super) fn ticket_params(t: &Ticket, params: &mut Vec<Param>) {
    let holder = t.holder();
    params.extend([
        Param::Uuid(Some(*t.id().as_uuid())),
        Param::Uuid(Some(*t.event_id().as_uuid())),
        Param::Uuid(Some(*t.ticket_type_id().as_uuid())),
        Param::Int(Some(code(t))),
        Param::Text(holder.map(|h| h.name().to_owned())),
        Param::Text(holder.and_then(|h| h.email()).map(|e| e.as_str().to_owned())),
        Param::Text(holder.and_then(|h| h.phone()).map(|p| p.as_str().to_owned())),
        Param::name(t.status().as_str()),
        Param::Int(Some(i64::from(t.entries_used()))),
        Param::Int32(t.last_entry_day().map(day)),
        Param::Int(Some(i64::from(t.entries_on_last_day()))),
        Param::unsigned(t.version()),
        Param::Int(Some(micros(t.created_at()))),
        Param::Int(Some(micros(t.updated_at()))),
    ]);
}

/// Inserts `rows` rows of `width` parameters, `INSERT_CHUNK` rows a statement; `row` writes one
/// row's parameters. A missing referenced row is `missing`.
async fn insert_rows<E: Exec, T>(
    e: &mut E,
    table: Table,
    rows: &[T],
    missing: &'static str,
    row: impl Fn(&T, &mut Vec<Param>),
) -> Result<(), StoreError> {
    for chunk in rows.chunks(INSERT_CHUNK) {
        let mut params = Vec::with_capacity(chunk.len() * table.width);
        for item in chunk {
            row(item, &mut params);
        }
        let sql = table.insert(chunk.len());
        e.execute(sql.into(), params).await.map_err(|e| e.naming(missing))?;
    }
    Ok(())
}

/// Writes a batch's tickets, links and pins (their places already taken).
pub(super) async fn write_batch<E: Exec>(e: &mut E, batch: &TicketBatch<'_>) -> Result<(), StoreError> {
    insert_rows(e, TICKETS, batch.tickets, "referenced row", ticket_params).await?;
    insert_rows(e, LINKS, batch.links, "ticket", link_params).await?;
    if let Some(pin) = batch.template {
        let pins = Table { head: "INSERT INTO ticket_template_pins (ticket_id, template_id, version)", width: 3 };
        insert_rows(e, pins, batch.tickets, "template version", |t, params| {
            params.extend([
                Param::Uuid(Some(*t.id().as_uuid())),
                Param::Uuid(Some(*pin.template_id.as_uuid())),
                Param::Int(Some(i64::from(pin.version))),
            ]);
        })
        .await?;
    }
    Ok(())
}

#[async_trait]
impl TicketRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_tickets"))]
    async fn insert_tickets(&self, batch: &TicketBatch<'_>, jobs: &[Job]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_in(&mut *tx, batch, jobs).await?;
        extras::commit(tx).await?;
        self.grew(batch.tickets.len());
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ticket"))]
    async fn ticket(&self, id: TicketId) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query("SELECT * FROM tickets WHERE id = $1")
            .bind(*id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::ticket).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ticket_by_code"))]
    async fn ticket_by_code(&self, short_code: ShortCode) -> Result<Option<Ticket>, StoreError> {
        let row = sqlx::query("SELECT * FROM tickets WHERE short_code = $1")
            .bind(i64::try_from(short_code.value()).unwrap_or(i64::MAX))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(rows::ticket).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "taken_short_codes"))]
    async fn taken_short_codes(&self, codes: &[ShortCode]) -> Result<Vec<ShortCode>, StoreError> {
        let mut taken = Vec::new();
        // A thousand codes a statement keeps within every driver's parameter limit.
        for part in codes.chunks(1000) {
            let mut query = QueryBuilder::<Db>::new("SELECT short_code FROM tickets WHERE short_code IN (");
            let mut list = query.separated(", ");
            for code in part {
                list.push_bind(i64::try_from(code.value()).unwrap_or(i64::MAX));
            }
            query.push(")");
            let found: Vec<i64> = query.build_query_scalar().fetch_all(&self.pool).await.map_err(db_error)?;
            for value in found {
                let code = u64::try_from(value).ok().and_then(ShortCode::from_value);
                taken.push(code.ok_or_else(|| corrupt("short code", value))?);
            }
        }
        Ok(taken)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "update_ticket"))]
    async fn update_ticket(&self, ticket: &Ticket, expected_version: u64) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        if replace(&mut *tx, ticket, expected_version, None).await? {
            if !ticket.status().is_live() {
                // A dead ticket's links die with it (revoking none when they were already).
                sqlx::query("UPDATE magic_links SET revoked_at = $2 WHERE ticket_id = $1 AND revoked_at IS NULL")
                    .bind(*ticket.id().as_uuid())
                    .bind(micros(ticket.updated_at()))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            }
            return extras::commit(tx).await;
        }
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tickets WHERE id = $1)")
            .bind(*ticket.id().as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        Err(if exists { StoreError::Stale } else { StoreError::NotFound("ticket") })
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "allocation"))]
    async fn allocation(&self, ticket_type_id: TicketTypeId) -> Result<Allocation, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT t.live_tickets, e.live_tickets FROM type_counters t JOIN event_counters e ON e.event_id = t.event_id \
             WHERE t.type_id = $1",
        )
        .bind(*ticket_type_id.as_uuid())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        let (type_live, event_live) = row.ok_or(StoreError::NotFound("ticket type"))?;
        Ok(Allocation { type_live: count(type_live)?, event_live: count(event_live)? })
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "tickets"))]
    async fn tickets(&self, filter: &TicketFilter) -> Result<Vec<Ticket>, StoreError> {
        let mut q = QueryBuilder::<Db>::new("SELECT * FROM tickets WHERE 1 = 1");
        if let Some(event) = filter.event_id {
            q.push(" AND event_id = ").push_bind(*event.as_uuid());
        }
        if let Some(ticket_type) = filter.ticket_type_id {
            q.push(" AND ticket_type_id = ").push_bind(*ticket_type.as_uuid());
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(email) = &filter.holder_email {
            q.push(" AND holder_email IS NOT NULL AND lower(holder_email) = lower(")
                .push_bind(email.as_str())
                .push(")");
        }
        let limit = if filter.limit == 0 { i64::MAX } else { i64::from(filter.limit) };
        // UUIDv7 ids are time-ordered: ordering by id is creation order.
        q.push(" ORDER BY created_at, id LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(i64::from(filter.offset));
        let rows = q.build().fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(rows::ticket).collect()
    }
}
