//! `ticketing-server`: the reference server. With no setting it listens on 127.0.0.1:8080 with a
//! SQLite file in `./ticketing-data`, prints the addresses of its pages and, on the first start,
//! the superadmin's generated password once. Settings: see `ticketing_http::config`.

use std::process::ExitCode;

/// mimalloc keeps freed blocks for the next request where glibc's allocator took its locks and
/// gave large blocks back to the kernel (BENCHMARKS.md, issue 20).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    ticketing_http::run("ticketing-server").await
}
