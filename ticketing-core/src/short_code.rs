//! Short human codes for manual entry at the gate, such as `26H5A-JV4X2`.
//!
//! Nine symbols from a 31-letter alphabet that leaves out the look-alikes `0 O 1 I L`, then one
//! check symbol: about 44.6 bits, so guessing a live code of a 100,000-ticket event takes
//! billions of tries. The check symbol is a position-weighted sum modulo 31 (a prime), which
//! catches every single mistyped symbol and every swap of two symbols before a lookup is made.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::env::Randomness;

const ALPHABET: &[u8; 31] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const DATA_LEN: usize = 9;
/// 31^9: the number of distinct codes.
const SPACE: u64 = 26_439_622_160_671;
// A code travels as 6 bytes in QR payloads.
const _: () = assert!(SPACE < 1 << 48);

/// Why a typed code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ShortCodeError {
    /// Not ten symbols once dashes and spaces are removed.
    #[error("a short code has 10 symbols")]
    Length,
    /// A symbol outside the alphabet.
    #[error("`{0}` is not a short-code symbol")]
    Symbol(char),
    /// The check symbol does not match: a typo.
    #[error("the check symbol does not match (a typo?)")]
    Check,
}

/// A ticket's short code. Stored and compared as a number below 31^9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShortCode(u64);

impl ShortCode {
    /// How many codes there are: 31^9.
    pub const SPACE: u64 = SPACE;

    /// A uniformly random code.
    pub fn generate(rng: &dyn Randomness) -> Self {
        Self::generate_within(rng, SPACE)
    }

    /// A uniformly random code among the first `space` ones (all of them when `space` is
    /// [`ShortCode::SPACE`] or more, at least one): tests narrow it to force collisions.
    pub fn generate_within(rng: &dyn Randomness, space: u64) -> Self {
        let space = space.clamp(1, SPACE);
        // Rejection sampling over 48 bits keeps the distribution uniform.
        let limit = (1u64 << 48) / space * space;
        loop {
            let mut bytes = [0u8; 8];
            rng.fill(&mut bytes[2..]);
            let v = u64::from_be_bytes(bytes);
            if v < limit {
                return Self(v % space);
            }
        }
    }

    /// The code with this numeric value, if it is in range.
    pub fn from_value(value: u64) -> Option<Self> {
        (value < SPACE).then_some(Self(value))
    }

    /// The numeric value (below 31^9, so it fits 45 bits).
    pub fn value(&self) -> u64 {
        self.0
    }

    /// Parses what a person typed: case-insensitive, dashes and spaces ignored.
    pub fn parse(input: &str) -> Result<Self, ShortCodeError> {
        let mut digits = [0u8; DATA_LEN + 1];
        let mut n = 0;
        for c in input.chars().filter(|c| !matches!(c, '-' | ' ')) {
            if n == digits.len() {
                return Err(ShortCodeError::Length);
            }
            let upper = c.to_ascii_uppercase();
            let pos = u8::try_from(upper)
                .ok()
                .and_then(|b| ALPHABET.iter().position(|a| *a == b))
                .ok_or(ShortCodeError::Symbol(c))?;
            digits[n] = pos as u8;
            n += 1;
        }
        if n != digits.len() {
            return Err(ShortCodeError::Length);
        }
        let data = &digits[..DATA_LEN];
        if check_digit(data) != digits[DATA_LEN] {
            return Err(ShortCodeError::Check);
        }
        Ok(Self(data.iter().fold(0u64, |acc, d| acc * 31 + u64::from(*d))))
    }

    fn data_digits(&self) -> [u8; DATA_LEN] {
        let mut out = [0u8; DATA_LEN];
        let mut v = self.0;
        for slot in out.iter_mut().rev() {
            *slot = (v % 31) as u8;
            v /= 31;
        }
        out
    }
}

fn check_digit(data: &[u8]) -> u8 {
    let sum: u32 = data.iter().enumerate().map(|(i, d)| (i as u32 + 1) * u32::from(*d)).sum();
    (sum % 31) as u8
}

impl fmt::Display for ShortCode {
    /// Ten symbols in two groups of five: `XXXXX-XXXXX`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data = self.data_digits();
        let mut out = [0u8; DATA_LEN + 2];
        let symbols = data.iter().copied().chain([check_digit(&data)]).map(|d| ALPHABET[d as usize]);
        for (i, s) in symbols.enumerate() {
            out[if i < 5 { i } else { i + 1 }] = s;
        }
        out[5] = b'-';
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for ShortCode {
    type Err = ShortCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for ShortCode {
    type Error = ShortCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ShortCode> for String {
    fn from(c: ShortCode) -> Self {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn space_is_31_to_the_9th() {
        assert_eq!(SPACE, 31u64.pow(9));
    }

    #[test]
    fn extremes_display_and_parse() {
        let low = ShortCode::from_value(0).unwrap();
        assert_eq!(low.to_string(), "22222-22222");
        let high = ShortCode::from_value(SPACE - 1).unwrap();
        assert_eq!(high.to_string().parse::<ShortCode>(), Ok(high));
        assert_eq!(ShortCode::from_value(SPACE), None);
    }

    #[test]
    fn refuses_bad_lengths_and_symbols() {
        assert_eq!(ShortCode::parse(""), Err(ShortCodeError::Length));
        assert_eq!(ShortCode::parse("22222-2222"), Err(ShortCodeError::Length));
        assert_eq!(ShortCode::parse("22222-222222"), Err(ShortCodeError::Length));
        assert_eq!(ShortCode::parse("22222-2222O"), Err(ShortCodeError::Symbol('O')));
        assert_eq!(ShortCode::parse("2222é-22222"), Err(ShortCodeError::Symbol('é')));
    }

    proptest! {
        #[test]
        fn round_trips_in_any_case_and_spacing(v in 0..SPACE) {
            let code = ShortCode::from_value(v).unwrap();
            let text = code.to_string();
            prop_assert_eq!(text.parse::<ShortCode>(), Ok(code));
            prop_assert_eq!(text.to_lowercase().replace('-', " ").parse::<ShortCode>(), Ok(code));
        }

        #[test]
        fn every_single_substitution_is_caught(v in 0..SPACE, pos in 0usize..10, by in 1usize..31) {
            let mut symbols: Vec<u8> = ShortCode::from_value(v).unwrap().to_string().replace('-', "").into_bytes();
            let i = ALPHABET.iter().position(|a| *a == symbols[pos]).unwrap();
            symbols[pos] = ALPHABET[(i + by) % 31];
            let typo = String::from_utf8(symbols).unwrap();
            prop_assert_eq!(typo.parse::<ShortCode>(), Err(ShortCodeError::Check));
        }

        #[test]
        fn every_swap_of_two_different_symbols_is_caught(v in 0..SPACE, a in 0usize..10, b in 0usize..10) {
            let mut symbols: Vec<u8> = ShortCode::from_value(v).unwrap().to_string().replace('-', "").into_bytes();
            prop_assume!(symbols[a] != symbols[b]);
            symbols.swap(a, b);
            let typo = String::from_utf8(symbols).unwrap();
            prop_assert_eq!(typo.parse::<ShortCode>(), Err(ShortCodeError::Check));
        }

        #[test]
        fn any_text_parses_to_a_code_or_an_error(s in "\\PC{0,24}") {
            // Total: never panics; what it accepts displays back to an equal code.
            if let Ok(code) = ShortCode::parse(&s) {
                prop_assert_eq!(code.to_string().parse::<ShortCode>(), Ok(code));
            }
        }
    }
}
