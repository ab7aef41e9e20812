//! One deployment, one set of keys.
//!
//! Instances that share a database must sign and verify alike: a QR code signed by one is scanned
//! at a gate served by another, a magic link made by one is opened on another. Each instance
//! records a [`KeyFingerprint`] of every key it holds ([`crate::store::KeyRegistry`]), and
//! [`check`] refuses one whose key differs from the recorded key of the same kind and id. A
//! server may only make keys of its own while no fingerprint of that kind is recorded
//! ([`may_generate`]): a second instance started without the fleet's keys refuses to start
//! rather than invent new ones.
//!
//! A fingerprint names a key without revealing it: for a secret (an HMAC key, the link key) it is
//! a MAC under the secret itself of a fixed label, for an Ed25519 key a hash of its public key,
//! so a verify-only public key and its signing secret have the same fingerprint.
//!
//! Beside the database, instances share short-lived state through a [`Coordinator`] (Redis, in
//! `ticketing-storage`): rate-limit cells, so a limit holds across instances; news of revoked
//! credentials, so every instance forgets a revoked token at once; and the [`SuspicionWatch`]'s
//! counts, so a pattern spread over instances is still seen. A single instance keeps all three in
//! its own memory and needs none.
//!
//! [`SuspicionWatch`]: crate::scan::SuspicionWatch

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::{GateId, TicketId, TokenFamilyId, UserId};
use crate::scan::{ScanReason, Suspicion, SuspicionRules};
use crate::secret_token::TokenHash;
use crate::store::StoreError;

/// Bytes of a fingerprint (shown as 32 hex digits).
pub const FINGERPRINT_BYTES: usize = 16;

/// The label every fingerprint is computed over.
pub(crate) const LABEL: &[u8] = b"ticketing/key-fingerprint/v1";

/// Which key a fingerprint is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// A QR signing key (by its key id).
    Qr,
    /// The magic-link key (key id 0: there is one).
    Link,
}

impl KeyKind {
    /// `qr` or `link`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qr => "qr",
            Self::Link => "link",
        }
    }

    /// The kind named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "qr" => Some(Self::Qr),
            "link" => Some(Self::Link),
            _ => None,
        }
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Qr => "QR key",
            Self::Link => "link key",
        })
    }
}

/// A key's fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct KeyFingerprint {
    /// Which key.
    pub kind: KeyKind,
    /// Its id (the QR key id; 0 for the link key).
    pub key_id: u16,
    /// The fingerprint.
    pub digest: [u8; FINGERPRINT_BYTES],
}

impl KeyFingerprint {
    /// The digest in hex (32 digits), as stored and shown.
    pub fn hex(&self) -> String {
        hex::encode(self.digest)
    }

    /// The fingerprint of `kind` `key_id` whose digest is `hex`, if it is 32 hex digits.
    pub fn from_hex(kind: KeyKind, key_id: u16, hex: &str) -> Option<Self> {
        let mut digest = [0u8; FINGERPRINT_BYTES];
        hex::decode_to_slice(hex, &mut digest).ok()?;
        Some(Self { kind, key_id, digest })
    }

    /// The first digest bytes of `full` (a MAC or a hash over [`LABEL`]).
    pub(crate) fn from_digest(kind: KeyKind, key_id: u16, full: &[u8]) -> Self {
        let mut digest = [0u8; FINGERPRINT_BYTES];
        digest.copy_from_slice(&full[..FINGERPRINT_BYTES]);
        Self { kind, key_id, digest }
    }
}

/// Why an instance's keys are not the fleet's.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum KeyMismatch {
    /// A key of the same kind and id, with another fingerprint, is recorded.
    #[error(
        "{kind} {key_id} differs from the one the other instances on this database use (theirs is {theirs}, \
         this one's {ours}): give this instance the fleet's keys"
    )]
    Differs {
        /// Which kind.
        kind: KeyKind,
        /// Which id.
        key_id: u16,
        /// The recorded fingerprint (hex).
        theirs: String,
        /// This instance's (hex).
        ours: String,
    },
}

/// Whether an instance may make a key of `kind` of its own: only while none is recorded.
pub fn may_generate(recorded: &[KeyFingerprint], kind: KeyKind) -> bool {
    !recorded.iter().any(|r| r.kind == kind)
}

/// `Ok` when every key in `ours` matches the recorded key of its kind and id (or none is
/// recorded for it: a key added by a rotation).
pub fn check(recorded: &[KeyFingerprint], ours: &[KeyFingerprint]) -> Result<(), KeyMismatch> {
    for mine in ours {
        if let Some(theirs) = recorded.iter().find(|r| r.kind == mine.kind && r.key_id == mine.key_id)
            && theirs.digest != mine.digest
        {
            return Err(KeyMismatch::Differs {
                kind: mine.kind,
                key_id: mine.key_id,
                theirs: theirs.hex(),
                ours: mine.hex(),
            });
        }
    }
    Ok(())
}

/// Credentials revoked on one instance, news for the others (whose caches may still hold them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "revoked", content = "id", rename_all = "snake_case")]
pub enum Revoked {
    /// One token, by its hash.
    Token(TokenHash),
    /// Every token of a sign-in.
    Family(TokenFamilyId),
    /// Every token acting for a user (deactivated, or their role changed).
    User(UserId),
    /// Every token of an API client.
    Client(String),
}

/// A rate limit as a cell: one request each `interval` at the steady rate, and a request may run
/// up to `tolerance` ahead of it (the burst). See the generic cell rate algorithm (GCRA).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellRate {
    /// Time between two requests at the steady rate.
    pub interval: Duration,
    /// How far ahead of now a cell's theoretical arrival time may run.
    pub tolerance: Duration,
}

/// One scan request's answer, as the suspicion watch sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanSeen {
    /// The gate.
    pub gate_id: GateId,
    /// The ticket, when the request identified one.
    pub ticket_id: Option<TicketId>,
    /// The verdict.
    pub reason: ScanReason,
    /// When.
    pub at: DateTime<Utc>,
}

/// The state the instances of a deployment share beside the database. Every method is one atomic
/// step on the shared server; an error means it could not be reached, and the caller decides how
/// to degrade (the reference server: limits and the watch fall back to the instance's own memory,
/// and bearer tokens are checked against the database on every request while news cannot arrive).
#[async_trait]
pub trait Coordinator: Send + Sync {
    /// Checks a request against the cell `key` under `rate`, counting it when `count`: `None`
    /// if it may pass, else how long until one may. Timed by the shared server's clock, so the
    /// instances' clocks do not matter.
    async fn check_rate(&self, key: &str, rate: CellRate, count: bool) -> Result<Option<Duration>, StoreError>;
    /// Tells every instance (this one too) that `news` was revoked.
    async fn announce(&self, news: &Revoked) -> Result<(), StoreError>;
    /// Whether news reach this instance now: while not, it must not trust what it cached.
    fn listening(&self) -> bool;
    /// Shows the shared watch a scan request answered by any instance under `rules` (the
    /// semantics of [`SuspicionWatch::observe`](crate::scan::SuspicionWatch::observe)): the
    /// patterns it completes, each reported by one instance only.
    async fn observe_scan(&self, seen: ScanSeen, rules: &SuspicionRules) -> Result<Vec<Suspicion>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::magic_link::LinkKey;
    use crate::signing::{KeyId, KeyMaterial, KeyState, Keyring};

    fn hmac(id: u16, byte: u8) -> Keyring {
        Keyring::new().with_key(KeyId(id), KeyState::Current, KeyMaterial::HmacSecret(vec![byte; 32])).unwrap()
    }

    #[test]
    fn same_secret_same_fingerprint_and_other_secret_refused() {
        let fleet = hmac(1, 7).fingerprints();
        assert_eq!(check(&fleet, &hmac(1, 7).fingerprints()), Ok(()));
        let err = check(&fleet, &hmac(1, 8).fingerprints()).unwrap_err();
        assert!(matches!(err, KeyMismatch::Differs { kind: KeyKind::Qr, key_id: 1, .. }), "{err}");
        assert!(err.to_string().contains(&fleet[0].hex()), "names the recorded fingerprint: {err}");
        assert_eq!(check(&fleet, &hmac(2, 8).fingerprints()), Ok(()), "a new id is a rotation");
    }

    #[test]
    fn a_fingerprint_does_not_show_the_secret_and_round_trips_through_hex() {
        let print = hmac(1, 7).fingerprints()[0];
        assert_ne!(print.digest, [7; FINGERPRINT_BYTES]);
        assert_eq!(KeyFingerprint::from_hex(KeyKind::Qr, 1, &print.hex()), Some(print));
        assert_eq!(KeyFingerprint::from_hex(KeyKind::Qr, 1, "zz"), None);
        assert_eq!(KeyFingerprint::from_hex(KeyKind::Qr, 1, &"g".repeat(32)), None);
    }

    #[test]
    fn an_ed25519_public_key_matches_its_secret() {
        let secret = [9u8; 32];
        let public = ed25519_dalek::SigningKey::from_bytes(&secret).verifying_key().to_bytes();
        let signing = Keyring::new().with_key(KeyId(3), KeyState::Current, KeyMaterial::Ed25519Secret(secret)).unwrap();
        let verifying =
            Keyring::new().with_key(KeyId(3), KeyState::VerifyOnly, KeyMaterial::Ed25519Public(public)).unwrap();
        assert_eq!(signing.fingerprints(), verifying.fingerprints());
    }

    #[test]
    fn link_keys_and_generation() {
        let (a, b) = (LinkKey::new([1; 32]).fingerprint(), LinkKey::new([2; 32]).fingerprint());
        assert_eq!((a.kind, a.key_id), (KeyKind::Link, 0));
        assert!(check(&[a], &[b]).is_err());
        assert!(may_generate(&hmac(1, 7).fingerprints(), KeyKind::Link));
        assert!(!may_generate(&[a], KeyKind::Link));
    }
}
