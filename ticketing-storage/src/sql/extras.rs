//! Magic links, the audit trail, advisory locks and the keys' fingerprints. Shared by the SQL
//! backends.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use ticketing_core::audit::{self, Actor, AuditEntry};
use ticketing_core::fleet::{KeyFingerprint, KeyKind};
use ticketing_core::ids::{AuditId, EventId, TicketId};
use ticketing_core::magic_link::{LinksRevoked, MagicLink, TokenHash};
use ticketing_core::store::{AuditRepository, KeyRegistry, Locks, MagicLinkRepository, StoreError};
use uuid::Uuid;

use super::{DbRow, DbStore, rows};
use crate::codec::{Param, corrupt, db_error, expiry, instant, micros, missing, opt_instant};

fn actor_columns(actor: &Actor) -> (&'static str, Option<String>) {
    match actor {
        Actor::User(id) => ("user", Some(id.to_string())),
        Actor::Client(id) => ("client", Some(id.clone())),
        Actor::System => ("system", None),
    }
}

/// Appends audit entries, each row's parameters [`audit_params`].
pub(super) const AUDIT: crate::exec::Table = crate::exec::Table {
    head: "INSERT INTO audit_log (id, at, actor_kind, actor_id, action, target, event_id, before, after)",
    width: 9,
};

/// The parameters of an entry's row in [`AUDIT`].
pub(super) fn audit_params(entry: &AuditEntry) -> Vec<Param> {
    let (kind, actor_id) = actor_columns(&entry.actor);
    vec![
        Param::Uuid(Some(*entry.id.as_uuid())),
        Param::Int(Some(micros(entry.at))),
        Param::name(kind),
        Param::Text(actor_id),
        Param::name(&entry.action),
        Param::name(&entry.target),
        Param::Uuid(entry.event_id.map(|e| *e.as_uuid())),
        Param::Text(entry.before.clone()),
        Param::Text(entry.after.clone()),
    ]
}

/// Commits a write transaction, with the audit entry due beside its change, if one is (see
/// [`ticketing_core::audit::Pending`]): the change and its entry commit together or not at all.
pub(super) async fn commit(mut tx: sqlx::Transaction<'_, super::Db>) -> Result<(), StoreError> {
    let due = audit::due();
    audit_on(&mut *tx, due.as_ref()).await?;
    tx.commit().await.map_err(db_error)?;
    if due.is_some() {
        audit::committed();
    }
    Ok(())
}

/// Appends `entry`, if any, inside a step's transaction (an order's placement or change, a
/// refund: steps that carry their entry, as they also run on SQLite's lanes).
pub(super) async fn audit_on<E: crate::exec::Exec>(e: &mut E, entry: Option<&AuditEntry>) -> Result<(), StoreError> {
    if let Some(entry) = entry {
        e.execute(AUDIT.insert(1).into(), audit_params(entry)).await?;
    }
    Ok(())
}

/// Runs a one-statement write (`refused` reads its errors): alone, or in a transaction with the
/// audit entry due beside it, if one is (see [`commit`]); a statement that writes no row changed
/// nothing, and leaves no entry. Returns the rows it wrote.
pub(super) async fn write_one(
    store: &DbStore,
    statement: super::Query<'_>,
    refused: impl Fn(sqlx::Error) -> StoreError,
) -> Result<u64, StoreError> {
    if audit::due().is_none() {
        return statement.execute(store.writer()).await.map(|done| done.rows_affected()).map_err(refused);
    }
    let mut tx = store.begin_write().await?;
    let rows = statement.execute(&mut *tx).await.map_err(refused)?.rows_affected();
    if rows > 0 {
        commit(tx).await?;
    }
    Ok(rows)
}

/// The audit entry append on the pool's writing connection.
impl DbStore {
    pub(super) async fn pooled_append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        rows::bind(sqlx::query(sqlx::AssertSqlSafe(AUDIT.insert(1))), audit_params(entry))
            .execute(self.writer())
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

fn audit_from_row(row: &DbRow) -> Result<AuditEntry, StoreError> {
    let kind: String = row.try_get("actor_kind").map_err(db_error)?;
    let actor_id: Option<String> = row.try_get("actor_id").map_err(db_error)?;
    let actor = match (kind.as_str(), actor_id) {
        ("user", Some(id)) => Actor::User(id.parse().map_err(|_| corrupt("actor id", &id))?),
        ("client", Some(id)) => Actor::Client(id),
        ("system", None) => Actor::System,
        (kind, id) => return Err(corrupt("actor", format!("{kind} {id:?}"))),
    };
    Ok(AuditEntry {
        id: AuditId::from_uuid(row.try_get("id").map_err(db_error)?),
        at: instant(row.try_get("at").map_err(db_error)?)?,
        actor,
        action: row.try_get("action").map_err(db_error)?,
        target: row.try_get("target").map_err(db_error)?,
        event_id: row.try_get::<Option<Uuid>, _>("event_id").map_err(db_error)?.map(EventId::from_uuid),
        before: row.try_get("before").map_err(db_error)?,
        after: row.try_get("after").map_err(db_error)?,
    })
}

#[async_trait]
impl MagicLinkRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_magic_link"))]
    async fn insert_magic_link(&self, link: &MagicLink) -> Result<(), StoreError> {
        let insert = sqlx::query(
            "INSERT INTO magic_links (token_hash, ticket_id, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&link.token_hash.0[..])
        .bind(*link.ticket_id.as_uuid())
        .bind(micros(link.created_at))
        .bind(link.expires_at.map(micros))
        .bind(link.revoked_at.map(micros));
        write_one(self, insert, missing("ticket")).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "magic_link"))]
    async fn magic_link(&self, token_hash: &TokenHash) -> Result<Option<MagicLink>, StoreError> {
        let row =
            sqlx::query("SELECT ticket_id, created_at, expires_at, revoked_at FROM magic_links WHERE token_hash = $1")
                .bind(&token_hash.0[..])
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(MagicLink {
            token_hash: *token_hash,
            ticket_id: TicketId::from_uuid(row.try_get("ticket_id").map_err(db_error)?),
            created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
            expires_at: opt_instant(row.try_get("expires_at").map_err(db_error)?)?,
            revoked_at: opt_instant(row.try_get("revoked_at").map_err(db_error)?)?,
        }))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "revoke_magic_links"))]
    async fn revoke_magic_links(&self, ticket_id: TicketId, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let revoke = sqlx::query("UPDATE magic_links SET revoked_at = $2 WHERE ticket_id = $1 AND revoked_at IS NULL")
            .bind(*ticket_id.as_uuid())
            .bind(micros(at));
        if !audit::pending() {
            return revoke.execute(self.writer()).await.map(|done| done.rows_affected()).map_err(db_error);
        }
        // The entry waiting for this change learns how many links went, and goes with them.
        let mut tx = self.begin_write().await?;
        let revoked = revoke.execute(&mut *tx).await.map_err(db_error)?.rows_affected();
        audit::writing(&LinksRevoked(revoked));
        if revoked > 0 {
            commit(tx).await?;
        }
        Ok(revoked)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "unrevoked_magic_links"))]
    async fn unrevoked_magic_links(
        &self,
        event_id: EventId,
        ticket_id: Option<TicketId>,
    ) -> Result<Vec<MagicLink>, StoreError> {
        // One ticket's links are found by their ticket (`$2 IS NULL OR …` had the planner walk
        // every link of the event, for each ticket of an order page or of a message).
        const COLUMNS: &str = "SELECT l.token_hash, l.ticket_id, l.created_at, l.expires_at, l.revoked_at \
                               FROM magic_links l JOIN tickets t ON t.id = l.ticket_id";
        const LIVE: &str = "l.revoked_at IS NULL ORDER BY l.created_at, l.token_hash";
        let query = match ticket_id {
            Some(ticket) => {
                let sql = format!("{COLUMNS} WHERE l.ticket_id = $1 AND t.event_id = $2 AND {LIVE}");
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*ticket.as_uuid()).bind(*event_id.as_uuid())
            }
            None => sqlx::query(sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE t.event_id = $1 AND {LIVE}")))
                .bind(*event_id.as_uuid()),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let hash: Vec<u8> = row.try_get("token_hash").map_err(db_error)?;
                Ok(MagicLink {
                    token_hash: TokenHash(hash.try_into().map_err(|h: Vec<u8>| corrupt("token hash", h.len()))?),
                    ticket_id: TicketId::from_uuid(row.try_get("ticket_id").map_err(db_error)?),
                    created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
                    expires_at: opt_instant(row.try_get("expires_at").map_err(db_error)?)?,
                    revoked_at: opt_instant(row.try_get("revoked_at").map_err(db_error)?)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl AuditRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "append_audit"))]
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.hot_append_audit(entry).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "audit_entries"))]
    async fn audit_entries(&self, event_id: Option<EventId>, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = if limit == 0 { i64::MAX } else { i64::from(limit) };
        let rows = match event_id {
            Some(event) => {
                sqlx::query("SELECT * FROM audit_log WHERE event_id = $1 ORDER BY at DESC, seq DESC LIMIT $2")
                    .bind(*event.as_uuid())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
            None => {
                sqlx::query("SELECT * FROM audit_log ORDER BY at DESC, seq DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .map_err(db_error)?;
        rows.iter().map(audit_from_row).collect()
    }
}

#[async_trait]
impl Locks for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "try_lock"))]
    async fn try_lock(&self, key: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let until = expiry(now, ttl);
        // Insert, or take over a lock whose time is up; a live lock is left alone (0 rows).
        let done = sqlx::query(
            "INSERT INTO locks (key, owner, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at \
             WHERE locks.expires_at <= $4",
        )
        .bind(key)
        .bind(owner)
        .bind(micros(until))
        .bind(micros(now))
        .execute(self.writer())
        .await
        .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "unlock"))]
    async fn unlock(&self, key: &str, owner: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM locks WHERE key = $1 AND owner = $2 AND expires_at > $3")
            .bind(key)
            .bind(owner)
            .bind(micros(self.clock.now()))
            .execute(self.writer())
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl KeyRegistry for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "key_fingerprints"))]
    async fn key_fingerprints(&self) -> Result<Vec<KeyFingerprint>, StoreError> {
        let rows = sqlx::query("SELECT kind, key_id, digest FROM key_fingerprints ORDER BY kind, key_id")
            .fetch_all(self.writer())
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind").map_err(db_error)?;
                let key_id: i64 = row.try_get("key_id").map_err(db_error)?;
                let digest: String = row.try_get("digest").map_err(db_error)?;
                KeyKind::parse(&kind)
                    .zip(u16::try_from(key_id).ok())
                    .and_then(|(kind, id)| KeyFingerprint::from_hex(kind, id, &digest))
                    .ok_or_else(|| corrupt("key fingerprint", format!("{kind} {key_id} {digest}")))
            })
            .collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "record_key_fingerprints"))]
    async fn record_key_fingerprints(
        &self,
        fingerprints: &[KeyFingerprint],
        at: DateTime<Utc>,
    ) -> Result<Vec<KeyFingerprint>, StoreError> {
        for print in fingerprints {
            sqlx::query(
                "INSERT INTO key_fingerprints (kind, key_id, digest, recorded_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (kind, key_id) DO NOTHING",
            )
            .bind(print.kind.as_str())
            .bind(i64::from(print.key_id))
            .bind(print.hex())
            .bind(micros(at))
            .execute(self.writer())
            .await
            .map_err(db_error)?;
        }
        self.key_fingerprints().await
    }
}
