//! Magic-link token parsing: total, and canonical (what parses prints back identically).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ticketing_core::magic_link;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(token) = magic_link::parse_token(&text) {
        assert_eq!(token.as_text(), text);
        let _ = token.hash();
    }
});
