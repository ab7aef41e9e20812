//! # ticketing-storage
//!
//! Storage backends for the ticketing engine, each implementing the ports of
//! [`ticketing_core::store`]: [`SqliteStore`] (the embedded default: zero setup),
//! [`PgStore`] (a shared database for several instances) and [`RedisLayer`] (scan sessions and
//! locks in Redis, in front of either). [`open`] picks one by URL:
//!
//! ```no_run
//! # async fn demo() -> Result<(), ticketing_storage::OpenError> {
//! use std::sync::Arc;
//! use ticketing_core::env::SystemClock;
//!
//! let store = ticketing_storage::open("sqlite://tickets.db", None, Arc::new(SystemClock)).await?;
//! let scaled = ticketing_storage::open(
//!     "postgres://postgres@127.0.0.1/ticketing",
//!     Some("redis://127.0.0.1:6379"),
//!     Arc::new(SystemClock),
//! )
//! .await?;
//! # Ok(()) }
//! ```
//!
//! Every backend passes the same conformance suite: [`testkit`], with the `testkit` feature.

#![allow(
    clippy::duplicate_mod,
    reason = "src/sql/ is compiled once per SQL backend on purpose, against that backend's types"
)]

use std::sync::Arc;

use ticketing_core::env::Clock;
pub use ticketing_core::store::Store;

mod codec;
mod exec;
pub mod fleet;
pub mod postgres;
pub mod redis;
mod refusal;
pub mod sqlite;

pub use fleet::RedisFleet;
pub use postgres::PgStore;
pub use redis::RedisLayer;
pub use sqlite::SqliteStore;

/// The Redis key prefix [`open`] uses.
pub const REDIS_PREFIX: &str = "ticketing:";

/// Opens the store `database_url` names, migrated and ready: `sqlite://path` (created if
/// missing), `sqlite::memory:`, or `postgres://…` / `postgresql://…` (a pool of 16). With
/// `redis_url`, Redis holds scan sessions and locks in front of it, under [`REDIS_PREFIX`].
/// `clock` times what the store decides itself (lock expiry).
pub async fn open(
    database_url: &str,
    redis_url: Option<&str>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Store>, OpenError> {
    open_with_prefix(database_url, redis_url, REDIS_PREFIX, clock).await
}

/// Like [`open`], with Redis keys under `redis_prefix`, so several deployments can share one
/// Redis server.
pub async fn open_with_prefix(
    database_url: &str,
    redis_url: Option<&str>,
    redis_prefix: &str,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Store>, OpenError> {
    let scheme = database_url.split(':').next().unwrap_or_default();
    match (scheme, redis_url) {
        ("sqlite", None) => Ok(Arc::new(SqliteStore::open(database_url, clock).await?)),
        ("sqlite", Some(redis)) => {
            let db = SqliteStore::open(database_url, clock.clone()).await?;
            Ok(Arc::new(RedisLayer::connect(db, redis, redis_prefix, clock).await?))
        }
        ("postgres" | "postgresql", None) => Ok(Arc::new(PgStore::open(database_url, 16, clock).await?)),
        ("postgres" | "postgresql", Some(redis)) => {
            let db = PgStore::open(database_url, 16, clock.clone()).await?;
            Ok(Arc::new(RedisLayer::connect(db, redis, redis_prefix, clock).await?))
        }
        _ => Err(OpenError::Scheme(scheme.to_owned())),
    }
}

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no backend this crate has.
    #[error("unsupported database URL scheme {0:?}: use sqlite://, sqlite::memory: or postgres://")]
    Scheme(String),
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
    /// The SQLite database file could not be created.
    #[error("cannot create the database file: {0}")]
    File(#[source] std::io::Error),
    /// SQLite's lanes (their own connections to the file, on their own threads) did not start.
    #[error("cannot start SQLite's lanes: {0}")]
    Lanes(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[cfg(feature = "testkit")]
pub mod testkit;
