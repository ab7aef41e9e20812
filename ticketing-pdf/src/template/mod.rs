//! Ticket templates: data (JSON), not code.
//!
//! A template gives the page, its colours and images, and a list of elements placed in
//! millimetres from the page's top-left corner: rectangles, lines, text bound to
//! [placeholders](placeholder::Field), images, and the QR code. [`Template::from_json`] reads and
//! checks one; every problem is reported with the JSON path of the value at fault.
//! [`Template::default_ticket`] is the template used when an organiser has not made one.

mod assets;
mod element;
pub mod placeholder;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use self::assets::{FontData, ImageData, ImageFormat, MAX_FONT_BYTES, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS};
pub use self::placeholder::{Field, PlaceholderError, Text};
pub(crate) use self::validate::LINE_HEIGHT;
pub use self::validate::{MAX_ELEMENTS, MAX_IMAGE_AREA, MAX_IMAGES, MIN_QR_MM};
use crate::color::Color;
use crate::qr::EcLevel;

/// The format version this crate reads and writes.
pub const FORMAT: u32 = 1;
/// The largest template JSON accepted, in bytes (images and fonts included).
pub const MAX_JSON_BYTES: usize = 8 * 1024 * 1024;

/// A ticket template. Read it with [`Template::from_json`], which checks it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Must be [`FORMAT`].
    pub format: u32,
    /// A name for people.
    pub name: String,
    /// The language of dates and of the word for a free ticket.
    #[serde(default)]
    pub language: Language,
    /// The page.
    pub page: Page,
    /// The page's colour.
    #[serde(default = "white")]
    pub background: Color,
    /// An image (by name in `images`) stretched over the whole page, under every element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background_image: Option<String>,
    /// Images by name, as base64 PNG or JPEG.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, ImageData>,
    /// The fonts; DejaVu Sans (bundled) when absent.
    #[serde(default, skip_serializing_if = "Fonts::is_default")]
    pub fonts: Fonts,
    /// What is drawn, in order (later elements over earlier ones).
    pub elements: Vec<Element>,
    /// Text drawn faintly across the page, over the background and under every element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Watermark>,
}

fn white() -> Color {
    Color::WHITE
}

/// Why a template was refused: each problem with the JSON path of the value at fault.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("the template was refused: {}", .problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
pub struct TemplateError {
    /// What is wrong, in document order.
    pub problems: Vec<Problem>,
}

/// One thing wrong in a template.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct Problem {
    /// Where, as a JSON path (`elements[2].x`); empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl TemplateError {
    pub(crate) fn one(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self { problems: vec![Problem { path: path.into(), message: message.into() }] }
    }
}

impl Template {
    /// Reads a template from JSON and checks it (see the module documentation).
    pub fn from_json(json: &str) -> Result<Self, TemplateError> {
        if json.len() > MAX_JSON_BYTES {
            return Err(TemplateError::one(
                "",
                format!("the template is {} bytes; the limit is {MAX_JSON_BYTES}", json.len()),
            ));
        }
        let mut reader = serde_json::Deserializer::from_str(json);
        let template: Template = serde_path_to_error::deserialize(&mut reader).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let message = e.into_inner().to_string();
            // An element's own fields report their path inside the message (see `element.rs`).
            match element::split_inner_path(&message) {
                Some((inner, message)) => TemplateError::one(format!("{path}.{inner}"), message),
                None => TemplateError::one(path, message),
            }
        })?;
        reader.end().map_err(|e| TemplateError::one("", e.to_string()))?;
        template.validate()?;
        Ok(template)
    }

    /// The template as JSON.
    pub fn to_json(&self) -> String {
        // Every field serialises to a JSON value: strings, numbers, booleans, maps with string keys.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The built-in template: an A4 page with the ticket in its upper half, ready to print or to
    /// show on a phone. Its JSON is `templates/default.json` in this crate.
    pub fn default_ticket() -> Self {
        // Checked by `tests/templates.rs`; a broken built-in template is a build defect, not input.
        Self::from_json(DEFAULT_JSON).expect("the built-in template is valid")
    }

    /// Checks what deserialisation alone cannot: sizes, positions, names and contrasts.
    pub fn validate(&self) -> Result<(), TemplateError> {
        validate::validate(self)
    }
}

/// The built-in template's JSON.
pub const DEFAULT_JSON: &str = include_str!("../../templates/default.json");

/// The language dates and prices are written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English: `Saturday 14 March 2026`, `Free`.
    #[default]
    En,
    /// French: `samedi 14 mars 2026`, `Gratuit`.
    Fr,
}

/// A page size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaperSize {
    /// 210 × 297 mm.
    A4,
    /// 148 × 210 mm.
    A5,
    /// 105 × 148 mm.
    A6,
    /// 215.9 × 279.4 mm.
    Letter,
    /// 80 × 200 mm, a ticket-printer roll or a wristband-sized stub.
    #[serde(rename = "ticket_80x200")]
    Ticket80x200,
    /// `width` × `height` as given.
    Custom,
}

/// The page: a named size (portrait unless `landscape`), or `custom` with its width and height.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Page {
    /// The size.
    pub size: PaperSize,
    /// Width in millimetres, for `custom` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f32>,
    /// Height in millimetres, for `custom` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f32>,
    /// Turn a named size sideways.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub landscape: bool,
}

impl Page {
    /// Width and height in millimetres (zero for a `custom` page missing one).
    pub fn size_mm(&self) -> (f32, f32) {
        let (w, h) = match self.size {
            PaperSize::A4 => (210.0, 297.0),
            PaperSize::A5 => (148.0, 210.0),
            PaperSize::A6 => (105.0, 148.0),
            PaperSize::Letter => (215.9, 279.4),
            PaperSize::Ticket80x200 => (80.0, 200.0),
            PaperSize::Custom => return (self.width.unwrap_or(0.0), self.height.unwrap_or(0.0)),
        };
        if self.landscape { (h, w) } else { (w, h) }
    }
}

/// Fonts for regular and bold text.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fonts {
    /// Regular text; DejaVu Sans when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regular: Option<FontData>,
    /// Bold text; DejaVu Sans Bold when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bold: Option<FontData>,
}

impl Fonts {
    fn is_default(&self) -> bool {
        self.regular.is_none() && self.bold.is_none()
    }
}

/// Something drawn on the page. Positions and sizes are in millimetres from the top-left corner.
/// In JSON, an object with `"type"` (`rect`, `line`, `text`, `image`, `qr`) and the kind's fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Element {
    /// A filled rectangle.
    Rect(RectElement),
    /// A straight line.
    Line(LineElement),
    /// One line of text.
    Text(TextElement),
    /// An image from `images`.
    Image(ImageElement),
    /// The ticket's QR code.
    Qr(QrElement),
}

/// A filled rectangle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectElement {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
    /// Fill colour.
    pub color: Color,
    /// From 0 (invisible) to 1 (opaque).
    #[serde(default = "one")]
    pub opacity: f32,
}

fn one() -> f32 {
    1.0
}

/// A straight line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineElement {
    /// Start, from the left.
    pub x1: f32,
    /// Start, from the top.
    pub y1: f32,
    /// End, from the left.
    pub x2: f32,
    /// End, from the top.
    pub y2: f32,
    /// Colour.
    #[serde(default = "black")]
    pub color: Color,
    /// Thickness in points.
    #[serde(default = "half")]
    pub thickness: f32,
    /// Dashed, as a tear-off line.
    #[serde(default)]
    pub dashed: bool,
}

fn black() -> Color {
    Color::BLACK
}

fn half() -> f32 {
    0.5
}

/// Horizontal alignment of text within its box.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    /// From the left edge.
    #[default]
    Left,
    /// Centred.
    Center,
    /// Against the right edge.
    Right,
}

/// One line of text. Too long for its box, it is shrunk (to 60 % at most), then cut with `…`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextElement {
    /// Left edge of the box.
    pub x: f32,
    /// Top of the line.
    pub y: f32,
    /// Width of the box.
    pub width: f32,
    /// The text, with placeholders.
    pub text: Text,
    /// Font size in points.
    #[serde(default = "ten")]
    pub size: f32,
    /// Bold face.
    #[serde(default)]
    pub bold: bool,
    /// Colour.
    #[serde(default = "black")]
    pub color: Color,
    /// Alignment in the box.
    #[serde(default)]
    pub align: Align,
    /// Upper-case the result (after placeholders are filled).
    #[serde(default)]
    pub uppercase: bool,
    /// Draw nothing when a placeholder in it is empty (say, no dress code).
    #[serde(default)]
    pub hide_if_empty: bool,
}

fn ten() -> f32 {
    10.0
}

/// An image from the template's `images`, fitted in its box with its proportions kept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageElement {
    /// The image's name in `images`.
    pub image: String,
    /// Left edge of the box.
    pub x: f32,
    /// Top edge of the box.
    pub y: f32,
    /// Width of the box.
    pub width: f32,
    /// Height of the box.
    pub height: f32,
}

/// The ticket's QR code, drawn as vectors, quiet zone included in its square.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QrElement {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Side of the square, quiet zone included; at least [`MIN_QR_MM`].
    pub size: f32,
    /// Error-correction level; H is required for a logo.
    #[serde(default)]
    pub level: EcLevel,
    /// Dark modules.
    #[serde(default = "black")]
    pub dark: Color,
    /// Light modules and the quiet zone.
    #[serde(default = "white")]
    pub light: Color,
    /// Light modules round the symbol (2 to 10; 4 is the standard).
    #[serde(default = "four")]
    pub quiet_zone: u32,
    /// A centre logo, by name in `images` (level H only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// The logo pad's share of the symbol's width (above 0, at most 0.25).
    #[serde(default = "logo_scale")]
    pub logo_scale: f32,
}

fn four() -> u32 {
    4
}

fn logo_scale() -> f32 {
    0.2
}

/// Text drawn across the page's centre, rotated and faint, under the elements: `SPECIMEN`,
/// `NOT FOR SALE`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watermark {
    /// The text, with placeholders.
    pub text: Text,
    /// Font size in points.
    #[serde(default = "sixty")]
    pub size: f32,
    /// Colour.
    #[serde(default = "grey")]
    pub color: Color,
    /// From 0 (invisible) to 1 (opaque).
    #[serde(default = "faint")]
    pub opacity: f32,
    /// Rotation in degrees, counter-clockwise.
    #[serde(default = "diagonal")]
    pub angle: f32,
}

fn sixty() -> f32 {
    60.0
}

fn grey() -> Color {
    Color::rgb(0x88, 0x88, 0x88)
}

fn faint() -> f32 {
    0.2
}

fn diagonal() -> f32 {
    35.0
}
