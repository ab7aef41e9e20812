//! Payment webhook signature headers (`Stripe-Signature`, `Ticketing-Signature`): any header
//! gets a typed answer, never a panic; a header signed for a body verifies for that body at the
//! signing instant, and not for the body changed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ticketing_core::chrono::{DateTime, Duration, Utc};
use ticketing_core::webhook_signature::{TOLERANCE, sign, verify};

const SECRET: &[u8] = b"whsec_fuzzing_secret";

fuzz_target!(|input: (&str, &[u8], i32)| {
    let (header, body, seconds) = input;
    let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let _ = verify(header, body, &[SECRET], now, TOLERANCE);
    let at = now + Duration::seconds(i64::from(seconds));
    let signed = sign(SECRET, body, at);
    assert_eq!(verify(&signed, body, &[SECRET], at, TOLERANCE), Ok(at), "{signed}");
    let mut changed = body.to_vec();
    changed.push(b' ');
    assert!(verify(&signed, &changed, &[SECRET], at, TOLERANCE).is_err(), "{signed}");
});
