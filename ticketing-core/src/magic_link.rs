//! Magic links: unguessable tokens that let a ticket holder fetch their ticket without an account.
//!
//! A token is 192 bits from the caller's CSPRNG, shown once as 32 base64url characters; only its
//! hash is stored (see [`crate::secret_token`]). Links expire and can be revoked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::env::Randomness;
use crate::ids::TicketId;
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
    /// A new link for `ticket_id`; returns the token to show and the record to store.
    pub fn issue(
        ticket_id: TicketId,
        now: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
        rng: &dyn Randomness,
    ) -> (MagicLinkToken, Self) {
        let token = MagicLinkToken::generate(rng);
        let link = Self { token_hash: token.hash(), ticket_id, created_at: now, expires_at, revoked_at: None };
        (token, link)
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
        let rng = Counter(0.into());
        let (token, link) = MagicLink::issue(TicketId::from_uuid(Uuid::nil()), Utc::now(), None, &rng);
        let text = token.as_text();
        assert_eq!(text.len(), TOKEN_TEXT_LEN);
        let parsed = parse_token(&text).unwrap();
        assert_eq!(parsed.hash(), link.token_hash);
        assert_ne!(MagicLinkToken::generate(&rng).hash(), link.token_hash);
        assert!(!format!("{token:?}").contains(&text));
    }

    #[test]
    fn expiry_and_revocation() {
        let rng = Counter(0.into());
        let now = Utc::now();
        let (_, mut link) =
            MagicLink::issue(TicketId::from_uuid(Uuid::nil()), now, Some(now + Duration::days(1)), &rng);
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
