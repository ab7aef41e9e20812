//! Rate limits: the generic cell rate algorithm (GCRA), one cell per key (a client IP, a user).
//!
//! A limit of `burst` requests per `window` lets `burst` requests through at once, then one more
//! each `window / burst`. A refusal says when the next request will pass (`Retry-After`).
//!
//! With Redis configured, the cells live there ([`ticketing_core::fleet::Coordinator::check_rate`],
//! one script per check), so a limit holds across every instance; without it, or while Redis
//! cannot be reached, each instance counts in its own memory ([`Limiter`]): a limit then holds per
//! instance, which only loosens it by the number of instances, and scanning fails closed anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ticketing_core::fleet::{CellRate, Coordinator};

use crate::config::{RateLimit, RateLimits};

/// Cells kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

/// One limit over many keys.
#[derive(Debug)]
pub struct Limiter {
    /// Time between two requests at the steady rate.
    interval: Duration,
    /// How far ahead of now a cell's theoretical arrival time may run.
    tolerance: Duration,
    cells: Mutex<Cells>,
}

#[derive(Debug)]
struct Cells {
    /// Each key's theoretical arrival time.
    tat: HashMap<String, Instant>,
    /// Sweep expired cells when the map reaches this size (twice the live cells after the last
    /// sweep, at least [`SWEEP_AT`]), so sweeping costs O(1) a request on average.
    sweep_at: usize,
}

impl Limiter {
    /// A limiter for `limit`.
    pub fn new(limit: RateLimit) -> Self {
        let rate = cell_rate(limit);
        Self {
            interval: rate.interval,
            tolerance: rate.tolerance,
            cells: Mutex::new(Cells { tat: HashMap::new(), sweep_at: SWEEP_AT }),
        }
    }

    fn cells(&self) -> std::sync::MutexGuard<'_, Cells> {
        self.cells.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long until a request for `key` may pass at `now` (zero: now), and the cell's next
    /// arrival time if it does.
    fn wait(&self, cells: &Cells, key: &str, now: Instant) -> (Duration, Instant) {
        let tat = cells.tat.get(key).copied().filter(|t| *t > now).unwrap_or(now);
        ((tat - now).saturating_sub(self.tolerance), tat + self.interval)
    }

    /// Counts a request for `key` at `now`: `Ok` if it may pass, else how long until one may.
    pub fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut cells = self.cells();
        if cells.tat.len() >= cells.sweep_at {
            cells.tat.retain(|_, tat| *tat > now);
            cells.sweep_at = (cells.tat.len() * 2).max(SWEEP_AT);
        }
        match self.wait(&cells, key, now) {
            (wait, _) if !wait.is_zero() => Err(wait),
            (_, next) => {
                cells.tat.insert(key.to_owned(), next);
                Ok(())
            }
        }
    }

    /// Whether a request for `key` would pass at `now`, without counting it.
    pub fn peek_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        match self.wait(&self.cells(), key, now).0 {
            wait if wait.is_zero() => Ok(()),
            wait => Err(wait),
        }
    }

    /// Counts a request for `key` now.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    /// Whether a request for `key` would pass now, without counting it.
    pub fn peek(&self, key: &str) -> Result<(), Duration> {
        self.peek_at(key, Instant::now())
    }
}

/// `limit` as a cell rate: one request each `window / burst`, `burst` at once.
fn cell_rate(limit: RateLimit) -> CellRate {
    let interval = limit.window / limit.burst.max(1);
    CellRate { interval, tolerance: limit.window.saturating_sub(interval) }
}

/// One limit, named, counted across the fleet when there is one.
pub struct Limit {
    name: &'static str,
    rate: CellRate,
    local: Limiter,
    fleet: Option<Arc<dyn Coordinator>>,
}

impl std::fmt::Debug for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limit").field("name", &self.name).field("shared", &self.fleet.is_some()).finish()
    }
}

impl Limit {
    /// The limit `name` (its cells' prefix in the fleet) at `limit`, shared through `fleet`.
    pub fn new(name: &'static str, limit: RateLimit, fleet: Option<Arc<dyn Coordinator>>) -> Self {
        Self { name, rate: cell_rate(limit), local: Limiter::new(limit), fleet }
    }

    async fn ask(&self, key: &str, count: bool) -> Result<(), Duration> {
        if let Some(fleet) = &self.fleet {
            // Keys can be addresses or emails: Redis sees only a digest of them.
            let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
            let digest = hex::encode(&digest[..16]);
            match fleet.check_rate(&format!("{}:{digest}", self.name), self.rate, count).await {
                Ok(None) => return Ok(()),
                Ok(Some(wait)) => return Err(wait),
                Err(e) => tracing::warn!(limit = self.name, error = %e, "shared rate limit unreachable: counting here"),
            }
        }
        if count { self.local.check(key) } else { self.local.peek(key) }
    }

    /// Counts a request for `key`: `Ok` if it may pass, else how long until one may.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        self.ask(key, true).await
    }

    /// Whether a request for `key` would pass, without counting it.
    pub async fn peek(&self, key: &str) -> Result<(), Duration> {
        self.ask(key, false).await
    }
}

/// The server's limiters.
#[derive(Debug)]
pub struct Limits {
    /// `/oauth/token`, per client IP.
    pub token: Limit,
    /// Work done at once, per user: tickets issued now (`POST …/tickets`), desk sales and
    /// template previews.
    pub issue_now: Limit,
    /// Bulk work, per user: generation jobs queued (`POST …/generations`) and the ZIP of an
    /// event's tickets.
    pub bulk: Limit,
    /// Magic-link pages and downloads, per client address.
    pub download: Limit,
    /// Scan requests, per agent.
    pub scan_agent: Limit,
    /// Scan requests, per gate.
    pub scan_gate: Limit,
    /// Orders placed, per client address.
    pub order_address: Limit,
    /// Orders placed, per event.
    pub order_event: Limit,
    /// "Email me my tickets again", per client address.
    pub resend: Limit,
    /// "Email me my tickets again", per event and asked address: [`RESENDS_PER_ADDRESS`] a window.
    pub resend_address: Limit,
}

/// How many times one address may ask for an event's tickets again in a rate window.
pub const RESENDS_PER_ADDRESS: u32 = 3;

impl Limits {
    /// Limiters for `limits`, shared through `fleet` when there is one.
    pub fn new(limits: &RateLimits, fleet: Option<&Arc<dyn Coordinator>>) -> Self {
        let limit = |name, rate| Limit::new(name, rate, fleet.cloned());
        Self {
            token: limit("token", limits.token),
            // The names are the cells' prefix in Redis: kept from before the fields' renaming,
            // so an upgrade keeps every allowance counted.
            issue_now: limit("generation", limits.issue_now),
            bulk: limit("batch", limits.bulk),
            download: limit("download", limits.download),
            scan_agent: limit("scan_agent", limits.scan_agent),
            scan_gate: limit("scan_gate", limits.scan_gate),
            order_address: limit("order_address", limits.order_address),
            order_event: limit("order_event", limits.order_event),
            resend: limit("resend", limits.resend),
            resend_address: limit("resend_address", RateLimit { burst: RESENDS_PER_ADDRESS, ..limits.resend }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_one_per_interval() {
        let limiter = Limiter::new(RateLimit { burst: 5, window: Duration::from_secs(900) });
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(limiter.check_at("10.0.0.1", t0), Ok(()));
        }
        assert_eq!(limiter.check_at("10.0.0.1", t0), Err(Duration::from_secs(180)), "one more in 900/5 s");
        assert_eq!(limiter.check_at("10.0.0.2", t0), Ok(()), "keys are separate");
        assert_eq!(limiter.peek_at("10.0.0.3", t0), Ok(()));
        assert_eq!(limiter.peek_at("10.0.0.1", t0), Err(Duration::from_secs(180)), "a peek counts nothing");
        let later = t0 + Duration::from_secs(180);
        assert_eq!(limiter.check_at("10.0.0.1", later), Ok(()));
        assert!(limiter.check_at("10.0.0.1", later).is_err());
        let idle = t0 + Duration::from_secs(10_000);
        for _ in 0..5 {
            assert_eq!(limiter.check_at("10.0.0.1", idle), Ok(()), "a full burst after a quiet window");
        }
    }
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    #[test]
    fn expired_cells_are_swept_and_live_ones_kept() {
        let limiter = Limiter::new(RateLimit { burst: 1, window: Duration::from_secs(10) });
        let t0 = Instant::now();
        for i in 0..SWEEP_AT - 1 {
            assert_eq!(limiter.check_at(&format!("k{i}"), t0), Ok(()));
        }
        assert!(limiter.check_at("k0", t0).is_err(), "live until its window passes");
        let later = t0 + Duration::from_secs(11);
        assert_eq!(limiter.check_at("fresh", later), Ok(()));
        assert_eq!(limiter.check_at("again", later), Ok(()), "this one sweeps first");
        assert_eq!(limiter.cells().tat.len(), 2, "the expired cells went, the live ones stayed");
    }
}
