//! Signed QR payloads: the compact binary format, its base45 text form, and the keyring.
//!
//! ```
//! use ticketing_core::short_code::ShortCode;
//! use ticketing_core::signing::{Algorithm, KeyId, KeyMaterial, KeyState, Keyring, QrClaims};
//!
//! let keyring = Keyring::new()
//!     .with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![7; 32]))?;
//! let claims = QrClaims { ticket: ShortCode::parse("26H5A-JV4X2")?, expires_at: None };
//! let text = keyring.sign_qr(Algorithm::HmacSha256, &claims)?;
//! assert_eq!(keyring.verify_qr(&text, chrono::Utc::now())?, claims);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod base45;
mod keys;
mod payload;
mod setting;

pub use keys::{Algorithm, KeyError, KeyId, KeyMaterial, KeyState, Keyring};
pub use payload::{DecodedQr, MAX_TEXT_LEN, PayloadError, QrClaims, VERSION, decode_qr, scanned_text};
pub use setting::KeySetting;

#[cfg(test)]
mod tests;
