//! A QR key written as a setting: `id:state:hex` for an HMAC-SHA256 secret (at least 32 bytes),
//! `id:state:ed25519:hex` for an Ed25519 secret key (32 bytes); `state` is `current` (signs) or
//! `verify` (verifies only). The server reads its keys in this form (`TICKETING_QR_KEYS`, its
//! keys file, `keys.toml`) and `ticketing keys generate` prints it.
//!
//! ```
//! use ticketing_core::signing::{Algorithm, KeySetting};
//!
//! let key: KeySetting = format!("7:current:ed25519:{}", "ab".repeat(32)).parse()?;
//! assert_eq!((key.id.0, key.current, key.algorithm), (7, true, Algorithm::Ed25519));
//! assert_eq!(key.to_setting().parse::<KeySetting>()?, key);
//! # Ok::<(), String>(())
//! ```

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::SigningKey;

use super::{Algorithm, KeyId, KeyMaterial, KeyState};
use crate::env::Randomness;

/// The word naming Ed25519 in a setting (HMAC, the older form, has none).
const ED25519: &str = "ed25519";

/// One QR key as the settings give it. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct KeySetting {
    /// Its id, carried in every payload it signs.
    pub id: KeyId,
    /// Whether it signs (`current`) or only verifies.
    pub current: bool,
    /// Its algorithm.
    pub algorithm: Algorithm,
    /// The HMAC secret, or the Ed25519 secret key.
    pub secret: Vec<u8>,
}

impl fmt::Debug for KeySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySetting")
            .field("id", &self.id.0)
            .field("current", &self.current)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl FromStr for KeySetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().splitn(4, ':').collect();
        let (id, state, algorithm, hex) = match parts[..] {
            [id, state, hex] => (id, state, Algorithm::HmacSha256, hex),
            [id, state, ED25519, hex] => (id, state, Algorithm::Ed25519, hex),
            // The third field is not echoed: in a mistyped HMAC key it is the secret.
            [_, _, _, _] => return Err(format!("a key with four fields names its algorithm third: `{ED25519}`")),
            _ => return Err(format!("a key is `id:state:hex`, or `id:state:{ED25519}:hex`")),
        };
        let id = KeyId(id.parse().map_err(|_| format!("key id {id:?} is not a number from 0 to 65535"))?);
        let current = match state {
            "current" => true,
            "verify" => false,
            other => return Err(format!("key state {other:?} is not `current` or `verify`")),
        };
        let secret = hex::decode(hex).map_err(|_| "the secret is not hexadecimal")?;
        match algorithm {
            Algorithm::HmacSha256 if secret.len() < 32 => Err("the secret is shorter than 32 bytes".into()),
            Algorithm::Ed25519 if secret.len() != 32 => Err("an Ed25519 secret key is 32 bytes".into()),
            _ => Ok(Self { id, current, algorithm, secret }),
        }
    }
}

impl KeySetting {
    /// A new key with a fresh secret from `rng` (32 bytes either way).
    pub fn generate(id: KeyId, current: bool, algorithm: Algorithm, rng: &dyn Randomness) -> Self {
        let mut secret = vec![0; 32];
        rng.fill(&mut secret);
        Self { id, current, algorithm, secret }
    }

    /// The setting's text: `id:state:hex` or `id:state:ed25519:hex`.
    pub fn to_setting(&self) -> String {
        let state = if self.current { "current" } else { "verify" };
        match self.algorithm {
            Algorithm::HmacSha256 => format!("{}:{state}:{}", self.id.0, hex::encode(&self.secret)),
            Algorithm::Ed25519 => format!("{}:{state}:{ED25519}:{}", self.id.0, hex::encode(&self.secret)),
        }
    }

    /// Its state in a keyring.
    pub fn state(&self) -> KeyState {
        if self.current { KeyState::Current } else { KeyState::VerifyOnly }
    }

    /// Its material for a [`Keyring`](super::Keyring).
    pub fn material(&self) -> KeyMaterial {
        match self.algorithm {
            Algorithm::HmacSha256 => KeyMaterial::HmacSecret(self.secret.clone()),
            Algorithm::Ed25519 => KeyMaterial::Ed25519Secret(self.ed25519_secret()),
        }
    }

    /// An Ed25519 key's public key (what a scanner verifies with); `None` for HMAC.
    pub fn public_key(&self) -> Option<[u8; 32]> {
        (self.algorithm == Algorithm::Ed25519)
            .then(|| SigningKey::from_bytes(&self.ed25519_secret()).verifying_key().to_bytes())
    }

    /// The secret as an Ed25519 key's 32 bytes (checked on parsing; zero-padded otherwise).
    fn ed25519_secret(&self) -> [u8; 32] {
        let mut bytes = [0; 32];
        let n = self.secret.len().min(32);
        bytes[..n].copy_from_slice(&self.secret[..n]);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{Keyring, QrClaims};

    #[test]
    fn both_forms_read_and_write_back() {
        let hmac: KeySetting = format!("1:verify:{}", "0f".repeat(40)).parse().expect("HMAC");
        assert_eq!((hmac.id, hmac.current, hmac.algorithm), (KeyId(1), false, Algorithm::HmacSha256));
        assert_eq!(hmac.secret.len(), 40);
        assert_eq!(hmac.to_setting(), format!("1:verify:{}", "0f".repeat(40)));
        let ed: KeySetting = format!(" 65535:current:ed25519:{}\n", "a1".repeat(32)).parse().expect("Ed25519");
        assert_eq!((ed.id, ed.current, ed.algorithm), (KeyId(u16::MAX), true, Algorithm::Ed25519));
        assert_eq!(ed.to_setting(), format!("65535:current:ed25519:{}", "a1".repeat(32)));
        assert!(hmac.public_key().is_none());
        assert!(!format!("{ed:?}").contains("a1a1"), "the secret stays out of Debug");
    }

    #[test]
    fn a_wrong_setting_is_named() {
        let cases = [
            ("1:current", "a key is"),
            ("x:current:00", "not a number"),
            (&format!("1:now:{}", "00".repeat(32)), "`current` or `verify`"),
            (&format!("1:current:rsa:{}", "00".repeat(32)), "names its algorithm third"),
            (&format!("1:current:{}:", "ab".repeat(32)), "names its algorithm third"),
            ("1:current:zz", "not hexadecimal"),
            (&format!("1:current:{}", "00".repeat(31)), "shorter than 32 bytes"),
            (&format!("1:current:ed25519:{}", "00".repeat(33)), "is 32 bytes"),
        ];
        for (text, why) in cases {
            let refused = text.parse::<KeySetting>().expect_err(text);
            assert!(refused.contains(why), "{text}: {refused}");
            assert!(!refused.contains("abab"), "a secret is never echoed: {refused}");
        }
    }

    /// What an Ed25519 setting signs verifies with its public key alone.
    #[test]
    fn an_ed25519_setting_signs_what_its_public_key_verifies() {
        let key: KeySetting = format!("3:current:ed25519:{}", "5c".repeat(32)).parse().expect("a key");
        let signer = Keyring::new().with_key(key.id, key.state(), key.material()).expect("a keyring");
        let claims =
            QrClaims { ticket: crate::short_code::ShortCode::parse("26H5A-JV4X2").expect("a code"), expires_at: None };
        let text = signer.sign_qr(Algorithm::Ed25519, &claims).expect("signed");
        let public = key.public_key().expect("a public key");
        let scanner = Keyring::new()
            .with_key(key.id, KeyState::VerifyOnly, KeyMaterial::Ed25519Public(public))
            .expect("a scanner's keyring");
        assert_eq!(scanner.verify_qr(&text, chrono::Utc::now()), Ok(claims));
        assert_eq!(signer.ed25519_public_keys(), vec![(key.id, public)]);
    }
}
