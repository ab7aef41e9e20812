//! # ticketing-storage
//!
//! Storage backends for the ticketing engine: SQLite (the embedded default), Postgres and Redis,
//! each implementing the ports of [`ticketing_core::store`]. The backends land with the storage
//! issue; [`ticketing_core::memory::MemoryStore`] is the in-memory one.
//!
//! With the `testkit` feature, [`testkit`] is the conformance suite every backend must pass.

#![allow(
    clippy::duplicate_mod,
    reason = "src/sql/ is compiled once per SQL backend on purpose, against that backend's types"
)]

pub use ticketing_core::store::Store;

mod codec;
pub mod postgres;
pub mod redis;
pub mod sqlite;

pub use postgres::PgStore;
pub use redis::RedisLayer;
pub use sqlite::SqliteStore;

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is malformed or names no backend this crate has.
    #[error("bad database URL: {0}")]
    Url(#[source] sqlx::Error),
    /// The database cannot be reached, opened or created.
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    /// A migration failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Redis cannot be reached, or its URL is malformed.
    #[error("cannot connect to Redis: {0}")]
    Redis(#[source] ::redis::RedisError),
}

#[cfg(feature = "testkit")]
pub mod testkit;
