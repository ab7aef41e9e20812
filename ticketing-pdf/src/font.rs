//! Fonts: the bundled DejaVu Sans, or a template's own, measured with rustybuzz.
//!
//! DejaVu Sans covers Latin (with Latin Extended-A and B: French, German, Polish, Nordic…), Greek
//! and Cyrillic. Its licence is in `fonts/LICENSE-DejaVu.txt`. The PDF writer embeds a subset of
//! each face (see `pdf/font.rs`).

use std::sync::{Arc, LazyLock};

use crate::template::{FontData, Fonts};

/// The bundled faces, copied out of the binary once and shared by every renderer.
static DEJAVU_SANS: LazyLock<FontData> =
    LazyLock::new(|| FontData::from_static(include_bytes!("../fonts/DejaVuSans.ttf")));
static DEJAVU_SANS_BOLD: LazyLock<FontData> =
    LazyLock::new(|| FontData::from_static(include_bytes!("../fonts/DejaVuSans-Bold.ttf")));

/// Text wider than its box is shrunk down to this share of its size before it is cut.
const MIN_SHRINK: f32 = 0.6;

/// One face: its bytes, and its vertical metrics.
pub(crate) struct Face {
    data: Arc<Vec<u8>>,
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
        Ok(Self { data, ascent, descent })
    }

    /// The font file.
    pub(crate) fn data(&self) -> &Arc<Vec<u8>> {
        &self.data
    }
}

/// A glyph placed by the shaper; advances and offsets in ems.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Glyph {
    pub(crate) id: u32,
    pub(crate) advance: f32,
    pub(crate) x_offset: f32,
    pub(crate) y_offset: f32,
    /// The bytes of the text it draws.
    pub(crate) range: std::ops::Range<usize>,
}

/// A line of text shaped once: its glyphs and width in ems, so any size is a multiplication.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Shaped {
    pub(crate) text: String,
    pub(crate) glyphs: Vec<Glyph>,
    pub(crate) width: f32,
}

/// The regular and bold faces of a template.
pub(crate) struct FontSet {
    pub(crate) regular: Face,
    pub(crate) bold: Face,
}

impl FontSet {
    /// The template's fonts, the bundled ones where it names none.
    pub(crate) fn new(fonts: &Fonts) -> Result<Self, String> {
        let regular = fonts.regular.clone().unwrap_or_else(|| DEJAVU_SANS.clone());
        let bold = fonts.bold.clone().unwrap_or_else(|| DEJAVU_SANS_BOLD.clone());
        Ok(Self { regular: Face::new(&regular)?, bold: Face::new(&bold)? })
    }

    pub(crate) fn face(&self, bold: bool) -> &Face {
        if bold { &self.bold } else { &self.regular }
    }

    /// A shaper for one layout: the faces' tables are parsed once for all its lines.
    pub(crate) fn shaper(&self) -> Shaper<'_> {
        Shaper {
            regular: rustybuzz::Face::from_slice(self.regular.data.as_slice(), 0),
            bold: rustybuzz::Face::from_slice(self.bold.data.as_slice(), 0),
        }
    }
}

/// Shapes lines of text with rustybuzz (kerning and ligatures as the font defines them).
pub(crate) struct Shaper<'a> {
    regular: Option<rustybuzz::Face<'a>>,
    bold: Option<rustybuzz::Face<'a>>,
}

impl Shaper<'_> {
    /// `text` shaped in the regular or bold face.
    pub(crate) fn shape(&self, text: &str, bold: bool) -> Shaped {
        let Some(face) = (if bold { &self.bold } else { &self.regular }) else {
            return Shaped { text: text.to_owned(), glyphs: Vec::new(), width: 0.0 };
        };
        let upem = f32::from(face.units_per_em() as u16).max(1.0);
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        let output = rustybuzz::shape(face, &[], buffer);
        let infos = output.glyph_infos();
        // A cluster runs from its start to the next cluster start in the text (whatever the
        // glyphs' visual order), or to the end.
        let mut starts: Vec<usize> = infos.iter().map(|g| g.cluster as usize).collect();
        starts.sort_unstable();
        starts.dedup();
        let mut glyphs = Vec::with_capacity(infos.len());
        for (info, pos) in infos.iter().zip(output.glyph_positions()) {
            let start = info.cluster as usize;
            let next = starts.partition_point(|&s| s <= start);
            let end = starts.get(next).copied().unwrap_or(text.len());
            glyphs.push(Glyph {
                id: info.glyph_id,
                advance: pos.x_advance as f32 / upem,
                x_offset: pos.x_offset as f32 / upem,
                y_offset: pos.y_offset as f32 / upem,
                range: start..end.max(start),
            });
        }
        let width = glyphs.iter().map(|g| g.advance).sum();
        Shaped { text: text.to_owned(), glyphs, width }
    }

    /// `text` at `size` made to fit `width`: the size to draw it at and the shaped line, shrunk
    /// as far as [`MIN_SHRINK`] and then cut with an ellipsis.
    pub(crate) fn fit(&self, text: &str, bold: bool, size: f32, width: f32) -> (f32, Shaped) {
        let shaped = self.shape(text, bold);
        if shaped.width * size <= width {
            return (size, shaped);
        }
        let shrunk = (width / shaped.width).max(size * MIN_SHRINK);
        if shaped.width * shrunk <= width * 1.0001 {
            return (shrunk, shaped);
        }
        // Cut at the end of the last cluster that leaves room for the ellipsis (left-to-right).
        let ellipsis = self.shape("…", bold).width;
        let room = width / shrunk - ellipsis;
        let mut used = 0.0;
        let mut cut = 0;
        for glyph in &shaped.glyphs {
            used += glyph.advance;
            if used > room {
                break;
            }
            cut = cut.max(glyph.range.end);
        }
        let mut line = shaped.text.get(..cut).unwrap_or_default().trim_end().to_owned();
        line.push('…');
        (shrunk, self.shape(&line, bold))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_shrinks_then_cuts_with_an_ellipsis() {
        let fonts = FontSet::new(&Fonts::default()).unwrap();
        let shaper = fonts.shaper();
        let text = "François-Xavier de La Tour d'Auvergne";
        let natural = shaper.shape(text, false).width * 12.0;
        let (size, same) = shaper.fit(text, false, 12.0, natural + 1.0);
        assert_eq!((size, same.text.as_str()), (12.0, text));
        let (size, same) = shaper.fit(text, false, 12.0, natural * 0.8);
        assert!((12.0 * MIN_SHRINK..12.0).contains(&size));
        assert!(same.width * size <= natural * 0.8 * 1.0001);
        assert_eq!(same.text, text);
        let (size, cut) = shaper.fit(text, false, 12.0, natural * 0.3);
        assert_eq!(size, 12.0 * MIN_SHRINK);
        assert!(cut.text.ends_with('…') && cut.text.len() < text.len(), "{}", cut.text);
        assert!(cut.width * size <= natural * 0.3, "{}", cut.text);
        assert!(text.starts_with(cut.text.trim_end_matches('…')));
    }

    #[test]
    fn shaping_covers_every_byte_once_in_order() {
        let fonts = FontSet::new(&Fonts::default()).unwrap();
        let text = "Zoé ﬁne Œuvre — Łódź";
        let shaped = fonts.shaper().shape(text, true);
        let mut at = 0;
        for g in &shaped.glyphs {
            assert!(g.range.start <= at && g.range.end >= at, "{g:?} at {at}");
            at = g.range.end;
        }
        assert_eq!(at, text.len());
        assert!(shaped.glyphs.iter().all(|g| g.id != 0), "every character has a glyph");
    }
}
