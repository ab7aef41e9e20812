//! [`Ticketing`]: the embedding API. It holds a [`Store`], a [`Keyring`], a [`Clock`] and a
//! [`Randomness`] source, validates input into domain values, and runs every operation through
//! the atomic steps the store offers.
//!
//! ```
//! use std::sync::Arc;
//!
//! use ticketing_core::engine::{Config, Ticketing};
//! use ticketing_core::env::{FixedClock, Randomness};
//! use ticketing_core::memory::MemoryStore;
//! use ticketing_core::signing::{KeyId, KeyMaterial, KeyState, Keyring};
//!
//! // Applications pass `env::OsRandomness` (feature `system`); a fixed pattern keeps this
//! // example free of I/O. Never use a predictable source outside tests.
//! struct NotRandom;
//! impl Randomness for NotRandom {
//!     fn fill(&self, buf: &mut [u8]) {
//!         buf.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
//!     }
//! }
//!
//! let clock = Arc::new(FixedClock::new(chrono::Utc::now()));
//! let keyring = Keyring::new().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![7; 32]))?;
//! let store = Arc::new(MemoryStore::new(clock.clone()));
//! let engine = Ticketing::new(store, keyring, clock, Arc::new(NotRandom), Config::default());
//! assert_eq!(engine.config().session_ttl, chrono::Duration::seconds(30));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod catalog;
mod error;
mod event_cache;
mod generation;
mod hooks;
mod message_templates;
mod notify;
mod refunds;
mod seed;
mod selling;
mod tickets;

use std::sync::Arc;

use chrono::Duration;

pub use error::Error;
pub use generation::{ClaimedJob, GenerationRequest, JobRun};
pub use hooks::RegisteredEndpoint;
pub use notify::PublicLinks;
pub use refunds::{RefundRequest, SendError};
pub use seed::{SeedConfig, SeedReport, SuperadminSeed};
pub use selling::{Delivered, LineRequest, OrderRequest, PlacedOrder, SaleRequest};
pub use tickets::{IssueRequest, IssuedTicket};

use crate::env::{Clock, Randomness};
use crate::job::RetryPolicy;
use crate::magic_link::LinkKey;
use crate::signing::{Algorithm, Keyring};
use crate::store::Store;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// How long a scan session stays confirmable (default 30 s).
    pub session_ttl: Duration,
    /// The algorithm QR payloads are signed with (default HMAC-SHA256).
    pub qr_algorithm: Algorithm,
    /// How often a compare-and-set that lost a race is tried again before giving up (default 16).
    pub max_retries: u32,
    /// How long a worker holds a job without reporting progress before another worker may take
    /// it over (default 60 s). Each committed chunk extends the hold.
    pub job_lease: Duration,
    /// When a failed job attempt runs again (default: 10 s, doubling, at most 1 h).
    pub job_retry: RetryPolicy,
    /// Tickets per committed chunk of a bulk generation (default 1,000).
    pub generation_chunk: u32,
    /// How many short codes new tickets draw from (default: all of them, 31^9). Only a test
    /// narrows it, to make collisions common.
    pub short_code_space: u64,
    /// How long an order's tickets are held for its payment (default 15 minutes).
    pub order_hold: Duration,
    /// Where the links in notifications point (default: the reference server's routes on
    /// `http://127.0.0.1:8080`).
    pub links: PublicLinks,
    /// Which webhook endpoint URLs are accepted (default: public `https://` only).
    pub hook_urls: crate::hook::UrlPolicy,
    /// How long an endpoint may fail every delivery before it is disabled (default a day).
    pub hook_disable_after: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            session_ttl: Duration::seconds(30),
            qr_algorithm: Algorithm::HmacSha256,
            max_retries: 16,
            job_lease: Duration::seconds(60),
            job_retry: RetryPolicy::default(),
            generation_chunk: 1000,
            short_code_space: crate::short_code::ShortCode::SPACE,
            order_hold: Duration::minutes(15),
            links: PublicLinks::default(),
            hook_urls: crate::hook::UrlPolicy::default(),
            hook_disable_after: Duration::days(1),
        }
    }
}

/// The ticketing engine over a store `S`.
pub struct Ticketing<S: Store + ?Sized> {
    pub(crate) store: Arc<S>,
    pub(crate) keyring: Keyring,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) rng: Arc<dyn Randomness>,
    pub(crate) config: Config,
    pub(crate) link_key: LinkKey,
    pub(crate) refund_gateway: Option<Arc<dyn crate::refund::RefundGateway>>,
    pub(crate) courier: Option<Arc<dyn crate::notification::Courier>>,
    pub(crate) hook_sender: Option<Arc<dyn crate::hook::HookSender>>,
    pub(crate) hook_cache: Arc<event_cache::EventCache<crate::hook::Endpoint>>,
    pub(crate) template_cache: Arc<event_cache::EventCache<crate::notification::templates::MessageTemplate>>,
}

impl<S: Store + ?Sized> Clone for Ticketing<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            keyring: self.keyring.clone(),
            clock: self.clock.clone(),
            rng: self.rng.clone(),
            config: self.config.clone(),
            link_key: self.link_key.clone(),
            refund_gateway: self.refund_gateway.clone(),
            courier: self.courier.clone(),
            hook_sender: self.hook_sender.clone(),
            hook_cache: self.hook_cache.clone(),
            template_cache: self.template_cache.clone(),
        }
    }
}

impl<S: Store + ?Sized> Ticketing<S> {
    /// An engine over `store`, signing with `keyring`, reading time from `clock` and random
    /// bytes from `rng`. Magic links are derived under a fresh random key until
    /// [`Self::with_link_key`] gives the deployment's own.
    pub fn new(
        store: Arc<S>,
        keyring: Keyring,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn Randomness>,
        config: Config,
    ) -> Self {
        let link_key = LinkKey::generate(&*rng);
        Self {
            store,
            keyring,
            clock,
            rng,
            config,
            link_key,
            refund_gateway: None,
            courier: None,
            hook_sender: None,
            hook_cache: Arc::default(),
            template_cache: Arc::default(),
        }
    }

    /// The engine with `key` for magic links: with the key kept, a ticket's live link can be
    /// given again after a restart (see [`crate::magic_link`]).
    pub fn with_link_key(mut self, key: LinkKey) -> Self {
        self.link_key = key;
        self
    }

    /// Records the fingerprints of this engine's QR keys and link key in the store and checks
    /// them against those the deployment's other instances recorded (see [`crate::fleet`]): a key
    /// that differs from the recorded one of its kind and id is refused with [`Error::Keys`].
    /// A server calls it at start, before serving.
    pub async fn join_fleet(&self) -> Result<(), Error> {
        let mut ours = self.keyring.fingerprints();
        ours.push(self.link_key.fingerprint());
        let recorded = self.store.record_key_fingerprints(&ours, self.clock.now()).await?;
        crate::fleet::check(&recorded, &ours)?;
        Ok(())
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The keyring.
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
