//! A [layout](crate::layout)'s operations as a page's content stream.
//!
//! The page is drawn in the layout's coordinates (points from the top-left corner, y down): the
//! stream starts by flipping the y axis, and each line of text flips it back for its glyphs.

use pdf_writer::types::LineCapStyle;
use pdf_writer::{Content, Name, Str, TextStr};

use super::font::Subset;
use super::image::{PdfImage, find_image};
use super::resource_name;
use crate::color::Color;
use crate::layout::{Layout, Op};
use crate::qr::logo_boxes;

/// What a page's content refers to by name, and the subsets its glyphs are numbered in.
pub(super) struct PageResources<'a> {
    /// The regular and bold subsets, when the document draws text in them (`/F0`, `/F1`).
    pub(super) fonts: [Option<&'a Subset>; 2],
    /// The template's images, drawn as `/I{index}`.
    pub(super) images: &'a [(String, PdfImage)],
    /// The opacities below 1 the page uses, in order of first use (`/G{index}`).
    pub(super) opacities: Vec<f32>,
}

impl PageResources<'_> {
    /// The image named `name`: its index and size in pixels.
    pub(super) fn image(&self, name: &str) -> Option<(usize, (u32, u32))> {
        find_image(self.images, name)
    }

    /// Sets the fill (and stroke) opacity, naming a graphics state for it.
    fn opacity(&mut self, content: &mut Content, opacity: f32) {
        if opacity >= 1.0 {
            return;
        }
        let index = match self.opacities.iter().position(|&o| o == opacity) {
            Some(index) => index,
            None => {
                self.opacities.push(opacity);
                self.opacities.len() - 1
            }
        };
        content.set_parameters(Name(resource_name('G', index).as_bytes()));
    }
}

/// The page's content stream.
pub(super) fn page_content(layout: &Layout, resources: &mut PageResources<'_>) -> Vec<u8> {
    let mut stream = Stream { written: Vec::with_capacity(16 * 1024), content: Content::new() };
    stream.content.transform([1.0, 0.0, 0.0, -1.0, 0.0, layout.height]);
    for op in &layout.ops {
        draw(&mut stream, op, resources);
    }
    stream.written.extend_from_slice(&stream.content.finish());
    stream.written
}

/// A content stream: pdf-writer's operators, and bytes written directly where that is faster
/// (a QR code's hundreds of integer coordinates).
struct Stream {
    written: Vec<u8>,
    content: Content,
}

impl Stream {
    /// Appends `bytes` after the operators so far.
    fn raw(&mut self) -> &mut Vec<u8> {
        let operators = std::mem::replace(&mut self.content, Content::new()).finish();
        self.written.extend_from_slice(&operators);
        if self.written.last().is_some_and(|b| !b.is_ascii_whitespace()) {
            self.written.push(b'\n');
        }
        &mut self.written
    }
}

/// Writes `n` in decimal, then a space.
fn push_number(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.push(b' ');
}

fn fill_colour(content: &mut Content, color: Color) {
    content.set_fill_rgb(channel(color.r), channel(color.g), channel(color.b));
}

fn channel(value: u8) -> f32 {
    f32::from(value) / 255.0
}

/// An image named in the template, drawn into the box at (`x`, `y`) of `width` × `height`.
fn image(content: &mut Content, index: usize, x: f32, y: f32, width: f32, height: f32) {
    content.save_state();
    // The image's first row is at the top of its unit square: in y-down coordinates, flip again.
    content.transform([width, 0.0, 0.0, -height, x, y + height]);
    content.x_object(Name(resource_name('I', index).as_bytes()));
    content.restore_state();
}

fn draw(stream: &mut Stream, op: &Op, resources: &mut PageResources<'_>) {
    let content = &mut stream.content;
    match op {
        Op::Rect { x, y, width, height, color, opacity } => {
            content.save_state();
            resources.opacity(content, *opacity);
            fill_colour(content, *color);
            content.rect(*x, *y, *width, *height).fill_nonzero();
            content.restore_state();
        }
        Op::Line { from, to, color, thickness, dashed } => {
            content.save_state();
            content.set_stroke_rgb(channel(color.r), channel(color.g), channel(color.b));
            content.set_line_width(*thickness).set_line_cap(LineCapStyle::ButtCap);
            if *dashed {
                content.set_dash_pattern([thickness * 6.0, thickness * 4.0], 0.0);
            }
            content.move_to(from.0, from.1).line_to(to.0, to.1).stroke();
            content.restore_state();
        }
        Op::Image { image: name, x, y, width, height } => {
            if let Some((index, _)) = resources.image(name) {
                image(content, index, *x, *y, *width, *height);
            }
        }
        Op::Text { x, baseline, size, bold, color, opacity, line, rotation } => {
            let Some(subset) = resources.fonts[usize::from(*bold)] else { return };
            content.save_state();
            if let Some(r) = rotation {
                // The page's y axis points down: a counter-clockwise turn is a negative angle.
                let (sin, cos) = (-r.angle).to_radians().sin_cos();
                let (px, py) = r.pivot;
                content.transform([cos, sin, -sin, cos, px - cos * px + sin * py, py - sin * px - cos * py]);
            }
            resources.opacity(content, *opacity);
            fill_colour(content, *color);
            // Where the glyphs' own text is not the line's (a character drawn with another's
            // glyph, glyphs out of reading order), the line carries its text for extraction.
            let drawn: String = line.glyphs.iter().filter_map(|g| subset.glyph(g.id)).map(|g| &*g.text).collect();
            let actual = drawn != line.text;
            if actual {
                content
                    .begin_marked_content_with_properties(Name(b"Span"))
                    .properties()
                    .actual_text(TextStr(&line.text));
            }
            content.begin_text();
            content.set_font(Name(resource_name('F', usize::from(*bold)).as_bytes()), *size);
            content.set_text_matrix([1.0, 0.0, 0.0, -1.0, *x, *baseline]);
            show_glyphs(content, line, subset, *size);
            content.end_text();
            if actual {
                content.end_marked_content();
            }
            content.restore_state();
        }
        Op::Qr { x, y, side, matrix, dark, light, quiet_zone, logo } => {
            content.save_state();
            fill_colour(content, *light);
            content.rect(*x, *y, *side, *side).fill_nonzero();
            let total = matrix.width() as f32 + 2.0 * *quiet_zone as f32;
            let module = side / total;
            let origin = (x + module * *quiet_zone as f32, y + module * *quiet_zone as f32);
            // One path of horizontal runs in module units, through each row's middle, stroked one
            // module thick with butt caps: two small integers an end keep the stream short. The
            // stroke is a little thicker than a module so that no hairline shows between rows
            // when a viewer anti-aliases.
            content.save_state();
            content.transform([module, 0.0, 0.0, module, origin.0, origin.1 + module / 2.0]);
            content.set_stroke_rgb(channel(dark.r), channel(dark.g), channel(dark.b));
            content.set_line_width(1.04).set_line_cap(LineCapStyle::ButtCap);
            let path = stream.raw();
            let before = path.len();
            for (row, column, len) in matrix.dark_runs() {
                for (number, operator) in [(column, b"m\n"), (column + len, b"l\n")] {
                    push_number(path, number);
                    push_number(path, row);
                    path.extend_from_slice(operator);
                }
            }
            if path.len() > before {
                path.extend_from_slice(b"S\n");
            }
            let content = &mut stream.content;
            content.restore_state();
            if let Some((name, scale)) = logo {
                let symbol = matrix.width() as f32 * module;
                let (pad, inner) = logo_boxes(symbol, *scale);
                let pad_at = (origin.0 + (symbol - pad) / 2.0, origin.1 + (symbol - pad) / 2.0);
                content.rect(pad_at.0, pad_at.1, pad, pad).fill_nonzero();
                if let Some((index, (w, h))) = resources.image(name) {
                    let fit = inner / (w.max(h).max(1) as f32);
                    let (dw, dh) = (w as f32 * fit, h as f32 * fit);
                    image(content, index, pad_at.0 + (pad - dw) / 2.0, pad_at.1 + (pad - dh) / 2.0, dw, dh);
                }
            }
            content.restore_state();
        }
    }
}

/// The line's glyphs as two-byte CIDs, each placed where the shaper put it: the reader advances
/// by the font's width, and a shift makes up any difference (kerning, marks). Glyphs raised or
/// lowered by the shaper are drawn with a text rise.
fn show_glyphs(content: &mut Content, line: &crate::font::Shaped, subset: &Subset, size: f32) {
    let (mut pen, mut at, mut rise) = (0.0_f32, 0.0_f32, 0.0_f32);
    let mut glyphs = line.glyphs.iter().peekable();
    while let Some(first) = glyphs.peek() {
        if first.y_offset != rise {
            rise = first.y_offset;
            content.set_rise(rise * size);
        }
        let mut shown = content.show_positioned();
        let mut items = shown.items();
        let mut run = Vec::new();
        while let Some(glyph) = glyphs.next_if(|g| g.y_offset == rise) {
            // A glyph not in the subset (an id past a broken font's glyphs) keeps its room.
            if let Some(entry) = subset.glyph(glyph.id) {
                let target = pen + glyph.x_offset;
                let shift = target - at;
                if shift.abs() > 1e-4 {
                    if !run.is_empty() {
                        items.show(Str(&run));
                        run.clear();
                    }
                    items.adjust(-shift * 1000.0);
                }
                run.extend(entry.cid.to_be_bytes());
                at = target + entry.width;
            }
            pen += glyph.advance;
        }
        if !run.is_empty() {
            items.show(Str(&run));
        }
    }
}
