//! QR payload parsing and verification: any input must give claims or a typed error, never a
//! panic; and nothing the fuzzer makes may verify unless it re-encodes to the same text.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use ticketing_core::chrono::{DateTime, Utc};
use ticketing_core::signing::{self, KeyId, KeyMaterial, KeyState, Keyring};

fn keys() -> &'static Keyring {
    static KEYS: OnceLock<Keyring> = OnceLock::new();
    KEYS.get_or_init(|| {
        Keyring::new()
            .with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![0x42; 32]))
            .and_then(|k| k.with_key(KeyId(2), KeyState::Current, KeyMaterial::Ed25519Secret([0x17; 32])))
            .and_then(|k| k.with_key(KeyId(3), KeyState::Retired, KeyMaterial::HmacSecret(vec![0x43; 32])))
            .expect("fixed test keys are valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys();
    let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    // As text, the way a scanner hands it over.
    let text = String::from_utf8_lossy(data);
    if let Ok(decoded) = signing::decode_qr(&text) {
        // Strict base45: whatever decodes re-encodes to the very same text.
        let mut bytes = decoded.body().to_vec();
        bytes.extend_from_slice(decoded.signature());
        assert_eq!(signing::base45::encode(&bytes), text);
    }
    let _ = keys.verify_qr(&text, now);
    // As raw bytes wrapped in base45, so the fuzzer reaches the binary parser directly.
    let _ = keys.verify_qr(&signing::base45::encode(data), now);
});
