//! # ticketing-storage
//!
//! Storage backends for the ticketing engine: SQLite (the embedded default), Postgres and Redis,
//! each implementing the ports of [`ticketing_core::store`]. The backends land with the storage
//! issue; [`ticketing_core::memory::MemoryStore`] is the in-memory one.
//!
//! With the `testkit` feature, [`testkit`] is the conformance suite every backend must pass.

pub use ticketing_core::store::Store;

mod codec;
pub mod sqlite;

pub use sqlite::SqliteStore;

#[cfg(feature = "testkit")]
pub mod testkit;
