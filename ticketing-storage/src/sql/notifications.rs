//! The notification log: one row per notification job, channel and recipient, replaced by each
//! attempt. Shared by the SQL backends.

use async_trait::async_trait;
use sqlx::Row;
use ticketing_core::ids::{EventId, JobId};
use ticketing_core::notification::DeliveryRecord;
use ticketing_core::store::{NotificationLog, StoreError};
use uuid::Uuid;

use super::{DbRow, DbStore};
use crate::codec::{corrupt, count, db_error, instant, micros};

const COLUMNS: &str =
    "job_id, channel, recipient, event_id, topic, message_id, status, attempts, last_error, updated_at";

fn record_from_row(row: &DbRow) -> Result<DeliveryRecord, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(db_error);
    let (channel, topic, status) = (text("channel")?, text("topic")?, text("status")?);
    Ok(DeliveryRecord {
        job_id: JobId::from_uuid(row.try_get("job_id").map_err(db_error)?),
        event_id: row.try_get::<Option<Uuid>, _>("event_id").map_err(db_error)?.map(EventId::from_uuid),
        topic: topic.parse().map_err(|_| corrupt("notification topic", &topic))?,
        channel: channel.parse().map_err(|_| corrupt("notification channel", &channel))?,
        recipient: text("recipient")?,
        message_id: text("message_id")?,
        status: status.parse().map_err(|_| corrupt("notification status", &status))?,
        attempts: count(row.try_get("attempts").map_err(db_error)?)?,
        last_error: row.try_get("last_error").map_err(db_error)?,
        updated_at: instant(row.try_get("updated_at").map_err(db_error)?)?,
    })
}

#[async_trait]
impl NotificationLog for DbStore {
    async fn record_notification(&self, r: &DeliveryRecord) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO notifications ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (job_id, channel, recipient) DO UPDATE SET event_id = excluded.event_id, \
             topic = excluded.topic, message_id = excluded.message_id, status = excluded.status, \
             attempts = excluded.attempts, last_error = excluded.last_error, updated_at = excluded.updated_at"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(*r.job_id.as_uuid())
            .bind(r.channel.as_str())
            .bind(&r.recipient)
            .bind(r.event_id.map(|e| *e.as_uuid()))
            .bind(r.topic.as_str())
            .bind(&r.message_id)
            .bind(r.status.as_str())
            .bind(i64::from(r.attempts))
            .bind(&r.last_error)
            .bind(micros(r.updated_at))
            .execute(self.writer())
            .await
            .map_err(|e| match db_error(e) {
                StoreError::NotFound(_) => StoreError::NotFound("job"),
                other => other,
            })?;
        Ok(())
    }

    async fn job_notifications(&self, job_id: JobId) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE job_id = $1 ORDER BY channel, recipient");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(*job_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(record_from_row).collect()
    }

    async fn event_notifications(&self, event_id: EventId, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM notifications WHERE event_id = $1 \
             ORDER BY updated_at DESC, job_id, channel, recipient LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(*event_id.as_uuid())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(record_from_row).collect()
    }
}
