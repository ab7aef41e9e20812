//! Password hashing and checking with Argon2id, run on the blocking pool (a hash takes tens of
//! milliseconds of CPU by design) and bounded so a flood of sign-ins cannot take every core.

use std::sync::Arc;

use ticketing_core::env::Randomness;
use ticketing_core::user::{PasswordError, PasswordHash};
use tokio::sync::Semaphore;

use crate::problem::ApiError;

/// Hashes and checks passwords.
pub struct Passwords {
    permits: Semaphore,
    /// Checked against when the email is unknown, so an unknown email takes as long as a wrong
    /// password and sign-in does not reveal which emails exist.
    dummy: PasswordHash,
}

impl Passwords {
    /// A checker running at most `parallel` hashes at once.
    pub fn new(parallel: usize, rng: &dyn Randomness) -> Result<Self, PasswordError> {
        let mut filler = [0u8; 24];
        rng.fill(&mut filler);
        let dummy_password: String = filler.iter().map(|b| char::from(b'a' + b % 26)).collect();
        Ok(Self { permits: Semaphore::new(parallel.max(1)), dummy: PasswordHash::new(&dummy_password, rng)? })
    }

    /// Whether `password` matches `hash` (or, with no hash, spends the same time and says no).
    pub async fn verify(&self, hash: Option<PasswordHash>, password: String) -> Result<bool, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.clone());
        let ok = tokio::task::spawn_blocking(move || hash.verify(&password)).await.map_err(ApiError::internal)?;
        Ok(known && ok)
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String, rng: Arc<dyn Randomness>) -> Result<PasswordHash, ApiError> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || PasswordHash::new(&password, &*rng))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| ApiError::field("password", e.to_string()))
    }
}
