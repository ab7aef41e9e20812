//! A template filled with one ticket's values: a list of drawing operations in points, with text
//! already fitted to its box. The PDF writer draws it; nothing here knows about PDF.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::color::Color;
use crate::data::TicketData;
use crate::font::{FontSet, Shaped, Shaper};
use crate::qr::{QrError, QrMatrix};
use crate::template::{Align, Element, Template, TextElement};

/// Points per millimetre.
pub(crate) const PT_PER_MM: f32 = 72.0 / 25.4;

/// One page, ready to draw. Coordinates are points from the top-left corner.
pub(crate) struct Layout {
    pub(crate) width: f32,
    pub(crate) height: f32,
    pub(crate) ops: Vec<Op>,
}

/// A drawing operation.
pub(crate) enum Op {
    Rect {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
        color: Color,
        opacity: f32,
    },
    Line {
        from: (f32, f32),
        to: (f32, f32),
        color: Color,
        thickness: f32,
        dashed: bool,
    },
    /// `image` is the name in the template's `images`; the box is already fitted to its ratio.
    Image {
        image: String,
        x: f32,
        y: f32,
        width: f32,
        height: f32,
    },
    /// One line of text starting at `x` on `baseline`, rotated by `angle` degrees about `pivot`.
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        bold: bool,
        color: Color,
        opacity: f32,
        line: Arc<Shaped>,
        rotation: Option<Rotation>,
    },
    Qr {
        x: f32,
        y: f32,
        side: f32,
        matrix: QrMatrix,
        dark: Color,
        light: Color,
        quiet_zone: u32,
        logo: Option<(String, f32)>,
    },
}

/// A rotation about a point, counter-clockwise in degrees.
pub(crate) struct Rotation {
    pub(crate) angle: f32,
    pub(crate) pivot: (f32, f32),
}

/// How many filled-in lines an element keeps shaped: enough for every value that repeats across
/// a batch (the event's title, venue, date, price), not one per ticket for those that never do
/// (a short code).
const REMEMBERED_PER_ELEMENT: usize = 64;

/// Text shaped and fitted once rather than once per ticket. The lines that hold no placeholder
/// (labels, instructions) are shaped when the template is prepared; a filled-in line is kept the
/// first time it is drawn, up to [`REMEMBERED_PER_ELEMENT`] for each element (the watermark
/// last). A kept line is exactly what shaping the same text again gives.
pub(crate) struct FittedLines {
    fixed: Vec<Option<Fitted>>,
    filled: Vec<RwLock<HashMap<String, Fitted>>>,
}

/// A line shaped, and the size it is drawn at to fit its box.
type Fitted = (f32, Arc<Shaped>);

impl FittedLines {
    pub(crate) fn new(template: &Template, fonts: &FontSet) -> Self {
        let shaper = fonts.shaper();
        let fixed = template
            .elements
            .iter()
            .map(|element| match element {
                Element::Text(t) if t.text.fields().next().is_none() => {
                    let (size, line) = fit_text(&shaper, t, t.text.source().to_owned());
                    Some((size, Arc::new(line)))
                }
                _ => None,
            })
            .collect();
        let filled = (0..=template.elements.len()).map(|_| RwLock::default()).collect();
        Self { fixed, filled }
    }

    /// The fixed lines drawn in the regular or bold face.
    pub(crate) fn fixed<'a>(&'a self, template: &'a Template, bold: bool) -> impl Iterator<Item = &'a Shaped> + 'a {
        self.fixed.iter().zip(&template.elements).filter_map(move |(line, element)| match (line, element) {
            (Some((_, shaped)), Element::Text(t)) if t.bold == bold => Some(&**shaped),
            _ => None,
        })
    }

    /// `text` as element `slot` draws it (the watermark's slot is the number of elements),
    /// shaped by `fit` unless it was already.
    fn filled(&self, slot: usize, text: String, fit: impl FnOnce(&str) -> (f32, Shaped)) -> Fitted {
        let Some(memo) = self.filled.get(slot) else {
            let (size, line) = fit(&text);
            return (size, Arc::new(line));
        };
        // A poisoned memo only holds finished lines: use it as it is.
        if let Some((size, line)) = memo.read().unwrap_or_else(|p| p.into_inner()).get(&text) {
            return (*size, Arc::clone(line));
        }
        let (size, line) = fit(&text);
        let line = Arc::new(line);
        let mut memo = memo.write().unwrap_or_else(|p| p.into_inner());
        if memo.len() < REMEMBERED_PER_ELEMENT {
            memo.insert(text, (size, Arc::clone(&line)));
        }
        (size, line)
    }
}

/// A text element's filled-in `text`, upper-cased if asked, shaped and fitted to its box.
fn fit_text(shaper: &Shaper<'_>, t: &TextElement, text: String) -> (f32, Shaped) {
    let text = if t.uppercase { text.to_uppercase() } else { text };
    shaper.fit(&text, t.bold, t.size, t.width * PT_PER_MM)
}

/// Lays `ticket` out on `template`'s page.
pub(crate) fn lay_out(
    template: &Template,
    fonts: &FontSet,
    lines: &FittedLines,
    ticket: &TicketData,
) -> Result<Layout, QrError> {
    let mm = |v: f32| v * PT_PER_MM;
    let (w, h) = template.page.size_mm();
    let (width, height) = (mm(w), mm(h));
    let language = template.language;
    let value = |field| ticket.value(field, language);
    // Parsed only if a line must be shaped.
    let parsed = std::cell::OnceCell::new();
    let shaper = || parsed.get_or_init(|| fonts.shaper());
    let mut ops = Vec::with_capacity(template.elements.len() + 2);
    ops.push(Op::Rect { x: 0.0, y: 0.0, width, height, color: template.background, opacity: 1.0 });
    if let Some(image) = &template.background_image {
        ops.push(Op::Image { image: image.clone(), x: 0.0, y: 0.0, width, height });
    }
    // Under the elements: it marks the page without crossing the QR code's light square.
    if let Some(mark) = &template.watermark
        && let Some(text) = mark.text.render(value, true)
    {
        let face = fonts.face(true);
        // Fit along the page's diagonal, less a margin.
        let room = (width * width + height * height).sqrt() * 0.8;
        let (size, line) =
            lines.filled(template.elements.len(), text, |text| shaper().fit(text, true, mark.size, room));
        let drawn = line.width * size;
        let pivot = (width / 2.0, height / 2.0);
        let baseline = pivot.1 + (face.ascent + face.descent) * size / 2.0;
        ops.push(Op::Text {
            x: pivot.0 - drawn / 2.0,
            baseline,
            size,
            bold: true,
            color: mark.color,
            opacity: mark.opacity,
            line,
            rotation: Some(Rotation { angle: mark.angle, pivot }),
        });
    }
    for (index, element) in template.elements.iter().enumerate() {
        match element {
            Element::Rect(r) => ops.push(Op::Rect {
                x: mm(r.x),
                y: mm(r.y),
                width: mm(r.width),
                height: mm(r.height),
                color: r.color,
                opacity: r.opacity,
            }),
            Element::Line(l) => ops.push(Op::Line {
                from: (mm(l.x1), mm(l.y1)),
                to: (mm(l.x2), mm(l.y2)),
                color: l.color,
                thickness: l.thickness,
                dashed: l.dashed,
            }),
            Element::Text(t) => {
                let face = fonts.face(t.bold);
                let box_width = mm(t.width);
                let (size, line) = match lines.fixed.get(index) {
                    Some(Some((size, line))) => (*size, Arc::clone(line)),
                    _ => {
                        let Some(text) = t.text.render(value, t.hide_if_empty) else { continue };
                        lines.filled(index, text, |text| fit_text(shaper(), t, text.to_owned()))
                    }
                };
                let drawn = line.width * size;
                let x = mm(t.x)
                    + match t.align {
                        Align::Left => 0.0,
                        Align::Center => (box_width - drawn) / 2.0,
                        Align::Right => box_width - drawn,
                    };
                // Centre the face's ascender-to-descender span in the line box of the nominal size.
                let line_box = t.size * crate::template::LINE_HEIGHT;
                let span = (face.ascent - face.descent) * size;
                let baseline = mm(t.y) + (line_box - span) / 2.0 + face.ascent * size;
                ops.push(Op::Text {
                    x,
                    baseline,
                    size,
                    bold: t.bold,
                    color: t.color,
                    opacity: 1.0,
                    line,
                    rotation: None,
                });
            }
            Element::Image(im) => {
                let Some(data) = template.images.get(&im.image) else { continue };
                let (pw, ph) = data.size();
                let (bw, bh) = (mm(im.width), mm(im.height));
                let scale = (bw / pw as f32).min(bh / ph as f32);
                let (dw, dh) = (pw as f32 * scale, ph as f32 * scale);
                ops.push(Op::Image {
                    image: im.image.clone(),
                    x: mm(im.x) + (bw - dw) / 2.0,
                    y: mm(im.y) + (bh - dh) / 2.0,
                    width: dw,
                    height: dh,
                });
            }
            Element::Qr(q) => ops.push(Op::Qr {
                x: mm(q.x),
                y: mm(q.y),
                side: mm(q.size),
                matrix: QrMatrix::encode(&ticket.qr_payload, q.level)?,
                dark: q.dark,
                light: q.light,
                quiet_zone: q.quiet_zone,
                logo: q.logo.clone().map(|name| (name, q.logo_scale)),
            }),
        }
    }
    Ok(Layout { width, height, ops })
}
