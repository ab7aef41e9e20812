//! # ticketing
//!
//! An event-ticketing engine: signed QR tickets, two-step gate scanning, quotas that never
//! oversell. This facade re-exports the workspace's crates so an application depends on one.
//!
//! - [`core`]: the domain and the engine, with no I/O ([`ticketing_core`]).
//! - [`storage`]: the storage backends (SQLite, the embedded default; Postgres; Redis beside
//!   either) and the conformance suite every backend passes.
//! - [`pdf`]: ticket rendering (PDF and PNG from templates, the QR code).
//! - [`http`]: the reference server (the API, the web pages and the gate scanner).
//!
//! [`SystemClock`] and [`OsRandomness`] are the clock and CSPRNG an application passes to the
//! engine. See `examples/embed.rs` for a whole ticket life in memory.

pub use ticketing_core as core;
/// The date and time crate the engine's API speaks (re-exported so versions always match).
pub use ticketing_core::chrono;
pub use ticketing_core::env::{OsRandomness, SystemClock};
pub use ticketing_http as http;
pub use ticketing_pdf as pdf;
pub use ticketing_storage as storage;

/// The names most embedding code needs.
pub mod prelude {
    pub use ticketing_core::engine::{Config, Error, GenerationRequest, IssueRequest, Ticketing};
    pub use ticketing_core::env::{Clock, OsRandomness, Randomness, SystemClock};
    pub use ticketing_core::event::{EventSpec, EventStatus};
    pub use ticketing_core::gate::GateSpec;
    pub use ticketing_core::memory::MemoryStore;
    pub use ticketing_core::scan::{ConfirmRequest, Credential, Direction, ScanAgent, ScanReason, ScanRequest};
    pub use ticketing_core::signing::{Algorithm, KeyId, KeyMaterial, KeyState, Keyring};
    pub use ticketing_core::status::{TicketAction, TicketStatus};
    pub use ticketing_core::store::Store;
    pub use ticketing_core::ticket::HolderSpec;
    pub use ticketing_core::ticket_type::TicketTypeSpec;
    pub use ticketing_storage::{PgStore, RedisLayer, SqliteStore};
}
