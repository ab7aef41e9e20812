//! A template filled with one ticket's values: a list of drawing operations in points, with text
//! already fitted to its box. The PDF writer draws it; nothing here knows about PDF.

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
        line: Shaped,
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

/// The lines of text that hold no placeholder, shaped and fitted once per template rather than
/// once per ticket (labels, instructions): by element index.
pub(crate) struct StaticLines(Vec<Option<(f32, Shaped)>>);

impl StaticLines {
    pub(crate) fn new(template: &Template, fonts: &FontSet) -> Self {
        let shaper = fonts.shaper();
        let lines = template
            .elements
            .iter()
            .map(|element| match element {
                Element::Text(t) if t.text.fields().next().is_none() => {
                    Some(fit_text(&shaper, t, t.text.source().to_owned()))
                }
                _ => None,
            })
            .collect();
        Self(lines)
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
    statics: &StaticLines,
    ticket: &TicketData,
) -> Result<Layout, QrError> {
    let mm = |v: f32| v * PT_PER_MM;
    let (w, h) = template.page.size_mm();
    let (width, height) = (mm(w), mm(h));
    let language = template.language;
    let value = |field| ticket.value(field, language);
    let shaper = fonts.shaper();
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
        let (size, line) = shaper.fit(&text, true, mark.size, room);
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
                let (size, line) = match statics.0.get(index) {
                    Some(Some(fitted)) => fitted.clone(),
                    _ => {
                        let Some(text) = t.text.render(value, t.hide_if_empty) else { continue };
                        fit_text(&shaper, t, text)
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
