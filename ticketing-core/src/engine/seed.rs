//! Seeding a fresh installation: the roles and a first superadmin. Running it again changes
//! nothing: roles already there are kept, and once any superadmin exists no other is made (and
//! no password is changed). Concurrent seeders take turns through a [`Locks`](crate::store::Locks)
//! lock, so two with different emails cannot both make one.

use super::{Error, Ticketing};
use crate::field::Email;
use crate::ids::UserId;
use crate::secret_token::SecretToken;
use crate::store::Store;

/// The lock seeders take turns through, and how long a crashed seeder holds it.
const SEED_LOCK: &str = "seed";
const SEED_LOCK_TTL: std::time::Duration = std::time::Duration::from_secs(60);
use crate::user::{PasswordHash, Role, User};

/// Who the first superadmin is.
#[derive(Clone, Debug)]
pub struct SeedConfig {
    /// Their email.
    pub superadmin_email: String,
    /// Their name.
    pub superadmin_name: String,
    /// Their password, from configuration; `None` generates one, returned once in the report.
    pub superadmin_password: Option<String>,
}

/// What seeding did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedReport {
    /// Roles added (0 when they were all there).
    pub roles_added: u64,
    /// The superadmin.
    pub superadmin: SuperadminSeed,
}

/// The superadmin after seeding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuperadminSeed {
    /// One existed already; nothing was changed.
    Existing(UserId),
    /// Made now.
    Created {
        /// The new user.
        id: UserId,
        /// The generated password, when none was configured: show it once, it is not kept.
        generated_password: Option<String>,
    },
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// Seeds the roles and a first superadmin; idempotent. Seeders running at once take turns
    /// through a lock: one makes the superadmin, and one that finds the lock taken answers
    /// `Contention` (run it again; it then reports the superadmin made).
    pub async fn seed(&self, config: &SeedConfig) -> Result<SeedReport, Error> {
        let owner = SecretToken::<12>::generate(&*self.rng).as_text();
        if !self.store.try_lock(SEED_LOCK, &owner, SEED_LOCK_TTL).await? {
            return Err(Error::Contention);
        }
        let seeded = self.seed_locked(config).await;
        self.store.unlock(SEED_LOCK, &owner).await?;
        seeded
    }

    async fn seed_locked(&self, config: &SeedConfig) -> Result<SeedReport, Error> {
        let roles_added = self.store.ensure_roles(&Role::ALL).await?;
        if let Some(existing) = self.store.users_with_role(Role::Superadmin).await?.first() {
            return Ok(SeedReport { roles_added, superadmin: SuperadminSeed::Existing(existing.id) });
        }
        let generated = match &config.superadmin_password {
            Some(_) => None,
            // 24 characters of URL-safe base64: 144 random bits.
            None => Some(SecretToken::<18>::generate(&*self.rng).as_text()),
        };
        let password = config.superadmin_password.as_deref().or(generated.as_deref()).unwrap_or_default();
        let user = User {
            id: UserId::generate(&*self.clock, &*self.rng),
            email: Email::parse(&config.superadmin_email)?,
            name: config.superadmin_name.trim().to_owned(),
            role: Role::Superadmin,
            password_hash: PasswordHash::new(password, &*self.rng)?,
            active: true,
            created_at: self.clock.now(),
        };
        match self.store.insert_user(&user).await {
            Ok(()) => Ok(SeedReport {
                roles_added,
                superadmin: SuperadminSeed::Created { id: user.id, generated_password: generated },
            }),
            // The email belongs to a user of another role.
            Err(e) => Err(e.into()),
        }
    }
}
