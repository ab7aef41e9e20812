//! `ticketing template`.

use std::fs;
use std::path::PathBuf;

use clap::Subcommand;
use ticketing_pdf::Renderer;
use ticketing_pdf::template::{DEFAULT_JSON, Template};

#[derive(Subcommand)]
pub enum Command {
    /// Print the built-in template's JSON: a starting point for your own.
    Default,
    /// Check a template file: every problem is listed with the JSON path at fault.
    Check {
        /// The template (JSON).
        file: PathBuf,
    },
}

pub fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Default => {
            print!("{DEFAULT_JSON}");
            Ok(())
        }
        Command::Check { file } => {
            let json = fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let checked = Template::from_json(&json).and_then(Renderer::new);
            match checked {
                Ok(renderer) => {
                    println!("{}: ok ({})", file.display(), renderer.template().name);
                    Ok(())
                }
                Err(error) => {
                    for problem in &error.problems {
                        println!("{}: {problem}", file.display());
                    }
                    Err(format!("{} problem(s) in {}", error.problems.len(), file.display()))
                }
            }
        }
    }
}
