//! `ticketing-server`: the reference server. With no setting it listens on 127.0.0.1:8080 with a
//! SQLite file in `./ticketing-data`, and on the first start prints the superadmin's generated
//! password once. Settings: see `ticketing_http::config`.

use std::process::ExitCode;

use ticketing_http::{Config, Server};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("ticketing-server: {e}");
            return ExitCode::from(2);
        }
    };
    ticketing_http::telemetry::init(&config);
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("ticketing-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some((email, password)) = &server.report.superadmin {
        match password {
            Some(password) => println!("superadmin created: {email} / {password}  (shown once: keep it now)"),
            None => println!("superadmin created: {email} (password from TICKETING_SUPERADMIN_PASSWORD)"),
        }
    }
    if server.report.generated_keys {
        println!("QR signing key generated and kept in the data directory (keys.toml)");
    }
    match server.local_addr() {
        Ok(addr) => {
            println!("listening on http://{addr}  (events: http://{addr}/events, API docs: http://{addr}/docs)");
            tracing::info!(%addr, "listening");
        }
        Err(e) => eprintln!("ticketing-server: {e}"),
    }
    match server.serve(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ticketing-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
