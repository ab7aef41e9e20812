//! The notification log and events' own message templates in memory.

use async_trait::async_trait;

use super::{MemoryStore, page};
use crate::ids::{EventId, JobId};
use crate::job::NotificationTopic;
use crate::notification::DeliveryRecord;
use crate::notification::templates::MessageTemplate;
use crate::order::Locale;
use crate::store::{MessageTemplateRepository, NotificationLog, StoreError};

#[async_trait]
impl NotificationLog for MemoryStore {
    async fn record_notification(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let mut s = self.state();
        s.notifications.retain(|r| {
            (r.job_id, r.channel, r.recipient.as_str()) != (record.job_id, record.channel, record.recipient.as_str())
        });
        s.notifications.push(record.clone());
        Ok(())
    }

    async fn job_notifications(&self, job_id: JobId) -> Result<Vec<DeliveryRecord>, StoreError> {
        let mut records: Vec<DeliveryRecord> =
            self.state().notifications.iter().filter(|r| r.job_id == job_id).cloned().collect();
        records.sort_by(|a, b| (a.channel, &a.recipient).cmp(&(b.channel, &b.recipient)));
        Ok(records)
    }

    async fn event_notifications(&self, event_id: EventId, limit: u32) -> Result<Vec<DeliveryRecord>, StoreError> {
        let s = self.state();
        Ok(page(s.notifications.iter().rev().filter(|r| r.event_id == Some(event_id)).cloned(), 0, limit))
    }
}

#[async_trait]
impl MessageTemplateRepository for MemoryStore {
    async fn save_message_template(&self, template: &MessageTemplate) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.events.contains_key(&template.event_id) {
            return Err(StoreError::NotFound("event"));
        }
        s.message_templates.insert((template.event_id, template.topic, template.locale), template.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<Option<MessageTemplate>, StoreError> {
        Ok(self.state().message_templates.get(&(event_id, topic, locale)).cloned())
    }

    async fn message_templates(&self, event_id: EventId) -> Result<Vec<MessageTemplate>, StoreError> {
        let mut found: Vec<MessageTemplate> =
            self.state().message_templates.values().filter(|t| t.event_id == event_id).cloned().collect();
        found.sort_by_key(|t| (t.topic.as_str(), t.locale.as_str()));
        Ok(found)
    }

    async fn delete_message_template(
        &self,
        event_id: EventId,
        topic: NotificationTopic,
        locale: Locale,
    ) -> Result<bool, StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        let deleted = s.message_templates.remove(&(event_id, topic, locale)).is_some();
        if deleted {
            s.audit_commit(due);
        }
        Ok(deleted)
    }
}
