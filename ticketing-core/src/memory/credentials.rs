//! API clients, OAuth2 tokens and event staff in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{MemoryStore, State};
use crate::credential::{ApiClient, Rotation, StaffAssignment, StoredToken, Subject, TokenKind};
use crate::event::Event;
use crate::ids::{ApiClientId, EventId, TokenFamilyId, UserId};
use crate::magic_link::TokenHash;
use crate::store::{CredentialRepository, StaffRepository, StoreError};

impl State {
    /// Revokes the active tokens matching `which` at `at`; how many.
    fn revoke_where(&mut self, at: DateTime<Utc>, which: impl Fn(&StoredToken) -> bool) -> u64 {
        let mut n = 0;
        for token in self.tokens.values_mut().filter(|t| t.revoked_at.is_none() && which(t)) {
            token.revoked_at = Some(at);
            n += 1;
        }
        n
    }

    fn revoke_family(&mut self, family: TokenFamilyId, at: DateTime<Utc>) -> u64 {
        self.revoke_where(at, |t| t.family == family)
    }

    fn check_subjects(&self, tokens: &[StoredToken]) -> Result<(), StoreError> {
        for token in tokens {
            match token.subject {
                Subject::User(user) => self.check_user(user)?,
                Subject::Client(id) if !self.api_clients.iter().any(|c| c.id == id) => {
                    return Err(StoreError::NotFound("API client"));
                }
                Subject::Client(_) => {}
            }
        }
        Ok(())
    }

    fn check_user(&self, user: UserId) -> Result<(), StoreError> {
        if self.users.iter().any(|u| u.id == user) { Ok(()) } else { Err(StoreError::NotFound("user")) }
    }
}

#[async_trait]
impl CredentialRepository for MemoryStore {
    async fn insert_api_client(&self, client: &ApiClient) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        s.check_user(client.owner)?;
        if s.api_clients.iter().any(|c| c.id == client.id || c.client_id == client.client_id) {
            return Err(StoreError::Conflict("an API client with this id exists".into()));
        }
        s.api_clients.push(client.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn api_client(&self, client_id: &str) -> Result<Option<ApiClient>, StoreError> {
        Ok(self.state().api_clients.iter().find(|c| c.client_id == client_id).cloned())
    }

    async fn api_client_by_id(&self, id: ApiClientId) -> Result<Option<ApiClient>, StoreError> {
        Ok(self.state().api_clients.iter().find(|c| c.id == id).cloned())
    }

    async fn api_clients(&self, owner: Option<UserId>) -> Result<Vec<ApiClient>, StoreError> {
        let s = self.state();
        Ok(s.api_clients.iter().filter(|c| owner.is_none_or(|o| c.owner == o)).cloned().collect())
    }

    async fn revoke_api_client(&self, id: ApiClientId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        let Some(client) = s.api_clients.iter_mut().find(|c| c.id == id) else {
            return Err(StoreError::NotFound("API client"));
        };
        let was_active = client.revoked_at.is_none();
        client.revoked_at.get_or_insert(at);
        s.revoke_where(at, |t| t.subject == Subject::Client(id));
        s.audit_commit(due);
        Ok(was_active)
    }

    async fn insert_tokens(&self, tokens: &[StoredToken]) -> Result<(), StoreError> {
        let mut s = self.state();
        if tokens
            .iter()
            .enumerate()
            .any(|(i, t)| s.tokens.contains_key(&t.hash) || tokens[..i].iter().any(|u| u.hash == t.hash))
        {
            return Err(StoreError::Conflict("token hash".into()));
        }
        s.check_subjects(tokens)?;
        s.tokens.extend(tokens.iter().map(|t| (t.hash, t.clone())));
        Ok(())
    }

    async fn token(&self, hash: &TokenHash) -> Result<Option<StoredToken>, StoreError> {
        Ok(self.state().tokens.get(hash).cloned())
    }

    async fn rotate_refresh(
        &self,
        hash: &TokenHash,
        issue: &[StoredToken],
        at: DateTime<Utc>,
    ) -> Result<Rotation, StoreError> {
        let mut s = self.state();
        let Some(presented) = s.tokens.get(hash).filter(|t| t.kind == TokenKind::Refresh).cloned() else {
            return Ok(Rotation::Invalid);
        };
        if presented.revoked_at.is_some() {
            s.revoke_family(presented.family, at);
            return Ok(Rotation::Reused);
        }
        if at >= presented.expires_at {
            return Ok(Rotation::Invalid);
        }
        let clash = issue
            .iter()
            .enumerate()
            .any(|(i, t)| s.tokens.contains_key(&t.hash) || issue[..i].iter().any(|u| u.hash == t.hash));
        if clash {
            return Err(StoreError::Conflict("token hash".into()));
        }
        s.check_subjects(issue)?;
        let spent = StoredToken { revoked_at: Some(at), ..presented };
        s.tokens.insert(*hash, spent.clone());
        s.tokens.extend(issue.iter().map(|t| (t.hash, t.clone())));
        Ok(Rotation::Rotated(spent))
    }

    async fn revoke_token(&self, hash: &TokenHash, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut s = self.state();
        let Some(token) = s.tokens.get(hash).cloned() else { return Ok(false) };
        let revoked = match token.kind {
            TokenKind::Refresh => s.revoke_family(token.family, at),
            TokenKind::Access => s.revoke_where(at, |t| t.hash == *hash),
        };
        Ok(revoked > 0)
    }

    async fn revoke_user_tokens(&self, user: UserId, at: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut s = self.state();
        let clients: Vec<ApiClientId> = s.api_clients.iter().filter(|c| c.owner == user).map(|c| c.id).collect();
        Ok(s.revoke_where(at, |t| match t.subject {
            Subject::User(u) => u == user,
            Subject::Client(c) => clients.contains(&c),
        }))
    }

    async fn purge_tokens(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut s = self.state();
        let n = s.tokens.len();
        s.tokens.retain(|_, t| t.expires_at >= before);
        Ok((n - s.tokens.len()) as u64)
    }
}

#[async_trait]
impl StaffRepository for MemoryStore {
    async fn insert_staffed_event(&self, event: &Event, staff: &[StaffAssignment]) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if s.events.contains_key(&event.id()) {
            return Err(StoreError::Conflict("event id".into()));
        }
        for a in staff {
            s.check_user(a.user_id)?;
        }
        let mut assigned: Vec<StaffAssignment> = Vec::with_capacity(staff.len());
        for a in staff {
            assigned.retain(|b| b.user_id != a.user_id);
            assigned.push(*a);
        }
        s.events.insert(event.id(), event.clone());
        s.staff.insert(event.id(), assigned);
        s.audit_commit(due);
        Ok(())
    }

    async fn assign_staff(&self, event_id: EventId, assignment: StaffAssignment) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.events.contains_key(&event_id) {
            return Err(StoreError::NotFound("event"));
        }
        s.check_user(assignment.user_id)?;
        let staff = s.staff.entry(event_id).or_default();
        match staff.iter_mut().find(|a| a.user_id == assignment.user_id) {
            Some(existing) => existing.duty = assignment.duty,
            None => staff.push(assignment),
        }
        s.audit_commit(due);
        Ok(())
    }

    async fn unassign_staff(&self, event_id: EventId, user_id: UserId) -> Result<bool, StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        let Some(staff) = s.staff.get_mut(&event_id) else { return Ok(false) };
        let before = staff.len();
        staff.retain(|a| a.user_id != user_id);
        let removed = staff.len() < before;
        if removed {
            s.audit_commit(due);
        }
        Ok(removed)
    }

    async fn event_staff(&self, event_id: EventId) -> Result<Vec<StaffAssignment>, StoreError> {
        let mut staff = self.state().staff.get(&event_id).cloned().unwrap_or_default();
        staff.sort_by_key(|a| a.user_id);
        Ok(staff)
    }
}
