//! `ticketing keys`, and the key the CLI signs QR texts with: given in hex, or a throwaway one.

use clap::Subcommand;
use ticketing_core::env::{OsRandomness, Randomness};
use ticketing_core::signing::{Algorithm, KeyId, KeyMaterial, KeySetting, KeyState, Keyring};

/// The environment variable holding the CLI's HMAC key in hex. (The server reads its keys as
/// settings, `id:state:hex` or `id:state:ed25519:hex`, from `TICKETING_QR_KEYS` or
/// `TICKETING_QR_KEYS_FILE`: what `ticketing keys generate` prints.)
pub const KEY_ENV: &str = "TICKETING_QR_KEY";

/// A keyring with the HMAC key `hex` (at least 32 bytes) as key 1, or a fresh random key when
/// none is given, announced on standard error: its codes pass no gate.
pub fn keyring(hex: Option<&str>) -> Result<Keyring, String> {
    let secret = match hex {
        Some(text) => hex::decode(text.trim()).map_err(|_| format!("{KEY_ENV} / --key: not hexadecimal"))?,
        None => {
            eprintln!("note: QR texts are signed with a throwaway key (set {KEY_ENV} or --key to use yours)");
            let mut secret = vec![0; 32];
            OsRandomness.fill(&mut secret);
            secret
        }
    };
    Keyring::new()
        .with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(secret))
        .map_err(|e| format!("the key was refused: {e}"))
}

#[derive(Subcommand)]
pub enum Command {
    /// Print a new QR signing key as the server's settings take it (one item of
    /// `TICKETING_QR_KEYS` or a line of its keys file); with --ed25519, its public key too, on
    /// standard error, for scanners that verify offline.
    Generate {
        /// An Ed25519 key (signatures scanners verify with the public key alone) rather than
        /// an HMAC-SHA256 secret.
        #[arg(long)]
        ed25519: bool,
        /// Its id, carried in every QR text it signs: one no other key of the deployment has.
        #[arg(long, default_value_t = 1)]
        id: u16,
        /// Add it as verify-only (the first step of a rotation across a fleet).
        #[arg(long)]
        verify: bool,
    },
}

pub fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Generate { ed25519, id, verify } => {
            let algorithm = if ed25519 { Algorithm::Ed25519 } else { Algorithm::HmacSha256 };
            let key = KeySetting::generate(KeyId(id), !verify, algorithm, &OsRandomness);
            println!("{}", key.to_setting());
            if let Some(public) = key.public_key() {
                eprintln!("public key of key {id}: {}", hex::encode(public));
            }
            eprintln!("keep it secret: it signs tickets. Give it to the server in TICKETING_QR_KEYS or its keys file.");
            Ok(())
        }
    }
}
