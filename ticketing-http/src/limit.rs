//! Rate limits: the generic cell rate algorithm (GCRA), one cell per key (a client IP, a user).
//!
//! A limit of `burst` requests per `window` lets `burst` requests through at once, then one more
//! each `window / burst`. A refusal says when the next request will pass (`Retry-After`). The
//! cells live in this process: a multi-instance deployment limits per instance (noted in
//! ARCHITECTURE.md).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    /// Each key's theoretical arrival time.
    cells: Mutex<HashMap<String, Instant>>,
}

impl Limiter {
    /// A limiter for `limit`.
    pub fn new(limit: RateLimit) -> Self {
        let interval = limit.window / limit.burst.max(1);
        Self { interval, tolerance: limit.window.saturating_sub(interval), cells: Mutex::new(HashMap::new()) }
    }

    /// Counts a request for `key` at `now`: `Ok` if it may pass, else how long until one may.
    pub fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut cells = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        if cells.len() >= SWEEP_AT {
            cells.retain(|_, tat| *tat > now);
        }
        let tat = cells.get(key).copied().filter(|t| *t > now).unwrap_or(now);
        let ahead = tat - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        cells.insert(key.to_owned(), tat + self.interval);
        Ok(())
    }

    /// Counts a request for `key` now.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }
}

/// The server's limiters.
#[derive(Debug)]
pub struct Limits {
    /// `/oauth/token`, per client IP.
    pub token: Limiter,
    /// Ticket generation, per user and per IP.
    pub generation: Limiter,
    /// Batch generation, per user and per IP.
    pub batch: Limiter,
    /// Downloads, per IP.
    pub download: Limiter,
}

impl Limits {
    /// Limiters for `limits`.
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            token: Limiter::new(limits.token),
            generation: Limiter::new(limits.generation),
            batch: Limiter::new(limits.batch),
            download: Limiter::new(limits.download),
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
        let later = t0 + Duration::from_secs(180);
        assert_eq!(limiter.check_at("10.0.0.1", later), Ok(()));
        assert!(limiter.check_at("10.0.0.1", later).is_err());
        let idle = t0 + Duration::from_secs(10_000);
        for _ in 0..5 {
            assert_eq!(limiter.check_at("10.0.0.1", idle), Ok(()), "a full burst after a quiet window");
        }
    }
}
