//! Staff users and their roles. Buyers have no account (they open their tickets with a magic
//! link); the people who run events do.
//!
//! | role | may |
//! |---|---|
//! | superadmin | everything, on every event, and manage users |
//! | organizer | manage their events, ticket types, gates, generations and exports |
//! | cashier | sell tickets at a desk and mark them paid |
//! | agent | scan at the gates they are assigned to, and see only those gates' logs |

use std::fmt;
use std::str::FromStr;

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{CustomizedPasswordHasher as _, PasswordVerifier as _};
use argon2::{Argon2, Params};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::env::Randomness;
use crate::field::Email;
use crate::ids::UserId;

/// What a staff user may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, everywhere.
    Superadmin,
    /// Runs events.
    Organizer,
    /// Sells at a desk.
    Cashier,
    /// Scans at gates.
    Agent,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Self::Superadmin, Self::Organizer, Self::Cashier, Self::Agent];

    /// The stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Superadmin => "superadmin",
            Self::Organizer => "organizer",
            Self::Cashier => "cashier",
            Self::Agent => "agent",
        }
    }

    /// One line on what the role may do.
    pub fn description(&self) -> &'static str {
        match self {
            Self::Superadmin => "Everything, on every event, including users and keys",
            Self::Organizer => "Events, ticket types, gates, generations, exports and dashboards",
            Self::Cashier => "Desk sales: manual tickets marked paid",
            Self::Agent => "Gate scanning at assigned gates, and those gates' logs",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A password that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`PasswordHash::MIN_LEN`] characters.
    #[error("a password has at least {} characters", PasswordHash::MIN_LEN)]
    TooShort,
    /// A stored hash that is not an Argon2 PHC string.
    #[error("not an Argon2 password hash")]
    Malformed,
}

/// An Argon2id password hash in PHC form (`$argon2id$v=19$m=…`), salted from the engine's
/// randomness. The password itself is never kept.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// The shortest password accepted.
    pub const MIN_LEN: usize = 12;

    /// Hashes `password` with Argon2id (19 MiB, 2 passes: OWASP's recommendation).
    pub fn new(password: &str, rng: &dyn Randomness) -> Result<Self, PasswordError> {
        if password.chars().count() < Self::MIN_LEN {
            return Err(PasswordError::TooShort);
        }
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let params = Params::new(19 * 1024, 2, 1, None).map_err(|_| PasswordError::Malformed)?;
        let hasher = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let phc = hasher
            .hash_password_with_params(password.as_bytes(), &salt, hasher.params().clone())
            .map_err(|_| PasswordError::Malformed)?;
        Ok(Self(phc.to_string()))
    }

    /// A stored hash, checked to be a PHC string.
    pub fn from_phc(phc: String) -> Result<Self, PasswordError> {
        Phc::new(&phc).map_err(|_| PasswordError::Malformed)?;
        Ok(Self(phc))
    }

    /// Whether `password` is the one hashed (in constant time, with the stored parameters).
    pub fn verify(&self, password: &str) -> bool {
        Phc::new(&self.0).is_ok_and(|phc| Argon2::default().verify_password(password.as_bytes(), &phc).is_ok())
    }

    /// The PHC string, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// A staff user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The id.
    pub id: UserId,
    /// Their email, which they sign in with (unique, case-insensitively).
    pub email: Email,
    /// Their name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Their password's hash.
    pub password_hash: PasswordHash,
    /// Whether they may sign in.
    pub active: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// Why a user is refused when another has the same email (case-insensitively).
pub const EMAIL_TAKEN: &str = "a user with this email exists";

/// Why a change of a user is refused when it would leave no active superadmin: a deployment
/// always keeps one, who can make the others (see [`UserRepository::update_user`]).
///
/// [`UserRepository::update_user`]: crate::store::UserRepository::update_user
pub const LAST_SUPERADMIN: &str = "the last active superadmin cannot be demoted or deactivated";

impl User {
    /// Whether they are an active superadmin (a deployment keeps at least one).
    pub fn is_active_superadmin(&self) -> bool {
        self.role == Role::Superadmin && self.active
    }

    /// The key emails are unique by: lower-cased.
    pub fn email_key(&self) -> String {
        self.email.as_str().to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(std::sync::atomic::AtomicU8);
    impl Randomness for Counter {
        fn fill(&self, buf: &mut [u8]) {
            buf.fill(self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        }
    }

    #[test]
    fn hashes_verify_their_password_only_and_salts_differ() {
        let rng = Counter(0.into());
        let hash = PasswordHash::new("correct horse battery", &rng).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_str());
        assert!(hash.verify("correct horse battery"));
        assert!(!hash.verify("correct horse battery!"));
        let again = PasswordHash::new("correct horse battery", &rng).unwrap();
        assert_ne!(hash, again, "a fresh salt each time");
        assert_eq!(PasswordHash::from_phc(hash.as_str().to_owned()).unwrap(), hash);
        assert_eq!(format!("{hash:?}"), "PasswordHash(..)", "never printed");
    }

    #[test]
    fn short_passwords_and_foreign_hashes_are_refused() {
        let rng = Counter(0.into());
        assert_eq!(PasswordHash::new("short", &rng), Err(PasswordError::TooShort));
        assert_eq!(PasswordHash::from_phc("plain".into()), Err(PasswordError::Malformed));
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }
}
