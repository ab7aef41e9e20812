//! Short-code parsing: total, and what parses displays back to an equal code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ticketing_core::short_code::ShortCode;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(code) = ShortCode::parse(&text) {
        assert_eq!(code.to_string().parse::<ShortCode>(), Ok(code));
    }
});
