//! Fonts: the bundled DejaVu Sans, or a template's own, measured with rustybuzz.
//!
//! DejaVu Sans covers Latin (with Latin Extended-A and B: French, German, Polish, Nordic…), Greek
//! and Cyrillic. Its licence is in `fonts/LICENSE-DejaVu.txt`. The PDF writer embeds only the
//! glyphs a document uses.

use std::sync::Arc;

use crate::template::{FontData, Fonts};

static DEJAVU_SANS: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
static DEJAVU_SANS_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");

/// Text wider than its box is shrunk down to this share of its size before it is cut.
const MIN_SHRINK: f32 = 0.6;

/// One face: its bytes for measuring, and the PDF writer's handle on it.
pub(crate) struct Face {
    data: Arc<Vec<u8>>,
    pub(crate) pdf: krilla::text::Font,
    /// Ascender and descender as shares of the em (the descender negative).
    pub(crate) ascent: f32,
    pub(crate) descent: f32,
}

impl Face {
    fn new(font: &FontData) -> Result<Self, String> {
        let data = Arc::clone(font.bytes());
        let face = rustybuzz::Face::from_slice(&data, 0).ok_or("the font cannot be read")?;
        let upem = f32::from(face.units_per_em() as u16).max(1.0);
        let (ascent, descent) = (f32::from(face.ascender()) / upem, f32::from(face.descender()) / upem);
        let pdf = krilla::text::Font::new(krilla::Data::from(Arc::clone(&data)), 0)
            .ok_or("the PDF writer cannot read the font")?;
        Ok(Self { data, pdf, ascent, descent })
    }

    /// The width of `text` at `size`, in the size's unit, with the font's kerning applied.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        let Some(face) = rustybuzz::Face::from_slice(&self.data, 0) else { return 0.0 };
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        let shaped = rustybuzz::shape(&face, &[], buffer);
        let units: i64 = shaped.glyph_positions().iter().map(|p| i64::from(p.x_advance)).sum();
        units as f32 * size / f32::from(face.units_per_em() as u16).max(1.0)
    }

    /// `text` at `size` made to fit `width`: the size it is drawn at and the text itself, shrunk
    /// as far as [`MIN_SHRINK`] and then cut with an ellipsis.
    pub(crate) fn fit(&self, text: &str, size: f32, width: f32) -> (f32, String) {
        let natural = self.width(text, size);
        if natural <= width {
            return (size, text.to_owned());
        }
        let shrunk = (size * width / natural).max(size * MIN_SHRINK);
        if self.width(text, shrunk) <= width {
            return (shrunk, text.to_owned());
        }
        // The longest prefix that fits with the ellipsis, by bisection: `starts[k]` is where the
        // k-th character starts, so `text[..starts[k]]` has k characters (k < the whole text,
        // which is known not to fit).
        let starts: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        let cut = |k: usize| format!("{}…", text[..starts[k]].trim_end());
        let (mut lo, mut hi) = (0, starts.len().saturating_sub(1));
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if self.width(&cut(mid), shrunk) <= width {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        (shrunk, if starts.is_empty() { String::new() } else { cut(lo) })
    }
}

/// The regular and bold faces of a template.
pub(crate) struct FontSet {
    pub(crate) regular: Face,
    pub(crate) bold: Face,
}

impl FontSet {
    /// The template's fonts, the bundled ones where it names none.
    pub(crate) fn new(fonts: &Fonts) -> Result<Self, String> {
        let regular = fonts.regular.clone().unwrap_or_else(|| FontData::from_static(DEJAVU_SANS));
        let bold = fonts.bold.clone().unwrap_or_else(|| FontData::from_static(DEJAVU_SANS_BOLD));
        Ok(Self { regular: Face::new(&regular)?, bold: Face::new(&bold)? })
    }

    pub(crate) fn face(&self, bold: bool) -> &Face {
        if bold { &self.bold } else { &self.regular }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_shrinks_then_cuts_with_an_ellipsis() {
        let fonts = FontSet::new(&Fonts::default()).unwrap();
        let face = &fonts.regular;
        let text = "François-Xavier de La Tour d'Auvergne";
        let natural = face.width(text, 12.0);
        assert_eq!(face.fit(text, 12.0, natural + 1.0), (12.0, text.to_owned()));
        let (size, same) = face.fit(text, 12.0, natural * 0.8);
        assert!(size < 12.0 && size >= 12.0 * MIN_SHRINK && face.width(&same, size) <= natural * 0.8);
        assert_eq!(same, text);
        let (size, cut) = face.fit(text, 12.0, natural * 0.3);
        assert_eq!(size, 12.0 * MIN_SHRINK);
        assert!(cut.ends_with('…') && cut.len() < text.len(), "{cut}");
        assert!(face.width(&cut, size) <= natural * 0.3);
        assert!(text.starts_with(cut.trim_end_matches('…')));
    }
}
