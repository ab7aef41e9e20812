//! The server, started for real on a random port (on SQLite, and on Postgres+Redis when
//! `DATABASE_URL` and `REDIS_URL` are set), driven as an HTTP client.

mod support;

mod contract;
mod fleet;
mod journey;
mod malformed;
mod matrix;
mod notifications;
mod oauth;
mod ops;
mod pages;
mod proxies;
mod restart;
mod selling;
mod staff;
mod templates;
mod trust;
mod webdriver;
mod webhooks;
