//! Ticket templates (`POST /events/{id}/templates`): any JSON gets a template or problems with
//! their paths, never a panic; a template read writes back to JSON that reads as the same
//! template.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ticketing_pdf::Template;

fuzz_target!(|json: &str| {
    match Template::from_json(json) {
        Ok(template) => assert_eq!(Template::from_json(&template.to_json()), Ok(template)),
        Err(refused) => assert!(!refused.problems.is_empty()),
    }
});
