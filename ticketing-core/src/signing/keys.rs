//! Signing keys and the keyring that holds them.
//!
//! Each key has a numeric [`KeyId`] carried in every payload, an [`Algorithm`] and a
//! [`KeyState`]. Payloads are signed with the *current* key of an algorithm and verified with any
//! key that is current or verify-only, so keys rotate without invalidating tickets already sent:
//! add a new current key, demote the old one to verify-only, retire it once its tickets are past.
//!
//! The crate holds no default key: material always comes from the caller.

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

/// Identifies a key inside payloads. Two bytes keep the payload small.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(pub u16);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The signature scheme of a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// HMAC-SHA256 with a shared secret: the server signs and verifies.
    HmacSha256,
    /// Ed25519: the server signs; a scanner holding only the public key verifies offline.
    Ed25519,
}

impl Algorithm {
    /// The code of the algorithm in a payload's first byte.
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::HmacSha256 => 1,
            Self::Ed25519 => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::HmacSha256),
            2 => Some(Self::Ed25519),
            _ => None,
        }
    }

    /// Length of a signature in bytes.
    pub fn signature_len(self) -> usize {
        match self {
            Self::HmacSha256 => 32,
            Self::Ed25519 => 64,
        }
    }
}

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Signs new payloads and verifies. At most one per algorithm.
    Current,
    /// Verifies payloads signed before a rotation; signs nothing.
    VerifyOnly,
    /// Kept for the record; payloads under it are refused.
    Retired,
}

/// Why a keyring could not be built or used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    /// An HMAC secret shorter than 32 bytes.
    #[error("key {0}: an HMAC secret needs at least 32 bytes")]
    ShortSecret(KeyId),
    /// Not a valid Ed25519 public key.
    #[error("key {0}: not a valid Ed25519 public key")]
    BadPublicKey(KeyId),
    /// Two keys with the same id.
    #[error("key id {0} is used twice")]
    DuplicateId(KeyId),
    /// Two current keys for one algorithm.
    #[error("two current keys for {0:?}")]
    TwoCurrent(Algorithm),
    /// A public key cannot be current: it cannot sign.
    #[error("key {0}: a public key can only verify")]
    PublicKeyCannotSign(KeyId),
    /// No current key of the algorithm to sign with.
    #[error("no current key for {0:?}")]
    NoCurrentKey(Algorithm),
}

/// Key material handed in by the caller.
#[derive(Clone)]
pub enum KeyMaterial {
    /// An HMAC-SHA256 secret of at least 32 bytes.
    HmacSecret(Vec<u8>),
    /// An Ed25519 secret key (32 bytes): signs and verifies.
    Ed25519Secret([u8; 32]),
    /// An Ed25519 public key (32 bytes): verifies only.
    Ed25519Public([u8; 32]),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print secrets.
        f.write_str(match self {
            Self::HmacSecret(_) => "HmacSecret(..)",
            Self::Ed25519Secret(_) => "Ed25519Secret(..)",
            Self::Ed25519Public(_) => "Ed25519Public(..)",
        })
    }
}

#[derive(Clone)]
pub(crate) enum Prepared {
    /// HMAC state already keyed: cloning it skips re-hashing the key for each payload.
    Hmac(Hmac<Sha256>),
    Ed25519Signing(Box<SigningKey>),
    Ed25519Verifying(VerifyingKey),
}

#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) id: KeyId,
    pub(crate) state: KeyState,
    pub(crate) key: Prepared,
}

impl Prepared {
    /// The key's fingerprint digest (see [`crate::fleet`]): a MAC of the label under an HMAC
    /// secret, a hash of the label and the public key for Ed25519.
    fn fingerprint_digest(&self) -> Vec<u8> {
        use sha2::Digest as _;
        match self {
            Self::Hmac(mac) => {
                let mut mac = mac.clone();
                mac.update(crate::fleet::LABEL);
                mac.finalize().into_bytes().to_vec()
            }
            Self::Ed25519Signing(key) => Sha256::new()
                .chain_update(crate::fleet::LABEL)
                .chain_update(key.verifying_key().as_bytes())
                .finalize()
                .to_vec(),
            Self::Ed25519Verifying(key) => {
                Sha256::new().chain_update(crate::fleet::LABEL).chain_update(key.as_bytes()).finalize().to_vec()
            }
        }
    }
}

impl Entry {
    pub(crate) fn algorithm(&self) -> Algorithm {
        match self.key {
            Prepared::Hmac(_) => Algorithm::HmacSha256,
            Prepared::Ed25519Signing(_) | Prepared::Ed25519Verifying(_) => Algorithm::Ed25519,
        }
    }

    /// The signature of `message`: the first `len` bytes of the array (32 for HMAC, 64 for Ed25519).
    pub(crate) fn sign(&self, message: &[u8]) -> ([u8; 64], usize) {
        let mut out = [0u8; 64];
        match &self.key {
            Prepared::Hmac(mac) => {
                let mut mac = mac.clone();
                mac.update(message);
                out[..32].copy_from_slice(&mac.finalize().into_bytes());
                (out, 32)
            }
            Prepared::Ed25519Signing(key) => (key.sign(message).to_bytes(), 64),
            // Refused when the keyring is built: a public key is never current.
            Prepared::Ed25519Verifying(_) => (out, 0),
        }
    }

    /// Constant-time for HMAC (`verify_slice`); strict verification for Ed25519.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.key {
            Prepared::Hmac(mac) => {
                let mut mac = mac.clone();
                mac.update(message);
                mac.verify_slice(signature).is_ok()
            }
            Prepared::Ed25519Signing(key) => verify_ed25519(&key.verifying_key(), message, signature),
            Prepared::Ed25519Verifying(key) => verify_ed25519(key, message, signature),
        }
    }
}

fn verify_ed25519(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    let Ok(bytes) = <[u8; 64]>::try_from(signature) else { return false };
    key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&bytes)).is_ok()
}

/// The keys a signer or verifier may use, looked up by id.
#[derive(Clone, Default)]
pub struct Keyring {
    /// Sorted by id.
    entries: Vec<Entry>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.entries.iter().map(|e| (e.id, e.algorithm(), e.state))).finish()
    }
}

impl Keyring {
    /// An empty keyring; add keys with [`Keyring::with_key`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The keyring with one more key.
    pub fn with_key(mut self, id: KeyId, state: KeyState, material: KeyMaterial) -> Result<Self, KeyError> {
        if self.entries.iter().any(|e| e.id == id) {
            return Err(KeyError::DuplicateId(id));
        }
        let key = match material {
            KeyMaterial::HmacSecret(secret) => {
                if secret.len() < 32 {
                    return Err(KeyError::ShortSecret(id));
                }
                Prepared::Hmac(Hmac::<Sha256>::new_from_slice(&secret).map_err(|_| KeyError::ShortSecret(id))?)
            }
            KeyMaterial::Ed25519Secret(secret) => Prepared::Ed25519Signing(Box::new(SigningKey::from_bytes(&secret))),
            KeyMaterial::Ed25519Public(public) => {
                if state == KeyState::Current {
                    return Err(KeyError::PublicKeyCannotSign(id));
                }
                Prepared::Ed25519Verifying(VerifyingKey::from_bytes(&public).map_err(|_| KeyError::BadPublicKey(id))?)
            }
        };
        let entry = Entry { id, state, key };
        if state == KeyState::Current
            && self.entries.iter().any(|e| e.state == KeyState::Current && e.algorithm() == entry.algorithm())
        {
            return Err(KeyError::TwoCurrent(entry.algorithm()));
        }
        self.entries.push(entry);
        self.entries.sort_by_key(|e| e.id);
        Ok(self)
    }

    /// The public keys of the Ed25519 keys that still verify, to hand to offline scanners.
    pub fn ed25519_public_keys(&self) -> Vec<(KeyId, [u8; 32])> {
        self.entries
            .iter()
            .filter(|e| e.state != KeyState::Retired)
            .filter_map(|e| match &e.key {
                Prepared::Ed25519Signing(k) => Some((e.id, k.verifying_key().to_bytes())),
                Prepared::Ed25519Verifying(k) => Some((e.id, k.to_bytes())),
                Prepared::Hmac(_) => None,
            })
            .collect()
    }

    /// The fingerprints of the keys (see [`crate::fleet`]), by id.
    pub fn fingerprints(&self) -> Vec<crate::fleet::KeyFingerprint> {
        self.entries
            .iter()
            .map(|e| {
                crate::fleet::KeyFingerprint::from_digest(
                    crate::fleet::KeyKind::Qr,
                    e.id.0,
                    &e.key.fingerprint_digest(),
                )
            })
            .collect()
    }

    /// The ids, algorithms and states of the keys (never their material).
    pub fn keys(&self) -> Vec<(KeyId, Algorithm, KeyState)> {
        self.entries.iter().map(|e| (e.id, e.algorithm(), e.state)).collect()
    }

    /// The algorithm of the first current key (a deployment has one), if any: what new QR texts
    /// are signed with.
    pub fn current_algorithm(&self) -> Option<Algorithm> {
        self.entries.iter().find(|e| e.state == KeyState::Current).map(Entry::algorithm)
    }

    pub(crate) fn current(&self, algorithm: Algorithm) -> Result<&Entry, KeyError> {
        self.entries
            .iter()
            .find(|e| e.state == KeyState::Current && e.algorithm() == algorithm)
            .ok_or(KeyError::NoCurrentKey(algorithm))
    }

    pub(crate) fn get(&self, id: KeyId) -> Option<&Entry> {
        self.entries.binary_search_by_key(&id, |e| e.id).ok().map(|i| &self.entries[i])
    }
}
