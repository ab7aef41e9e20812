//! # ticketing-http
//!
//! The reference HTTP server (axum), assembling storage, rendering and the engine into one
//! service. A placeholder until the server issue lands; the engine it will serve is
//! [`ticketing_core::engine::Ticketing`].

pub use ticketing_core::engine::Ticketing;
