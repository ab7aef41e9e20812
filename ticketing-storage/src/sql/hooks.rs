//! Integrators' webhook endpoints: one row each, its run of failures kept on it. Shared by the
//! SQL backends.

use async_trait::async_trait;
use sqlx::Row;
use ticketing_core::hook::{Endpoint, HookTopic, Secret};
use ticketing_core::ids::{EndpointId, EventId};
use ticketing_core::job::Job;
use ticketing_core::store::{HookAttempt, HookRepository, StoreError};

use super::{DbRow, DbStore, extras};
use crate::codec::{corrupt, db_error, instant, join, micros, missing, opt_instant, split};

const COLUMNS: &str =
    "id, event_id, url, topics, secret, enabled, failing_since, last_error, last_success_at, created_at";

fn endpoint_from_row(row: &DbRow) -> Result<Endpoint, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(db_error);
    let secret = text("secret")?;
    Ok(Endpoint {
        id: EndpointId::from_uuid(row.try_get("id").map_err(db_error)?),
        event_id: EventId::from_uuid(row.try_get("event_id").map_err(db_error)?),
        url: text("url")?,
        topics: split::<HookTopic>(&text("topics")?)?,
        secret: Secret::parse(&secret).map_err(|_| corrupt("webhook secret", "…"))?,
        enabled: row.try_get("enabled").map_err(db_error)?,
        failing_since: opt_instant(row.try_get("failing_since").map_err(db_error)?)?,
        last_error: row.try_get("last_error").map_err(db_error)?,
        last_success_at: opt_instant(row.try_get("last_success_at").map_err(db_error)?)?,
        created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
    })
}

#[async_trait]
impl HookRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "insert_endpoint"))]
    async fn insert_endpoint(&self, e: &Endpoint) -> Result<(), StoreError> {
        let sql = format!("INSERT INTO webhook_endpoints ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        extras::write_one(
            self,
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(*e.id.as_uuid())
                .bind(*e.event_id.as_uuid())
                .bind(&e.url)
                .bind(join(&e.topics))
                .bind(e.secret.as_text())
                .bind(e.enabled)
                .bind(e.failing_since.map(micros))
                .bind(&e.last_error)
                .bind(e.last_success_at.map(micros))
                .bind(micros(e.created_at)),
            missing("event"),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "endpoint"))]
    async fn endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(*id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(endpoint_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "endpoints"))]
    async fn endpoints(&self, event_id: EventId) -> Result<Vec<Endpoint>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM webhook_endpoints WHERE event_id = $1 ORDER BY created_at, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(*event_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(endpoint_from_row).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "delete_endpoint"))]
    async fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError> {
        let done = extras::write_one(
            self,
            sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1").bind(*id.as_uuid()),
            db_error,
        )
        .await?;
        Ok(done > 0)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "enable_endpoint"))]
    async fn enable_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        extras::write_one(
            self,
            sqlx::query("UPDATE webhook_endpoints SET enabled = TRUE, failing_since = NULL WHERE id = $1")
                .bind(*id.as_uuid()),
            db_error,
        )
        .await?;
        self.endpoint(id).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "record_hook_attempt"))]
    async fn record_hook_attempt(
        &self,
        id: EndpointId,
        attempt: &HookAttempt,
        notice: &Job,
    ) -> Result<bool, StoreError> {
        let Some(error) = &attempt.error else {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = NULL, last_error = NULL, last_success_at = $2 WHERE id = $1",
            )
            .bind(*id.as_uuid())
            .bind(micros(attempt.at))
            .execute(self.writer())
            .await
            .map_err(db_error)?;
            return Ok(false);
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2), last_error = $3 WHERE id = $1",
        )
        .bind(*id.as_uuid())
        .bind(micros(attempt.at))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // One statement decides who disables it: the first failure to find it enabled and
        // failing for long enough; any other sees it disabled already.
        let disabled = sqlx::query(
            "UPDATE webhook_endpoints SET enabled = FALSE WHERE id = $1 AND enabled AND failing_since <= $2",
        )
        .bind(*id.as_uuid())
        .bind(micros(attempt.disable_if_failing_since))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected()
            == 1;
        if disabled {
            super::jobs::enqueue_in(&mut tx, notice).await?;
        }
        extras::commit(tx).await?;
        Ok(disabled)
    }
}
