//! Staff users and roles in memory.

use async_trait::async_trait;

use super::{MemoryStore, page};
use crate::ids::UserId;
use crate::store::{StoreError, UserRepository};
use crate::user::{EMAIL_TAKEN, LAST_SUPERADMIN, Role, User};

#[async_trait]
impl UserRepository for MemoryStore {
    async fn ensure_roles(&self, roles: &[Role]) -> Result<u64, StoreError> {
        let mut s = self.state();
        Ok(roles.iter().filter(|role| s.roles.insert(**role)).count() as u64)
    }

    async fn roles(&self) -> Result<Vec<Role>, StoreError> {
        Ok(Role::ALL.into_iter().filter(|r| self.state().roles.contains(r)).collect())
    }

    async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.roles.contains(&user.role) {
            return Err(StoreError::NotFound("role"));
        }
        if s.users.iter().any(|u| u.id == user.id) {
            return Err(StoreError::Conflict("user id".into()));
        }
        if s.users.iter().any(|u| u.email_key() == user.email_key()) {
            return Err(StoreError::Conflict(EMAIL_TAKEN.into()));
        }
        s.users.push(user.clone());
        s.audit_commit(due);
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.state().users.iter().find(|u| u.id == id).cloned())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let key = email.trim().to_lowercase();
        Ok(self.state().users.iter().find(|u| u.email_key() == key).cloned())
    }

    async fn users_with_role(&self, role: Role) -> Result<Vec<User>, StoreError> {
        Ok(self.state().users.iter().filter(|u| u.role == role).cloned().collect())
    }

    async fn update_user(&self, user: &User) -> Result<(), StoreError> {
        let mut s = self.state();
        let due = s.audit_due()?;
        if !s.roles.contains(&user.role) {
            return Err(StoreError::NotFound("role"));
        }
        if s.users.iter().any(|u| u.id != user.id && u.email_key() == user.email_key()) {
            return Err(StoreError::Conflict(EMAIL_TAKEN.into()));
        }
        let superadmins: Vec<UserId> = s.users.iter().filter(|u| u.is_active_superadmin()).map(|u| u.id).collect();
        if !user.is_active_superadmin() && superadmins == [user.id] {
            return Err(StoreError::Conflict(LAST_SUPERADMIN.into()));
        }
        let stored = s.users.iter_mut().find(|u| u.id == user.id).ok_or(StoreError::NotFound("user"))?;
        *stored = User { created_at: stored.created_at, ..user.clone() };
        s.audit_commit(due);
        Ok(())
    }

    async fn users(&self, limit: u32, offset: u32) -> Result<Vec<User>, StoreError> {
        Ok(page(self.state().users.iter().cloned(), offset, limit))
    }
}
