//! `ticketing`: the command-line companion of the reference server.
//!
//! - `ticketing render`: tickets to PDF or PNG, from the built-in template or a template file,
//!   with sample or given data; `--count N` renders N distinct sample tickets into a folder or a
//!   ZIP with a progress bar. It prints the QR text it embedded in each.
//! - `ticketing qr`: one QR code as PNG or SVG.
//! - `ticketing template`: print the built-in template, or check a template file.

mod keys;
mod qr;
mod render;
mod template;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc keeps the blocks a ticket's deflate streams take for the next ticket, where glibc's
/// allocator gave them back to the kernel and faulted them in again (BENCHMARKS.md, issue 20).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Render tickets and QR codes, check templates.
#[derive(Parser)]
#[command(name = "ticketing", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render tickets to PDF or PNG.
    Render(render::Args),
    /// Draw one QR code as PNG or SVG.
    Qr(qr::Args),
    /// Print the built-in template, or check a template file.
    #[command(subcommand)]
    Template(template::Command),
    /// Make a QR signing key for the server's settings.
    #[command(subcommand)]
    Keys(keys::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Render(args) => render::run(args),
        Command::Qr(args) => qr::run(args),
        Command::Template(command) => template::run(command),
        Command::Keys(command) => keys::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ticketing: {message}");
            ExitCode::FAILURE
        }
    }
}
