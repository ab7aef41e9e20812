//! Colours as templates write them: `#rrggbb` or `#rgb`.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a colour was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{0}` is not a colour: write it as #rrggbb or #rgb")]
pub struct ColorError(pub String);

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Color {
    /// Red, 0–255.
    pub r: u8,
    /// Green, 0–255.
    pub g: u8,
    /// Blue, 0–255.
    pub b: u8,
}

impl Color {
    /// Black.
    pub const BLACK: Color = Color::rgb(0, 0, 0);
    /// White.
    pub const WHITE: Color = Color::rgb(255, 255, 255);

    /// A colour from its three channels.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Self {
        Self { r, g, b }
    }

    /// Parses `#rrggbb` or `#rgb` (case-insensitive).
    pub fn parse(text: &str) -> Result<Self, ColorError> {
        let refuse = || ColorError(text.to_owned());
        let hex = text.strip_prefix('#').ok_or_else(refuse)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(refuse());
        }
        let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).map_err(|_| refuse());
        let pair = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| refuse());
        match hex.len() {
            3 => Ok(Self::rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
            6 => Ok(Self::rgb(pair(0)?, pair(2)?, pair(4)?)),
            _ => Err(refuse()),
        }
    }

    /// Relative luminance (WCAG 2), from 0 (black) to 1 (white).
    pub fn luminance(self) -> f32 {
        let linear = |c: u8| {
            let c = f32::from(c) / 255.0;
            if c <= 0.039_28 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        0.2126 * linear(self.r) + 0.7152 * linear(self.g) + 0.0722 * linear(self.b)
    }

    /// The WCAG contrast ratio between two colours, from 1 (none) to 21 (black on white).
    pub fn contrast(self, other: Color) -> f32 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }
}

impl fmt::Display for Color {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

impl TryFrom<String> for Color {
    type Error = ColorError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Color> for String {
    fn from(color: Color) -> Self {
        color.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_long_and_short_forms_and_prints_the_long_one() {
        assert_eq!(Color::parse("#1A2b3C"), Ok(Color::rgb(0x1a, 0x2b, 0x3c)));
        assert_eq!(Color::parse("#fa0"), Ok(Color::rgb(0xff, 0xaa, 0x00)));
        assert_eq!(Color::rgb(0x1a, 0x2b, 0x3c).to_string(), "#1a2b3c");
    }

    #[test]
    fn refuses_what_is_not_a_colour() {
        for bad in ["", "#", "123456", "#12345", "#1234567", "#gg0000", "red", "#+12345", "#é12"] {
            assert_eq!(Color::parse(bad), Err(ColorError(bad.to_owned())), "{bad}");
        }
    }

    #[test]
    fn contrast_is_21_for_black_on_white_and_1_for_a_colour_on_itself() {
        assert!((Color::BLACK.contrast(Color::WHITE) - 21.0).abs() < 0.01);
        assert!((Color::rgb(9, 80, 200).contrast(Color::rgb(9, 80, 200)) - 1.0).abs() < 1e-6);
    }
}
