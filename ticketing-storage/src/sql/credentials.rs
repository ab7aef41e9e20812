//! API clients, OAuth2 tokens and event staff. Shared by the SQL backends.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;
use ticketing_core::credential::{ApiClient, Rotation, StaffAssignment, StoredToken, Subject, TokenKind};
use ticketing_core::event::Event;
use ticketing_core::ids::{ApiClientId, EventId, TokenFamilyId, UserId};
use ticketing_core::magic_link::TokenHash;
use ticketing_core::store::{CredentialRepository, StaffRepository, StoreError};
use uuid::Uuid;

use super::{DbRow, DbStore, catalog, extras};
use crate::codec::{corrupt, db_error, instant, micros, missing, opt_instant};

const TOKEN_COLUMNS: &str = "token_hash, kind, family, user_id, client_id, issued_at, expires_at, revoked_at";

fn unhex(text: &str) -> Result<TokenHash, StoreError> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).map_err(|_| corrupt("secret hash", text))?;
    Ok(TokenHash(hash))
}

fn client_from_row(row: &DbRow) -> Result<ApiClient, StoreError> {
    let role: String = row.try_get("role").map_err(db_error)?;
    let owner: Option<Uuid> = row.try_get("user_id").map_err(db_error)?;
    Ok(ApiClient {
        id: ApiClientId::from_uuid(row.try_get("id").map_err(db_error)?),
        client_id: row.try_get("client_id").map_err(db_error)?,
        secret_hash: unhex(&row.try_get::<String, _>("secret_hash").map_err(db_error)?)?,
        name: row.try_get("name").map_err(db_error)?,
        role: role.parse().map_err(|_| corrupt("role", &role))?,
        owner: UserId::from_uuid(owner.ok_or_else(|| corrupt("API client owner", "null"))?),
        created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
        revoked_at: opt_instant(row.try_get("revoked_at").map_err(db_error)?)?,
    })
}

fn token_from_row(row: &DbRow) -> Result<StoredToken, StoreError> {
    let hash: Vec<u8> = row.try_get("token_hash").map_err(db_error)?;
    let kind: String = row.try_get("kind").map_err(db_error)?;
    let user: Option<Uuid> = row.try_get("user_id").map_err(db_error)?;
    let client: Option<Uuid> = row.try_get("client_id").map_err(db_error)?;
    Ok(StoredToken {
        hash: TokenHash(hash.try_into().map_err(|_| corrupt("token hash", "length"))?),
        kind: match kind.as_str() {
            "access" => TokenKind::Access,
            "refresh" => TokenKind::Refresh,
            _ => return Err(corrupt("token kind", kind)),
        },
        family: TokenFamilyId::from_uuid(row.try_get("family").map_err(db_error)?),
        subject: match (user, client) {
            (Some(user), None) => Subject::User(UserId::from_uuid(user)),
            (None, Some(client)) => Subject::Client(ApiClientId::from_uuid(client)),
            _ => return Err(corrupt("token subject", "not exactly one of user and client")),
        },
        issued_at: instant(row.try_get("issued_at").map_err(db_error)?)?,
        expires_at: instant(row.try_get("expires_at").map_err(db_error)?)?,
        revoked_at: opt_instant(row.try_get("revoked_at").map_err(db_error)?)?,
    })
}

impl DbStore {
    async fn insert_tokens_in(
        tx: &mut sqlx::Transaction<'_, super::Db>,
        tokens: &[StoredToken],
    ) -> Result<(), StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "INSERT INTO oauth_tokens ({TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ));
        for t in tokens {
            let (user, client) = match t.subject {
                Subject::User(u) => (Some(*u.as_uuid()), None),
                Subject::Client(c) => (None, Some(*c.as_uuid())),
            };
            sqlx::query(sqlx::AssertSqlSafe(sql.0.as_str()))
                .bind(&t.hash.0[..])
                .bind(t.kind.as_str())
                .bind(*t.family.as_uuid())
                .bind(user)
                .bind(client)
                .bind(micros(t.issued_at))
                .bind(micros(t.expires_at))
                .bind(t.revoked_at.map(micros))
                .execute(&mut **tx)
                .await
                .map_err(missing("token subject"))?;
        }
        Ok(())
    }

    async fn revoke_family_in(
        tx: &mut sqlx::Transaction<'_, super::Db>,
        family: TokenFamilyId,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("UPDATE oauth_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL")
            .bind(*family.as_uuid())
            .bind(micros(at))
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl CredentialRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_api_client"))]
    async fn insert_api_client(&self, client: &ApiClient) -> Result<(), StoreError> {
        let sql = "INSERT INTO api_clients (id, client_id, secret_hash, name, role, user_id, created_at, revoked_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        extras::write_one(
            self,
            sqlx::query(sql)
                .bind(*client.id.as_uuid())
                .bind(&client.client_id)
                .bind(hex::encode(client.secret_hash.0))
                .bind(&client.name)
                .bind(client.role.as_str())
                .bind(*client.owner.as_uuid())
                .bind(micros(client.created_at))
                .bind(client.revoked_at.map(micros)),
            missing("user"),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "api_client"))]
    async fn api_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(client_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "api_client_by_id"))]
    async fn api_client_by_id(&self, id: ApiClientId) -> Result<Option<ApiClient>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_clients WHERE id = $1")
            .bind(*id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(client_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "api_clients"))]
    async fn api_clients(&self, owner: Option<UserId>) -> Result<Vec<ApiClient>, StoreError> {
        let query = match owner {
            Some(owner) => sqlx::query("SELECT * FROM api_clients WHERE user_id = $1 ORDER BY created_at, id")
                .bind(*owner.as_uuid()),
            None => sqlx::query("SELECT * FROM api_clients ORDER BY created_at, id"),
        };
        let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(client_from_row).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "revoke_api_client"))]
    async fn revoke_api_client(&self, id: ApiClientId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM api_clients WHERE id = $1)")
            .bind(*id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        if !exists {
            return Err(StoreError::NotFound("API client"));
        }
        let done = sqlx::query("UPDATE api_clients SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(*id.as_uuid())
            .bind(micros(at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("UPDATE oauth_tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL")
            .bind(*id.as_uuid())
            .bind(micros(at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        extras::commit(tx).await?;
        Ok(done.rows_affected() == 1)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_tokens"))]
    async fn insert_tokens(&self, tokens: &[StoredToken]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        Self::insert_tokens_in(&mut tx, tokens).await?;
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "token"))]
    async fn token(&self, hash: &TokenHash) -> Result<Option<StoredToken>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE token_hash = $1"));
        let row = sqlx::query(sql).bind(&hash.0[..]).fetch_optional(&self.pool).await.map_err(db_error)?;
        row.as_ref().map(token_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "rotate_refresh"))]
    async fn rotate_refresh(
        &self,
        hash: &TokenHash,
        issue: &[StoredToken],
        at: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.begin_write().await?;
        let spend = sqlx::AssertSqlSafe(format!(
            "UPDATE oauth_tokens SET revoked_at = $2 WHERE token_hash = $1 AND kind = 'refresh' \
             AND revoked_at IS NULL AND expires_at > $2 RETURNING {TOKEN_COLUMNS}"
        ));
        let spent =
            sqlx::query(spend).bind(&hash.0[..]).bind(micros(at)).fetch_optional(&mut *tx).await.map_err(db_error)?;
        if let Some(row) = spent {
            let spent = token_from_row(&row)?;
            Self::insert_tokens_in(&mut tx, issue).await?;
            extras::commit(tx).await?;
            return Ok(Rotation::Rotated(spent));
        }
        let read = sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE token_hash = $1"));
        let presented = sqlx::query(read).bind(&hash.0[..]).fetch_optional(&mut *tx).await.map_err(db_error)?;
        match presented.as_ref().map(token_from_row).transpose()? {
            Some(t) if t.kind == TokenKind::Refresh && t.revoked_at.is_some() => {
                Self::revoke_family_in(&mut tx, t.family, at).await?;
                extras::commit(tx).await?;
                Ok(Rotation::Reused)
            }
            _ => Ok(Rotation::Invalid),
        }
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "revoke_token"))]
    async fn revoke_token(&self, hash: &TokenHash, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let read = sqlx::AssertSqlSafe(format!("SELECT {TOKEN_COLUMNS} FROM oauth_tokens WHERE token_hash = $1"));
        let row = sqlx::query(read).bind(&hash.0[..]).fetch_optional(&mut *tx).await.map_err(db_error)?;
        let Some(token) = row.as_ref().map(token_from_row).transpose()? else { return Ok(false) };
        let revoked = match token.kind {
            TokenKind::Refresh => Self::revoke_family_in(&mut tx, token.family, at).await?,
            TokenKind::Access => {
                sqlx::query("UPDATE oauth_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL")
                    .bind(&hash.0[..])
                    .bind(micros(at))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected()
            }
        };
        extras::commit(tx).await?;
        Ok(revoked > 0)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "revoke_user_tokens"))]
    async fn revoke_user_tokens(&self, user: UserId, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let sql = "UPDATE oauth_tokens SET revoked_at = $2 WHERE revoked_at IS NULL \
                   AND (user_id = $1 OR client_id IN (SELECT id FROM api_clients WHERE user_id = $1))";
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(sql).bind(*user.as_uuid()).bind(micros(at)).execute(&mut *tx).await.map_err(db_error)?;
        extras::commit(tx).await?;
        Ok(done.rows_affected())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "purge_tokens"))]
    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM oauth_tokens WHERE expires_at < $1")
            .bind(micros(before))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        extras::commit(tx).await?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl StaffRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_staffed_event"))]
    async fn insert_staffed_event(&self, event: &Event, staff: &[StaffAssignment]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        catalog::insert_event_in(&mut tx, event).await?;
        for a in staff {
            assign_in(&mut tx, event.id(), *a).await?;
        }
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "assign_staff"))]
    async fn assign_staff(&self, event_id: EventId, assignment: StaffAssignment) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE id = $1)")
            .bind(*event_id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        if !exists {
            return Err(StoreError::NotFound("event"));
        }
        assign_in(&mut tx, event_id, assignment).await?;
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "unassign_staff"))]
    async fn unassign_staff(&self, event_id: EventId, user_id: UserId) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM event_staff WHERE event_id = $1 AND user_id = $2")
            .bind(*event_id.as_uuid())
            .bind(*user_id.as_uuid())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        extras::commit(tx).await?;
        Ok(true)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "event_staff"))]
    async fn event_staff(&self, event_id: EventId) -> Result<Vec<StaffAssignment>, StoreError> {
        let rows = sqlx::query("SELECT user_id, duty FROM event_staff WHERE event_id = $1 ORDER BY user_id")
            .bind(*event_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let duty: String = row.try_get("duty").map_err(db_error)?;
                Ok(StaffAssignment {
                    user_id: UserId::from_uuid(row.try_get("user_id").map_err(db_error)?),
                    duty: duty.parse().map_err(|_| corrupt("duty", &duty))?,
                })
            })
            .collect()
    }
}

async fn assign_in(
    tx: &mut sqlx::Transaction<'_, super::Db>,
    event_id: EventId,
    a: StaffAssignment,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO event_staff (event_id, user_id, duty) VALUES ($1, $2, $3) \
         ON CONFLICT (event_id, user_id) DO UPDATE SET duty = excluded.duty",
    )
    .bind(*event_id.as_uuid())
    .bind(*a.user_id.as_uuid())
    .bind(a.duty.as_str())
    .execute(&mut **tx)
    .await
    .map_err(missing("user"))?;
    Ok(())
}
