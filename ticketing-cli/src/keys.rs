//! The key QR texts are signed with: given in hex, or a throwaway one.

use ticketing_core::env::{OsRandomness, Randomness};
use ticketing_core::signing::{KeyId, KeyMaterial, KeyState, Keyring};

/// The environment variable holding the CLI's HMAC key in hex. (The server reads its keys as
/// `id:state:hex` lines from `TICKETING_QR_KEYS` or `TICKETING_QR_KEYS_FILE`.)
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
