//! Events, ticket types and gates. Shared by the SQL backends (see `crate::sqlite`).

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use ticketing_core::event::Event;
use ticketing_core::gate::Gate;
use ticketing_core::ids::{EventId, GateId, TicketTypeId, UserId};
use ticketing_core::quota::QuotaError;
use ticketing_core::store::{EventFilter, EventRepository, GateRepository, StoreError, TicketTypeRepository};
use ticketing_core::ticket_type::TicketType;
use uuid::Uuid;

use super::{Db, DbStore, Query, extras, rows};
use crate::codec::{Param, count, db_error, join, micros, missing};

const EVENT_COLUMNS: &str = "title = $2, description = $3, starts_at = $4, ends_at = $5, time_zone = $6, location = $7, \
     capacity = $8, dress_code = $9, allow_reentry = $10, status = $11, payment_url = $12, doors_open_minutes = $13, \
     max_tickets_per_order = $14, email_pdfs = $15";

const INSERT_EVENT: &str = "INSERT INTO events (id, title, description, starts_at, ends_at, time_zone, location, \
     capacity, dress_code, allow_reentry, status, payment_url, doors_open_minutes, max_tickets_per_order, \
     email_pdfs) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";

/// Inserts an event, with its counters, inside a write transaction (one that also writes its
/// staff, say).
pub(super) async fn insert_event_in(tx: &mut sqlx::Transaction<'_, Db>, event: &Event) -> Result<(), StoreError> {
    bind_event(sqlx::query(INSERT_EVENT), event).execute(&mut **tx).await.map_err(db_error)?;
    sqlx::query("INSERT INTO event_counters (event_id, capacity) VALUES ($1, $2)")
        .bind(*event.id().as_uuid())
        .bind(i64::from(event.capacity()))
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Sets a limit (an event's capacity, a type's quota) on its counters' row (`$1` the row's id,
/// `$2` the limit) unless fewer places than are live; the row must exist.
async fn set_limit(
    tx: &mut sqlx::Transaction<'_, Db>,
    (update, read): (&'static str, &'static str),
    id: Uuid,
    limit: u32,
    what: &'static str,
) -> Result<(), StoreError> {
    let done = sqlx::query(update).bind(id).bind(i64::from(limit)).execute(&mut **tx).await.map_err(db_error)?;
    if done.rows_affected() == 0 {
        let live: Option<i64> = sqlx::query_scalar(read).bind(id).fetch_optional(&mut **tx).await.map_err(db_error)?;
        return Err(below_live(live, limit, what));
    }
    Ok(())
}

/// An event's capacity on its counters' row, and the live tickets it is checked against.
const EVENT_LIMIT: (&str, &str) = (
    "UPDATE event_counters SET capacity = $2 WHERE event_id = $1 AND live_tickets <= $2",
    "SELECT live_tickets FROM event_counters WHERE event_id = $1",
);

/// A type's quota on its counters' row, and the live tickets it is checked against.
const TYPE_LIMIT: (&str, &str) = (
    "UPDATE type_counters SET quota = $2 WHERE type_id = $1 AND live_tickets <= $2",
    "SELECT live_tickets FROM type_counters WHERE type_id = $1",
);

fn bind_event<'q>(query: Query<'q>, e: &'q Event) -> Query<'q> {
    query
        .bind(*e.id().as_uuid())
        .bind(e.title())
        .bind(e.description())
        .bind(micros(e.starts_at()))
        .bind(micros(e.ends_at()))
        .bind(e.time_zone().name())
        .bind(e.location())
        .bind(i64::from(e.capacity()))
        .bind(e.dress_code())
        .bind(e.allow_reentry())
        .bind(e.status().as_str())
        .bind(e.payment_url().map(|u| u.as_str()))
        .bind(i64::from(e.doors_open_minutes()))
        .bind(i64::from(e.max_tickets_per_order()))
        .bind(e.email_pdfs())
}

fn bind_type<'q>(query: Query<'q>, t: &'q TicketType) -> Query<'q> {
    query
        .bind(*t.id().as_uuid())
        .bind(*t.event_id().as_uuid())
        .bind(t.name())
        .bind(t.name_key())
        .bind(t.price().minor())
        .bind(t.price().currency().code().to_owned())
        .bind(i64::from(t.quota()))
        .bind(i64::from(t.usage_limit()))
        .bind(t.daily_entry_limit().map(i64::from))
        .bind(t.validity_from().map(micros))
        .bind(t.validity_to().map(micros))
        .bind(t.gates().map(join))
}

/// A `LIKE` pattern matching text that contains `needle`, lower-cased, wildcards escaped.
fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A limit that failed its conditional update: missing row, or below the live tickets.
fn below_live(live: Option<i64>, limit: u32, what: &'static str) -> StoreError {
    match live {
        None => StoreError::NotFound(what),
        Some(live) => match count(live) {
            Ok(live) => QuotaError::BelowLive { limit, live }.into(),
            Err(e) => e,
        },
    }
}

#[async_trait]
impl EventRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_event"))]
    async fn insert_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_event_in(&mut tx, event).await?;
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "update_event"))]
    async fn update_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // The counters' row, then the event's: the order a sale takes them in (its places, then
        // its rows' foreign keys), so an edit and a sale never wait on each other in turn.
        set_limit(&mut tx, EVENT_LIMIT, *event.id().as_uuid(), event.capacity(), "event").await?;
        let sql = sqlx::AssertSqlSafe(format!("UPDATE events SET {EVENT_COLUMNS} WHERE id = $1"));
        bind_event(sqlx::query(sql), event).execute(&mut *tx).await.map_err(db_error)?;
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "event"))]
    async fn event(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.read_one("SELECT * FROM events WHERE id = $1", vec![Param::Uuid(Some(*id.as_uuid()))], |row| {
            rows::event(row)
        })
        .await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "list_events"))]
    async fn list_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut q = QueryBuilder::<Db>::new("SELECT * FROM events WHERE 1 = 1");
        if let Some(from) = filter.starts_from {
            q.push(" AND starts_at >= ").push_bind(micros(from));
        }
        if let Some(before) = filter.starts_before {
            q.push(" AND starts_at < ").push_bind(micros(before));
        }
        if let Some(after) = filter.ends_after {
            q.push(" AND ends_at >= ").push_bind(micros(after));
        }
        if let Some(status) = filter.status {
            q.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(location) = &filter.location {
            q.push(" AND lower(location) LIKE ").push_bind(contains_pattern(location)).push(" ESCAPE '\\'");
        }
        if let Some(staff) = filter.staff {
            q.push(" AND id IN (SELECT event_id FROM event_staff WHERE user_id = ")
                .push_bind(*staff.user_id.as_uuid())
                .push(" AND duty = ")
                .push_bind(staff.duty.as_str())
                .push(")");
        }
        let limit = if filter.limit == 0 { i64::MAX } else { i64::from(filter.limit) };
        q.push(" ORDER BY starts_at, id LIMIT ").push_bind(limit).push(" OFFSET ").push_bind(i64::from(filter.offset));
        let rows = q.build().fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(rows::event).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "delete_event"))]
    async fn delete_event(&self, id: EventId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let has_tickets: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tickets WHERE event_id = $1)")
            .bind(*id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        if has_tickets {
            return Err(StoreError::Conflict("the event has tickets".into()));
        }
        // The counters' rows first (the cascade would take them after the event's row): the
        // order a sale locks them in.
        for counters in
            ["DELETE FROM type_counters WHERE event_id = $1", "DELETE FROM event_counters WHERE event_id = $1"]
        {
            sqlx::query(counters).bind(*id.as_uuid()).execute(&mut *tx).await.map_err(db_error)?;
        }
        let done = sqlx::query("DELETE FROM events WHERE id = $1")
            .bind(*id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("event"));
        }
        extras::commit(tx).await
    }
}

#[async_trait]
impl TicketTypeRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_ticket_type"))]
    async fn insert_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError> {
        let sql = "INSERT INTO ticket_types (id, event_id, name, name_key, price_minor, currency, quota, usage_limit, \
                   daily_entry_limit, validity_from, validity_to, gates) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
        let mut tx = self.begin_write().await?;
        bind_type(sqlx::query(sql), ticket_type).execute(&mut *tx).await.map_err(missing("event"))?;
        sqlx::query("INSERT INTO type_counters (type_id, event_id, quota) VALUES ($1, $2, $3)")
            .bind(*ticket_type.id().as_uuid())
            .bind(*ticket_type.event_id().as_uuid())
            .bind(i64::from(ticket_type.quota()))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "update_ticket_type"))]
    async fn update_ticket_type(&self, ticket_type: &TicketType) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // The counters' row, then the type's, as a sale takes them (a renamed type's row is locked
        // for update, which waits for the foreign-key locks of the sales that hold its counters).
        set_limit(&mut tx, TYPE_LIMIT, *ticket_type.id().as_uuid(), ticket_type.quota(), "ticket type").await?;
        let sql = "UPDATE ticket_types SET event_id = $2, name = $3, name_key = $4, price_minor = $5, currency = $6, \
                   quota = $7, usage_limit = $8, daily_entry_limit = $9, validity_from = $10, validity_to = $11, gates = $12 \
                   WHERE id = $1";
        bind_type(sqlx::query(sql), ticket_type).execute(&mut *tx).await.map_err(db_error)?;
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ticket_type"))]
    async fn ticket_type(&self, id: TicketTypeId) -> Result<Option<TicketType>, StoreError> {
        let params = vec![Param::Uuid(Some(*id.as_uuid()))];
        self.read_one("SELECT * FROM ticket_types WHERE id = $1", params, |row| rows::ticket_type(row)).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ticket_types"))]
    async fn ticket_types(&self, event_id: EventId) -> Result<Vec<TicketType>, StoreError> {
        let rows = sqlx::query("SELECT * FROM ticket_types WHERE event_id = $1 ORDER BY name")
            .bind(*event_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(rows::ticket_type).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "delete_ticket_type"))]
    async fn delete_ticket_type(&self, id: TicketTypeId) -> Result<(), StoreError> {
        self.delete_unless(
            ("ticket_types", *id.as_uuid(), "ticket type"),
            ("tickets", "ticket_type_id", "the ticket type has tickets"),
            Some("DELETE FROM type_counters WHERE type_id = $1"),
        )
        .await
    }
}

impl DbStore {
    /// Deletes row `id` of `table` (`what`) in one write transaction, unless a row of `used_by`
    /// refers to it through `column` (`Conflict(why)`); `NotFound(what)` if there is no such row. `first`
    /// (with `$1` the id) runs before the delete: a ticket type's counters' row, deleted before
    /// the type's as a sale locks them (the cascade would take it after).
    async fn delete_unless(
        &self,
        (table, id, what): (&'static str, Uuid, &'static str),
        (used_by, column, why): (&'static str, &'static str, &'static str),
        first: Option<&'static str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let used = sqlx::AssertSqlSafe(format!("SELECT EXISTS (SELECT 1 FROM {used_by} WHERE {column} = $1)"));
        let used: bool = sqlx::query_scalar(used).bind(id).fetch_one(&mut *tx).await.map_err(db_error)?;
        if used {
            return Err(StoreError::Conflict(why.into()));
        }
        if let Some(first) = first {
            sqlx::query(first).bind(id).execute(&mut *tx).await.map_err(db_error)?;
        }
        let delete = sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE id = $1"));
        // A referencing row inserted since the check fails the delete on its foreign key.
        let done = sqlx::query(delete).bind(id).execute(&mut *tx).await.map_err(|e| match db_error(e) {
            StoreError::NotFound(_) => StoreError::Conflict(why.into()),
            other => other,
        })?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(what));
        }
        extras::commit(tx).await
    }

    async fn write_gate(&self, gate: &Gate, insert: bool) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let types = gate.ticket_types().map(join);
        let sql = if insert {
            "INSERT INTO gates (id, event_id, name, ticket_types) VALUES ($1, $2, $3, $4)"
        } else {
            "UPDATE gates SET event_id = $2, name = $3, ticket_types = $4 WHERE id = $1"
        };
        let done = sqlx::query(sql)
            .bind(*gate.id().as_uuid())
            .bind(*gate.event_id().as_uuid())
            .bind(gate.name())
            .bind(types)
            .execute(&mut *tx)
            .await
            .map_err(missing("event"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("gate"));
        }
        sqlx::query("DELETE FROM gate_agents WHERE gate_id = $1")
            .bind(*gate.id().as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        for agent in gate.agents() {
            sqlx::query("INSERT INTO gate_agents (gate_id, agent_id) VALUES ($1, $2)")
                .bind(*gate.id().as_uuid())
                .bind(*agent.as_uuid())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        extras::commit(tx).await
    }

    /// Gates matching `condition` (on alias `g`, with one bound uuid), with their agents, in one
    /// query.
    async fn gates_where(&self, condition: &'static str, value: Uuid) -> Result<Vec<Gate>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT g.*, a.agent_id AS agent FROM gates g LEFT JOIN gate_agents a ON a.gate_id = g.id \
             WHERE {condition} ORDER BY g.name, g.id, a.agent_id"
        ));
        let rows = sqlx::query(sql).bind(value).fetch_all(&self.pool).await.map_err(db_error)?;
        // One row per agent (or one with no agent): a gate's rows are consecutive.
        let mut gates = Vec::new();
        let mut i = 0;
        while let Some(first) = rows.get(i) {
            let id: Uuid = first.try_get("id").map_err(db_error)?;
            let mut agents = Vec::new();
            while let Some(row) = rows.get(i) {
                if row.try_get::<Uuid, _>("id").map_err(db_error)? != id {
                    break;
                }
                if let Some(agent) = row.try_get::<Option<Uuid>, _>("agent").map_err(db_error)? {
                    agents.push(UserId::from_uuid(agent));
                }
                i += 1;
            }
            gates.push(rows::gate(first, agents)?);
        }
        Ok(gates)
    }
}

#[async_trait]
impl GateRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_gate"))]
    async fn insert_gate(&self, gate: &Gate) -> Result<(), StoreError> {
        self.write_gate(gate, true).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "update_gate"))]
    async fn update_gate(&self, gate: &Gate) -> Result<(), StoreError> {
        self.write_gate(gate, false).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "gate"))]
    async fn gate(&self, id: GateId) -> Result<Option<Gate>, StoreError> {
        Ok(self.gates_where("g.id = $1", *id.as_uuid()).await?.pop())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "gates"))]
    async fn gates(&self, event_id: EventId) -> Result<Vec<Gate>, StoreError> {
        self.gates_where("g.event_id = $1", *event_id.as_uuid()).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "gates_of_agent"))]
    async fn gates_of_agent(&self, agent: UserId) -> Result<Vec<Gate>, StoreError> {
        self.gates_where("g.id IN (SELECT gate_id FROM gate_agents WHERE agent_id = $1)", *agent.as_uuid()).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "delete_gate"))]
    async fn delete_gate(&self, id: GateId) -> Result<(), StoreError> {
        let used = ("scan_logs", "gate_id", "scans were logged at the gate");
        self.delete_unless(("gates", *id.as_uuid(), "gate"), used, None).await
    }
}
