//! The server as a command: settings from the environment, the start, the addresses printed
//! (the public pages, the scanner, the dashboard, the API's documents) with the sign-in, then
//! serving until Ctrl-C or SIGTERM. `ticketing-server` is this, and so is `cargo run` at the
//! workspace's root. Operations have their subcommands: `migrate` (the database's migrations,
//! then exit: a deployment's one-shot step before the servers start), `seed` (migrate, then the
//! roles and a first superadmin: the other one-shot step), `check-config` (the effective
//! settings, secrets hidden; non-zero when one is wrong) and `keys rotate` (a new QR signing
//! key, in one step for one server or staged for a fleet).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{Config, Server};

/// The command line.
#[derive(Debug, Parser)]
#[command(about = "The ticketing server. Settings: TICKETING_* variables, or a TOML file named by TICKETING_CONFIG.")]
struct Command {
    /// What to do (serve when none is given).
    #[command(subcommand)]
    action: Option<Action>,
}

/// What the command does.
#[derive(Debug, Subcommand)]
enum Action {
    /// Serve the API and the pages until Ctrl-C or SIGTERM (the default).
    Serve,
    /// Apply the database's migrations, then exit.
    Migrate,
    /// Apply the migrations, then make the roles and, if there is none, a first superadmin
    /// (with TICKETING_SUPERADMIN_PASSWORD, or a generated password printed once).
    Seed,
    /// Print the effective settings (secrets hidden); exit 2 when one is wrong.
    CheckConfig,
    /// The QR signing keys.
    Keys {
        /// What to do with them.
        #[command(subcommand)]
        action: KeysAction,
    },
}

/// What `keys` does.
#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Make a new signing key current (the current one then only verifies, so tickets already
    /// sent stay valid). With --stage, add it as verify-only instead: give that to every
    /// instance first, then rotate again to make it current.
    Rotate {
        /// Add the new key as verify-only (the first step for a fleet).
        #[arg(long)]
        stage: bool,
        /// Make the new key an Ed25519 key (scanners can then verify offline with its public
        /// key, served at `/api/v1/events/{id}/scanner-keys`); without it, the new key has the
        /// current key's algorithm.
        #[arg(long)]
        ed25519: bool,
    },
}

/// Runs what the command line asks (serving, by default) with the environment's settings; the
/// exit code says how it ended (2: the settings are wrong; 1: it could not start, migrate or
/// serve). `name` names the command in its help and errors.
pub async fn run(name: &str) -> ExitCode {
    let command = Command::parse_from(std::iter::once(name.to_owned()).chain(std::env::args().skip(1)));
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    match command.action.unwrap_or(Action::Serve) {
        Action::Serve => serve(name, config).await,
        Action::CheckConfig => {
            println!("{config:#?}");
            println!("the settings are valid");
            ExitCode::SUCCESS
        }
        Action::Migrate => migrate(name, &config).await,
        Action::Seed => seed(name, &config).await,
        Action::Keys { action: KeysAction::Rotate { stage, ed25519 } } => {
            rotate(name, &config, stage, ed25519.then_some(ticketing_core::signing::Algorithm::Ed25519))
        }
    }
}

/// Migrates and seeds the database `config` names, and says what it made.
async fn seed(name: &str, config: &Config) -> ExitCode {
    match crate::app::seed_only(config).await {
        Ok(Some((email, Some(password)))) => {
            println!("superadmin made: {email} / {password}  (this password is shown once)");
            ExitCode::SUCCESS
        }
        Ok(Some((email, None))) => {
            println!("superadmin made: {email} (password from the settings)");
            ExitCode::SUCCESS
        }
        Ok(None) => {
            println!("the database is seeded already: nothing changed");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One rotation step on the keys where `config` finds them: the data directory's `keys.toml` or
/// the file `TICKETING_QR_KEYS_FILE` names are rewritten; keys given in `TICKETING_QR_KEYS`
/// are printed as the new value to set.
fn rotate(name: &str, config: &Config, stage: bool, algorithm: Option<ticketing_core::signing::Algorithm>) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| {
        eprintln!("{name}: {e}");
        ExitCode::FAILURE
    };
    let keys = if config.qr_keys.is_empty() {
        match crate::keys::stored(&config.data_dir) {
            Ok(keys) => keys,
            Err(e) => return fail(&format!("{e} (start the server once to make the first key)")),
        }
    } else {
        config.qr_keys.clone()
    };
    let (after, id) = match crate::keys::rotate(&keys, stage, algorithm, &ticketing_core::env::OsRandomness) {
        Ok(rotated) => rotated,
        Err(e) => return fail(&e),
    };
    let lines: Vec<String> = after.iter().map(ticketing_core::signing::KeySetting::to_setting).collect();
    let written = match (&config.qr_keys_file, config.qr_keys.is_empty()) {
        (Some(file), _) => crate::keys::write_replacing(file, &format!("{}\n", lines.join("\n")))
            .map(|()| format!("written to {}", file.display())),
        (None, true) => crate::keys::store(&config.data_dir, &after)
            .map(|()| format!("written to {}", config.data_dir.join(crate::keys::KEYS_FILE).display()))
            .map_err(|e| std::io::Error::other(e.to_string())),
        (None, false) => {
            println!("TICKETING_QR_KEYS={}", lines.join(","));
            Ok("set TICKETING_QR_KEYS to the line above".to_owned())
        }
    };
    match written {
        Ok(where_) if stage => {
            println!(
                "key {id} staged (verify-only), {where_}: give these keys to every instance and restart each, then run `keys rotate` again"
            );
            ExitCode::SUCCESS
        }
        Ok(where_) => {
            println!("key {id} is current, {where_}: restart the server (every instance) to sign with it");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Opens the database `config` names, which applies its migrations.
async fn migrate(name: &str, config: &Config) -> ExitCode {
    let clock: std::sync::Arc<dyn ticketing_core::env::Clock> = std::sync::Arc::new(ticketing_core::env::SystemClock);
    match crate::app::open_store(config, clock).await {
        Ok(_) => {
            println!("the database is migrated");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Starts the server, prints where it is, and serves until Ctrl-C or SIGTERM.
async fn serve(name: &str, config: Config) -> ExitCode {
    crate::telemetry::init(&config);
    let email = config.superadmin_email.clone();
    let server = match Server::start(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = match server.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", welcome(&format!("http://{addr}"), &email, &server.report));
    tracing::info!(%addr, "listening");
    match server.serve(shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a start prints: where each page is, and how to sign in.
fn welcome(base: &str, email: &str, report: &crate::StartReport) -> String {
    let mut lines = vec![
        format!("listening on {base}"),
        format!("  events (public)     {base}/events"),
        format!("  gate scanner        {base}/scan"),
        format!("  organiser dashboard {base}/admin"),
        format!("  API documents       {base}/docs"),
    ];
    lines.push(match &report.superadmin {
        Some((made, Some(password))) => {
            format!("sign in as {made} / {password}  (the superadmin, made now: this password is shown once)")
        }
        Some((made, None)) => format!("sign in as {made} (the superadmin, made now; password from the settings)"),
        None => format!("sign in as {email} (the superadmin; its password was printed at the first start)"),
    });
    if report.generated_keys {
        lines.push("QR signing key generated and kept in the data directory (keys.toml)".to_owned());
    }
    lines.join("\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_welcome_names_every_page_and_the_sign_in() {
        let first = crate::StartReport {
            superadmin: Some(("admin@ticketing.local".into(), Some("generated-pass".into()))),
            generated_keys: true,
        };
        let text = welcome("http://127.0.0.1:8080", "admin@ticketing.local", &first);
        for page in ["/events", "/scan", "/admin", "/docs"] {
            assert!(text.contains(&format!("http://127.0.0.1:8080{page}")), "{text}");
        }
        assert!(text.contains("admin@ticketing.local / generated-pass"), "{text}");
        let later = crate::StartReport { superadmin: None, generated_keys: false };
        let text = welcome("http://127.0.0.1:8080", "ops@example.org", &later);
        assert!(text.contains("sign in as ops@example.org (the superadmin; its password was printed"), "{text}");
        assert!(!text.contains("keys.toml"));
    }
}
