//! Scan sessions and the scan log. `commit_scan` is one write transaction. Shared by the SQL backends;
//! the statements and decoders are also those of SQLite's scan lanes.

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::QueryBuilder;
use ticketing_core::gate::Gate;
use ticketing_core::ids::{EventId, GateId, ScanLogId, TicketId, UserId};
use ticketing_core::magic_link::TokenHash;
use ticketing_core::scan::{Direction, Nonce, ScanLog, ScanReason, ScanSession, ScanStage};
use ticketing_core::short_code::ShortCode;
use ticketing_core::store::{
    CommitOutcome, ScanCommit, ScanLogFilter, ScanReads, ScanRepository, ScanView, StoreError,
};
use uuid::Uuid;

use super::{Conn, Db, DbStore, rows, tickets};
use crate::codec::{
    Columns, Param, corrupt, count, db_error, direction, get, instant, join, micros, opt_instant, split,
};
use crate::exec::Exec;
use crate::redis::{ExternalSessions, SessionSpender, Spent};

pub(super) fn log_from_row<R: Columns + ?Sized>(row: &R) -> Result<ScanLog, StoreError> {
    let stage: Option<String> = get(row, "stage")?;
    let stage = stage.as_deref().and_then(ScanStage::parse).ok_or_else(|| corrupt("stage", format!("{stage:?}")))?;
    let reason = get::<Option<String>, _>(row, "reason")?.unwrap_or_default();
    let status_after: Option<String> = get(row, "status_after")?;
    let nonce: Option<String> = get(row, "nonce")?;
    Ok(ScanLog {
        id: ScanLogId::from_uuid(get(row, "id")?),
        at: instant(get(row, "at")?)?,
        event_id: EventId::from_uuid(get(row, "event_id")?),
        gate_id: GateId::from_uuid(get(row, "gate_id")?),
        agent_id: UserId::from_uuid(get(row, "agent_id")?),
        ticket_id: get::<Option<Uuid>, _>(row, "ticket_id")?.map(TicketId::from_uuid),
        stage,
        direction: get::<Option<String>, _>(row, "direction")?.as_deref().map(direction).transpose()?,
        reason: ScanReason::from_code(&reason).ok_or_else(|| corrupt("reason", &reason))?,
        status_after: status_after.map(|s| s.parse().map_err(|_| corrupt("status", &s))).transpose()?,
        entries_after: get::<Option<i64>, _>(row, "entries_after")?.map(count).transpose()?,
        nonce: nonce.map(|n| Nonce::parse(&n).ok_or_else(|| corrupt("nonce", &n))).transpose()?,
        session: get::<Option<Vec<u8>>, _>(row, "session_hash")?
            .map(|h| h.try_into().map(TokenHash).map_err(|h: Vec<u8>| corrupt("session hash", h.len())))
            .transpose()?,
    })
}

/// Writes a log line: its fields in column order (see [`log_params`]).
pub(super) const INSERT_LOG: &str = "INSERT INTO scan_logs (id, at, event_id, gate_id, agent_id, ticket_id, stage, \
    direction, reason, status_after, entries_after, nonce, session_hash) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// The parameters of [`INSERT_LOG`].
pub(super) fn log_params(log: &ScanLog) -> Vec<Param> {
    vec![
        Param::Uuid(Some(*log.id.as_uuid())),
        Param::Int(Some(micros(log.at))),
        Param::Uuid(Some(*log.event_id.as_uuid())),
        Param::Uuid(Some(*log.gate_id.as_uuid())),
        Param::Uuid(Some(*log.agent_id.as_uuid())),
        Param::Uuid(log.ticket_id.map(|t| *t.as_uuid())),
        Param::name(log.stage.as_str()),
        Param::Text(log.direction.map(|d| d.as_str().to_owned())),
        Param::name(log.reason.code()),
        Param::Text(log.status_after.map(|s| s.as_str().to_owned())),
        Param::Int(log.entries_after.map(i64::from)),
        Param::Text(log.nonce.as_ref().map(|n| n.as_str().to_owned())),
        Param::Bytes(log.session.map(|h| h.0.to_vec())),
    ]
}

async fn insert_log(conn: &mut Conn, log: &ScanLog) -> Result<(), StoreError> {
    rows::bind(sqlx::query(INSERT_LOG), log_params(log)).execute(&mut *conn).await.map_err(db_error)?;
    Ok(())
}

/// The confirmation agent `$1` made with nonce `$2`.
pub(super) const BY_NONCE: &str = "SELECT * FROM scan_logs WHERE agent_id = $1 AND nonce = $2 AND stage = 'confirm'";

/// The parameters of [`BY_NONCE`].
pub(super) fn by_nonce_params(agent: UserId, nonce: &Nonce) -> Vec<Param> {
    vec![Param::Uuid(Some(*agent.as_uuid())), Param::name(nonce.as_str())]
}

async fn by_nonce(conn: &mut Conn, agent: UserId, nonce: &Nonce) -> Result<Option<ScanLog>, StoreError> {
    let row = rows::bind(sqlx::query(BY_NONCE), by_nonce_params(agent, nonce))
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    row.as_ref().map(log_from_row).transpose()
}

/// Spends session `$1` at `$2`, if it is unused and unexpired.
pub(super) const SPEND: &str =
    "UPDATE scan_sessions SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2";

/// When session `$1` was used, after a refused spend (no row: it expired and was cleaned away).
pub(super) const USED_AT: &str = "SELECT used_at FROM scan_sessions WHERE token_hash = $1";

/// Why a spend was refused, from [`USED_AT`]'s answer.
pub(super) fn refused(used_at: Option<Option<i64>>) -> CommitOutcome {
    match used_at {
        Some(Some(_)) => CommitOutcome::SessionUsed,
        _ => CommitOutcome::SessionExpired,
    }
}

/// Writes a session: its fields in column order (see [`session_params`]).
pub(super) const INSERT_SESSION: &str = "INSERT INTO scan_sessions (token_hash, ticket_id, event_id, gate_id, agent_id, \
    allowed, code_expires_at, created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// The parameters of [`INSERT_SESSION`].
pub(super) fn session_params(session: &ScanSession) -> Vec<Param> {
    let allowed: Vec<&str> = session.allowed.iter().map(Direction::as_str).collect();
    vec![
        Param::bytes(&session.token_hash.0),
        Param::Uuid(Some(*session.ticket_id.as_uuid())),
        Param::Uuid(Some(*session.event_id.as_uuid())),
        Param::Uuid(Some(*session.gate_id.as_uuid())),
        Param::Uuid(Some(*session.agent_id.as_uuid())),
        Param::Text(Some(join(&allowed))),
        Param::Int(session.code_expires_at.map(micros)),
        Param::Int(Some(micros(session.created_at))),
        Param::Int(Some(micros(session.expires_at))),
        Param::Int(session.used_at.map(micros)),
    ]
}

/// The columns of a session row.
const SESSION_COLUMNS: &[&str] = &[
    "ticket_id",
    "event_id",
    "gate_id",
    "agent_id",
    "allowed",
    "code_expires_at",
    "created_at",
    "expires_at",
    "used_at",
];

fn session_from_row<R: Columns + ?Sized>(
    row: &R,
    prefix: &str,
    token_hash: &TokenHash,
) -> Result<ScanSession, StoreError> {
    let get_uuid = |c: &str| get::<Uuid, _>(row, &format!("{prefix}{c}"));
    let get_time = |c: &str| get::<Option<i64>, _>(row, &format!("{prefix}{c}"));
    let allowed: String = get(row, &format!("{prefix}allowed"))?;
    let required = |c: &str| get_time(c)?.ok_or_else(|| corrupt("session time", c)).and_then(instant);
    Ok(ScanSession {
        token_hash: *token_hash,
        ticket_id: TicketId::from_uuid(get_uuid("ticket_id")?),
        event_id: EventId::from_uuid(get_uuid("event_id")?),
        gate_id: GateId::from_uuid(get_uuid("gate_id")?),
        agent_id: UserId::from_uuid(get_uuid("agent_id")?),
        allowed: split::<String>(&allowed)?.iter().map(|d| direction(d)).collect::<Result<_, _>>()?,
        code_expires_at: opt_instant(get_time("code_expires_at")?)?,
        created_at: required("created_at")?,
        expires_at: required("expires_at")?,
        used_at: opt_instant(get_time("used_at")?)?,
    })
}

/// The ticket's type (`y_…`) and event (`e_…`) columns, beside its own (`t.*`).
static VIEW_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "t.*, {}, {}",
        rows::prefixed("y", "y_", rows::TICKET_TYPE_COLUMNS),
        rows::prefixed("e", "e_", rows::EVENT_COLUMNS)
    )
});

/// The joins that bring a ticket's type and event (left joins: the ticket may be missing).
const VIEW_JOINS: &str = "LEFT JOIN ticket_types y ON y.id = t.ticket_type_id LEFT JOIN events e ON e.id = t.event_id";

/// A gate (`g_…`) as agent `$2` sees it, and whether that agent is assigned (`g_assigned`).
static GATE_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{}, EXISTS (SELECT 1 FROM gate_agents a WHERE a.gate_id = g.id AND a.agent_id = $2) AS g_assigned",
        rows::prefixed("g", "g_", rows::GATE_COLUMNS)
    )
});

/// One query for the gate (`$1`, as agent `$2` sees it) and the ticket found by `found` (with
/// `$3`) with its type and event.
fn gate_and_ticket(found: &str) -> String {
    format!(
        "SELECT {}, {} FROM gates g LEFT JOIN tickets t ON {found} {VIEW_JOINS} WHERE g.id = $1",
        *GATE_COLUMNS, *VIEW_COLUMNS
    )
}

/// A request's read: the gate and the ticket with short code `$3`.
pub(super) static REQUEST_CONTEXT: LazyLock<String> = LazyLock::new(|| gate_and_ticket("t.short_code = $3"));

/// A confirmation's read when its session lives elsewhere (Redis): the gate and the session's
/// ticket `$3`.
pub(super) static TICKET_CONTEXT: LazyLock<String> = LazyLock::new(|| gate_and_ticket("t.id = $3"));

/// A confirmation's read, in one query: the gate (`$1`, as agent `$2` sees it), the session with
/// token hash `$3`, and its ticket with its type and event.
pub(super) static CONFIRM_CONTEXT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {} FROM gates g LEFT JOIN scan_sessions s ON s.token_hash = $3 \
         LEFT JOIN tickets t ON t.id = s.ticket_id {VIEW_JOINS} WHERE g.id = $1",
        *GATE_COLUMNS,
        rows::prefixed("s", "s_", SESSION_COLUMNS),
        *VIEW_COLUMNS
    )
});

/// The ticket view of a joined row, if the row found a ticket.
fn view_from_row<R: Columns + ?Sized>(row: &R) -> Result<Option<ScanView>, StoreError> {
    if get::<Option<Uuid>, _>(row, "id")?.is_none() {
        return Ok(None);
    }
    Ok(Some(ScanView {
        ticket: rows::ticket(row)?,
        ticket_type: rows::ticket_type_at(row, "y_")?,
        event: rows::event_at(row, "e_")?,
    }))
}

/// The gate of a context row, as the agent sees it.
fn gate_from_row<R: Columns + ?Sized>(row: &R, agent: UserId) -> Result<Gate, StoreError> {
    let assigned: bool = get(row, "g_assigned")?;
    rows::gate_at(row, "g_", if assigned { vec![agent] } else { Vec::new() })
}

/// The parameters of [`REQUEST_CONTEXT`].
pub(super) fn request_params(gate_id: GateId, agent: UserId, code: Option<ShortCode>) -> Vec<Param> {
    vec![
        Param::Uuid(Some(*gate_id.as_uuid())),
        Param::Uuid(Some(*agent.as_uuid())),
        Param::Int(code.map(|c| i64::try_from(c.value()).unwrap_or(i64::MAX))),
    ]
}

/// A request's context from [`REQUEST_CONTEXT`]'s row (none: no such gate).
pub(super) fn request_from_row<R: Columns + ?Sized>(
    row: Option<&R>,
    agent: UserId,
) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
    let Some(row) = row else { return Ok((None, None)) };
    Ok((Some(gate_from_row(row, agent)?), view_from_row(row)?))
}

/// The parameters of [`CONFIRM_CONTEXT`].
pub(super) fn confirm_params(gate_id: GateId, agent: UserId, session: Option<&TokenHash>) -> Vec<Param> {
    vec![
        Param::Uuid(Some(*gate_id.as_uuid())),
        Param::Uuid(Some(*agent.as_uuid())),
        Param::Bytes(session.map(|h| h.0.to_vec())),
    ]
}

/// A confirmation's context from [`CONFIRM_CONTEXT`]'s row (none: no such gate).
pub(super) fn confirm_from_row<R: Columns + ?Sized>(
    row: Option<&R>,
    agent: UserId,
    session: Option<&TokenHash>,
) -> Result<ConfirmContext, StoreError> {
    let Some(row) = row else { return Ok((None, None)) };
    let gate = gate_from_row(row, agent)?;
    let found = match (session, view_from_row(row)?) {
        (Some(hash), Some(view)) => Some((session_from_row(row, "s_", hash)?, view)),
        _ => None,
    };
    Ok((Some(gate), found))
}

/// What [`ScanReads::confirm_context`] answers.
pub(super) type ConfirmContext = (Option<Gate>, Option<(ScanSession, ScanView)>);

/// The scan's reads: each step's in one query, the ticket with its type and event joined.
#[async_trait]
impl ScanReads for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "scan_view"))]
    async fn scan_view(&self, ticket_id: TicketId) -> Result<Option<ScanView>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM tickets t {VIEW_JOINS} WHERE t.id = $1", *VIEW_COLUMNS));
        let row = sqlx::query(sql).bind(*ticket_id.as_uuid()).fetch_optional(&self.pool).await.map_err(db_error)?;
        Ok(row.as_ref().map(view_from_row).transpose()?.flatten())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "request_context"))]
    async fn request_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        code: Option<ShortCode>,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        self.hot_request_context(gate_id, agent, code).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "confirm_context"))]
    async fn confirm_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        session: Option<&TokenHash>,
    ) -> Result<ConfirmContext, StoreError> {
        self.hot_confirm_context(gate_id, agent, session).await
    }
}

/// The scan's hot calls through the pool (each backend's `hot_…` calls say where they run).
impl DbStore {
    pub(super) async fn pooled_request_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        code: Option<ShortCode>,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        self.gate_and_ticket(&REQUEST_CONTEXT, request_params(gate_id, agent, code), agent).await
    }

    /// The gate and the ticket of one of the queries [`gate_and_ticket`] makes, with `params`.
    async fn gate_and_ticket(
        &self,
        sql: &'static str,
        params: Vec<Param>,
        agent: UserId,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        let query = rows::bind(sqlx::query(sqlx::AssertSqlSafe(sql)), params);
        let row = query.fetch_optional(&self.pool).await.map_err(db_error)?;
        request_from_row(row.as_ref(), agent)
    }

    pub(super) async fn pooled_confirm_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        session: Option<&TokenHash>,
    ) -> Result<ConfirmContext, StoreError> {
        let query = sqlx::query(sqlx::AssertSqlSafe(CONFIRM_CONTEXT.as_str()));
        let row = rows::bind(query, confirm_params(gate_id, agent, session))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        confirm_from_row(row.as_ref(), agent, session)
    }

    pub(super) async fn pooled_insert_session(&self, session: &ScanSession) -> Result<(), StoreError> {
        rows::bind(sqlx::query(INSERT_SESSION), session_params(session))
            .execute(self.writer())
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub(super) async fn pooled_commit_scan(&self, commit: &ScanCommit) -> Result<CommitOutcome, StoreError> {
        self.commit(commit, None).await
    }
}

/// What a confirmation's writes came to, inside the caller's transaction.
pub(super) enum Written {
    /// The session spent (unless it is spent elsewhere), the ticket changed, the line written:
    /// commit.
    All,
    /// Nothing to keep: roll back and answer this (the session used or expired, the ticket
    /// changed meanwhile).
    Refused(CommitOutcome),
    /// The line's nonce is another confirmation's (a concurrent one committed first): roll back;
    /// the first one answers ([`replayed`]).
    NonceTaken,
}

/// A confirmation's writes, the one copy of them on every backend and path (the pool's
/// transaction, SQLite's write lane): the session spent in its row, first, unless
/// `spent_elsewhere` (Redis spends it before the commit); then the ticket's compare-and-set
/// (moving the counters when its liveness changes) and the log line, or `joined`, one statement
/// of the backend's own that writes both or neither, affecting one row when it wrote them
/// (Postgres's data-modifying CTE). A nonce already used by this agent is caught by the unique
/// index when the line is written: no read for it here.
pub(super) async fn write_confirmation<E: Exec>(
    e: &mut E,
    commit: &ScanCommit,
    spent_elsewhere: bool,
    joined: Option<(&'static str, Vec<Param>)>,
) -> Result<Written, StoreError> {
    let log = &commit.log;
    if !spent_elsewhere {
        let spend = vec![Param::bytes(&commit.session.0), Param::Int(Some(micros(log.at)))];
        if e.execute(SPEND.into(), spend).await? == 0 {
            let session = vec![Param::bytes(&commit.session.0)];
            let used = e.query_opt(USED_AT.into(), session, |row| get::<Option<i64>, _>(row, "used_at")).await?;
            return Ok(Written::Refused(refused(used)));
        }
    }
    let written = match joined {
        Some((sql, params)) => match e.execute(sql.into(), params).await {
            Ok(1) => Ok(()),
            Ok(_) => return Ok(Written::Refused(CommitOutcome::TicketChanged)),
            Err(err) => Err(err),
        },
        None => {
            if let Some(update) = &commit.ticket
                && !tickets::replace(e, &update.next, update.expected_version, Some(update.was_live)).await?
            {
                return Ok(Written::Refused(CommitOutcome::TicketChanged));
            }
            e.execute(INSERT_LOG.into(), log_params(log)).await.map(drop)
        }
    };
    match written {
        Ok(()) => Ok(Written::All),
        Err(StoreError::Conflict(_)) if log.nonce.is_some() => Ok(Written::NonceTaken),
        Err(err) => Err(err),
    }
}

/// The first confirmation made with `log`'s nonce, after a race on that nonce was lost.
pub(super) async fn replayed<E: Exec>(e: &mut E, log: &ScanLog) -> Result<CommitOutcome, StoreError> {
    let nonce = log.nonce.as_ref().ok_or(StoreError::NotFound("nonce"))?;
    let first = e.query_opt(BY_NONCE.into(), by_nonce_params(log.agent_id, nonce), |row| log_from_row(row)).await?;
    Ok(CommitOutcome::Replayed(Box::new(first.ok_or(StoreError::NotFound("scan log"))?)))
}

impl DbStore {
    /// Applies a confirmation in one write transaction. The session is spent in its database row,
    /// first; or, with `external`, by that store (Redis) after the ticket and the log line are
    /// written and before the commit, so a refused spend rolls everything back.
    async fn commit(
        &self,
        commit: &ScanCommit,
        external: Option<&dyn SessionSpender>,
    ) -> Result<CommitOutcome, StoreError> {
        self.commit_with(commit, external, None).await
    }

    /// [`commit`](Self::commit), with the ticket's change and the log line written by `joined`
    /// when given: one statement of the backend's own (and its parameters) that writes both or
    /// neither, affecting one row when it wrote them (Postgres's data-modifying CTE).
    pub(super) async fn commit_with(
        &self,
        commit: &ScanCommit,
        external: Option<&dyn SessionSpender>,
        joined: Option<(&'static str, Vec<Param>)>,
    ) -> Result<CommitOutcome, StoreError> {
        let log = &commit.log;
        let mut tx = self.begin_write().await?;
        match write_confirmation(&mut *tx, commit, external.is_some(), joined).await? {
            Written::All => {}
            Written::Refused(outcome) => return Ok(outcome),
            Written::NonceTaken => {
                drop(tx);
                return self.replayed(log).await;
            }
        }
        if let Some(sessions) = external {
            match sessions.spend(&commit.session, log.at).await? {
                Spent::Now => {}
                Spent::Already => return Ok(CommitOutcome::SessionUsed),
                Spent::Expired => return Ok(CommitOutcome::SessionExpired),
            }
        }
        match tx.commit().await.map_err(db_error) {
            Ok(()) => Ok(CommitOutcome::Applied),
            Err(e) => {
                if let Some(sessions) = external {
                    // Nothing was applied: give the session back so the agent can confirm again.
                    sessions.unspend(&commit.session, log.at).await?;
                }
                match e {
                    StoreError::Conflict(_) if log.nonce.is_some() => self.replayed(log).await,
                    e => Err(e),
                }
            }
        }
    }

    /// [`replayed`] on a connection of the pool.
    async fn replayed(&self, log: &ScanLog) -> Result<CommitOutcome, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        replayed(&mut *conn, log).await
    }
}

#[async_trait]
impl ExternalSessions for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ticket_context"))]
    async fn ticket_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        ticket_id: TicketId,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        let params = vec![
            Param::Uuid(Some(*gate_id.as_uuid())),
            Param::Uuid(Some(*agent.as_uuid())),
            Param::Uuid(Some(*ticket_id.as_uuid())),
        ];
        self.gate_and_ticket(&TICKET_CONTEXT, params, agent).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "commit_scan_spending"))]
    async fn commit_scan_spending(
        &self,
        commit: &ScanCommit,
        sessions: &dyn SessionSpender,
    ) -> Result<CommitOutcome, StoreError> {
        self.hot_commit_spending(commit, sessions).await
    }
}

#[async_trait]
impl ScanRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_session"))]
    async fn insert_session(&self, session: &ScanSession) -> Result<(), StoreError> {
        self.hot_insert_session(session).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "session"))]
    async fn session(&self, token_hash: &TokenHash) -> Result<Option<ScanSession>, StoreError> {
        let row = sqlx::query("SELECT * FROM scan_sessions WHERE token_hash = $1")
            .bind(&token_hash.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(|row| session_from_row(row, "", token_hash)).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "commit_scan"))]
    async fn commit_scan(&self, commit: &ScanCommit) -> Result<CommitOutcome, StoreError> {
        self.hot_commit_scan(commit).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_scan_log"))]
    async fn insert_scan_log(&self, log: &ScanLog) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        insert_log(&mut conn, log).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "scan_by_nonce"))]
    async fn scan_by_nonce(&self, agent: UserId, nonce: &Nonce) -> Result<Option<ScanLog>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        by_nonce(&mut conn, agent, nonce).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "scan_logs"))]
    async fn scan_logs(&self, filter: &ScanLogFilter) -> Result<Vec<ScanLog>, StoreError> {
        let mut q = QueryBuilder::<Db>::new("SELECT * FROM scan_logs WHERE 1 = 1");
        if let Some(event) = filter.event_id {
            q.push(" AND event_id = ").push_bind(*event.as_uuid());
        }
        if let Some(ticket) = filter.ticket_id {
            q.push(" AND ticket_id = ").push_bind(*ticket.as_uuid());
        }
        if let Some(gates) = &filter.gate_ids {
            if gates.is_empty() {
                return Ok(Vec::new());
            }
            q.push(" AND gate_id IN (");
            let mut list = q.separated(", ");
            for gate in gates {
                list.push_bind(*gate.as_uuid());
            }
            q.push(")");
        }
        let limit = if filter.limit == 0 { i64::MAX } else { i64::from(filter.limit) };
        q.push(" ORDER BY at DESC, seq DESC LIMIT ").push_bind(limit);
        let rows = q.build().fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(log_from_row).collect()
    }
}
