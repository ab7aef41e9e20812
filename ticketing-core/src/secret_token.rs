//! Random secret tokens handed out once and stored only as a hash: magic-link tokens and
//! scan-session tokens.
//!
//! A token is `N` bytes from the caller's CSPRNG (or, for magic links, from a keyed hash: see
//! [`crate::magic_link`]), shown as base64url without padding. Storage keeps its SHA-256: the
//! tokens are too random for a slow password hash to add anything, and a leaked table does not
//! leak working tokens.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::env::Randomness;

/// The SHA-256 hash of a token: what storage keeps and looks up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TokenHash(pub [u8; 32]);

/// A token of `N` random bytes, in clear. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken<const N: usize>([u8; N]);

impl<const N: usize> fmt::Debug for SecretToken<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretToken<{N}>(..)")
    }
}

impl<const N: usize> SecretToken<N> {
    /// Length of the text form.
    pub const TEXT_LEN: usize = (N * 8).div_ceil(6);

    /// A fresh random token.
    pub fn generate(rng: &dyn Randomness) -> Self {
        let mut bytes = [0u8; N];
        rng.fill(&mut bytes);
        Self(bytes)
    }

    /// A token made of `bytes` (derived by a keyed hash, say, rather than drawn).
    pub(crate) fn from_bytes(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// Parses the text form. Total: `None` for anything but the one canonical text of a token.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != Self::TEXT_LEN {
            return None;
        }
        let mut bytes = [0u8; N];
        match URL_SAFE_NO_PAD.decode_slice(text, &mut bytes) {
            // Unless N is a multiple of 3, the last symbol carries spare bits: only the
            // encoding with those bits at zero is accepted, so one token has one text.
            Ok(n) if n == N && URL_SAFE_NO_PAD.encode(bytes) == text => Some(Self(bytes)),
            _ => None,
        }
    }

    /// The text form.
    pub fn as_text(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The hash under which the token is stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn text_lengths() {
        assert_eq!(SecretToken::<16>::TEXT_LEN, 22);
        assert_eq!(SecretToken::<24>::TEXT_LEN, 32);
    }

    #[test]
    fn non_canonical_spare_bits_are_refused() {
        let zero = SecretToken::<16>([0; 16]).as_text();
        assert_eq!(zero, "AAAAAAAAAAAAAAAAAAAAAA");
        // 'B' sets a spare bit of the last symbol: it would decode to the same bytes.
        assert!(SecretToken::<16>::parse("AAAAAAAAAAAAAAAAAAAAAB").is_none());
        assert!(SecretToken::<16>::parse(&zero).is_some());
    }

    proptest! {
        #[test]
        fn round_trips_and_hashes_stably(bytes: [u8; 16]) {
            let token = SecretToken(bytes);
            let parsed = SecretToken::<16>::parse(&token.as_text()).unwrap();
            prop_assert_eq!(parsed.hash(), token.hash());
        }

        #[test]
        fn any_text_parses_to_a_token_that_prints_back(s in "\\PC{0,40}") {
            if let Some(token) = SecretToken::<16>::parse(&s) {
                prop_assert_eq!(token.as_text(), s.clone());
            }
            if let Some(token) = SecretToken::<24>::parse(&s) {
                prop_assert_eq!(token.as_text(), s);
            }
        }
    }
}
