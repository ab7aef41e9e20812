//! Magic links: unguessable tokens that let a ticket holder fetch their ticket without an account.
//!
//! A token is 192 bits, shown as 32 base64url characters; only its hash is stored (see
//! [`crate::secret_token`]). Links expire and can be revoked.
//!
//! A token is derived, not drawn: the first 192 bits of HMAC-SHA256 under a [`LinkKey`] of the
//! ticket's id and the link's creation instant. Storage still keeps only the hash, yet whoever
//! holds the key can give a ticket's live link again later (a participant export, the links of a
//! generation job of ten thousand tickets) without any clear token at rest. A re-issued link is
//! created at a later instant, so it is a different token.

use std::fmt;

use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

use crate::env::Randomness;
use crate::ids::{OrderId, TicketId};
use crate::secret_token::SecretToken;
pub use crate::secret_token::TokenHash;

/// A magic-link token in clear: 192 bits, 32 characters, shown to the holder once.
pub type MagicLinkToken = SecretToken<24>;

/// Length of a token's text form.
pub const TOKEN_TEXT_LEN: usize = MagicLinkToken::TEXT_LEN;

/// Why a token text or a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MagicLinkError {
    /// Not a token: wrong length or alphabet.
    #[error("not a magic-link token")]
    Malformed,
    /// The link has expired.
    #[error("the link has expired")]
    Expired,
    /// The link was revoked.
    #[error("the link was revoked")]
    Revoked,
}

/// Parses a token's text form; [`MagicLinkError::Malformed`] for anything else.
pub fn parse_token(text: &str) -> Result<MagicLinkToken, MagicLinkError> {
    MagicLinkToken::parse(text).ok_or(MagicLinkError::Malformed)
}

/// The secret magic-link tokens are derived under: 32 bytes, kept by the deployment next to its
/// QR keys. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct LinkKey([u8; 32]);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// A key of these bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh random key. Links made under it cannot be given again once it is lost; a server
    /// keeps its key (`ticketing-http` keeps it in `<data_dir>/link.key`).
    pub fn generate(rng: &dyn Randomness) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill(&mut bytes);
        Self(bytes)
    }

    /// The key's fingerprint (see [`crate::fleet`]): a MAC of a fixed label under the key.
    pub fn fingerprint(&self) -> crate::fleet::KeyFingerprint {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(crate::fleet::LABEL);
        crate::fleet::KeyFingerprint::from_digest(crate::fleet::KeyKind::Link, 0, &mac.finalize().into_bytes())
    }

    /// The token of the link of `ticket_id` created at `created_at`.
    pub fn token(&self, ticket_id: TicketId, created_at: DateTime<Utc>) -> MagicLinkToken {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(b"ticketing/magic-link/v1");
        mac.update(ticket_id.as_uuid().as_bytes());
        mac.update(&created_at.timestamp_micros().to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 24];
        bytes.copy_from_slice(&digest[..24]);
        MagicLinkToken::from_bytes(bytes)
    }

    /// The buyer's secret token of an order: derived like a link's (under its own label), so
    /// storage keeps only its hash while a retried placement can show it again.
    pub fn order_token(&self, order_id: OrderId) -> MagicLinkToken {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(b"ticketing/order/v1");
        mac.update(order_id.as_uuid().as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 24];
        bytes.copy_from_slice(&digest[..24]);
        MagicLinkToken::from_bytes(bytes)
    }
}

/// How many links a revocation revoked ([`crate::store::MagicLinkRepository::revoke_magic_links`]):
/// what it writes, for its audit entry ([`crate::audit::Pending`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LinksRevoked(pub u64);

/// A stored magic link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MagicLink {
    /// Hash of the token.
    pub token_hash: TokenHash,
    /// The ticket it opens.
    pub ticket_id: TicketId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl MagicLink {
    /// A new link for `ticket_id`, created `now` (to the microsecond, as stored); returns the
    /// token to show and the record to store.
    pub fn issue(
        key: &LinkKey,
        ticket_id: TicketId,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> (MagicLinkToken, Self) {
        let now = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let token = key.token(ticket_id, now);
        let link = Self { token_hash: token.hash(), ticket_id, created_at: now, expires_at, revoked_at: None };
        (token, link)
    }

    /// The link's token again, if it was derived under `key` (a link made under another key, or
    /// drawn at random, gives `None`).
    pub fn token(&self, key: &LinkKey) -> Option<MagicLinkToken> {
        let token = key.token(self.ticket_id, self.created_at);
        (token.hash() == self.token_hash).then_some(token)
    }

    /// Whether the link opens its ticket at `now`. Revocation wins over expiry.
    pub fn check(&self, now: DateTime<Utc>) -> Result<TicketId, MagicLinkError> {
        if self.revoked_at.is_some_and(|at| at <= now) {
            return Err(MagicLinkError::Revoked);
        }
        if self.expires_at.is_some_and(|at| now >= at) {
            return Err(MagicLinkError::Expired);
        }
        Ok(self.ticket_id)
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    struct Counter(std::sync::atomic::AtomicU8);
    impl Randomness for Counter {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    #[test]
    fn tokens_round_trip_and_hash_stably() {
        let key = LinkKey::generate(&Counter(0.into()));
        let (token, link) = MagicLink::issue(&key, TicketId::from_uuid(Uuid::nil()), Utc::now(), None);
        let text = token.as_text();
        assert_eq!(text.len(), TOKEN_TEXT_LEN);
        let parsed = parse_token(&text).unwrap();
        assert_eq!(parsed.hash(), link.token_hash);
        assert!(!format!("{token:?}").contains(&text));
        assert!(!format!("{key:?}").contains("0"));
    }

    #[test]
    fn a_link_gives_its_token_again_only_under_its_key() {
        let key = LinkKey::generate(&Counter(0.into()));
        let other = LinkKey::generate(&Counter(7.into()));
        let id = TicketId::from_uuid(Uuid::from_u128(42));
        let now = Utc::now();
        let (token, link) = MagicLink::issue(&key, id, now, None);
        assert_eq!(link.token(&key).map(|t| t.as_text()), Some(token.as_text()));
        assert_eq!(link.token(&other), None);
        // Another instant, or another ticket, is another token.
        let (later, _) = MagicLink::issue(&key, id, now + Duration::microseconds(1), None);
        let (elsewhere, _) = MagicLink::issue(&key, TicketId::from_uuid(Uuid::from_u128(43)), now, None);
        assert_ne!(later.hash(), link.token_hash);
        assert_ne!(elsewhere.hash(), link.token_hash);
    }

    #[test]
    fn expiry_and_revocation() {
        let key = LinkKey::generate(&Counter(0.into()));
        let now = Utc::now();
        let (_, mut link) =
            MagicLink::issue(&key, TicketId::from_uuid(Uuid::nil()), now, Some(now + Duration::days(1)));
        assert_eq!(link.check(now), Ok(link.ticket_id));
        assert_eq!(link.check(now + Duration::days(1)), Err(MagicLinkError::Expired));
        link.revoked_at = Some(now);
        assert_eq!(link.check(now), Err(MagicLinkError::Revoked));
        assert_eq!(link.check(now + Duration::days(2)), Err(MagicLinkError::Revoked));
    }

    #[test]
    fn malformed_texts_are_refused() {
        for bad in [
            "",
            "short",
            &"A".repeat(31),
            &"A".repeat(33),
            &format!("{}=", "A".repeat(31)),
            &"é".repeat(16),
            &"+".repeat(32),
        ] {
            assert_eq!(parse_token(bad), Err(MagicLinkError::Malformed), "{bad}");
        }
    }

    proptest! {
        #[test]
        #[test]
        fn any_valid_alphabet_text_of_the_right_length_is_a_token(s in "[A-Za-z0-9_-]{32}") {
            // 32 characters of base64url hold exactly 24 bytes: every such text is canonical.
            prop_assert_eq!(parse_token(&s).map(|t| t.as_text()), Ok(s));
        }
    }
}
