//! The notification log (one row per notification job, channel and recipient, replaced by each
//! attempt) and events' own message templates (one row per event, topic and language). Shared
//! by the SQL backends.

use async_trait::async_trait;
use sqlx::Row;
use ticketing_core::ids::{EventId, JobId};
use ticketing_core::job::NotificationTopic;
use ticketing_core::notification::DeliveryRecord;
use ticketing_core::notification::templates::{MessageTemplate, TemplateParts};
use ticketing_core::order::Locale;
use ticketing_core::store::{MessageTemplateRepository, NotificationLog, StoreError};
use uuid::Uuid;

use super::{DbRow, DbStore, extras};
use crate::codec::{corrupt, count, db_error, instant, micros, missing};

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
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "record_notification"))]
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
            .map_err(missing("job"))?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "job_notifications"))]
    async fn job_notifications(&self, job_id: JobId) -> Result<Vec<DeliveryRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM notifications WHERE job_id = $1 ORDER BY channel, recipient");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(*job_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(record_from_row).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "event_notifications"))]
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

const TEMPLATE_COLUMNS: &str = "event_id, topic, locale, subject, text_part, html_part, sms_part, updated_at";

fn template_from_row(row: &DbRow) -> Result<MessageTemplate, StoreError> {
    let text = |column: &str| row.try_get::<String, _>(column).map_err(db_error);
    let (topic, locale) = (text("topic")?, text("locale")?);
    Ok(MessageTemplate {
        event_id: EventId::from_uuid(row.try_get("event_id").map_err(db_error)?),
        topic: topic.parse().map_err(|_| corrupt("message template topic", &topic))?,
        locale: locale.parse().map_err(|_| corrupt("message template language", &locale))?,
        parts: TemplateParts {
            subject: text("subject")?,
            text: text("text_part")?,
            html: text("html_part")?,
            sms: text("sms_part")?,
        },
        updated_at: instant(row.try_get("updated_at").map_err(db_error)?)?,
    })
}

#[async_trait]
impl MessageTemplateRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "save_message_template"))]
    async fn save_message_template(&self, t: &MessageTemplate) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO message_templates ({TEMPLATE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (event_id, topic, locale) DO UPDATE SET subject = excluded.subject, \
             text_part = excluded.text_part, html_part = excluded.html_part, sms_part = excluded.sms_part, \
             updated_at = excluded.updated_at"
        );
        extras::write_one(
            self,
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(*t.event_id.as_uuid())
                .bind(t.topic.as_str())
                .bind(t.locale.as_str())
                .bind(&t.parts.subject)
                .bind(&t.parts.text)
                .bind(&t.parts.html)
                .bind(&t.parts.sms)
                .bind(micros(t.updated_at)),
            missing("event"),
        )
        .await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "message_template"))]
    async fn message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<Option<MessageTemplate>, StoreError> {
        let sql = format!(
            "SELECT {TEMPLATE_COLUMNS} FROM message_templates WHERE event_id = $1 AND topic = $2 AND locale = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(*event_id.as_uuid())
            .bind(topic.as_str())
            .bind(locale.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(template_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "message_templates"))]
    async fn message_templates(&self, event_id: EventId) -> Result<Vec<MessageTemplate>, StoreError> {
        let sql =
            format!("SELECT {TEMPLATE_COLUMNS} FROM message_templates WHERE event_id = $1 ORDER BY topic, locale");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(*event_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(template_from_row).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "delete_message_template"))]
    async fn delete_message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<bool, StoreError> {
        let done = extras::write_one(
            self,
            sqlx::query("DELETE FROM message_templates WHERE event_id = $1 AND topic = $2 AND locale = $3")
                .bind(*event_id.as_uuid())
                .bind(topic.as_str())
                .bind(locale.as_str()),
            db_error,
        )
        .await?;
        Ok(done > 0)
    }
}
