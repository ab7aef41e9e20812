//! `ticketing keys generate`: a key the server's settings read, of the algorithm asked, with
//! an Ed25519 key's public key shown for scanners.

use std::process::Command;

use ticketing_core::signing::{Algorithm, KeyId, KeySetting};

fn generate(args: &[&str]) -> (KeySetting, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_ticketing")).args(["keys", "generate"]).args(args).output().expect("the CLI");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).expect("UTF-8");
    let key = line.trim().parse().unwrap_or_else(|e| panic!("{line:?}: {e}"));
    (key, String::from_utf8(out.stderr).expect("UTF-8"))
}

#[test]
fn an_ed25519_key_comes_with_its_public_key() {
    let (key, told) = generate(&["--ed25519", "--id", "4"]);
    assert_eq!((key.id, key.current, key.algorithm), (KeyId(4), true, Algorithm::Ed25519));
    let public = hex::encode(key.public_key().expect("an Ed25519 key"));
    assert!(told.contains(&format!("public key of key 4: {public}")), "{told}");
    let (other, _) = generate(&["--ed25519", "--id", "4"]);
    assert_ne!(other.secret, key.secret, "each key is drawn anew");
}

#[test]
fn an_hmac_key_by_default_and_verify_only_on_request() {
    let (key, told) = generate(&["--verify"]);
    assert_eq!((key.id, key.current, key.algorithm), (KeyId(1), false, Algorithm::HmacSha256));
    assert_eq!(key.secret.len(), 32);
    assert!(!told.contains("public key"), "an HMAC key has none: {told}");
}
