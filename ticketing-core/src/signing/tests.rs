use chrono::{DateTime, Duration, TimeZone as _, Utc};
use fast_qr::{ECL, QRBuilder};
use proptest::prelude::*;

use super::*;
use crate::short_code::ShortCode;

const HMAC_SECRET: [u8; 32] = [0x5a; 32];
const ED_SECRET: [u8; 32] = [0x17; 32];

fn keyring() -> Keyring {
    Keyring::new()
        .with_key(KeyId(1), KeyState::VerifyOnly, KeyMaterial::HmacSecret(vec![0x11; 32]))
        .and_then(|k| k.with_key(KeyId(2), KeyState::Current, KeyMaterial::HmacSecret(HMAC_SECRET.to_vec())))
        .and_then(|k| k.with_key(KeyId(3), KeyState::Retired, KeyMaterial::HmacSecret(vec![0x33; 32])))
        .and_then(|k| k.with_key(KeyId(10), KeyState::Current, KeyMaterial::Ed25519Secret(ED_SECRET)))
        .unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 7, 1, 18, 0, 0).unwrap()
}

fn claims(expiry: bool) -> QrClaims {
    QrClaims {
        ticket: ShortCode::from_value(31u64.pow(9) - 1).unwrap(),
        expires_at: expiry.then(|| Utc.with_ymd_and_hms(2027, 7, 4, 0, 0, 0).unwrap()),
    }
}

#[test]
fn signs_and_verifies_with_both_algorithms() {
    let k = keyring();
    for algorithm in [Algorithm::HmacSha256, Algorithm::Ed25519] {
        for expiry in [false, true] {
            let text = k.sign_qr(algorithm, &claims(expiry)).unwrap();
            assert_eq!(k.verify_qr(&text, now()), Ok(claims(expiry)), "{algorithm:?}");
            let decoded = decode_qr(&text).unwrap();
            assert_eq!((decoded.algorithm, decoded.version), (algorithm, VERSION));
        }
    }
}

#[test]
fn a_full_payload_fits_a_version_5_qr_code_at_level_m() {
    let k = keyring();
    for algorithm in [Algorithm::HmacSha256, Algorithm::Ed25519] {
        let text = k.sign_qr(algorithm, &claims(true)).unwrap();
        assert!(text.len() <= MAX_TEXT_LEN);
        // The smallest symbol that holds it: version v is 17 + 4v modules wide.
        let smallest = QRBuilder::new(text.as_bytes()).ecl(ECL::M).build().unwrap();
        let version = (smallest.size - 17) / 4;
        assert!(version <= 5, "{algorithm:?} needs version {version} ({} chars)", text.len());
    }
}

#[test]
fn a_payload_carries_no_personal_data_or_price() {
    // Everything the payload holds is in DecodedQr: version, algorithm, key id, ticket reference,
    // expiry, and the signature. The bytes are exactly those fields, nothing else.
    let text = keyring().sign_qr(Algorithm::HmacSha256, &claims(true)).unwrap();
    let d = decode_qr(&text).unwrap();
    assert_eq!(d.body().len(), 14);
    assert_eq!(d.body()[0], 0x11);
    assert_eq!(&d.body()[1..3], &2u16.to_be_bytes());
    assert_eq!(&d.body()[4..10], &d.claims.ticket.value().to_be_bytes()[2..]);
    assert_eq!(d.signature().len(), 32);
    let lower = text.to_lowercase();
    for personal in ["zoë", "zoe", "lefèvre", "@", "+33", "89.00", "8900", "eur"] {
        assert!(!lower.contains(personal), "{personal} in {text}");
    }
}

#[test]
fn keys_rotate_sign_with_current_verify_with_any_active() {
    let old = Keyring::new().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![0x11; 32])).unwrap();
    let issued_before_rotation = old.sign_qr(Algorithm::HmacSha256, &claims(false)).unwrap();
    let k = keyring();
    assert_eq!(k.verify_qr(&issued_before_rotation, now()), Ok(claims(false)));
    assert_eq!(decode_qr(&k.sign_qr(Algorithm::HmacSha256, &claims(false)).unwrap()).unwrap().key_id, KeyId(2));

    let retired =
        Keyring::new().with_key(KeyId(3), KeyState::Current, KeyMaterial::HmacSecret(vec![0x33; 32])).unwrap();
    let text = retired.sign_qr(Algorithm::HmacSha256, &claims(false)).unwrap();
    assert_eq!(k.verify_qr(&text, now()), Err(PayloadError::RetiredKey(KeyId(3))));

    let stranger =
        Keyring::new().with_key(KeyId(99), KeyState::Current, KeyMaterial::HmacSecret(vec![0x99; 32])).unwrap();
    let text = stranger.sign_qr(Algorithm::HmacSha256, &claims(false)).unwrap();
    assert_eq!(k.verify_qr(&text, now()), Err(PayloadError::UnknownKey(KeyId(99))));

    let forger = Keyring::new().with_key(KeyId(2), KeyState::Current, KeyMaterial::HmacSecret(vec![0x66; 32])).unwrap();
    let text = forger.sign_qr(Algorithm::HmacSha256, &claims(false)).unwrap();
    assert_eq!(k.verify_qr(&text, now()), Err(PayloadError::BadSignature));
}

#[test]
fn an_offline_scanner_verifies_with_the_public_key_only() {
    let server = keyring();
    let keys = server.ed25519_public_keys();
    assert_eq!(keys.len(), 1);
    let mut scanner = Keyring::new();
    for (id, public) in keys {
        scanner = scanner.with_key(id, KeyState::VerifyOnly, KeyMaterial::Ed25519Public(public)).unwrap();
    }
    let text = server.sign_qr(Algorithm::Ed25519, &claims(true)).unwrap();
    assert_eq!(scanner.verify_qr(&text, now()), Ok(claims(true)));
    assert_eq!(scanner.sign_qr(Algorithm::Ed25519, &claims(true)), Err(KeyError::NoCurrentKey(Algorithm::Ed25519)));
    // An HMAC code cannot pass as an Ed25519 one by naming an Ed25519 key.
    let hmac_under_ed_id =
        Keyring::new().with_key(KeyId(10), KeyState::Current, KeyMaterial::HmacSecret(vec![1; 32])).unwrap();
    let text = hmac_under_ed_id.sign_qr(Algorithm::HmacSha256, &claims(false)).unwrap();
    assert_eq!(scanner.verify_qr(&text, now()), Err(PayloadError::AlgorithmMismatch(KeyId(10))));
}

#[test]
fn the_expiry_is_enforced_when_present() {
    let k = keyring();
    let text = k.sign_qr(Algorithm::HmacSha256, &claims(true)).unwrap();
    let after = claims(true).expires_at.unwrap() + Duration::seconds(1);
    assert_eq!(k.verify_qr(&text, after), Err(PayloadError::Expired(claims(true).expires_at.unwrap())));
}

#[test]
fn keyring_construction_refuses_unsafe_setups() {
    let k = Keyring::new();
    assert_eq!(
        k.clone().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![0; 31])).err(),
        Some(KeyError::ShortSecret(KeyId(1)))
    );
    let one = k.with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![0; 32])).unwrap();
    assert_eq!(
        one.clone().with_key(KeyId(1), KeyState::VerifyOnly, KeyMaterial::HmacSecret(vec![1; 32])).err(),
        Some(KeyError::DuplicateId(KeyId(1)))
    );
    assert_eq!(
        one.clone().with_key(KeyId(2), KeyState::Current, KeyMaterial::HmacSecret(vec![1; 32])).err(),
        Some(KeyError::TwoCurrent(Algorithm::HmacSha256))
    );
    assert_eq!(
        one.with_key(KeyId(3), KeyState::Current, KeyMaterial::Ed25519Public([0; 32])).err(),
        Some(KeyError::PublicKeyCannotSign(KeyId(3)))
    );
    assert!(!format!("{:?}", KeyMaterial::HmacSecret(HMAC_SECRET.to_vec())).contains("90"));
}

#[test]
fn malformed_payloads_get_typed_errors() {
    let k = keyring();
    let good = decode_qr(&k.sign_qr(Algorithm::HmacSha256, &claims(false)).unwrap()).unwrap();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.body().iter().chain(good.signature()).copied().collect::<Vec<u8>>();
        f(&mut b);
        decode_qr(&base45::encode(&b))
    };
    assert_eq!(decode_qr(""), Err(PayloadError::Length));
    assert_eq!(decode_qr(&"0".repeat(MAX_TEXT_LEN + 1)), Err(PayloadError::Length));
    assert_eq!(decode_qr("a"), Err(PayloadError::Encoding(base45::Base45Error::Length)));
    assert_eq!(with(&|b| b[0] = 0x21), Err(PayloadError::Version(2)));
    assert_eq!(with(&|b| b[0] = 0x13), Err(PayloadError::Algorithm(3)));
    assert_eq!(with(&|b| b[3] = 0x80), Err(PayloadError::Flags(0x80)));
    assert_eq!(with(&|b| b[4..10].copy_from_slice(&[0xff; 6])), Err(PayloadError::TicketRef));
    assert_eq!(
        with(&|b| {
            b.pop();
        }),
        Err(PayloadError::Length)
    );
    assert_eq!(with(&|b| b[3] = 1), Err(PayloadError::Length));
}

/// Every key id and both algorithms: the text a scanner reads (with or without the Enter a
/// keyboard-wedge scanner types after it) verifies to the claims signed. About 1,500 ids give
/// a text starting with a space, a base45 symbol that a `trim()` would have cut away.
#[test]
fn every_key_id_round_trips_through_a_scanner() {
    let claims = claims(true);
    let mut leading_space = 0;
    for id in 0..=u16::MAX {
        let k = Keyring::new()
            .with_key(KeyId(id), KeyState::Current, KeyMaterial::HmacSecret(HMAC_SECRET.to_vec()))
            .unwrap();
        let text = k.sign_qr(Algorithm::HmacSha256, &claims).unwrap();
        leading_space += usize::from(text.starts_with(' '));
        for read in [text.clone(), format!("{text}\r\n"), format!("{text}\n"), format!("{text}\t")] {
            assert_eq!(k.verify_qr(scanned_text(&read), now()), Ok(claims), "key id {id}: {read:?}");
        }
    }
    assert!(leading_space > 1_000, "the ids that start with a space are covered ({leading_space})");
}

proptest! {
    #[test]
    fn any_ed25519_key_id_round_trips_through_a_scanner(id: u16, expiry: bool) {
        let k = Keyring::new().with_key(KeyId(id), KeyState::Current, KeyMaterial::Ed25519Secret(ED_SECRET)).unwrap();
        let text = k.sign_qr(Algorithm::Ed25519, &claims(expiry)).unwrap();
        prop_assert_eq!(k.verify_qr(scanned_text(&format!("{text}\r\n")), now()), Ok(claims(expiry)));
    }


    #[test]
    fn any_one_bit_change_is_rejected(algorithm in prop_oneof![Just(Algorithm::HmacSha256), Just(Algorithm::Ed25519)], expiry: bool, bit in 0usize..(78 * 8)) {
        let k = keyring();
        let text = k.sign_qr(algorithm, &claims(expiry)).unwrap();
        let mut bytes = decode_qr(&text).unwrap().body().to_vec();
        bytes.extend_from_slice(decode_qr(&text).unwrap().signature());
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(k.verify_qr(&base45::encode(&bytes), now()).is_err());
    }

    #[test]
    fn any_one_bit_change_of_the_text_is_rejected(expiry: bool, bit in 0usize..(117 * 8)) {
        let k = keyring();
        let mut text = k.sign_qr(Algorithm::HmacSha256, &claims(expiry)).unwrap().into_bytes();
        let bit = bit % (text.len() * 8);
        text[bit / 8] ^= 1 << (bit % 8);
        let text = String::from_utf8_lossy(&text);
        prop_assert!(k.verify_qr(&text, now()).is_err());
    }

    #[test]
    fn round_trips_any_claims(code in 0u64..31u64.pow(9), secs in proptest::option::of(0u32..u32::MAX), ed: bool) {
        let claims = QrClaims { ticket: ShortCode::from_value(code).unwrap(), expires_at: secs.map(|s| DateTime::from_timestamp(i64::from(s), 0).unwrap()) };
        let algorithm = if ed { Algorithm::Ed25519 } else { Algorithm::HmacSha256 };
        let k = keyring();
        let text = k.sign_qr(algorithm, &claims).unwrap();
        prop_assert_eq!(decode_qr(&text).unwrap().claims, claims);
        prop_assert!(text.len() <= MAX_TEXT_LEN);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_verify(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let k = keyring();
        let text = String::from_utf8_lossy(&bytes);
        prop_assert!(k.verify_qr(&text, now()).is_err());
        prop_assert!(k.verify_qr(&base45::encode(&bytes), now()).is_err());
    }
}
