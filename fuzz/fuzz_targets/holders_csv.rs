//! Holder lists (`holders_csv` of a generation request): any text gets the holders or a field
//! detail naming the line at fault, never a panic; every holder read has a trimmed, non-empty
//! name, and the core's holder checks answer every list read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ticketing_core::ticket::{Holder, HolderSpec};
use ticketing_http::fuzzing::holders_csv;

fuzz_target!(|text: &str| {
    match holders_csv(text) {
        Ok(holders) => {
            assert!(!holders.is_empty());
            let specs: Vec<HolderSpec> = holders
                .into_iter()
                .map(|(name, email, phone)| {
                    assert!(!name.is_empty() && name.trim() == name, "{name:?}");
                    HolderSpec { name, email, phone }
                })
                .collect();
            let _ = Holder::list(&specs);
        }
        Err(detail) => assert!(detail.starts_with("line "), "{detail}"),
    }
});
