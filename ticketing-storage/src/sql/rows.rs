//! Rows back to domain values. A row that no longer validates is `StoreError::Corrupt`.

use std::borrow::Cow;

use sqlx::{AssertSqlSafe, Row};
use ticketing_core::event::{Event, EventSpec};
use ticketing_core::gate::{Gate, GateSpec};
use ticketing_core::ids::{EventId, GateId, TicketId, TicketTypeId, UserId};
use ticketing_core::short_code::ShortCode;
use ticketing_core::ticket::{Holder, HolderSpec, NewTicket, Ticket};
use ticketing_core::ticket_type::{TicketType, TicketTypeSpec};
use uuid::Uuid;

use ticketing_core::store::StoreError;

use super::{Conn, DbRow, DbStore, Query};
use crate::codec::{Column, Columns, Param, corrupt, count, date, db_error, get, instant, opt_instant, split};
use crate::exec::Exec;

impl Columns for DbRow {
    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.try_get(column).map_err(db_error)
    }

    fn int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.try_get(column).map_err(db_error)
    }

    fn int32(&self, column: &str) -> Result<Option<i32>, StoreError> {
        self.try_get(column).map_err(db_error)
    }

    fn uuid(&self, column: &str) -> Result<Option<Uuid>, StoreError> {
        self.try_get(column).map_err(db_error)
    }

    fn flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        self.try_get(column).map_err(db_error)
    }

    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.try_get(column).map_err(db_error)
    }
}

/// The shared steps on one of this driver's connections (a transaction's, usually).
impl Exec for Conn {
    async fn execute(&mut self, sql: Cow<'static, str>, params: Vec<Param>) -> Result<u64, StoreError> {
        let done = bind(sqlx::query(AssertSqlSafe(super::numbered(sql))), params)
            .execute(&mut *self)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }

    async fn query<T>(
        &mut self,
        sql: Cow<'static, str>,
        params: Vec<Param>,
        mut decode: impl FnMut(&dyn Columns) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = bind(sqlx::query(AssertSqlSafe(super::numbered(sql))), params)
            .fetch_all(&mut *self)
            .await
            .map_err(db_error)?;
        rows.iter().map(|row| decode(row)).collect()
    }
}

/// A lookup of one row through the pool.
impl DbStore {
    pub(super) async fn pooled_read_one<T>(
        &self,
        sql: &'static str,
        params: Vec<Param>,
        decode: fn(&dyn Columns) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        let row = bind(sqlx::query(sql), params).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(|row| decode(row)).transpose()
    }
}

/// Binds `params`, in order, after whatever `query` has bound already.
pub(super) fn bind(query: Query<'_>, params: Vec<Param>) -> Query<'_> {
    params.into_iter().fold(query, |query, param| match param {
        Param::Int(v) => query.bind(v),
        Param::Int32(v) => query.bind(v),
        Param::Text(v) => query.bind(v),
        Param::Uuid(v) => query.bind(v),
        Param::Bytes(v) => query.bind(v),
        Param::Flag(v) => query.bind(v),
    })
}

/// Column `column` of a joined row whose columns of this table carry `prefix` (`e_title`).
fn get_at<T: Column, R: Columns + ?Sized>(row: &R, prefix: &str, column: &str) -> Result<T, StoreError> {
    if prefix.is_empty() { get(row, column) } else { get(row, &format!("{prefix}{column}")) }
}

/// The columns `rows::event` reads.
pub(super) const EVENT_COLUMNS: &[&str] = &[
    "id",
    "title",
    "description",
    "starts_at",
    "ends_at",
    "time_zone",
    "location",
    "capacity",
    "dress_code",
    "allow_reentry",
    "payment_url",
    "status",
    "doors_open_minutes",
    "max_tickets_per_order",
    "email_pdfs",
];

/// The columns `rows::ticket_type` reads.
pub(super) const TICKET_TYPE_COLUMNS: &[&str] = &[
    "id",
    "event_id",
    "name",
    "price_minor",
    "currency",
    "quota",
    "usage_limit",
    "daily_entry_limit",
    "validity_from",
    "validity_to",
    "gates",
];

/// `alias.column AS prefix_column, …` for a joined select.
pub(super) fn prefixed(alias: &str, prefix: &str, columns: &[&str]) -> String {
    columns.iter().map(|c| format!("{alias}.{c} AS {prefix}{c}")).collect::<Vec<_>>().join(", ")
}

fn opt_count(n: Option<i64>) -> Result<Option<u32>, StoreError> {
    n.map(count).transpose()
}

pub(super) fn event<R: Columns + ?Sized>(row: &R) -> Result<Event, StoreError> {
    event_at(row, "")
}

pub(super) fn event_at<R: Columns + ?Sized>(row: &R, prefix: &str) -> Result<Event, StoreError> {
    let spec = EventSpec {
        title: get_at(row, prefix, "title")?,
        description: get_at(row, prefix, "description")?,
        starts_at: instant(get_at(row, prefix, "starts_at")?)?,
        ends_at: instant(get_at(row, prefix, "ends_at")?)?,
        time_zone: get_at(row, prefix, "time_zone")?,
        location: get_at(row, prefix, "location")?,
        capacity: count(get_at(row, prefix, "capacity")?)?,
        dress_code: get_at(row, prefix, "dress_code")?,
        allow_reentry: get_at(row, prefix, "allow_reentry")?,
        payment_url: get_at(row, prefix, "payment_url")?,
        doors_open_minutes: count(get_at(row, prefix, "doors_open_minutes")?)?,
        max_tickets_per_order: count(get_at(row, prefix, "max_tickets_per_order")?)?,
        email_pdfs: get_at(row, prefix, "email_pdfs")?,
    };
    let status: String = get_at(row, prefix, "status")?;
    let status = status.parse().map_err(|_| corrupt("event status", &status))?;
    Event::restore(EventId::from_uuid(get_at(row, prefix, "id")?), &spec, status).map_err(|e| corrupt("event", e))
}

pub(super) fn ticket_type<R: Columns + ?Sized>(row: &R) -> Result<TicketType, StoreError> {
    ticket_type_at(row, "")
}

pub(super) fn ticket_type_at<R: Columns + ?Sized>(row: &R, prefix: &str) -> Result<TicketType, StoreError> {
    let gates: Option<String> = get_at(row, prefix, "gates")?;
    let spec = TicketTypeSpec {
        name: get_at(row, prefix, "name")?,
        price_minor: get_at(row, prefix, "price_minor")?,
        currency: get_at(row, prefix, "currency")?,
        quota: count(get_at(row, prefix, "quota")?)?,
        usage_limit: count(get_at(row, prefix, "usage_limit")?)?,
        daily_entry_limit: opt_count(get_at(row, prefix, "daily_entry_limit")?)?,
        validity_from: opt_instant(get_at(row, prefix, "validity_from")?)?,
        validity_to: opt_instant(get_at(row, prefix, "validity_to")?)?,
        gates: gates
            .map(|g| split::<Uuid>(&g).map(|ids| ids.into_iter().map(GateId::from_uuid).collect()))
            .transpose()?,
    };
    let (id, event_id) =
        (TicketTypeId::from_uuid(get_at(row, prefix, "id")?), EventId::from_uuid(get_at(row, prefix, "event_id")?));
    TicketType::new(id, event_id, &spec, []).map_err(|e| corrupt("ticket type", e))
}

/// A gate row, with its agents read from `gate_agents`.
pub(super) fn gate<R: Columns + ?Sized>(row: &R, agents: Vec<UserId>) -> Result<Gate, StoreError> {
    gate_at(row, "", agents)
}

/// The columns `rows::gate` reads.
pub(super) const GATE_COLUMNS: &[&str] = &["id", "event_id", "name", "ticket_types"];

pub(super) fn gate_at<R: Columns + ?Sized>(row: &R, prefix: &str, agents: Vec<UserId>) -> Result<Gate, StoreError> {
    let types: Option<String> = get_at(row, prefix, "ticket_types")?;
    let spec = GateSpec {
        name: get_at(row, prefix, "name")?,
        agents,
        ticket_types: types
            .map(|t| split::<Uuid>(&t).map(|ids| ids.into_iter().map(TicketTypeId::from_uuid).collect()))
            .transpose()?,
    };
    let (id, event_id) =
        (GateId::from_uuid(get_at(row, prefix, "id")?), EventId::from_uuid(get_at(row, prefix, "event_id")?));
    Gate::new(id, event_id, &spec).map_err(|e| corrupt("gate", e))
}

pub(super) fn ticket<R: Columns + ?Sized>(row: &R) -> Result<Ticket, StoreError> {
    let holder = match get::<Option<String>, _>(row, "holder_name")? {
        None => None,
        Some(name) => {
            let spec = HolderSpec { name, email: get(row, "holder_email")?, phone: get(row, "holder_phone")? };
            Some(Holder::new(&spec).map_err(|e| corrupt("holder", e))?)
        }
    };
    let code: i64 = get(row, "short_code")?;
    let status: String = get(row, "status")?;
    let new = NewTicket {
        id: TicketId::from_uuid(get(row, "id")?),
        event_id: EventId::from_uuid(get(row, "event_id")?),
        ticket_type_id: TicketTypeId::from_uuid(get(row, "ticket_type_id")?),
        short_code: u64::try_from(code)
            .ok()
            .and_then(ShortCode::from_value)
            .ok_or_else(|| corrupt("short code", code))?,
        holder,
        status: status.parse().map_err(|_| corrupt("ticket status", &status))?,
        created_at: instant(get(row, "created_at")?)?,
    };
    let version: i64 = get(row, "version")?;
    Ok(Ticket::restore(
        new,
        count(get(row, "entries_used")?)?,
        get::<Option<i32>, _>(row, "last_entry_day")?.map(date).transpose()?,
        count(get(row, "entries_on_day")?)?,
        u64::try_from(version).map_err(|_| corrupt("version", version))?,
        instant(get(row, "updated_at")?)?,
    ))
}
