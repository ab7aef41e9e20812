//! What every handler shares: the engine over the store, the settings, the limiters, the
//! metrics, and the password checker.

use std::sync::Arc;

use ticketing_core::engine::Ticketing;
use ticketing_core::env::{Clock, Randomness};
use ticketing_core::fleet::Coordinator;
use ticketing_core::store::Store;

use crate::auth::caller::CallerCache;
use crate::auth::password::Passwords;
use crate::config::Config;
use crate::limit::Limits;
use crate::metrics::Metrics;

/// The server's shared state.
pub struct AppState {
    /// The engine, over the configured store.
    pub engine: Ticketing<dyn Store>,
    /// The settings.
    pub config: Config,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Random bytes for tokens and ids.
    pub rng: Arc<dyn Randomness>,
    /// Rate limiters.
    pub limits: Limits,
    /// Metrics.
    pub metrics: Metrics,
    /// Password hashing and checking, off the async threads.
    pub passwords: Passwords,
    /// Bearer tokens recently checked.
    pub callers: Arc<CallerCache>,
    /// The state shared with the deployment's other instances (Redis), when configured.
    pub fleet: Option<Arc<dyn Coordinator>>,
    /// The ticket renderer with the default template, prepared at start (none if that failed:
    /// `/health` then says so).
    pub renderer: Option<Arc<ticketing_pdf::Renderer>>,
    /// Stored templates and the version each ticket is drawn with.
    pub templates: ticketing_pdf::TemplateLibrary<dyn Store>,
    /// Suspicious patterns among the scan requests this server answers: with a fleet, counted in
    /// Redis across every instance, and here only while Redis cannot be reached.
    pub suspicions: std::sync::Mutex<ticketing_core::scan::SuspicionWatch>,
    /// Each notification channel as its last sends found it.
    pub channels: crate::courier::ChannelHealth,
    /// The OpenAPI document, as served at `/openapi.json`.
    pub openapi: String,
}

impl AppState {
    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        self.engine.store()
    }
}

/// The state as handlers receive it.
pub type Shared = Arc<AppState>;
