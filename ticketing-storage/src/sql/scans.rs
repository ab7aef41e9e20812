//! Scan sessions and the scan log. `commit_scan` is one write transaction. Shared by the SQL backends.

use std::sync::LazyLock;

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};
use ticketing_core::gate::Gate;
use ticketing_core::ids::{EventId, GateId, ScanLogId, TicketId, UserId};
use ticketing_core::magic_link::TokenHash;
use ticketing_core::scan::{Direction, Nonce, ScanLog, ScanReason, ScanSession, ScanStage};
use ticketing_core::short_code::ShortCode;
use ticketing_core::store::{
    CommitOutcome, ScanCommit, ScanLogFilter, ScanReads, ScanRepository, ScanView, StoreError,
};
use uuid::Uuid;

use super::{BATCHED_COMMIT, Conn, Db, DbRow, DbStore, Query, rows, tickets};
use crate::codec::{corrupt, count, day, db_error, direction, instant, join, micros, opt_instant, split};
use crate::redis::{ExternalSessions, SessionSpender, Spent};

fn stage_name(stage: ScanStage) -> &'static str {
    match stage {
        ScanStage::Request => "request",
        ScanStage::Confirm => "confirm",
    }
}

fn log_from_row(row: &DbRow) -> Result<ScanLog, StoreError> {
    let get_str = |c: &str| row.try_get::<Option<String>, _>(c).map_err(db_error);
    let stage = match get_str("stage")?.as_deref() {
        Some("request") => ScanStage::Request,
        Some("confirm") => ScanStage::Confirm,
        other => return Err(corrupt("stage", format!("{other:?}"))),
    };
    let reason = get_str("reason")?.unwrap_or_default();
    Ok(ScanLog {
        id: ScanLogId::from_uuid(row.try_get("id").map_err(db_error)?),
        at: instant(row.try_get("at").map_err(db_error)?)?,
        event_id: EventId::from_uuid(row.try_get("event_id").map_err(db_error)?),
        gate_id: GateId::from_uuid(row.try_get("gate_id").map_err(db_error)?),
        agent_id: UserId::from_uuid(row.try_get("agent_id").map_err(db_error)?),
        ticket_id: row.try_get::<Option<Uuid>, _>("ticket_id").map_err(db_error)?.map(TicketId::from_uuid),
        stage,
        direction: get_str("direction")?.as_deref().map(direction).transpose()?,
        reason: ScanReason::from_code(&reason).ok_or_else(|| corrupt("reason", &reason))?,
        status_after: get_str("status_after")?.map(|s| s.parse().map_err(|_| corrupt("status", &s))).transpose()?,
        entries_after: row.try_get::<Option<i64>, _>("entries_after").map_err(db_error)?.map(count).transpose()?,
        nonce: get_str("nonce")?.map(|n| Nonce::parse(&n).ok_or_else(|| corrupt("nonce", &n))).transpose()?,
    })
}

/// Binds a log line's fields but its time, in column order (`id`, `event_id`, … `nonce`), after
/// whatever the query has bound already.
fn bind_log_fields<'q>(query: Query<'q>, log: &ScanLog) -> Query<'q> {
    query
        .bind(*log.id.as_uuid())
        .bind(*log.event_id.as_uuid())
        .bind(*log.gate_id.as_uuid())
        .bind(*log.agent_id.as_uuid())
        .bind(log.ticket_id.map(|t| *t.as_uuid()))
        .bind(stage_name(log.stage))
        .bind(log.direction.map(|d| d.as_str()))
        .bind(log.reason.code())
        .bind(log.status_after.map(|s| s.as_str()))
        .bind(log.entries_after.map(i64::from))
        .bind(log.nonce.as_ref().map(|n| n.as_str().to_owned()))
}

async fn insert_log(conn: &mut Conn, log: &ScanLog) -> Result<(), StoreError> {
    let sql = "INSERT INTO scan_logs (id, at, event_id, gate_id, agent_id, ticket_id, stage, direction, reason, \
               status_after, entries_after, nonce) VALUES ($2, $1, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
    bind_log_fields(sqlx::query(sql).bind(micros(log.at)), log).execute(&mut *conn).await.map_err(db_error)?;
    Ok(())
}

/// The session spend and the log line of a batched commit: `$1` the time, `$2` the session,
/// `$3`… the log line (see [`bind_log`]); the log line is written only if the spend happened.
const BATCH_SPEND_LOG: &str = "\
    UPDATE scan_sessions SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1; \
    INSERT INTO scan_logs (id, at, event_id, gate_id, agent_id, ticket_id, stage, direction, reason, status_after, \
    entries_after, nonce) SELECT $3, $1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 WHERE changes() = 1";

/// The same with the ticket's compare-and-set (`$14` id, `$15` expected version, `$16`… the new
/// state), checked by the spend and applied only if the spend happened.
const BATCH_SPEND_UPDATE_LOG: &str = "\
    UPDATE scan_sessions SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
    AND EXISTS (SELECT 1 FROM tickets WHERE id = $14 AND version = $15); \
    UPDATE tickets SET short_code = $16, status = $17, entries_used = $18, last_entry_day = $19, entries_on_day = $20, \
    version = $21, updated_at = $22 WHERE id = $14 AND version = $15 AND changes() = 1; \
    INSERT INTO scan_logs (id, at, event_id, gate_id, agent_id, ticket_id, stage, direction, reason, status_after, \
    entries_after, nonce) SELECT $3, $1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 WHERE changes() = 1";

/// Binds `$1`…`$13` of a batched commit.
fn bind_log<'q>(query: Query<'q>, commit: &ScanCommit) -> Query<'q> {
    let log = &commit.log;
    bind_log_fields(query.bind(micros(log.at)).bind(commit.session.0.to_vec()), log)
}

async fn by_nonce(conn: &mut Conn, agent: UserId, nonce: &Nonce) -> Result<Option<ScanLog>, StoreError> {
    let row = sqlx::query("SELECT * FROM scan_logs WHERE agent_id = $1 AND nonce = $2 AND stage = 'confirm'")
        .bind(*agent.as_uuid())
        .bind(nonce.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error)?;
    row.as_ref().map(log_from_row).transpose()
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

fn session_from_row(row: &DbRow, prefix: &str, token_hash: &TokenHash) -> Result<ScanSession, StoreError> {
    let get_uuid = |c: &str| row.try_get::<Uuid, _>(format!("{prefix}{c}").as_str()).map_err(db_error);
    let get_time = |c: &str| row.try_get::<Option<i64>, _>(format!("{prefix}{c}").as_str()).map_err(db_error);
    let allowed: String = row.try_get(format!("{prefix}allowed").as_str()).map_err(db_error)?;
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

/// A request's read, in one query: the gate (`$1`, as agent `$2` sees it) and the ticket with
/// short code `$3` with its type and event.
static REQUEST_CONTEXT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {} FROM gates g LEFT JOIN tickets t ON t.short_code = $3 {VIEW_JOINS} WHERE g.id = $1",
        *GATE_COLUMNS, *VIEW_COLUMNS
    )
});

/// A confirmation's read, in one query: the gate (`$1`, as agent `$2` sees it), the session with
/// token hash `$3`, and its ticket with its type and event.
static CONFIRM_CONTEXT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {}, {}, {} FROM gates g LEFT JOIN scan_sessions s ON s.token_hash = $3 \
         LEFT JOIN tickets t ON t.id = s.ticket_id {VIEW_JOINS} WHERE g.id = $1",
        *GATE_COLUMNS,
        rows::prefixed("s", "s_", SESSION_COLUMNS),
        *VIEW_COLUMNS
    )
});

/// The ticket view of a joined row, if the row found a ticket.
fn view_from_row(row: &DbRow) -> Result<Option<ScanView>, StoreError> {
    if row.try_get::<Option<Uuid>, _>("id").map_err(db_error)?.is_none() {
        return Ok(None);
    }
    Ok(Some(ScanView {
        ticket: rows::ticket(row)?,
        ticket_type: rows::ticket_type_at(row, "y_")?,
        event: rows::event_at(row, "e_")?,
    }))
}

/// The gate of a context row, as the agent sees it.
fn gate_from_row(row: &DbRow, agent: UserId) -> Result<Gate, StoreError> {
    let assigned: bool = row.try_get("g_assigned").map_err(db_error)?;
    rows::gate_at(row, "g_", if assigned { vec![agent] } else { Vec::new() })
}

/// The scan's reads: each step's in one query, the ticket with its type and event joined.
#[async_trait]
impl ScanReads for DbStore {
    async fn scan_view(&self, ticket_id: TicketId) -> Result<Option<ScanView>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {} FROM tickets t {VIEW_JOINS} WHERE t.id = $1", *VIEW_COLUMNS));
        let row = sqlx::query(sql).bind(*ticket_id.as_uuid()).fetch_optional(&self.pool).await.map_err(db_error)?;
        Ok(row.as_ref().map(view_from_row).transpose()?.flatten())
    }

    async fn request_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        code: Option<ShortCode>,
    ) -> Result<(Option<Gate>, Option<ScanView>), StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(REQUEST_CONTEXT.as_str()))
            .bind(*gate_id.as_uuid())
            .bind(*agent.as_uuid())
            .bind(code.map(|c| i64::try_from(c.value()).unwrap_or(i64::MAX)))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok((None, None)) };
        Ok((Some(gate_from_row(&row, agent)?), view_from_row(&row)?))
    }

    async fn confirm_context(
        &self,
        gate_id: GateId,
        agent: UserId,
        session: Option<&TokenHash>,
    ) -> Result<(Option<Gate>, Option<(ScanSession, ScanView)>), StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(CONFIRM_CONTEXT.as_str()))
            .bind(*gate_id.as_uuid())
            .bind(*agent.as_uuid())
            .bind(session.map(|h| h.0.to_vec()))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        let Some(row) = row else { return Ok((None, None)) };
        let gate = gate_from_row(&row, agent)?;
        let found = match (session, view_from_row(&row)?) {
            (Some(hash), Some(view)) => Some((session_from_row(&row, "s_", hash)?, view)),
            _ => None,
        };
        Ok((Some(gate), found))
    }
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
        if BATCHED_COMMIT
            && external.is_none()
            && let Some(outcome) = self.commit_batched(commit).await?
        {
            return Ok(outcome);
        }
        let log = &commit.log;
        let mut tx = self.begin_write().await?;
        // A nonce already used by this agent is caught by the unique index when the log line is
        // written, which rolls everything back: no read for it here.
        if external.is_none() {
            let spent = sqlx::query(
                "UPDATE scan_sessions SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
            )
            .bind(&commit.session.0[..])
            .bind(micros(log.at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            if spent.rows_affected() == 0 {
                let used: Option<Option<i64>> =
                    sqlx::query_scalar("SELECT used_at FROM scan_sessions WHERE token_hash = $1")
                        .bind(&commit.session.0[..])
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error)?;
                return Ok(match used {
                    Some(Some(_)) => CommitOutcome::SessionUsed,
                    _ => CommitOutcome::SessionExpired,
                });
            }
        }
        if let Some(update) = &commit.ticket
            && !tickets::replace(&mut tx, &update.next, update.expected_version, Some(update.was_live)).await?
        {
            return Ok(CommitOutcome::TicketChanged);
        }
        match insert_log(&mut tx, log).await {
            Ok(()) => {}
            // A concurrent confirmation with the same nonce committed first: it is the result.
            Err(StoreError::Conflict(_)) if log.nonce.is_some() => {
                drop(tx);
                return self.replayed(log).await;
            }
            Err(e) => return Err(e),
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

    /// [`DbStore::commit`] as one batch of statements, for a dialect that runs several in one call
    /// (SQLite): the session spend carries the ticket's compare-and-set as a condition, and each
    /// later statement runs only if the one before changed a row (`changes()`), all under the
    /// write lock. `None` when the batch does not apply (a change of liveness moves counters).
    async fn commit_batched(&self, commit: &ScanCommit) -> Result<Option<CommitOutcome>, StoreError> {
        let log = &commit.log;
        if commit.ticket.as_ref().is_some_and(|u| u.was_live != u.next.status().is_live()) {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        let query = match &commit.ticket {
            Some(update) => {
                let ticket = &update.next;
                bind_log(sqlx::query(BATCH_SPEND_UPDATE_LOG), commit)
                    .bind(*ticket.id().as_uuid())
                    .bind(i64::try_from(update.expected_version).unwrap_or(i64::MAX))
                    .bind(i64::try_from(ticket.short_code().value()).unwrap_or(i64::MAX))
                    .bind(ticket.status().as_str())
                    .bind(i64::from(ticket.entries_used()))
                    .bind(ticket.last_entry_day().map(day))
                    .bind(i64::from(ticket.entries_on_last_day()))
                    .bind(i64::try_from(ticket.version()).unwrap_or(i64::MAX))
                    .bind(micros(ticket.updated_at()))
            }
            None => bind_log(sqlx::query(BATCH_SPEND_LOG), commit),
        };
        let expected = if commit.ticket.is_some() { 3 } else { 2 };
        match query.execute(&mut *tx).await.map_err(db_error) {
            Ok(done) if done.rows_affected() == expected => {}
            Ok(_) => {
                // Nothing was written: say why.
                let session: Option<(Option<i64>, i64)> =
                    sqlx::query_as("SELECT used_at, expires_at FROM scan_sessions WHERE token_hash = $1")
                        .bind(&commit.session.0[..])
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error)?;
                return Ok(Some(match session {
                    Some((Some(_), _)) => CommitOutcome::SessionUsed,
                    Some((None, expires_at)) if expires_at > micros(log.at) => CommitOutcome::TicketChanged,
                    _ => CommitOutcome::SessionExpired,
                }));
            }
            // A concurrent confirmation with the same nonce committed first: it is the result.
            Err(StoreError::Conflict(_)) if log.nonce.is_some() => {
                drop(tx);
                return self.replayed(log).await.map(Some);
            }
            Err(e) => return Err(e),
        }
        match tx.commit().await.map_err(db_error) {
            Ok(()) => Ok(Some(CommitOutcome::Applied)),
            Err(StoreError::Conflict(_)) if log.nonce.is_some() => self.replayed(log).await.map(Some),
            Err(e) => Err(e),
        }
    }

    /// The first confirmation made with `log`'s nonce, after a race on that nonce was lost.
    async fn replayed(&self, log: &ScanLog) -> Result<CommitOutcome, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let nonce = log.nonce.as_ref().ok_or(StoreError::NotFound("nonce"))?;
        let first = by_nonce(&mut conn, log.agent_id, nonce).await?.ok_or(StoreError::NotFound("scan log"))?;
        Ok(CommitOutcome::Replayed(Box::new(first)))
    }
}

#[async_trait]
impl ExternalSessions for DbStore {
    async fn commit_scan_spending(
        &self,
        commit: &ScanCommit,
        sessions: &dyn SessionSpender,
    ) -> Result<CommitOutcome, StoreError> {
        self.commit(commit, Some(sessions)).await
    }
}

#[async_trait]
impl ScanRepository for DbStore {
    async fn insert_session(&self, session: &ScanSession) -> Result<(), StoreError> {
        let sql = "INSERT INTO scan_sessions (token_hash, ticket_id, event_id, gate_id, agent_id, allowed, code_expires_at, \
                   created_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        let allowed: Vec<&str> = session.allowed.iter().map(Direction::as_str).collect();
        sqlx::query(sql)
            .bind(&session.token_hash.0[..])
            .bind(*session.ticket_id.as_uuid())
            .bind(*session.event_id.as_uuid())
            .bind(*session.gate_id.as_uuid())
            .bind(*session.agent_id.as_uuid())
            .bind(join(&allowed))
            .bind(session.code_expires_at.map(micros))
            .bind(micros(session.created_at))
            .bind(micros(session.expires_at))
            .bind(session.used_at.map(micros))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> Result<Option<ScanSession>, StoreError> {
        let row = sqlx::query("SELECT * FROM scan_sessions WHERE token_hash = $1")
            .bind(&token_hash.0[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(|row| session_from_row(row, "", token_hash)).transpose()
    }

    async fn commit_scan(&self, commit: &ScanCommit) -> Result<CommitOutcome, StoreError> {
        self.commit(commit, None).await
    }

    async fn insert_scan_log(&self, log: &ScanLog) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        insert_log(&mut conn, log).await
    }

    async fn scan_by_nonce(&self, agent: UserId, nonce: &Nonce) -> Result<Option<ScanLog>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        by_nonce(&mut conn, agent, nonce).await
    }

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
