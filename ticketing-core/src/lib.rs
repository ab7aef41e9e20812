//! # ticketing-core
//!
//! The domain of the ticketing engine, with no I/O: no runtime, no database, no network, no
//! file, no wall clock and no global random source. Everything from outside comes in through
//! the traits in [`env`](mod@env) (time, randomness) and [`store`] (persistence, locks).
//!
//! Layout:
//! - Entities, each valid by construction: [`event`], [`ticket_type`], [`ticket`], [`gate`],
//!   with [`money`], [`field`] validation and typed [`ids`]; [`audit`] entries; background
//!   [`job`]s and their retry rule; staff [`user`]s and their roles; API [`credential`]s
//!   (clients, OAuth2 tokens) and event duties.
//! - Rules: the ticket [`status`] machine (the full transition table is in its docs), [`quota`]
//!   checks, and the two-step [`scan`] with its pure [`scan::rules`].
//! - Secrets: [`signing`] (compact signed QR payloads, HMAC-SHA256 and Ed25519, key rotation),
//!   [`short_code`] (typed codes with a check symbol), [`magic_link`] and scan-session tokens
//!   ([`secret_token`]).
//! - The engine: [`engine::Ticketing`] runs operations over any [`store::Store`];
//!   [`memory::MemoryStore`] is the in-memory backend.
//!
//! Features: `system` adds [`env::SystemClock`] and [`env::OsRandomness`] for applications.
//!
//! Start with `examples/embed.rs` at the repository root.

/// Re-exported: the engine's API speaks chrono types.
pub use chrono;
/// Re-exported: ids wrap UUIDs.
pub use uuid;

pub mod audit;
pub mod cash_report;
pub mod credential;
pub mod engine;
pub mod env;
pub mod event;
pub mod field;
pub mod fleet;
pub mod gate;
pub mod hook;
pub mod ids;
pub mod job;
pub mod magic_link;
pub mod memory;
pub mod money;
pub mod notification;
pub mod order;
pub mod payment;
pub mod payment_link;
pub mod quota;
pub mod refund;
pub mod scan;
pub mod secret_token;
pub mod short_code;
pub mod signing;
pub mod stats;
pub mod status;
pub mod store;
pub mod template;
pub mod ticket;
pub mod ticket_type;
pub mod user;
pub mod webhook_signature;
