//! What the API signs callers in with: OAuth2 clients for integrations, and the bearer and
//! refresh tokens handed out at `/oauth/token`.
//!
//! Tokens are opaque [`SecretToken`](crate::secret_token::SecretToken)s stored only as their
//! SHA-256 ([`TokenHash`]): a leaked table leaks no working token, and revoking one is a row
//! update. A sign-in starts a token *family*; each refresh spends the refresh token it presents
//! and adds a new pair to the family. Presenting a spent refresh token again means it was copied,
//! so the whole family is revoked (RFC 6819 §5.2.2.3, OAuth 2.0 Security BCP §4.14).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{ApiClientId, TokenFamilyId, UserId};
use crate::magic_link::TokenHash;
use crate::user::Role;

/// An integration that signs in with the client-credentials grant. It acts for the user who
/// owns it, with the owner's tenancy (an organizer's client reaches that organizer's events),
/// and with `role`, which is the owner's role or a narrower one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiClient {
    /// The id.
    pub id: ApiClientId,
    /// The public name it signs in with (`client_id` in RFC 6749), unique.
    pub client_id: String,
    /// The SHA-256 of its secret: secrets are random tokens, shown once at creation.
    pub secret_hash: TokenHash,
    /// A label for people.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// The user it acts for.
    pub owner: UserId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked client signs in no more.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Which token a [`StoredToken`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// A bearer token for API calls.
    Access,
    /// A token that buys a new pair once.
    Refresh,
}

impl TokenKind {
    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
        }
    }
}

/// Whom a token was issued to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A staff user (password grant).
    User(UserId),
    /// An API client (client-credentials grant).
    Client(ApiClientId),
}

/// An issued token, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredToken {
    /// The SHA-256 of the token.
    pub hash: TokenHash,
    /// Access or refresh.
    pub kind: TokenKind,
    /// The sign-in it descends from.
    pub family: TokenFamilyId,
    /// Whom it was issued to.
    pub subject: Subject,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked (or, for a refresh token, spent).
    pub revoked_at: Option<DateTime<Utc>>,
}

impl StoredToken {
    /// Whether it works at `now`: not revoked, not expired.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// What presenting a refresh token did (see
/// [`CredentialRepository::rotate_refresh`](crate::store::CredentialRepository::rotate_refresh)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// It was active: it is spent now and the new tokens are stored. Holds the spent token.
    Rotated(StoredToken),
    /// It had been spent or revoked before: its whole family is revoked now.
    Reused,
    /// Unknown, expired, or not a refresh token: nothing changed.
    Invalid,
}

/// What a staff member does at one event, beyond their role's reach everywhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// Runs the event: an organizer reaches only the events they have this duty at.
    Organizer,
    /// Sells at the event's desk.
    Cashier,
}

impl Duty {
    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Organizer => "organizer",
            Self::Cashier => "cashier",
        }
    }

    /// The role a user needs to hold this duty.
    pub fn role(&self) -> Role {
        match self {
            Self::Organizer => Role::Organizer,
            Self::Cashier => Role::Cashier,
        }
    }
}

impl std::str::FromStr for Duty {
    type Err = crate::user::UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "organizer" => Ok(Self::Organizer),
            "cashier" => Ok(Self::Cashier),
            other => Err(crate::user::UnknownRole(other.to_owned())),
        }
    }
}

/// A staff member's duty at an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StaffAssignment {
    /// The user.
    pub user_id: UserId,
    /// What they do there.
    pub duty: Duty,
}
