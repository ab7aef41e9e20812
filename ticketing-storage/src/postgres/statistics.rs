//! The planner's statistics kept up with the tables a sale fills.
//!
//! Postgres plans a statement prepared on a connection once for good (its generic plan), from
//! the statistics of that moment, and plans it again only when a table it reads is analysed. A
//! first on-sale fills the tables from nothing in seconds, and autovacuum analyses them a minute
//! later at the earliest (never when it is off): until then the purchase's statements keep plans
//! made for empty tables, which scan them. Measured: a payment's statement scanned every ticket
//! (8 ms at 30,000), and purchases per second fell by a fifth within thirty seconds of a sale.
//!
//! So the store analyses those tables itself each time the tickets it has written double, from
//! [`FIRST`]: some fifteen times up to a few million, in the background, skipping a table that
//! another session is analysing or vacuuming. It is cheap (a sample of each table) and rare;
//! beside a working autovacuum it only comes earlier. From 100 rather than 1,000: until the first
//! analysis, statements planned on empty tables scanned `tickets` (a 10 s sale's first 1,000
//! tickets cost some 600,000 tuples read by scans; from 100, some 125,000).

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::PgPool;

/// The tickets written before the first analysis.
pub(super) const FIRST: u64 = 100;

/// The tables a purchase reads and writes.
const ANALYZE: &str = "ANALYZE (SKIP_LOCKED) tickets, order_tickets, orders, magic_links, type_counters, \
                       event_counters, payment_deliveries, jobs, audit_log";

/// The tickets this store has written, and how many more until the tables are analysed again.
#[derive(Debug)]
pub(super) struct Growth {
    written: AtomicU64,
    next: AtomicU64,
}

impl Default for Growth {
    fn default() -> Self {
        Self { written: AtomicU64::new(0), next: AtomicU64::new(FIRST) }
    }
}

impl Growth {
    /// Counts `tickets` more written; when the count reaches the next threshold, doubles it and
    /// analyses the tables in the background. An analysis that fails (the server going away, say)
    /// is left to the next one: nothing waits for it and nothing depends on it.
    pub(super) fn wrote(&self, pool: &PgPool, tickets: usize) {
        let written = self.written.fetch_add(tickets as u64, Ordering::Relaxed) + tickets as u64;
        let next = self.next.load(Ordering::Relaxed);
        if written < next
            || self
                .next
                .compare_exchange(next, written.saturating_mul(2), Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let pool = pool.clone();
        tokio::spawn(async move {
            let _ = sqlx::query(ANALYZE).execute(&pool).await;
        });
    }
}
