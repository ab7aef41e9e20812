//! Template versions and the version each ticket is pinned to. Shared by the SQL backends.
//!
//! A save upserts the template's row first: on Postgres that row lock serialises concurrent
//! saves of one template, so the next version number read after it is free; on SQLite the
//! write transaction is already exclusive.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row};
use ticketing_core::audit;
use ticketing_core::ids::{EventId, TemplateId, TicketId};
use ticketing_core::store::{StoreError, TemplateRepository};
use ticketing_core::template::{TemplatePin, TemplateSummary, TemplateVersion};

use super::{Conn, Db, DbRow, DbStore, extras};
use crate::codec::{corrupt, db_error, instant, micros, missing};

/// A query of versions with the template's name, ending in `$tail`.
macro_rules! select_versions {
    ($tail:literal) => {
        concat!(
            "SELECT v.template_id, v.version, t.name, v.body, v.created_at FROM ticket_template_versions v ",
            "JOIN ticket_templates t ON t.id = v.template_id WHERE v.template_id = $1 ",
            $tail
        )
    };
}

/// A query of template summaries matching `$where`, oldest first.
macro_rules! select_summaries {
    ($where:literal) => {
        concat!(
            "SELECT t.id, t.event_id, t.name, t.current_version, t.created_at, MAX(v.version) AS latest ",
            "FROM ticket_templates t JOIN ticket_template_versions v ON v.template_id = t.id WHERE ",
            $where,
            " GROUP BY t.id, t.event_id, t.name, t.current_version, t.created_at ORDER BY t.created_at, t.id"
        )
    };
}

fn summary_from_row(row: &DbRow) -> Result<TemplateSummary, StoreError> {
    Ok(TemplateSummary {
        template_id: TemplateId::from_uuid(row.try_get("id").map_err(db_error)?),
        event_id: row.try_get::<Option<uuid::Uuid>, _>("event_id").map_err(db_error)?.map(EventId::from_uuid),
        name: row.try_get("name").map_err(db_error)?,
        latest_version: version_number(row.try_get("latest").map_err(db_error)?)?,
        active_version: row
            .try_get::<Option<i64>, _>("current_version")
            .map_err(db_error)?
            .map(version_number)
            .transpose()?,
        created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
    })
}

/// Tickets per statement of a bulk pin (one parameter each, well under every limit).
const PIN_CHUNK: usize = 1000;

/// `NotFound` unless the version `pin` names exists, read on `conn`.
async fn require_version(conn: &mut Conn, pin: TemplatePin) -> Result<(), StoreError> {
    let exists: Option<i64> =
        sqlx::query_scalar("SELECT version FROM ticket_template_versions WHERE template_id = $1 AND version = $2")
            .bind(*pin.template_id.as_uuid())
            .bind(i64::from(pin.version))
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    exists.map(|_| ()).ok_or(StoreError::NotFound("template version"))
}

/// The pins of those of `ticket_ids` that are pinned, read on `conn`.
async fn pins_in(conn: &mut Conn, ticket_ids: &[TicketId]) -> Result<HashMap<TicketId, TemplatePin>, StoreError> {
    let mut pins = HashMap::with_capacity(ticket_ids.len());
    for chunk in ticket_ids.chunks(PIN_CHUNK) {
        let mut q = QueryBuilder::<Db>::new(
            "SELECT ticket_id, template_id, version FROM ticket_template_pins WHERE ticket_id IN (",
        );
        let mut ids = q.separated(", ");
        for id in chunk {
            ids.push_bind(*id.as_uuid());
        }
        q.push(")");
        for row in q.build().fetch_all(&mut *conn).await.map_err(db_error)? {
            let ticket = TicketId::from_uuid(row.try_get("ticket_id").map_err(db_error)?);
            pins.insert(ticket, pin_from_row(&row)?);
        }
    }
    Ok(pins)
}

/// A version number as stored (a BIGINT on Postgres), checked back into range.
fn version_number(stored: i64) -> Result<u32, StoreError> {
    u32::try_from(stored).map_err(|_| corrupt("template version", stored))
}

fn pin_from_row(row: &DbRow) -> Result<TemplatePin, StoreError> {
    Ok(TemplatePin {
        template_id: TemplateId::from_uuid(row.try_get("template_id").map_err(db_error)?),
        version: version_number(row.try_get("version").map_err(db_error)?)?,
    })
}

fn version_from_row(row: &DbRow) -> Result<TemplateVersion, StoreError> {
    let pin = pin_from_row(row)?;
    Ok(TemplateVersion {
        template_id: pin.template_id,
        version: pin.version,
        name: row.try_get("name").map_err(db_error)?,
        body: row.try_get("body").map_err(db_error)?,
        created_at: instant(row.try_get("created_at").map_err(db_error)?)?,
    })
}

#[async_trait]
impl TemplateRepository for DbStore {
    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "save_template_version"))]
    async fn save_template_version(
        &self,
        template_id: TemplateId,
        event_id: Option<EventId>,
        name: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<TemplateVersion, StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO ticket_templates (id, event_id, name, current_version, created_at) \
             VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .bind(*template_id.as_uuid())
        .bind(event_id.map(|e| *e.as_uuid()))
        .bind(name)
        .bind(micros(at))
        .execute(&mut *tx)
        .await
        .map_err(missing("event"))?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO ticket_template_versions (template_id, version, body, created_by, created_at) \
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, NULL, $3 FROM ticket_template_versions WHERE template_id = $1 \
             RETURNING version",
        )
        .bind(*template_id.as_uuid())
        .bind(body)
        .bind(micros(at))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let saved = TemplateVersion {
            template_id,
            version: version_number(version)?,
            name: name.to_owned(),
            body: body.to_owned(),
            created_at: at,
        };
        audit::writing(&saved);
        extras::commit(tx).await?;
        Ok(saved)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "template_version"))]
    async fn template_version(
        &self,
        template_id: TemplateId,
        version: Option<u32>,
    ) -> Result<Option<TemplateVersion>, StoreError> {
        let row = match version {
            Some(v) => {
                sqlx::query(select_versions!("AND v.version = $2"))
                    .bind(*template_id.as_uuid())
                    .bind(i64::from(v))
                    .fetch_optional(&self.pool)
                    .await
            }
            None => {
                sqlx::query(select_versions!("ORDER BY v.version DESC LIMIT 1"))
                    .bind(*template_id.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
            }
        }
        .map_err(db_error)?;
        row.as_ref().map(version_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "template_versions"))]
    async fn template_versions(&self, template_id: TemplateId) -> Result<Vec<TemplateVersion>, StoreError> {
        let rows = sqlx::query(select_versions!("ORDER BY v.version"))
            .bind(*template_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(version_from_row).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "pin_ticket_template"))]
    async fn pin_ticket_template(&self, ticket_id: TicketId, pin: TemplatePin) -> Result<TemplatePin, StoreError> {
        if let Some(existing) = self.ticket_template(ticket_id).await? {
            return Ok(existing);
        }
        sqlx::query(
            "INSERT INTO ticket_template_pins (ticket_id, template_id, version) VALUES ($1, $2, $3) \
             ON CONFLICT (ticket_id) DO NOTHING",
        )
        .bind(*ticket_id.as_uuid())
        .bind(*pin.template_id.as_uuid())
        .bind(i64::from(pin.version))
        .execute(self.writer())
        .await
        .map_err(missing("ticket or template version"))?;
        // Whoever's insert landed first, this reads the pin in force.
        self.ticket_template(ticket_id).await?.ok_or(StoreError::NotFound("ticket"))
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "pin_ticket_templates"))]
    async fn pin_ticket_templates(
        &self,
        ticket_ids: &[TicketId],
        pin: TemplatePin,
    ) -> Result<HashMap<TicketId, TemplatePin>, StoreError> {
        let mut tx = self.begin_write().await?;
        require_version(&mut tx, pin).await?;
        for chunk in ticket_ids.chunks(PIN_CHUNK) {
            // Only tickets that exist are pinned: the others are left out, not an error.
            let mut q = QueryBuilder::<Db>::new("INSERT INTO ticket_template_pins (ticket_id, template_id, version) ");
            q.push("SELECT t.id, ").push_bind(*pin.template_id.as_uuid()).push(", ").push_bind(i64::from(pin.version));
            q.push(" FROM tickets t WHERE t.id IN (");
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(*id.as_uuid());
            }
            q.push(") ON CONFLICT (ticket_id) DO NOTHING");
            q.build().execute(&mut *tx).await.map_err(missing("template version"))?;
        }
        let pins = pins_in(&mut tx, ticket_ids).await?;
        extras::commit(tx).await?;
        Ok(pins)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ticket_templates"))]
    async fn ticket_templates(&self, ticket_ids: &[TicketId]) -> Result<HashMap<TicketId, TemplatePin>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        pins_in(&mut conn, ticket_ids).await
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "template"))]
    async fn template(&self, template_id: TemplateId) -> Result<Option<TemplateSummary>, StoreError> {
        let row = sqlx::query(select_summaries!("t.id = $1"))
            .bind(*template_id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(summary_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "templates"))]
    async fn templates(&self, event_id: EventId) -> Result<Vec<TemplateSummary>, StoreError> {
        let rows = sqlx::query(select_summaries!("t.event_id = $1"))
            .bind(*event_id.as_uuid())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.iter().map(summary_from_row).collect()
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "activate_template"))]
    async fn activate_template(&self, pin: TemplatePin) -> Result<TemplateSummary, StoreError> {
        let mut tx = self.begin_write().await?;
        require_version(&mut tx, pin).await?;
        // One statement for this template and the event's others (one active template per
        // event): two activations at once take their rows in one statement each, never one row
        // and then waiting on the other's.
        sqlx::query(
            "UPDATE ticket_templates SET current_version = CASE WHEN id = $1 THEN CAST($2 AS BIGINT) ELSE NULL END \
             WHERE id = $1 OR event_id = (SELECT event_id FROM ticket_templates WHERE id = $1)",
        )
        .bind(*pin.template_id.as_uuid())
        .bind(i64::from(pin.version))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let row = sqlx::query(select_summaries!("t.id = $1"))
            .bind(*pin.template_id.as_uuid())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let summary = summary_from_row(&row)?;
        audit::writing(&summary);
        extras::commit(tx).await?;
        Ok(summary)
    }

    #[tracing::instrument(level = "debug", name = "store", skip_all, fields(call = "ticket_template"))]
    async fn ticket_template(&self, ticket_id: TicketId) -> Result<Option<TemplatePin>, StoreError> {
        let row = sqlx::query("SELECT template_id, version FROM ticket_template_pins WHERE ticket_id = $1")
            .bind(*ticket_id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        row.as_ref().map(pin_from_row).transpose()
    }
}
