//! Staff users and roles. Shared by the SQL backends.

use async_trait::async_trait;
use sqlx::Row;
use ticketing_core::field::Email;
use ticketing_core::ids::UserId;
use ticketing_core::store::{StoreError, UserRepository};
use ticketing_core::user::{LAST_SUPERADMIN, PasswordHash, Role, User};

use super::{DbRow, DbStore, FOR_UPDATE, Query, extras};
use crate::codec::{corrupt, db_error, instant, micros, missing};

fn user_from_row(row: &DbRow) -> Result<User, StoreError> {
    let email: String = row.try_get("email").map_err(db_error)?;
    let role: String = row.try_get("role").map_err(db_error)?;
    Ok(User {
        id: UserId::from_uuid(row.try_get("id").map_err(db_error)?),
        email: Email::parse(&email).map_err(|e| corrupt("user email", e))?,
        name: row.try_get("name").map_err(db_error)?,
        role: role.parse().map_err(|_| corrupt("role", &role))?,
        password_hash: PasswordHash::from_phc(row.try_get("password_hash").map_err(db_error)?)
            .map_err(|e| corrupt("password hash", e))?,
        active: row.try_get("active").map_err(db_error)?,
        created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
    })
}

#[async_trait]
impl UserRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ensure_roles"))]
    async fn ensure_roles(&self, roles: &[Role]) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut added = 0;
        for role in roles {
            let done =
                sqlx::query("INSERT INTO roles (name, description) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(role.as_str())
                    .bind(role.description())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
            added += done.rows_affected();
        }
        extras::commit(tx).await?;
        Ok(added)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "roles"))]
    async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM roles").fetch_all(&self.pool).await.map_err(db_error)?;
        Ok(Role::ALL.into_iter().filter(|r| names.iter().any(|n| n == r.as_str())).collect())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_user"))]
    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let sql = "INSERT INTO users (id, email, email_key, name, role, password_hash, active, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        extras::write_one(self, bind_user(sqlx::query(sql), user).bind(micros(user.created_at)), missing("role"))
            .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "user"))]
    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(*id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "user_by_email"))]
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT * FROM users WHERE email_key = $1")
            .bind(email.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "users_with_role"))]
    async fn users_with_role(&self, role: Role) -> Result<Vec<User>, StoreError> {
        let rows = sqlx::query("SELECT * FROM users WHERE role = $1 ORDER BY created_at, id")
            .bind(role.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "update_user"))]
    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let sql = "UPDATE users SET email = $2, email_key = $3, name = $4, role = $5, password_hash = $6, active = $7 \
                   WHERE id = $1";
        let mut tx = self.begin_write().await?;
        if !user.is_active_superadmin() {
            // The active superadmins, locked (in one order) until this change commits: a
            // concurrent demotion of another waits, then counts again without this one.
            let locking = format!("SELECT id FROM users WHERE role = 'superadmin' AND active ORDER BY id{FOR_UPDATE}");
            let ids: Vec<uuid::Uuid> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(locking)).fetch_all(&mut *tx).await.map_err(db_error)?;
            if ids == [*user.id.as_uuid()] {
                return Err(StoreError::Conflict(LAST_SUPERADMIN.into()));
            }
        }
        let done = bind_user(sqlx::query(sql), user).execute(&mut *tx).await.map_err(missing("role"))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("user"));
        }
        extras::commit(tx).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "users"))]
    async fn users(&self, limit: u32, offset: u32) -> Result<Vec<User>, StoreError> {
        let limit = if limit == 0 { i64::MAX } else { i64::from(limit) };
        let rows = sqlx::query("SELECT * FROM users ORDER BY created_at, id LIMIT $1 OFFSET $2")
            .bind(limit)
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(user_from_row).collect()
    }
}

/// `user`'s columns as `$1`…`$7`: id, email, its key, name, role, password hash, active.
fn bind_user<'q>(query: Query<'q>, user: &'q User) -> Query<'q> {
    query
        .bind(*user.id.as_uuid())
        .bind(user.email.as_str())
        .bind(user.email_key())
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(user.password_hash.as_str())
        .bind(user.active)
}
