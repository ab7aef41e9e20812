//! The signed QR payload.
//!
//! Binary layout (version 1), then [base45](super::base45) as text:
//!
//! | bytes | field |
//! |---|---|
//! | 1 | version (high 4 bits, = 1) and algorithm (low 4 bits: 1 HMAC-SHA256, 2 Ed25519) |
//! | 2 | key id, big-endian |
//! | 1 | flags: bit 0 = an expiry follows; other bits must be 0 |
//! | 6 | the ticket's short code, as a big-endian number below 31^9 |
//! | 4 | optional expiry, Unix seconds, big-endian |
//! | 32 or 64 | HMAC-SHA256 tag or Ed25519 signature over all the bytes before it |
//!
//! That is 42 to 46 bytes (63 to 69 characters, a version-4 QR code at level M) with HMAC, and 74
//! to 78 bytes (111 to 117 characters, version 5 at level M) with Ed25519. It carries no personal
//! data and no price: only the ticket's reference, the key id and the optional expiry. The
//! signature is checked over the exact bytes decoded from the text; nothing is re-serialised.
//!
//! A code's validity follows its event and ticket type, checked at the gate; the optional expiry
//! is an extra bound for codes that must die early, never the generation time plus a delay.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::base45::{self, Base45Error};
use super::keys::{Algorithm, KeyError, KeyId, KeyState, Keyring};
use crate::short_code::ShortCode;

/// The payload format version this crate writes and reads.
pub const VERSION: u8 = 1;
const HEADER_LEN: usize = 10;
const EXPIRY_LEN: usize = 4;
const FLAG_EXPIRY: u8 = 1;
/// The longest text a valid payload can have.
pub const MAX_TEXT_LEN: usize = (HEADER_LEN + EXPIRY_LEN + 64) / 2 * 3;

/// What a payload asserts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrClaims {
    /// The ticket, by its short code.
    pub ticket: ShortCode,
    /// Optional hard end of the code's validity (whole seconds).
    pub expires_at: Option<DateTime<Utc>>,
}

/// A payload taken apart but not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedQr {
    /// The format version.
    pub version: u8,
    /// The signature scheme.
    pub algorithm: Algorithm,
    /// The key that signed it.
    pub key_id: KeyId,
    /// The claims.
    pub claims: QrClaims,
    bytes: Vec<u8>,
    body_len: usize,
}

/// Why a payload was refused. Every variant but [`PayloadError::Expired`] is reported at the gate
/// as `bad_signature`: the code was not made by us, or was changed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PayloadError {
    /// Not base45.
    #[error("not a ticket code: {0}")]
    Encoding(#[from] Base45Error),
    /// Too short or too long for its algorithm.
    #[error("not a ticket code: wrong length")]
    Length,
    /// A version this build does not read.
    #[error("unsupported payload version {0}")]
    Version(u8),
    /// An unknown algorithm code.
    #[error("unknown signature algorithm {0}")]
    Algorithm(u8),
    /// Unknown flag bits.
    #[error("unknown flags {0:#04x}")]
    Flags(u8),
    /// The ticket reference is out of range.
    #[error("the ticket reference is out of range")]
    TicketRef,
    /// No key with this id.
    #[error("unknown key {0}")]
    UnknownKey(KeyId),
    /// The key is retired.
    #[error("key {0} is retired")]
    RetiredKey(KeyId),
    /// The key id belongs to a key of another algorithm.
    #[error("key {0} is not a key of the payload's algorithm")]
    AlgorithmMismatch(KeyId),
    /// The signature does not match.
    #[error("the signature does not match")]
    BadSignature,
    /// Past its expiry.
    #[error("the code expired at {0}")]
    Expired(DateTime<Utc>),
}

/// Takes a payload apart without checking its signature (for inspection; gates use
/// [`Keyring::verify_qr`]). Total: any input gives a value or an error, never a panic.
pub fn decode_qr(text: &str) -> Result<DecodedQr, PayloadError> {
    if text.len() > MAX_TEXT_LEN {
        return Err(PayloadError::Length);
    }
    let mut bytes = Vec::with_capacity(80);
    base45::decode_into(text.as_bytes(), &mut bytes)?;
    let (&head, rest) = bytes.split_first().ok_or(PayloadError::Length)?;
    if head >> 4 != VERSION {
        return Err(PayloadError::Version(head >> 4));
    }
    let algorithm = Algorithm::from_code(head & 0x0f).ok_or(PayloadError::Algorithm(head & 0x0f))?;
    if rest.len() < HEADER_LEN - 1 {
        return Err(PayloadError::Length);
    }
    let key_id = KeyId(u16::from_be_bytes([rest[0], rest[1]]));
    let flags = rest[2];
    if flags & !FLAG_EXPIRY != 0 {
        return Err(PayloadError::Flags(flags));
    }
    let mut code = [0u8; 8];
    code[2..].copy_from_slice(&rest[3..9]);
    let ticket = ShortCode::from_value(u64::from_be_bytes(code)).ok_or(PayloadError::TicketRef)?;
    let body_len = HEADER_LEN + if flags & FLAG_EXPIRY != 0 { EXPIRY_LEN } else { 0 };
    if bytes.len() != body_len + algorithm.signature_len() {
        return Err(PayloadError::Length);
    }
    let expires_at = if flags & FLAG_EXPIRY != 0 {
        let secs = u32::from_be_bytes([bytes[10], bytes[11], bytes[12], bytes[13]]);
        Some(DateTime::from_timestamp(i64::from(secs), 0).ok_or(PayloadError::Length)?)
    } else {
        None
    };
    Ok(DecodedQr { version: VERSION, algorithm, key_id, claims: QrClaims { ticket, expires_at }, bytes, body_len })
}

impl DecodedQr {
    /// The signed bytes.
    pub fn body(&self) -> &[u8] {
        &self.bytes[..self.body_len]
    }

    /// The signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.bytes[self.body_len..]
    }
}

/// The QR text a scanner read, without what a scanner may add around it.
///
/// Keyboard-wedge scanners type the code and then Enter (CR, LF or both) or Tab; a camera
/// decoder may pass a trailing newline. None of these is a base45 symbol, so stripping them
/// never changes a genuine text. Spaces are kept: a space **is** a base45 symbol (a payload whose
/// key id is, say, 1234 starts with one), so trimming spaces would break genuine codes.
pub fn scanned_text(text: &str) -> &str {
    text.trim_matches(['\r', '\n', '\t'])
}

impl Keyring {
    /// Signs `claims` with the current key of `algorithm` and returns the QR text.
    pub fn sign_qr(&self, algorithm: Algorithm, claims: &QrClaims) -> Result<String, KeyError> {
        let key = self.current(algorithm)?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + EXPIRY_LEN + algorithm.signature_len());
        bytes.push(VERSION << 4 | algorithm.code());
        bytes.extend_from_slice(&key.id.0.to_be_bytes());
        bytes.push(if claims.expires_at.is_some() { FLAG_EXPIRY } else { 0 });
        bytes.extend_from_slice(&claims.ticket.value().to_be_bytes()[2..]);
        if let Some(at) = claims.expires_at {
            // Unix seconds in 32 bits reach 2106; earlier or later instants are clamped.
            let secs = u32::try_from(at.timestamp().max(0)).unwrap_or(u32::MAX);
            bytes.extend_from_slice(&secs.to_be_bytes());
        }
        let (signature, len) = key.sign(&bytes);
        bytes.extend_from_slice(&signature[..len]);
        Ok(base45::encode(&bytes))
    }

    /// Decodes `text`, checks its signature with the key it names (current or verify-only) and
    /// its optional expiry against `now`.
    pub fn verify_qr(&self, text: &str, now: DateTime<Utc>) -> Result<QrClaims, PayloadError> {
        let decoded = decode_qr(text)?;
        let key = self.get(decoded.key_id).ok_or(PayloadError::UnknownKey(decoded.key_id))?;
        if key.algorithm() != decoded.algorithm {
            return Err(PayloadError::AlgorithmMismatch(decoded.key_id));
        }
        if key.state == KeyState::Retired {
            return Err(PayloadError::RetiredKey(decoded.key_id));
        }
        if !key.verify(decoded.body(), decoded.signature()) {
            return Err(PayloadError::BadSignature);
        }
        match decoded.claims.expires_at {
            Some(at) if now > at => Err(PayloadError::Expired(at)),
            _ => Ok(decoded.claims),
        }
    }
}
