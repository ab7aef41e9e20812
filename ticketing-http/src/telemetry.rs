//! Logs: tracing lines as text or JSON, filtered by the configured level (`info`, or per target
//! as `ticketing_http=debug,info`; checked when the configuration is read).

use std::io::IsTerminal as _;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber for the binary.
pub fn init(config: &Config) {
    let filter: Targets =
        config.log_level.parse().unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let registry = tracing_subscriber::registry().with(filter);
    match config.log_format {
        LogFormat::Json => registry.with(tracing_subscriber::fmt::layer().json()).init(),
        // Colour only on a terminal: a file or a pipe gets plain text, no ANSI escape codes.
        LogFormat::Text => {
            registry.with(tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal())).init()
        }
    }
}
