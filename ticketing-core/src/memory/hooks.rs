//! Integrators' webhook endpoints in memory.

use async_trait::async_trait;

use super::MemoryStore;
use crate::hook::Endpoint;
use crate::ids::{EndpointId, EventId};
use crate::job::Job;
use crate::store::{HookAttempt, HookRepository, StoreError};

#[async_trait]
impl HookRepository for MemoryStore {
    async fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.events.contains_key(&endpoint.event_id) {
            return Err(StoreError::NotFound("event"));
        }
        if s.endpoints.iter().any(|e| e.id == endpoint.id) {
            return Err(StoreError::Conflict("endpoint id".into()));
        }
        s.endpoints.push(endpoint.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        Ok(self.state().endpoints.iter().find(|e| e.id == id).cloned())
    }

    async fn endpoints(&self, event_id: EventId) -> Result<Vec<Endpoint>, StoreError> {
        Ok(self.state().endpoints.iter().filter(|e| e.event_id == event_id).cloned().collect())
    }

    async fn delete_endpoint(&self, id: EndpointId) -> Result<bool, StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        let before = s.endpoints.len();
        s.endpoints.retain(|e| e.id != id);
        let deleted = s.endpoints.len() < before;
        if deleted {
            s.audit_commit(due);
        }
        Ok(deleted)
    }

    async fn enable_endpoint(&self, id: EndpointId) -> Result<Option<Endpoint>, StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        let enabled = s.endpoints.iter_mut().find(|e| e.id == id).map(|e| {
            e.enabled = true;
            e.failing_since = None;
            e.clone()
        });
        if enabled.is_some() {
            s.audit_commit(due);
        }
        Ok(enabled)
    }

    async fn record_hook_attempt(
        &self,
        id: EndpointId,
        attempt: &HookAttempt,
        notice: &Job,
    ) -> Result<bool, StoreError> {
        let mut s = self.state();
        let Some(e) = s.endpoints.iter_mut().find(|e| e.id == id) else { return Ok(false) };
        match &attempt.error {
            None => {
                e.failing_since = None;
                e.last_error = None;
                e.last_success_at = Some(attempt.at);
                Ok(false)
            }
            Some(error) => {
                let since = *e.failing_since.get_or_insert(attempt.at);
                e.last_error = Some(error.clone());
                let disable = e.enabled && since <= attempt.disable_if_failing_since;
                if disable {
                    e.enabled = false;
                    s.push_job(notice.clone());
                }
                Ok(disable)
            }
        }
    }
}
