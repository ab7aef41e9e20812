//! Signed payment webhooks: the scheme Stripe documents for `Stripe-Signature`, which the generic
//! provider's `Ticketing-Signature` header follows too, so one verifier serves both.
//!
//! The header is `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=<hex>…]` (other schemes such as `v0`
//! are ignored); the signed message is `"{t}.{raw body}"`. A delivery is accepted when one `v1`
//! matches one of the active secrets (two during a rotation), compared in constant time, and `t`
//! is within the tolerance of now, both ways (a replayed old delivery and a clock far ahead are
//! refused alike). The raw body is verified before anything reads it.
//!
//! ```
//! use chrono::{TimeZone as _, Utc};
//! use ticketing_core::webhook_signature::{TOLERANCE, sign, verify};
//!
//! let now = Utc.with_ymd_and_hms(2027, 7, 1, 18, 0, 0).unwrap();
//! let body = br#"{"id":"evt_1","type":"payment.succeeded"}"#;
//! let header = sign(b"whsec_test_secret", body, now);
//! assert_eq!(verify(&header, body, &[b"whsec_test_secret".as_slice()], now, TOLERANCE), Ok(now));
//! assert!(verify(&header, b"{}", &[b"whsec_test_secret".as_slice()], now, TOLERANCE).is_err());
//! ```

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq as _;
use thiserror::Error;

/// How far a delivery's timestamp may be from now, either way: five minutes, as Stripe advises.
pub const TOLERANCE: Duration = Duration::minutes(5);

/// The longest header read: a timestamp and a few signatures.
const MAX_HEADER: usize = 1024;

/// The most `v1` signatures a header may carry (a rotation needs two; Stripe sends one per
/// active secret).
const MAX_SIGNATURES: usize = 4;

/// Why a delivery was refused. Every case is a 400 to the sender; the reason is for the logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// No signature header, or one too long to be real.
    #[error("the signature header is missing or malformed")]
    Malformed,
    /// No `t=` timestamp, or not a number of seconds.
    #[error("the signature header has no valid timestamp")]
    NoTimestamp,
    /// No `v1=` signature.
    #[error("the signature header has no v1 signature")]
    NoSignature,
    /// The timestamp is too far from now.
    #[error("the delivery's timestamp is outside the tolerance")]
    OutsideTolerance,
    /// No signature matches any active secret.
    #[error("no signature matches")]
    Mismatch,
}

/// The signature of `"{t}.{body}"` with `secret`.
fn mac(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Verifies a delivery: `header` (the `Stripe-Signature` or `Ticketing-Signature` value) against
/// the raw `body`, with any of `secrets`, at `now`. Returns the delivery's signed instant.
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<DateTime<Utc>, SignatureError> {
    if header.is_empty() || header.len() > MAX_HEADER {
        return Err(SignatureError::Malformed);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                let seconds = value.parse::<i64>().map_err(|_| SignatureError::NoTimestamp)?;
                if timestamp.replace(seconds).is_some() {
                    return Err(SignatureError::Malformed);
                }
            }
            "v1" if signatures.len() < MAX_SIGNATURES => {
                signatures.push(decode_hex(value).ok_or(SignatureError::Malformed)?);
            }
            "v1" => return Err(SignatureError::Malformed),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::NoTimestamp)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    let signed_at = DateTime::from_timestamp(timestamp, 0).ok_or(SignatureError::NoTimestamp)?;
    if (now - signed_at).abs() > tolerance {
        return Err(SignatureError::OutsideTolerance);
    }
    // One MAC of the body per secret (the body is hashed at most twice, whatever the header
    // holds), then every pair compared (no early exit on the one that matches), each in constant
    // time.
    let mut matched = subtle::Choice::from(0);
    for secret in secrets {
        let expected = mac(secret, timestamp, body).finalize().into_bytes();
        for signature in &signatures {
            matched |= expected.as_slice().ct_eq(signature.as_slice());
        }
    }
    let matched = bool::from(matched);
    if matched { Ok(signed_at) } else { Err(SignatureError::Mismatch) }
}

/// The header value that signs `body` with `secret` at `now`: for senders (the generic provider,
/// refund calls to it) and tests.
pub fn sign(secret: &[u8], body: &[u8], now: DateTime<Utc>) -> String {
    let timestamp = now.timestamp();
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Lower- or upper-case hex of a 32-byte signature.
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let mut signature = [0u8; 32];
    hex::decode_to_slice(text, &mut signature).ok()?;
    Some(signature.to_vec())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;
    use proptest::prelude::*;

    use super::*;

    const SECRET: &[u8] = b"whsec_a_test_secret";
    const NEXT: &[u8] = b"whsec_the_next_secret";
    const EMPTY: &[u8] = b"{}";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 7, 1, 18, 0, 0).unwrap()
    }

    #[test]
    fn a_signed_delivery_verifies_and_rotation_keeps_two_secrets() {
        let body = br#"{"type":"checkout.session.completed"}"#;
        let header = sign(SECRET, body, now());
        assert_eq!(verify(&header, body, &[SECRET], now(), TOLERANCE), Ok(now()));
        assert_eq!(verify(&header, body, &[NEXT, SECRET], now(), TOLERANCE), Ok(now()), "old secret still active");
        assert_eq!(verify(&header, body, &[NEXT], now(), TOLERANCE), Err(SignatureError::Mismatch));
        // Stripe sends one v1 per active secret during its own rotation, and a v0 to ignore.
        let next = sign(NEXT, body, now());
        let both = format!("{header},v1={},v0=ignored", next.split_once(",v1=").unwrap().1);
        assert_eq!(verify(&both, body, &[NEXT], now(), TOLERANCE), Ok(now()), "{both}");
    }

    #[test]
    fn malformed_headers_are_refused_with_their_reason() {
        let body = b"{}";
        let good = sign(SECRET, body, now());
        let v1 = good.split_once(",v1=").unwrap().1;
        let cases = [
            (String::new(), SignatureError::Malformed),
            ("x".repeat(2000), SignatureError::Malformed),
            (format!("v1={v1}"), SignatureError::NoTimestamp),
            (format!("t=soon,v1={v1}"), SignatureError::NoTimestamp),
            (format!("t={},t={},v1={v1}", now().timestamp(), now().timestamp()), SignatureError::Malformed),
            (format!("t={}", now().timestamp()), SignatureError::NoSignature),
            (format!("t={},v1=zz", now().timestamp()), SignatureError::Malformed),
            // A sign is not a digit (`u8::from_str_radix` would take `+f` as 0x0f).
            (format!("t={},v1=+{}", now().timestamp(), &v1[1..]), SignatureError::Malformed),
            (format!("t={},v1=é{}", now().timestamp(), &v1[2..]), SignatureError::Malformed),
            ("garbage".to_owned(), SignatureError::Malformed),
            (format!("t={},v1={v1}", i64::MAX), SignatureError::NoTimestamp),
            (
                format!("t={}{}", now().timestamp(), format!(",v1={}", "00".repeat(32)).repeat(5)),
                SignatureError::Malformed,
            ),
        ];
        for (header, reason) in cases {
            assert_eq!(verify(&header, body, &[SECRET], now(), TOLERANCE), Err(reason), "{header:.60}");
        }
        let four = format!("t={}{},v1={v1}", now().timestamp(), format!(",v1={}", "00".repeat(32)).repeat(3));
        assert_eq!(verify(&four, body, &[SECRET], now(), TOLERANCE), Ok(now()), "up to four signatures are read");
    }

    #[test]
    fn the_tolerance_holds_both_ways() {
        let body = b"{}";
        for (offset, ok) in [(-300, true), (300, true), (-301, false), (301, false)] {
            let signed = now() + Duration::seconds(offset);
            let result = verify(&sign(SECRET, body, signed), body, &[SECRET], now(), TOLERANCE);
            assert_eq!(result.is_ok(), ok, "{offset} s: {result:?}");
        }
    }

    proptest! {
        /// Any change to the body, the timestamp, the secret or the header is refused.
        #[test]
        fn any_change_is_refused(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
            shift in 1i64..300,
            secret in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let header = sign(SECRET, &body, now());
            prop_assert_eq!(verify(&header, &body, &[SECRET], now(), TOLERANCE), Ok(now()));
            if !body.is_empty() {
                let mut changed = body.clone();
                let i = flip.index(changed.len());
                changed[i] ^= 1 << bit;
                prop_assert!(verify(&header, &changed, &[SECRET], now(), TOLERANCE).is_err());
            }
            let mut longer = body.clone();
            longer.push(b' ');
            prop_assert!(verify(&header, &longer, &[SECRET], now(), TOLERANCE).is_err());
            let (t, v1) = header.split_once(',').unwrap();
            let moved = format!("t={},{v1}", now().timestamp() + shift);
            prop_assert!(verify(&moved, &body, &[SECRET], now(), TOLERANCE).is_err(), "{} {}", t, moved);
            if secret != SECRET {
                prop_assert!(verify(&header, &body, &[secret.as_slice()], now(), TOLERANCE).is_err());
            }
            let mut bytes = header.clone().into_bytes();
            let i = flip.index(bytes.len());
            bytes[i] ^= 1 << bit;
            if let Ok(tampered) = String::from_utf8(bytes) && tampered != header {
                let verdict = verify(&tampered, &body, &[SECRET], now(), TOLERANCE);
                // Flipping the case of a hex digit is the same signature; anything else is refused.
                prop_assert!(verdict.is_err() || tampered.eq_ignore_ascii_case(&header), "{tampered}");
            }
        }

        /// A valid signature outside the tolerance is refused.
        #[test]
        fn a_valid_signature_outside_the_tolerance_is_refused(seconds in 301i64..100_000_000, ahead: bool) {
            let signed = if ahead { now() + Duration::seconds(seconds) } else { now() - Duration::seconds(seconds) };
            let header = sign(SECRET, EMPTY, signed);
            prop_assert_eq!(verify(&header, EMPTY, &[SECRET], now(), TOLERANCE), Err(SignatureError::OutsideTolerance));
        }

        /// Arbitrary headers never panic and never verify.
        #[test]
        fn arbitrary_headers_never_verify(header in "\\PC{0,200}") {
            prop_assert!(verify(&header, EMPTY, &[SECRET], now(), TOLERANCE).is_err());
        }
    }
}
