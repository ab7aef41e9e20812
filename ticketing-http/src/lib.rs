//! # ticketing-http
//!
//! The reference server: the engine, storage and rendering behind an HTTP API with OAuth2
//! sign-in, roles and tenancy, problem-details errors, rate limits, an audit trail, health,
//! Prometheus metrics, and an OpenAPI 3.1 document with a browsable UI.
//!
//! Run it with `cargo run --release` at the workspace's root (or `-p ticketing-http --bin
//! ticketing-server`); settings are in [`config`]. Embed it with [`Server::start`] and
//! [`Server::serve`], or [`run::run`] for the whole command.
//!
//! Layout: [`app`] assembles and serves; [`routes`] holds the handlers (one module per area,
//! each route documented); [`auth`] signs callers in and holds the tenancy rules; [`views`] are
//! the JSON shapes; [`problem`] the error answers; [`extract`] the checked extractors;
//! [`limit`], [`metrics`], [`audit`] and [`docs`] the cross-cutting parts.

pub mod app;
pub mod audit;
pub mod auth;
pub mod client;
pub mod config;
pub mod courier;
pub mod csv;
pub mod docs;
pub mod extract;
pub mod hooks;
pub mod keep_alive;
pub mod keys;
pub mod limit;
pub mod metrics;
pub mod outbound;
pub mod problem;
pub mod refunds;
pub mod request_id;
pub mod routes;
pub mod run;
pub mod schema;
pub mod state;
pub mod telemetry;
pub mod views;
pub mod web;

pub use app::{Server, StartError, StartReport};
pub use config::Config;
