//! What the core needs from its surroundings that is not storage: the time and random bytes.
//!
//! The core never reads the wall clock or a global RNG; the embedding application passes these in.
//! That keeps every decision reproducible in tests (a [`FixedClock`] can be moved by hand) and lets
//! the caller choose its entropy source.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// A source of cryptographically secure random bytes.
///
/// Implementations must be backed by a CSPRNG: short codes, scan-session tokens and magic-link
/// tokens are drawn from it.
pub trait Randomness: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// A clock that only moves when told to: for tests and simulations.
#[derive(Debug)]
pub struct FixedClock(Mutex<DateTime<Utc>>);

impl FixedClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The operating system's clock and CSPRNG, for applications that embed the core.
///
/// Behind the `system` feature so that the core itself stays free of I/O: nothing in the domain
/// calls these, the application chooses to pass them in.
#[cfg(feature = "system")]
mod system {
    use chrono::{DateTime, Utc};

    use super::{Clock, Randomness};

    /// The wall clock.
    #[derive(Clone, Copy, Debug, Default)]
    pub struct SystemClock;

    impl Clock for SystemClock {
        fn now(&self) -> DateTime<Utc> {
            Utc::now()
        }
    }

    /// The operating system's CSPRNG (`getrandom`).
    #[derive(Clone, Copy, Debug, Default)]
    pub struct OsRandomness;

    impl Randomness for OsRandomness {
        fn fill(&self, buf: &mut [u8]) {
            // The OS CSPRNG failing is not recoverable: continuing would hand out predictable
            // tokens, so stopping is the only safe answer.
            #[allow(clippy::expect_used)]
            getrandom::fill(buf).expect("the operating system's random source failed");
        }
    }
}

#[cfg(feature = "system")]
pub use system::{OsRandomness, SystemClock};
