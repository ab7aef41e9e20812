//! Per-event lists read from storage and kept in memory for a few seconds ([`CACHE_FOR`]): an
//! event's webhook endpoints (read by every sale, refund and scan) and its own message templates
//! (read by every notification). A change made through this engine forgets the event's list at
//! once; one made at another server instance is seen within [`CACHE_FOR`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::Error;
use crate::ids::EventId;

/// How long an event's list is read from memory before storage is asked again.
pub(crate) const CACHE_FOR: Duration = Duration::seconds(5);

/// An event's list as read at an instant.
type Read<T> = (DateTime<Utc>, Arc<Vec<T>>);

/// Each event's list as last read, and when.
pub(crate) struct EventCache<T>(Mutex<HashMap<EventId, Read<T>>>);

impl<T> Default for EventCache<T> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<T> EventCache<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<EventId, Read<T>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the event's list: the next read asks storage.
    pub(crate) fn forget(&self, event_id: EventId) {
        self.lock().remove(&event_id);
    }

    /// The event's list, from memory when read less than [`CACHE_FOR`] before `now`, else from
    /// `read`.
    pub(crate) async fn get<F, Fut>(&self, event_id: EventId, now: DateTime<Utc>, read: F) -> Result<Arc<Vec<T>>, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<T>, Error>>,
    {
        if let Some((at, list)) = self.lock().get(&event_id)
            && now - *at < CACHE_FOR
        {
            return Ok(list.clone());
        }
        let list = Arc::new(read().await?);
        self.lock().insert(event_id, (now, list.clone()));
        Ok(list)
    }
}
