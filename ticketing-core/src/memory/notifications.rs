//! The notification log in memory.

use async_trait::async_trait;

use super::{MemoryStore, page};
use crate::ids::{EventId, JobId};
use crate::notification::DeliveryRecord;
use crate::store::{NotificationLog, StoreError};

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
