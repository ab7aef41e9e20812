//! Who is calling: the bearer token of the request, checked against the store, and what their
//! role lets them reach.
//!
//! The tenancy rules (the role × endpoint matrix test walks them all):
//! - a **superadmin** reaches everything;
//! - an **organizer** reaches only the events they have the organizer duty at; another event
//!   answers 404, as if it did not exist;
//! - a **cashier** reads and sells at the events they have the cashier duty at;
//! - an **agent** reaches the gates they are assigned to and nothing of the organiser API.
//!
//! A role that may never use an endpoint gets 403 `forbidden`.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::Mutex;
use ticketing_core::audit::Actor;
use ticketing_core::credential::{Duty, Subject, TokenKind};
use ticketing_core::event::Event;
use ticketing_core::fleet::Revoked;

use chrono::{DateTime, Utc};
use ticketing_core::ids::{EventId, TokenFamilyId, UserId};
use ticketing_core::magic_link::TokenHash;
use ticketing_core::secret_token::SecretToken;
use ticketing_core::user::Role;

use crate::problem::ApiError;
use crate::state::Shared;

/// Bytes of randomness in every token the server hands out (access, refresh, client secrets).
pub const TOKEN_BYTES: usize = 32;

/// A signed-in caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// What they may do.
    pub role: Role,
    /// The user whose events they reach: themselves, or the owner of their API client.
    pub user: UserId,
    /// Who the audit trail names.
    pub actor: Actor,
}

/// How much of an event a call needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Change it, its types, gates, staff (superadmin, or organizer with the duty).
    Manage,
    /// Read it (also a cashier with the duty).
    Read,
    /// Sell at it: box-office sales, marking orders paid (a cashier with the duty, its
    /// organizers, superadmins).
    Sell,
}

impl Reach {
    /// The roles that may ever have this reach.
    pub fn roles(self) -> &'static [Role] {
        match self {
            Reach::Manage => &[Role::Superadmin, Role::Organizer],
            Reach::Read | Reach::Sell => &[Role::Superadmin, Role::Organizer, Role::Cashier],
        }
    }

    /// The duty that gives it to `role` at an event (none: the role never has it there).
    pub fn duty(self, role: Role) -> Option<Duty> {
        match (self, role) {
            (_, Role::Organizer) => Some(Duty::Organizer),
            (Reach::Read | Reach::Sell, Role::Cashier) => Some(Duty::Cashier),
            _ => None,
        }
    }
}

impl Caller {
    /// `Ok` if the caller has one of `roles`, else 403.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("the {} role may not do this", self.role)))
        }
    }

    /// Whether the caller is a superadmin.
    pub fn is_superadmin(&self) -> bool {
        self.role == Role::Superadmin
    }

    /// The event `id` if the caller may reach it as `reach` asks: 403 for a role that never
    /// may, 404 for an event that does not exist or is not theirs.
    pub async fn event(&self, state: &Shared, id: EventId, reach: Reach) -> Result<Event, ApiError> {
        self.require(reach.roles())?;
        crate::request_id::event(id);
        let event = state.engine.event(id).await?;
        if self.is_superadmin() {
            return Ok(event);
        }
        let needed = reach.duty(self.role);
        let staff = state.store().event_staff(id).await?;
        if staff.iter().any(|a| a.user_id == self.user && Some(a.duty) == needed) {
            Ok(event)
        } else {
            Err(ApiError::not_found("event"))
        }
    }
}

/// How long a checked bearer token is trusted without asking the store again.
pub const CALLER_TTL: chrono::Duration = chrono::Duration::seconds(2);
/// The most callers remembered; past it the cache starts over.
const CALLER_CACHE: usize = 50_000;

#[derive(Clone, Debug)]
struct Remembered {
    caller: Caller,
    family: TokenFamilyId,
    until: DateTime<Utc>,
}

/// Callers recently checked, by token hash. A gate sends two requests a scan, and each would
/// otherwise read its token and its user from the store. An entry lives [`CALLER_TTL`] (never
/// past its token's expiry). Revocations (`/oauth/revoke`, a replayed refresh token, a revoked
/// client, a changed user) drop their entries at once ([`revoked`]), on every instance when
/// they share Redis; without Redis, one made by another instance takes effect within the TTL.
#[derive(Debug, Default)]
pub struct CallerCache {
    entries: Mutex<HashMap<TokenHash, Remembered>>,
}

impl CallerCache {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Remembered>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn get(&self, hash: &TokenHash, now: DateTime<Utc>) -> Option<Caller> {
        self.entries().get(hash).filter(|r| now < r.until).map(|r| r.caller.clone())
    }

    fn put(&self, hash: TokenHash, remembered: Remembered) {
        let mut entries = self.entries();
        if entries.len() >= CALLER_CACHE {
            entries.clear();
        }
        entries.insert(hash, remembered);
    }

    /// Forgets what `news` revoked (every token it covers).
    pub fn apply(&self, news: &Revoked) {
        let mut entries = self.entries();
        match news {
            Revoked::Token(hash) => {
                entries.remove(hash);
            }
            Revoked::Family(family) => entries.retain(|_, r| r.family != *family),
            Revoked::User(user) => entries.retain(|_, r| r.caller.user != *user),
            Revoked::Client(client_id) => {
                entries.retain(|_, r| !matches!(&r.caller.actor, Actor::Client(id) if id == client_id));
            }
        }
    }

    /// Forgets every token (news may have been missed).
    pub fn clear(&self) {
        self.entries().clear();
    }
}

/// Forgets what `news` revoked here, and tells the other instances (with Redis: within
/// milliseconds). If the news cannot be sent, the others stop trusting a cached token within
/// [`CALLER_TTL`], as before there was a fleet.
pub async fn revoked(state: &Shared, news: Revoked) {
    state.callers.apply(&news);
    if let Some(fleet) = &state.fleet
        && let Err(e) = fleet.announce(&news).await
    {
        tracing::warn!(error = %e, "a revocation could not be announced to the other instances");
    }
}

impl Caller {
    /// The event a listing is narrowed to: `id`, when the caller manages it (404 otherwise);
    /// every event for a superadmin who names none; an organizer who names none gets a problem
    /// naming `event_id`, saying `why`.
    pub async fn listing_event(
        &self,
        state: &Shared,
        id: Option<uuid::Uuid>,
        why: &'static str,
    ) -> Result<Option<EventId>, ApiError> {
        match id {
            Some(id) => Ok(Some(self.event(state, EventId::from_uuid(id), Reach::Manage).await?.id())),
            None if self.is_superadmin() => Ok(None),
            None => Err(ApiError::field("event_id", why)),
        }
    }

    /// Like [`Caller::event`], for something of the event (a type, a gate, a ticket, a job): a
    /// 404 names `what`, so the answer does not confirm the event exists.
    pub async fn reaches(&self, state: &Shared, event: EventId, reach: Reach, what: &str) -> Result<(), ApiError> {
        match self.event(state, event, reach).await {
            Ok(_) => Ok(()),
            Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => Err(ApiError::not_found(what)),
            Err(e) => Err(e),
        }
    }
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
        let text = header.to_str().ok().and_then(|h| {
            let (scheme, token) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
        let token = text
            .and_then(SecretToken::<TOKEN_BYTES>::parse)
            .ok_or_else(|| ApiError::invalid_token("the Authorization header is not a bearer token"))?;
        let invalid = || ApiError::invalid_token("the token is invalid, expired or revoked");
        let (hash, now) = (token.hash(), state.clock.now());
        // A cached caller is trusted only while revocations can reach this instance.
        let trusted = state.fleet.as_ref().is_none_or(|fleet| fleet.listening());
        if let Some(caller) = state.callers.get(&hash, now).filter(|_| trusted) {
            crate::request_id::caller(caller.user);
            return Ok(caller);
        }
        let stored = state.store().token(&hash).await?.ok_or_else(invalid)?;
        if stored.kind != TokenKind::Access || !stored.is_active(now) {
            return Err(invalid());
        }
        let caller = subject_caller(state, stored.subject).await?.ok_or_else(invalid)?;
        let until = (now + CALLER_TTL).min(stored.expires_at);
        state.callers.put(hash, Remembered { caller: caller.clone(), family: stored.family, until });
        crate::request_id::caller(caller.user);
        Ok(caller)
    }
}

/// The caller a token's subject stands for, if the subject may still sign in.
pub async fn subject_caller(state: &Shared, subject: Subject) -> Result<Option<Caller>, ApiError> {
    let store = state.store();
    Ok(match subject {
        Subject::User(id) => store.user(id).await?.filter(|u| u.active).map(|u| Caller {
            role: u.role,
            user: u.id,
            actor: Actor::User(u.id),
        }),
        Subject::Client(id) => {
            let Some(client) = store.api_client_by_id(id).await?.filter(|c| c.revoked_at.is_none()) else {
                return Ok(None);
            };
            // A client acts for its owner, with its own role, which the owner must still hold
            // (or the owner be a superadmin).
            store
                .user(client.owner)
                .await?
                .filter(|o| o.active && (o.role == Role::Superadmin || o.role == client.role))
                .map(|o| Caller { role: client.role, user: o.id, actor: Actor::Client(client.client_id.clone()) })
        }
    })
}
