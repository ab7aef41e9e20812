//! What `cargo run --release` at the workspace's root starts: the reference server
//! (`ticketing-server`), on SQLite in `./ticketing-data` with nothing to set. It prints the
//! addresses of the public pages, the gate scanner and the organiser dashboard, and the
//! superadmin's sign-in. Every `TICKETING_*` setting applies (see `ticketing_http::config`).

use std::process::ExitCode;

/// The server's allocator (see `ticketing-server`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    ticketing_http::run("ticketing").await
}
