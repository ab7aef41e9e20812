//! Token requests (`POST /oauth/token`): any form body and Authorization header get a reading
//! or a refusal, never a panic; a form and a Basic pair written the way RFC 6749 says read back
//! to what was written.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use libfuzzer_sys::fuzz_target;
use ticketing_http::fuzzing::{TokenReading, token_request};

/// Form-encodes `text` (RFC 6749 §2.3.1 and the form body alike): unreserved bytes as they
/// are, every other byte as `%XX`.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fuzz_target!(|input: (&[u8], &[u8], &str, &str, &str)| {
    let (body, authorization, grant, id, secret) = input;
    let _ = token_request(body, authorization);
    let form = format!("grant_type={}&username={}", encode(grant), encode(id));
    let header = format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(id), encode(secret))));
    let expected = TokenReading::Read {
        grant_type: grant.to_owned(),
        username_usable: !id.chars().any(char::is_control),
        basic: Some((id.to_owned(), secret.to_owned())),
    };
    assert_eq!(token_request(form.as_bytes(), header.as_bytes()), expected);
});
