//! Writes [layouts](crate::layout) as PDF with pdf-writer.
//!
//! Whatever is the same for every ticket of a template is prepared once, in [`PdfAssets`]: the
//! images decoded and compressed, each font subset and compressed (see [`font`]), each written
//! into a chunk at object numbers fixed for the template. A document is then its page objects and
//! content streams, plus a copy of the chunks it uses. Everything pdf-writer is private to this
//! module: the crate's API speaks bytes, templates and ticket data.

mod content;
mod font;
mod image;

use std::io::Write;
use std::sync::Arc;

use flate2::Compression;
use flate2::write::ZlibEncoder;
use pdf_writer::writers::ExtGraphicsState;
use pdf_writer::{Name, Pdf, Rect, Ref, TextStr};

use self::content::{PageResources, page_content};
use self::font::{EmbeddableFace, REFS_PER_FONT, Subset};
use self::image::{PdfImage, REFS_PER_IMAGE, find_image};
use crate::font::FontSet;
use crate::layout::{FittedLines, Layout, Op};
use crate::template::Template;

const CATALOG: Ref = Ref::new(1);
const PAGE_TREE: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
/// The regular face's objects start here, the bold face's [`REFS_PER_FONT`] later, then the
/// images'.
const FIRST_FONT: i32 = 4;

/// A template's fonts and images, ready to copy into each document.
pub(crate) struct PdfAssets {
    /// Regular and bold.
    faces: [EmbeddableFace; 2],
    /// The template's images by name, in its order.
    images: Vec<(String, PdfImage)>,
    /// The first object number free for a document's own objects.
    first_free: i32,
}

impl PdfAssets {
    /// Prepares `template`'s images and `fonts`, with the fixed text of `lines` in each face's
    /// base subset. An error names the template's field at fault (`fonts` or `images`).
    pub(crate) fn new(
        template: &Template,
        fonts: &FontSet,
        lines: &FittedLines,
    ) -> Result<Self, (&'static str, String)> {
        let face = |bold: bool| {
            EmbeddableFace::new(fonts.face(bold), font_ref(usize::from(bold)), lines.fixed(template, bold))
                .map_err(|e| ("fonts", e))
        };
        let faces = [face(false)?, face(true)?];
        let mut images = Vec::with_capacity(template.images.len());
        for (index, (name, data)) in template.images.iter().enumerate() {
            let image =
                PdfImage::new(data, image_ref(index)).map_err(|e| ("images", format!("image `{name}`: {e}")))?;
            images.push((name.clone(), image));
        }
        Ok(Self { faces, first_free: image_ref(images.len()).get(), images })
    }

    /// A document titled `title` with a page for each layout.
    pub(crate) fn document(&self, title: &str, layouts: &[Layout]) -> Result<Vec<u8>, String> {
        let subsets = [self.subset(layouts, false)?, self.subset(layouts, true)?];
        let mut used_images = vec![false; self.images.len()];

        let mut pdf = Pdf::with_capacity(32 * 1024);
        pdf.catalog(CATALOG).pages(PAGE_TREE);
        pdf.document_info(INFO).title(TextStr(title)).creator(TextStr("ticketing"));
        let pages: Vec<Ref> = (0..layouts.len()).map(|i| Ref::new(self.first_free + 2 * i as i32)).collect();
        pdf.pages(PAGE_TREE).kids(pages.iter().copied()).count(pages.len() as i32);
        for (layout, &page_ref) in layouts.iter().zip(&pages) {
            let contents = page_ref.next();
            let mut resources = PageResources {
                fonts: [subsets[0].as_deref(), subsets[1].as_deref()],
                images: &self.images,
                opacities: Vec::new(),
            };
            let stream = page_content(layout, &mut resources);
            let mut page = pdf.page(page_ref);
            page.parent(PAGE_TREE).media_box(Rect::new(0.0, 0.0, layout.width, layout.height)).contents(contents);
            let mut res = page.resources();
            let mut fonts = res.fonts();
            for (i, subset) in subsets.iter().enumerate() {
                if subset.is_some() {
                    fonts.pair(Name(resource_name('F', i).as_bytes()), font_ref(i));
                }
            }
            drop(fonts);
            let images_drawn = images_on(layout, &self.images);
            if !images_drawn.is_empty() {
                let mut objects = res.x_objects();
                for index in images_drawn {
                    used_images[index] = true;
                    objects.pair(Name(resource_name('I', index).as_bytes()), image_ref(index));
                }
            }
            if !resources.opacities.is_empty() {
                let mut states = res.ext_g_states();
                for (i, opacity) in resources.opacities.iter().enumerate() {
                    states
                        .insert(Name(resource_name('G', i).as_bytes()))
                        .start::<ExtGraphicsState>()
                        .non_stroking_alpha(*opacity)
                        .stroking_alpha(*opacity);
                }
            }
            drop(res);
            drop(page);
            // Left uncompressed: deflating its 11 KB (mostly a QR code's coordinates) even at
            // level 1 costs a third more instructions a ticket, for 7 KB less (BENCHMARKS.md).
            pdf.stream(contents, &stream);
        }
        for subset in subsets.iter().flatten() {
            pdf.extend(&subset.chunk);
        }
        for ((_, image), used) in self.images.iter().zip(used_images) {
            if used {
                pdf.extend(&image.chunk);
            }
        }
        Ok(pdf.finish())
    }

    /// The subset of the regular or bold face for `layouts`' text in it, if they have any.
    fn subset(&self, layouts: &[Layout], bold: bool) -> Result<Option<Arc<Subset>>, String> {
        let mut lines = layouts
            .iter()
            .flat_map(|l| &l.ops)
            .filter_map(|op| match op {
                Op::Text { bold: b, line, .. } if *b == bold => Some(&**line),
                _ => None,
            })
            .peekable();
        if lines.peek().is_none() {
            return Ok(None);
        }
        self.faces[usize::from(bold)].subset(lines).map(Some)
    }
}

/// The first object of face `face` (0 regular, 1 bold).
fn font_ref(face: usize) -> Ref {
    Ref::new(FIRST_FONT + REFS_PER_FONT * face as i32)
}

/// The first object of the template's image `index`, after both faces'.
fn image_ref(index: usize) -> Ref {
    Ref::new(FIRST_FONT + 2 * REFS_PER_FONT + REFS_PER_IMAGE * index as i32)
}

/// A page's name for a resource: `F0` and `F1` the regular and bold faces, `I{n}` the template's
/// image `n`, `G{n}` the page's graphics state `n`.
fn resource_name(kind: char, index: usize) -> String {
    format!("{kind}{index}")
}

/// The indexes of the images `layout` draws, each once, in order.
fn images_on(layout: &Layout, images: &[(String, PdfImage)]) -> Vec<usize> {
    let mut drawn: Vec<usize> = layout
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Image { image: name, .. } => find_image(images, name),
            Op::Qr { logo: Some((name, _)), .. } => find_image(images, name),
            _ => None,
        })
        .map(|(index, _)| index)
        .collect();
    drawn.sort_unstable();
    drawn.dedup();
    drawn
}

/// `data` zlib-compressed at `level` (0–9).
fn deflate(data: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = ZlibEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::new(level));
    // Writing into a vector cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}
