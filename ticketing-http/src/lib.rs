//! # ticketing-http
//!
//! The reference server: the engine, storage and rendering behind an HTTP API with OAuth2
//! sign-in, roles and tenancy, problem-details errors, rate limits, an audit trail, health,
//! Prometheus metrics, and an OpenAPI 3.1 document with a browsable UI.
//!
//! Run it with `cargo run --release` at the workspace's root (or `-p ticketing-http --bin
//! ticketing-server`). What an embedder needs is all there is here:
//!
//! - the settings, [`Config`] (every one is listed in [`config`]);
//! - [`Server::start`], which opens the store the settings name, or [`Server::start_with`]
//!   over any [`Store`](ticketing_core::store::Store) the application opened;
//! - [`Server::serve`], until a shutdown signal; [`Server::handle`] reaches the engine under
//!   the API while it serves;
//! - [`run()`], the whole command (settings from the environment, logs, signals).
//!
//! Inside, `app` assembles and serves; `routes` holds the handlers, one module per area, each
//! route beside the JSON shapes it reads and answers (its wire types, with their OpenAPI
//! schemas); `auth` signs callers in and holds the tenancy rules; `problem` the error answers;
//! `extract` the checked extractors; `limit`, `metrics`, `audit`, `request_id` and `docs` the
//! cross-cutting parts. `ARCHITECTURE.md` at the workspace's root walks through them.

mod app;
mod audit;
mod auth;
mod client;
pub mod config;
mod courier;
mod csv;
mod docs;
mod extract;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod hooks;
mod keep_alive;
mod keys;
mod limit;
mod metrics;
mod outbound;
mod problem;
mod refunds;
mod request_id;
mod routes;
mod run;
mod schema;
mod state;
mod telemetry;
mod web;

pub use app::{Handle, Server, StartError, StartReport};
pub use config::Config;
pub use keys::{KEYS_FILE, KeysError, LINK_KEY_FILE};
pub use run::run;
pub use web::assets::url as asset_url;
