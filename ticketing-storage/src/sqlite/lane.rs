//! SQLite's lanes: the scan's and a purchase's hot calls, each run whole, on a connection of
//! their own.
//!
//! sqlx's SQLite driver hands every statement to its connection's thread and back, and its pool
//! pings a connection each time it is returned: a scan pair paid that a dozen times, at 15–40 µs
//! each on a small VM. Here each of the pair's four store calls runs its statements back to back
//! (prepared once, then cached) in place on the caller's thread, when the lane's connection and
//! SQLite's lock are free, with no hand-off at all; otherwise it queues on the lane's own thread,
//! which waits for the lock like any other writer.
//!
//! Two lanes, each one connection to the same file: reads (the requests' and confirmations'
//! context) and writes (sessions and confirmations: an autocommit insert, and a `BEGIN IMMEDIATE`
//! transaction; and a purchase's writes: placing an order, its payment's change, a delivery
//! recorded, the audit entry). Reads go on beside a writer under WAL. The statements and decoders
//! are the shared SQL backends' (`src/sql/`), and a purchase's steps are the same code as the
//! pool's, run on [`Exec`] (see [`crate::exec`]), so a lane reads and writes exactly what the pool
//! does.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, OpenFlags, ToSql, TransactionBehavior, ffi};
use ticketing_core::audit::AuditEntry;
use ticketing_core::gate::Gate;
use ticketing_core::ids::{GateId, UserId};
use ticketing_core::magic_link::{MagicLink, TokenHash};
use ticketing_core::payment::PaymentDelivery;
use ticketing_core::scan::ScanSession;
use ticketing_core::short_code::ShortCode;
use ticketing_core::store::{
    ChangeOutcome, CommitOutcome, OrderChange, OrderPlacement, Placement, ScanCommit, ScanView, StoreError, TicketBatch,
};
use ticketing_core::template::TemplatePin;
use ticketing_core::ticket::Ticket;
use uuid::Uuid;

use super::scans::{self, ConfirmContext};
use super::{extras, orders};
use crate::codec::{Columns, Param};
use crate::exec::{Decided, Exec, ready};

/// A task for a lane's thread.
type Task = Box<dyn FnOnce(&mut Connection) + Send>;

/// How long a queued task waits for SQLite's write lock (as the pool's connections do).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection, used in place by the caller when it is free and SQLite's lock is too, and
/// otherwise by the lane's own thread, which takes the calls in turn and waits for the lock.
#[derive(Debug)]
struct Lane {
    conn: Arc<Mutex<Connection>>,
    /// `None` only while the lane is dropped.
    tasks: Option<mpsc::Sender<Task>>,
    thread: Option<JoinHandle<()>>,
}

impl Lane {
    /// Opens a connection to `path` (on the caller's thread, so a failure is reported here) and
    /// starts the lane's thread, which ends when the lane is dropped.
    fn open(path: &Path, name: &str, read_only: bool) -> Result<Self, LaneError> {
        let conn = Arc::new(Mutex::new(connect(path, read_only).map_err(LaneError::Connect)??));
        let (tasks, queue) = mpsc::channel::<Task>();
        let shared = conn.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sqlite-{name}"))
            .spawn(move || {
                for task in queue {
                    let mut conn = shared.lock().unwrap_or_else(PoisonError::into_inner);
                    settle(&conn);
                    // A panicking task drops its transaction (rolled back) and its caller's reply;
                    // the lane goes on serving the others.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| task(&mut conn)));
                }
            })
            .map_err(LaneError::Thread)?;
        Ok(Self { conn, tasks: Some(tasks), thread: Some(thread) })
    }

    /// Runs `work` on the lane's connection and answers what it returns.
    ///
    /// In place first, when no other call holds the connection: `work` runs on the caller's
    /// thread, without waiting for a lock (a busy timeout of zero). A thread hand-off costs more
    /// than the work itself on a small machine (tens of microseconds to wake an idle core), and a
    /// step of a scan is a few tens of microseconds of SQLite. If the connection is taken, or
    /// SQLite's write lock is (another writer is committing), the call goes to the lane's thread,
    /// which waits its turn. A refused lock has written nothing, so `work` simply runs again there.
    async fn run<T: Send + 'static>(
        &self,
        mut work: impl FnMut(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        if let Some(done) = self.in_place(&mut work) {
            return done;
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = Instant::now();
        self.post(move |conn| {
            // A caller that gave up (its future dropped: a timeout, a closed request) gets
            // nothing done: as with a dropped transaction, nothing is applied.
            if reply.is_closed() {
                return;
            }
            // The wait for the lock counts from the queueing, as it would on the pool.
            let done = match BUSY_TIMEOUT.checked_sub(queued.elapsed()) {
                Some(left) if !left.is_zero() => conn.busy_timeout(left).map_err(lite_error).and_then(|()| work(conn)),
                _ => Err(StoreError::Unavailable("SQLite's write lock was not free within the busy timeout".into())),
            };
            let _ = reply.send(done);
        });
        answer.await.map_err(|_| lane_lost())?
    }

    /// Queues `task` on the lane's thread without waiting for it. A lane being dropped takes no
    /// more tasks: the task is dropped (and a caller waiting on its reply told the lane is lost).
    fn post(&self, task: impl FnOnce(&mut Connection) + Send + 'static) {
        if let Some(tasks) = &self.tasks {
            let _ = tasks.send(Box::new(task));
        }
    }

    /// Runs `work` on the caller's thread if the connection is free and SQLite's lock is too;
    /// `None` when it must wait its turn on the lane's thread instead.
    fn in_place<T>(
        &self,
        work: &mut impl FnMut(&mut Connection) -> Result<T, StoreError>,
    ) -> Option<Result<T, StoreError>> {
        let mut conn = match self.conn.try_lock() {
            Ok(conn) => conn,
            // A call that panicked in place rolled its transaction back as it unwound.
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        settle(&conn);
        if let Err(e) = conn.busy_timeout(Duration::ZERO) {
            return Some(Err(lite_error(e)));
        }
        match work(&mut conn) {
            Err(StoreError::Unavailable(e)) if is_busy(e.as_ref()) => None,
            done => Some(done),
        }
    }
}

/// Ends a transaction a failed rollback left open (rusqlite ignores a failed `ROLLBACK` when a
/// transaction is dropped), so the connection never holds SQLite's lock between calls.
fn settle(conn: &Connection) {
    if !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

impl Drop for Lane {
    /// Closes the queue and waits for the thread to finish, so the connection is closed when the
    /// store is. What is still queued then was left by callers that gave up (a live caller holds
    /// the store), and is skipped; a queued checkpoint still runs.
    fn drop(&mut self) {
        self.tasks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether an error is SQLite refusing a lock (`SQLITE_BUSY`).
fn is_busy(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<rusqlite::Error>().and_then(rusqlite::Error::sqlite_error_code)
        == Some(rusqlite::ErrorCode::DatabaseBusy)
}

/// Why a lane could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LaneError {
    /// Its connection did not open.
    #[error("cannot open a lane's connection: {0}")]
    Connect(#[source] rusqlite::Error),
    /// The database file is not in WAL mode (the pool sets it at open).
    #[error("the database's journal mode is {0}, not WAL")]
    NotWal(String),
    /// Its thread did not start.
    #[error("cannot start a lane's thread: {0}")]
    Thread(#[source] std::io::Error),
}

fn lane_lost() -> StoreError {
    StoreError::Unavailable("a SQLite lane stopped".into())
}

/// A connection set up as sqlx sets up the pool's (see `SqliteStore::open`); the outer error is
/// SQLite's, the inner one a file not in WAL mode.
fn connect(path: &Path, read_only: bool) -> rusqlite::Result<Result<Connection, LaneError>> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    // Reads beside a writer, and a refused lock meaning nothing was written, are WAL's
    // guarantees: the pool set the file's journal mode at open.
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Ok(Err(LaneError::NotWal(mode)));
    }
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // A checkpoint syncs to disk and copies pages: never on a caller's thread, always on the write
    // lane's (see `Lanes::wrote`).
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    if read_only {
        conn.pragma_update(None, "query_only", true)?;
    }
    // The scan's and a purchase's statements, and the row counts of their multi-row inserts.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(Ok(conn))
}

/// Lane writes between two checkpoints: some 10,000 WAL pages for scans (a step appends a handful),
/// ~30,000 for purchases (a step appends a dozen or more: ~115 MB of WAL; the file keeps its
/// largest size, ~250 MB under the purchase load, and is written over from its start after
/// each checkpoint that completes).
const CHECKPOINT_EVERY: u64 = 2_000;

/// The hot calls on SQLite, on a read lane and a write lane, and the checkpoints of their WAL.
#[derive(Debug)]
pub(super) struct Lanes {
    /// Dropped first: its last task may still queue a checkpoint on the write lane.
    checkpoints: Lane,
    reads: Lane,
    writes: Lane,
    /// Writes made, to tell when a checkpoint is due.
    written: AtomicU64,
}

/// Copies the WAL's frames into the database file, as far as no reader still needs them. One that
/// cannot run now (readers on an old snapshot) is taken by the next one.
fn checkpoint(conn: &mut Connection) {
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

impl Lanes {
    /// Opens the lanes on the database file at `path` (migrated already).
    pub(super) fn open(path: &Path) -> Result<Self, LaneError> {
        let (reads, writes) = (Lane::open(path, "reads", true)?, Lane::open(path, "writes", false)?);
        let checkpoints = Lane::open(path, "checkpoints", false)?;
        Ok(Self { checkpoints, reads, writes, written: AtomicU64::new(0) })
    }

    /// Counts a write; every [`CHECKPOINT_EVERY`] writes, checkpoints the WAL in two passes. The
    /// first, on a connection of its own, copies and syncs what the WAL holds while the lanes go on
    /// writing: most of the work (measured: ~90 ms for a purchase load's 2,000 writes, which held
    /// every writer when it ran on the write lane). The second, queued on the write lane's thread,
    /// copies what was written meanwhile with the lane's writes held, so it completes and the next
    /// write starts the WAL over (a checkpoint racing a stream of writes never catches up, and the
    /// WAL would grow without end). Writers wait for it in the lane's queue, never on an async
    /// worker.
    fn wrote(&self) {
        if (self.written.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(CHECKPOINT_EVERY) {
            let writes = self.writes.tasks.clone();
            self.checkpoints.post(move |conn| {
                checkpoint(conn);
                if let Some(writes) = writes {
                    let _ = writes.send(Box::new(checkpoint));
                }
            });
        }
    }

    /// [`ScanReads::request_context`](ticketing_core::store::ScanReads::request_context).
    pub(super) async fn request_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        code: Option<ShortCode>,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        let params = scans::request_params(gate_id, agent, code);
        self.reads
            .run(move |conn| {
                query_one(conn, &scans::REQUEST_CONTEXT, &params, |row| scans::request_from_row(row, agent))
            })
            .await
    }

    /// [`ScanReads::confirm_context`](ticketing_core::store::ScanReads::confirm_context).
    pub(super) async fn confirm_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        session: Option<&TokenHash>,
    ) -> Result<ConfirmContext, StoreError> {
        let params = scans::confirm_params(gate_id, agent, session);
        let session = session.copied();
        self.reads
            .run(move |conn| {
                query_one(conn, &scans::CONFIRM_CONTEXT, &params, |row| {
                    scans::confirm_from_row(row, agent, session.as_ref())
                })
            })
            .await
    }

    /// The first row of a query on the read lane, decoded.
    pub(super) async fn read_one<T: Send + 'static>(
        &self,
        sql: &'static str,
        params: Vec<Param>,
        decode: fn(&dyn Columns) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        self.reads.run(move |conn| query_opt(conn, sql, &params, decode)).await
    }

    /// [`ScanRepository::insert_session`](ticketing_core::store::ScanRepository::insert_session).
    pub(super) async fn insert_session(&self, session: &ScanSession) -> Result<(), StoreError> {
        let params = scans::session_params(session);
        self.writes.run(move |conn| execute(conn, scans::INSERT_SESSION, &params).map(drop)).await?;
        self.wrote();
        Ok(())
    }

    /// [`ScanRepository::commit_scan`](ticketing_core::store::ScanRepository::commit_scan): the
    /// same steps as the pool's commit, in one `BEGIN IMMEDIATE` transaction.
    pub(super) async fn commit_scan(&self, commit: &ScanCommit) -> Result<CommitOutcome, StoreError> {
        let commit = commit.clone();
        let outcome = self.writes.run(move |conn| apply(conn, &commit)).await?;
        self.wrote();
        Ok(outcome)
    }
}

/// A purchase's writes, each one `BEGIN IMMEDIATE` transaction on the write lane with the audit
/// entry it carries, and the audit entry appended alone.
impl Lanes {
    /// [`OrderRepository::place_order`](ticketing_core::store::OrderRepository::place_order).
    pub(super) async fn place_order(&self, placement: &OrderPlacement<'_>) -> Result<Placement, StoreError> {
        let order = placement.order.clone();
        let batches = owned(placement.batches);
        let jobs = placement.jobs.to_vec();
        let (key, receipt) = (placement.idempotency_key.map(str::to_owned), placement.receipt);
        let audit = placement.audit.cloned();
        self.write(move |lite| {
            let batches = lent(&batches);
            let placement = OrderPlacement {
                order: &order,
                batches: &batches,
                jobs: &jobs,
                idempotency_key: key.as_deref(),
                receipt,
                audit: audit.as_ref(),
            };
            ready(orders::place_in(lite, &placement))
        })
        .await
    }

    /// [`OrderRepository::change_order`](ticketing_core::store::OrderRepository::change_order).
    pub(super) async fn change_order(&self, change: &OrderChange<'_>) -> Result<ChangeOutcome, StoreError> {
        let order = change.order.clone();
        let batches = owned(change.batches);
        let jobs = change.jobs.to_vec();
        let delivery = change.delivery.cloned();
        let audit = change.audit.cloned();
        let (expected, reserved_action, at) = (change.expected, change.reserved_action, change.at);
        self.write(move |lite| {
            let batches = lent(&batches);
            let change = OrderChange {
                order: &order,
                expected,
                reserved_action,
                at,
                batches: &batches,
                jobs: &jobs,
                delivery: delivery.as_ref(),
                audit: audit.as_ref(),
            };
            ready(orders::change_in(lite, &change))
        })
        .await
    }

    /// [`OrderRepository::record_delivery`](ticketing_core::store::OrderRepository::record_delivery).
    pub(super) async fn record_delivery(
        &self,
        delivery: &PaymentDelivery,
    ) -> Result<Option<PaymentDelivery>, StoreError> {
        let delivery = delivery.clone();
        self.write(move |lite| ready(orders::record_delivery_in(lite, &delivery))).await
    }

    /// [`AuditRepository::append_audit`](ticketing_core::store::AuditRepository::append_audit): one
    /// autocommit insert.
    pub(super) async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let params = extras::audit_params(entry);
        self.writes.run(move |conn| execute(conn, &extras::AUDIT.insert(1), &params).map(drop)).await?;
        self.wrote();
        Ok(())
    }

    /// Runs `step` in a `BEGIN IMMEDIATE` transaction on the write lane, committed or rolled back
    /// as it decides.
    async fn write<T: Send + 'static>(
        &self,
        mut step: impl FnMut(&mut Lite<'_>) -> Result<Decided<T>, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let done = self
            .writes
            .run(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(lite_error)?;
                match step(&mut Lite(&tx))? {
                    Decided::Commit(done) => tx.commit().map_err(lite_error).map(|()| done),
                    Decided::Rollback(done) => Ok(done),
                }
            })
            .await?;
        self.wrote();
        Ok(done)
    }
}

/// A ticket batch's contents, owned: a lane's call may run on the lane's thread, after its
/// caller's borrows.
struct OwnedBatch {
    tickets: Vec<Ticket>,
    links: Vec<MagicLink>,
    template: Option<TemplatePin>,
}

fn owned(batches: &[TicketBatch<'_>]) -> Vec<OwnedBatch> {
    batches
        .iter()
        .map(|b| OwnedBatch { tickets: b.tickets.to_vec(), links: b.links.to_vec(), template: b.template })
        .collect()
}

fn lent(batches: &[OwnedBatch]) -> Vec<TicketBatch<'_>> {
    batches.iter().map(|b| TicketBatch { tickets: &b.tickets, links: &b.links, template: b.template }).collect()
}

/// A lane's connection (inside its transaction) running the shared steps: every statement runs
/// at once, so the step's future is ready at its first poll.
struct Lite<'c>(&'c Connection);

impl Exec for Lite<'_> {
    async fn execute(&mut self, sql: Cow<'static, str>, params: Vec<Param>) -> Result<u64, StoreError> {
        execute(self.0, &sql, &params).map(|n| u64::try_from(n).unwrap_or(u64::MAX))
    }

    async fn query<T>(
        &mut self,
        sql: Cow<'static, str>,
        params: Vec<Param>,
        mut decode: impl FnMut(&dyn Columns) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut statement = self.0.prepare_cached(&positional(&sql)).map_err(lite_error)?;
        let names = column_indexes(&statement);
        let mut rows = statement.query(rusqlite::params_from_iter(&params)).map_err(lite_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(lite_error)? {
            out.push(decode(&Row { row, names: &names })?);
        }
        Ok(out)
    }
}

/// Applies a confirmation ([`scans::write_confirmation`], the pool's steps) in one
/// `BEGIN IMMEDIATE` transaction: all or nothing.
fn apply(conn: &mut Connection, commit: &ScanCommit) -> Result<CommitOutcome, StoreError> {
    let log = &commit.log;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(lite_error)?;
    match ready(scans::write_confirmation(&mut Lite(&tx), commit, false, None))? {
        scans::Written::All => {}
        scans::Written::Refused(outcome) => return Ok(outcome),
        scans::Written::NonceTaken => {
            drop(tx);
            return ready(scans::replayed(&mut Lite(conn), log));
        }
    }
    match tx.commit().map_err(lite_error) {
        Ok(()) => Ok(CommitOutcome::Applied),
        // A concurrent confirmation with the same nonce committed first: it is the result.
        Err(StoreError::Conflict(_)) if log.nonce.is_some() => ready(scans::replayed(&mut Lite(conn), log)),
        Err(e) => Err(e),
    }
}

/// The shared SQL's `$n` parameters as SQLite's positional `?n` (a `$n` is a named parameter to
/// SQLite, numbered by first appearance rather than by `n`).
fn positional(sql: &str) -> String {
    debug_assert!(
        sql.match_indices('$').all(|(i, _)| sql[i + 1..].starts_with(|c: char| c.is_ascii_digit())),
        "every `$` of a lane's statement is a parameter: {sql}"
    );
    sql.replace('$', "?")
}

/// Runs a statement; the number of rows it changed.
fn execute(conn: &Connection, sql: &str, params: &[Param]) -> Result<usize, StoreError> {
    let mut statement = conn.prepare_cached(&positional(sql)).map_err(lite_error)?;
    statement.execute(rusqlite::params_from_iter(params)).map_err(lite_error)
}

/// The first row of a query, decoded (`None` when there is none).
fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: &[Param],
    decode: impl FnOnce(&dyn Columns) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    query_one(conn, sql, params, |row| row.map(decode).transpose())
}

/// A query answering at most one row, decoded with or without it.
fn query_one<T>(
    conn: &Connection,
    sql: &str,
    params: &[Param],
    decode: impl FnOnce(Option<&dyn Columns>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut statement = conn.prepare_cached(&positional(sql)).map_err(lite_error)?;
    let names = column_indexes(&statement);
    let mut rows = statement.query(rusqlite::params_from_iter(params)).map_err(lite_error)?;
    match rows.next().map_err(lite_error)? {
        Some(row) => decode(Some(&Row { row, names: &names })),
        None => decode(None),
    }
}

/// A statement's columns by name. rusqlite finds a column by name with a linear scan; a joined
/// scan row has some forty columns, read by name one by one.
fn column_indexes(statement: &rusqlite::Statement<'_>) -> HashMap<String, usize> {
    statement.column_names().into_iter().enumerate().map(|(i, name)| (name.to_owned(), i)).collect()
}

/// A rusqlite row with its statement's column indexes, read as [`Columns`].
struct Row<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    names: &'r HashMap<String, usize>,
}

impl Row<'_, '_> {
    fn value<T: rusqlite::types::FromSql>(&self, column: &str) -> Result<T, StoreError> {
        let index = *self.names.get(column).ok_or_else(|| StoreError::Corrupt(format!("no column {column}")))?;
        self.row.get(index).map_err(lite_error)
    }
}

impl Columns for Row<'_, '_> {
    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.value(column)
    }

    fn int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.value(column)
    }

    fn int32(&self, column: &str) -> Result<Option<i32>, StoreError> {
        self.value(column)
    }

    fn uuid(&self, column: &str) -> Result<Option<Uuid>, StoreError> {
        self.value(column)
    }

    fn flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        self.value(column)
    }

    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.value(column)
    }
}

/// Binds as sqlx binds the same values on SQLite: a UUID as its 16 bytes.
impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(v) => v.map_or(ToSqlOutput::Owned(Value::Null), |v| ToSqlOutput::Owned(Value::Integer(v))),
            Param::Int32(v) => {
                v.map_or(ToSqlOutput::Owned(Value::Null), |v| ToSqlOutput::Owned(Value::Integer(v.into())))
            }
            Param::Text(v) => v.as_deref().map_or(ToSqlOutput::Owned(Value::Null), ToSqlOutput::from),
            Param::Uuid(v) => {
                v.as_ref().map_or(ToSqlOutput::Owned(Value::Null), |v| ToSqlOutput::from(&v.as_bytes()[..]))
            }
            Param::Bytes(v) => v.as_deref().map_or(ToSqlOutput::Owned(Value::Null), ToSqlOutput::from),
            Param::Flag(v) => {
                v.map_or(ToSqlOutput::Owned(Value::Null), |v| ToSqlOutput::Owned(Value::Integer(v.into())))
            }
        })
    }
}

/// Maps a rusqlite error as [`db_error`](crate::codec::db_error) maps sqlx's.
fn lite_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(failure, message) => match failure.extended_code {
            code @ (ffi::SQLITE_CONSTRAINT_UNIQUE
            | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            | ffi::SQLITE_CONSTRAINT_CHECK) => {
                let message = message.clone().unwrap_or_else(|| e.to_string());
                crate::refusal::sqlite_conflict(code != ffi::SQLITE_CONSTRAINT_CHECK, &message)
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => StoreError::NotFound("referenced row"),
            _ => StoreError::Unavailable(Box::new(e)),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Unavailable(Box::new(e)),
    }
}

/// The lanes' own details, away from the conformance suite (which tests them through the store).
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_parameters_become_positional() {
        assert_eq!(positional("SELECT $2, $1 WHERE x = $10"), "SELECT ?2, ?1 WHERE x = ?10");
    }

    #[test]
    fn constraint_failures_map_as_the_pool_maps_them() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER CHECK (n >= 0) UNIQUE)").unwrap();
        conn.execute("INSERT INTO t (id, n) VALUES (1, 1)", []).unwrap();
        let unique = conn.execute("INSERT INTO t (id, n) VALUES (2, 1)", []).unwrap_err();
        assert!(matches!(lite_error(unique), StoreError::Conflict(_)));
        let check = conn.execute("INSERT INTO t (id, n) VALUES (3, -1)", []).unwrap_err();
        assert!(matches!(lite_error(check), StoreError::Conflict(_)));
        let syntax = conn.execute("INSERT INTO nowhere VALUES (1)", []).unwrap_err();
        assert!(matches!(lite_error(syntax), StoreError::Unavailable(_)));
    }

    #[test]
    fn params_bind_as_sqlx_binds_them() {
        let conn = Connection::open_in_memory().unwrap();
        let id = Uuid::from_u128(7);
        let params = [Param::Uuid(Some(id)), Param::Int32(None), Param::name("in"), Param::bytes(&[1, 2])];
        let (kind, int, text, bytes): (String, Option<i64>, String, Vec<u8>) = conn
            .query_row("SELECT typeof(?1), ?2, ?3, ?4", rusqlite::params_from_iter(&params), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!((kind.as_str(), int, text.as_str(), bytes), ("blob", None, "in", vec![1, 2]));
        let back: Uuid = conn.query_row("SELECT ?1", [&params[0]], |r| r.get(0)).unwrap();
        assert_eq!(back, id);
    }
}
