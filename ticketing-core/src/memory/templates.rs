//! Template versions and ticket pins in memory.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, State};
use crate::audit;
use crate::ids::{EventId, TemplateId, TicketId};
use crate::store::{StoreError, TemplateRepository};
use crate::template::{TemplatePin, TemplateSummary, TemplateVersion};

#[async_trait]
impl TemplateRepository for MemoryStore {
    async fn save_template_version(
        &self,
        template_id: TemplateId,
        event_id: Option<EventId>,
        name: &str,
        body: &str,
        at: DateTime<Utc>,
    ) -> Result<TemplateVersion, StoreError> {
        let mut s = self.state();
        let scope = s.template_scopes.get(&template_id).map_or(event_id, |(scope, _)| *scope);
        if scope.is_some_and(|e| !s.events.contains_key(&e)) {
            return Err(StoreError::NotFound("event"));
        }
        let clash =
            s.template_scopes.iter().any(|(id, (e, n))| *id != template_id && e.is_some() && *e == scope && n == name);
        if clash {
            return Err(StoreError::Conflict(crate::template::NAME_TAKEN.into()));
        }
        let saved = TemplateVersion {
            template_id,
            version: s.templates.get(&template_id).map_or(0, Vec::len) as u32 + 1,
            name: name.to_owned(),
            body: body.to_owned(),
            created_at: at,
        };
        audit::writing(&saved);
        let due = s.audit_due()?;
        s.template_scopes.insert(template_id, (scope, name.to_owned()));
        let versions = s.templates.entry(template_id).or_default();
        for earlier in versions.iter_mut() {
            earlier.name = name.to_owned();
        }
        versions.push(saved.clone());
        s.audit_commit(due);
        Ok(saved)
    }

    async fn template_version(
        &self,
        template_id: TemplateId,
        version: Option<u32>,
    ) -> Result<Option<TemplateVersion>, StoreError> {
        let s = self.state();
        let Some(versions) = s.templates.get(&template_id) else { return Ok(None) };
        Ok(match version {
            Some(v) => versions.iter().find(|t| t.version == v).cloned(),
            None => versions.last().cloned(),
        })
    }

    async fn template_versions(&self, template_id: TemplateId) -> Result<Vec<TemplateVersion>, StoreError> {
        Ok(self.state().templates.get(&template_id).cloned().unwrap_or_default())
    }

    async fn pin_ticket_template(&self, ticket_id: TicketId, pin: TemplatePin) -> Result<TemplatePin, StoreError> {
        let mut s = self.state();
        if let Some(existing) = s.template_pins.get(&ticket_id) {
            return Ok(*existing);
        }
        if !s.tickets.contains_key(&ticket_id) {
            return Err(StoreError::NotFound("ticket"));
        }
        let exists = s.templates.get(&pin.template_id).is_some_and(|v| v.iter().any(|t| t.version == pin.version));
        if !exists {
            return Err(StoreError::NotFound("template version"));
        }
        s.template_pins.insert(ticket_id, pin);
        Ok(pin)
    }

    async fn ticket_template(&self, ticket_id: TicketId) -> Result<Option<TemplatePin>, StoreError> {
        Ok(self.state().template_pins.get(&ticket_id).copied())
    }

    async fn pin_ticket_templates(
        &self,
        ticket_ids: &[TicketId],
        pin: TemplatePin,
    ) -> Result<HashMap<TicketId, TemplatePin>, StoreError> {
        let mut s = self.state();
        let exists = s.templates.get(&pin.template_id).is_some_and(|v| v.iter().any(|t| t.version == pin.version));
        if !exists {
            return Err(StoreError::NotFound("template version"));
        }
        let mut pins = HashMap::with_capacity(ticket_ids.len());
        for id in ticket_ids {
            if s.tickets.contains_key(id) {
                pins.insert(*id, *s.template_pins.entry(*id).or_insert(pin));
            }
        }
        Ok(pins)
    }

    async fn ticket_templates(&self, ticket_ids: &[TicketId]) -> Result<HashMap<TicketId, TemplatePin>, StoreError> {
        let s = self.state();
        Ok(ticket_ids.iter().filter_map(|id| s.template_pins.get(id).map(|pin| (*id, *pin))).collect())
    }

    async fn template(&self, template_id: TemplateId) -> Result<Option<TemplateSummary>, StoreError> {
        Ok(summary(&self.state(), template_id))
    }

    async fn templates(&self, event_id: EventId) -> Result<Vec<TemplateSummary>, StoreError> {
        let s = self.state();
        let mut found: Vec<TemplateSummary> = s
            .template_scopes
            .iter()
            .filter(|(_, (scope, _))| *scope == Some(event_id))
            .filter_map(|(id, _)| summary(&s, *id))
            .collect();
        found.sort_by_key(|t| (t.created_at, t.template_id));
        Ok(found)
    }

    async fn activate_template(&self, pin: TemplatePin) -> Result<TemplateSummary, StoreError> {
        let mut s = self.state();
        let exists = s.templates.get(&pin.template_id).is_some_and(|v| v.iter().any(|t| t.version == pin.version));
        let scope = s.template_scopes.get(&pin.template_id).map(|(scope, _)| *scope);
        let (true, Some(scope)) = (exists, scope) else { return Err(StoreError::NotFound("template version")) };
        let mut after = summary(&s, pin.template_id).ok_or(StoreError::NotFound("template"))?;
        after.active_version = Some(pin.version);
        audit::writing(&after);
        let due = s.audit_due()?;
        if scope.is_some() {
            let siblings: Vec<TemplateId> =
                s.template_scopes.iter().filter(|(_, (e, _))| *e == scope).map(|(id, _)| *id).collect();
            for id in siblings {
                s.template_active.remove(&id);
            }
        }
        s.template_active.insert(pin.template_id, pin.version);
        s.audit_commit(due);
        Ok(after)
    }
}

fn summary(s: &State, template_id: TemplateId) -> Option<TemplateSummary> {
    let (event_id, name) = s.template_scopes.get(&template_id)?;
    let versions = s.templates.get(&template_id)?;
    Some(TemplateSummary {
        template_id,
        event_id: *event_id,
        name: name.clone(),
        latest_version: versions.last()?.version,
        active_version: s.template_active.get(&template_id).copied(),
        created_at: versions.first()?.created_at,
    })
}
