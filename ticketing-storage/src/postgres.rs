//! The Postgres backend: for scale and for several server instances sharing one database.
//!
//! The repositories are the same SQL as SQLite's (`src/sql/`). Under Postgres's default READ
//! COMMITTED isolation each check-then-write step is still atomic because it is one conditional
//! `UPDATE`: the row is locked, the condition is evaluated again on the newest version, and a
//! concurrent writer waits for the lock and then sees the new counts. Rows are always locked in
//! the same order (ticket type, then event), so these updates cannot deadlock.

// The repositories are written once, in `src/sql/`, and compiled here against Postgres's types.
#[path = "sql/catalog.rs"]
mod catalog;
#[path = "sql/credentials.rs"]
mod credentials;
#[path = "sql/extras.rs"]
mod extras;
/// The job queue's SQL, and [`jobs::enqueue_in`] for enqueuing inside a transaction of your own.
#[path = "sql/hooks.rs"]
mod hooks;
#[path = "sql/jobs.rs"]
pub mod jobs;
#[path = "sql/notifications.rs"]
mod notifications;
#[path = "sql/orders.rs"]
mod orders;
#[path = "sql/rows.rs"]
mod rows;
#[path = "sql/scans.rs"]
mod scans;
#[path = "sql/stats.rs"]
mod stats;
#[path = "sql/templates.rs"]
mod templates;
#[path = "sql/tickets.rs"]
mod tickets;
#[path = "sql/users.rs"]
mod users;

mod purchase;
mod statistics;
mod together;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Transaction};
use ticketing_core::audit::AuditEntry;
use ticketing_core::env::Clock;
use ticketing_core::gate::Gate;
use ticketing_core::ids::{GateId, UserId};
use ticketing_core::magic_link::TokenHash;
use ticketing_core::payment::PaymentDelivery;
use ticketing_core::scan::ScanSession;
use ticketing_core::short_code::ShortCode;
use ticketing_core::store::{
    ChangeOutcome, CommitOutcome, OrderChange, OrderPlacement, Placement, ScanCommit, ScanView, StoreError,
};

use crate::OpenError;
use crate::codec::db_error;
use crate::redis::SessionSpender;
use together::Together;

type Db = sqlx::Postgres;
type DbRow = sqlx::postgres::PgRow;
type Conn = sqlx::PgConnection;
/// Row locking of the job claim: concurrent claimers skip each other's rows.
const SKIP_LOCKED: &str = " FOR UPDATE SKIP LOCKED";
/// Row locking of a read that a write depends on: a concurrent writer of those rows waits, and
/// then reads them as they are after its rival's commit (inserts that only refer to them, a
/// sign-in's token, do not wait).
const FOR_UPDATE: &str = " FOR NO KEY UPDATE";
/// A job's task as listed: without a generation's holder list.
const LISTED_TASK: &str = "(task::jsonb - 'holders')::text";
type DbStore = PgStore;
type Query<'q> = sqlx::query::Query<'q, Db, sqlx::postgres::PgArguments>;

/// The shared SQL's parameters as written: Postgres numbers `$n`.
fn numbered(sql: std::borrow::Cow<'static, str>) -> std::borrow::Cow<'static, str> {
    sql
}

/// A [`Store`](ticketing_core::store::Store) on Postgres.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    /// A purchase's writes, written together with their like (`together`).
    joined: Joining,
    /// The tickets written, to analyse the tables as they grow (`statistics`).
    growth: Arc<statistics::Growth>,
}

/// The purchase's writes waiting to be written together with others of their kind.
#[derive(Clone, Debug, Default)]
struct Joining {
    placements: Arc<Together<purchase::Placing>>,
    payments: Arc<Together<purchase::Paying>>,
    audit: Arc<Together<purchase::Appending>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("pool_size", &self.pool.size()).finish()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/database`) with a pool of up to
    /// `max_connections` and applies the migrations. `clock` times lock expiry.
    pub async fn open(url: &str, max_connections: u32, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        let options = PgConnectOptions::from_str(url).map_err(OpenError::Url)?;
        Self::open_with(options, max_connections, clock).await
    }

    /// Like [`open`](Self::open), from options (to pick a schema with `search_path`, say).
    pub async fn open_with(
        options: PgConnectOptions,
        max_connections: u32,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, OpenError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(OpenError::Connect)?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self { pool, clock, joined: Joining::default(), growth: Arc::default() })
    }

    /// The connection pool, for health checks and tools.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction (READ COMMITTED; the conditional updates carry the atomicity).
    ///
    /// Public so an application can make its own change and enqueue the job it causes with
    /// [`jobs::enqueue_in`] in one transaction: both are written, or neither.
    pub async fn begin_write(&self) -> Result<Transaction<'static, Db>, StoreError> {
        self.pool.begin().await.map_err(db_error)
    }

    /// Where single-statement writes go: the pool (Postgres locks rows, not the database).
    fn writer(&self) -> &PgPool {
        &self.pool
    }

    /// Counts `tickets` written, analysing the tables each time they double (`statistics`).
    fn grew(&self, tickets: usize) {
        self.growth.wrote(&self.pool, tickets);
    }
}

/// The scan's hot calls: through the pool. A Postgres statement is a network round trip anyway;
/// sqlx's hand-off to the connection costs little beside it.
impl PgStore {
    async fn hot_request_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        code: Option<ShortCode>,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        self.pooled_request_context(gate_id, agent, code).await
    }

    async fn hot_confirm_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        session: Option<&TokenHash>,
    ) -> Result<scans::ConfirmContext, StoreError> {
        self.pooled_confirm_context(gate_id, agent, session).await
    }

    async fn hot_insert_session(&self, session: &ScanSession) -> Result<(), StoreError> {
        self.pooled_insert_session(session).await
    }

    async fn hot_commit_scan(&self, commit: &ScanCommit) -> Result<CommitOutcome, StoreError> {
        self.pooled_commit_scan(commit).await
    }

    /// A confirmation whose session lives in Redis: the shared path's transaction, in its order
    /// (the line, its nonce taken in the unique index, written before the session is spent in
    /// Redis; the commit after, so a confirmation sent again waits for the first's nonce and gets
    /// its answer), with the ticket's compare-and-set and the log line as one statement
    /// ([`CONFIRM`]): three round trips instead of four. A change that makes a ticket live or
    /// not (never a scan's), which moves counters, writes them apart.
    async fn hot_commit_spending(
        &self,
        commit: &ScanCommit,
        sessions: &dyn SessionSpender,
    ) -> Result<CommitOutcome, StoreError> {
        let joined = commit.ticket.as_ref().filter(|u| u.was_live == u.next.status().is_live()).map(|update| {
            let mut params = tickets::replace_params(&update.next, update.expected_version);
            params.extend(scans::log_params(&commit.log));
            (CONFIRM.as_str(), params)
        });
        self.commit_with(commit, Some(sessions), joined).await
    }
}

/// A confirmation's ticket compare-and-set ([`tickets::REPLACE`], its parameters first) and its
/// log line ([`scans::INSERT_LOG`]'s columns, its parameters after), in one statement: the line
/// is inserted only when the ticket row was updated.
static CONFIRM: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let (insert, values) = scans::INSERT_LOG.split_once(" VALUES ").expect("INSERT_LOG has a VALUES list");
    let (ticket_params, log_params) = (tickets::REPLACE.matches('$').count(), values.matches('$').count());
    let values: Vec<String> = (1..=log_params).map(|n| format!("${}", ticket_params + n)).collect();
    format!("WITH t AS ({} RETURNING 1) {insert} SELECT {} FROM t", tickets::REPLACE, values.join(", "))
});

/// A purchase's writes (and the audit entry): the common placement and payment, and every audit
/// entry, as one statement alone or with others of their kind (`purchase`, `together`); when that
/// is not the case or the statement is refused, the shared step in a write transaction on the pool.
impl PgStore {
    async fn hot_place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError> {
        let joined = match purchase::Placing::of(placement)? {
            Some(placing) => self.joined.placements.apply(&self.pool, placing).await?,
            None => false,
        };
        let placed = if joined {
            Placement::Placed(placement.order.clone())
        } else {
            self.pooled_place_order(placement).await?
        };
        if matches!(placed, Placement::Placed(_)) {
            self.grew(placement.batches.iter().map(|b| b.tickets.len()).sum());
        }
        Ok(placed)
    }

    async fn hot_change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError> {
        if let Some(paying) = purchase::Paying::of(change)?
            && self.joined.payments.apply(&self.pool, paying).await?
        {
            return Ok(ChangeOutcome::Applied);
        }
        self.pooled_change_order(change).await
    }

    async fn hot_record_delivery(&self, delivery: &PaymentDelivery) -> Result<Option<PaymentDelivery>, StoreError> {
        self.pooled_record_delivery(delivery).await
    }

    async fn read_one<T>(
        &self,
        sql: &'static str,
        params: Vec<crate::codec::Param>,
        decode: fn(&dyn crate::codec::Columns) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.pooled_read_one(sql, params, decode).await
    }

    async fn hot_append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        if self.joined.audit.apply(&self.pool, purchase::Appending::of(entry)).await? {
            return Ok(());
        }
        self.pooled_append_audit(entry).await
    }
}
