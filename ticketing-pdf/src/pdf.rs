//! Draws [layouts](crate::layout) into a PDF with krilla. Everything krilla is private to this
//! module and [`crate::font`]: the crate's API speaks bytes, templates and ticket data.

use std::collections::BTreeMap;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, LineCap, Stroke, StrokeDash};
use krilla::surface::Surface;
use krilla::text::{GlyphId, KrillaGlyph};
use krilla::{Document, SerializeSettings};

use crate::color::Color;
use crate::font::FontSet;
use crate::layout::{Layout, Op};
use crate::qr::logo_boxes;
use crate::template::{ImageFormat, Template};

/// The PDF writer's view of a template's images, decoded once and shared by every document.
pub(crate) struct PdfImages(BTreeMap<String, Image>);

impl PdfImages {
    pub(crate) fn new(template: &Template) -> Result<Self, String> {
        let mut images = BTreeMap::new();
        for (name, data) in &template.images {
            let bytes = krilla::Data::from(std::sync::Arc::clone(data.bytes()));
            let image = match data.format() {
                ImageFormat::Png => Image::from_png(bytes, true),
                ImageFormat::Jpeg => Image::from_jpeg(bytes, true),
            }
            .map_err(|e| format!("image `{name}`: {e}"))?;
            images.insert(name.clone(), image);
        }
        Ok(Self(images))
    }
}

/// A PDF being written, one page per layout.
pub(crate) struct PdfDocument {
    doc: Document,
}

impl PdfDocument {
    pub(crate) fn new(title: &str) -> Self {
        // krilla deflates every stream at level 6. Fonts and images stay compressed; the page's
        // content stream (about 20 KB) is written as is: 20 % less CPU a ticket for 12 KB more
        // (a 30 KB ticket). No XMP packet (the title is in the document information) and no
        // structure tree (nothing is tagged): two streams less to build and deflate.
        let mut doc = Document::new_with(SerializeSettings {
            xmp_metadata: false,
            enable_tagging: false,
            compress_content_streams: false,
            ..SerializeSettings::default()
        });
        doc.set_metadata(krilla::metadata::Metadata::new().title(title.to_owned()).creator("ticketing".to_owned()));
        Self { doc }
    }

    pub(crate) fn add_page(&mut self, layout: &Layout, fonts: &FontSet, images: &PdfImages) {
        let Some(settings) = PageSettings::from_wh(layout.width, layout.height) else { return };
        let mut page = self.doc.start_page_with(settings);
        let mut surface = page.surface();
        for op in &layout.ops {
            draw(&mut surface, op, fonts, images);
        }
        surface.finish();
        page.finish();
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>, String> {
        self.doc.finish().map_err(|e| format!("{e:?}"))
    }
}

fn paint(color: Color) -> krilla::paint::Paint {
    rgb::Color::new(color.r, color.g, color.b).into()
}

fn fill(color: Color, opacity: f32) -> Fill {
    Fill { paint: paint(color), opacity: NormalizedF32::new(opacity).unwrap_or(NormalizedF32::ONE), ..Fill::default() }
}

fn rect(surface: &mut Surface<'_>, x: f32, y: f32, width: f32, height: f32) {
    let Some(r) = Rect::from_xywh(x, y, width, height) else { return };
    let mut path = PathBuilder::new();
    path.push_rect(r);
    if let Some(path) = path.finish() {
        surface.draw_path(&path);
    }
}

fn draw(surface: &mut Surface<'_>, op: &Op, fonts: &FontSet, images: &PdfImages) {
    match op {
        Op::Rect { x, y, width, height, color, opacity } => {
            surface.set_fill(Some(fill(*color, *opacity)));
            rect(surface, *x, *y, *width, *height);
        }
        Op::Line { from, to, color, thickness, dashed } => {
            let mut path = PathBuilder::new();
            path.move_to(from.0, from.1);
            path.line_to(to.0, to.1);
            let Some(path) = path.finish() else { return };
            surface.set_fill(None);
            surface.set_stroke(Some(Stroke {
                paint: paint(*color),
                width: *thickness,
                line_cap: LineCap::Butt,
                dash: dashed.then(|| StrokeDash { array: vec![thickness * 6.0, thickness * 4.0], offset: 0.0 }),
                ..Stroke::default()
            }));
            surface.draw_path(&path);
            surface.set_stroke(None);
        }
        Op::Image { image, x, y, width, height } => {
            let (Some(image), Some(size)) = (images.0.get(image), Size::from_wh(*width, *height)) else { return };
            surface.push_transform(&Transform::from_translate(*x, *y));
            surface.draw_image(image.clone(), size);
            surface.pop();
        }
        Op::Text { x, baseline, size, bold, color, opacity, line, rotation } => {
            if let Some(r) = rotation {
                // The page's y axis points down: a counter-clockwise turn is a negative angle.
                surface.push_transform(&Transform::from_rotate_at(-r.angle, r.pivot.0, r.pivot.1));
            }
            surface.set_fill(Some(fill(*color, *opacity)));
            let font = fonts.face(*bold).pdf.clone();
            let glyphs: Vec<KrillaGlyph> = line
                .glyphs
                .iter()
                .map(|g| {
                    KrillaGlyph::new(GlyphId::new(g.id), g.advance, g.x_offset, g.y_offset, 0.0, g.range.clone(), None)
                })
                .collect();
            surface.draw_glyphs(Point::from_xy(*x, *baseline), &glyphs, font, &line.text, *size, false);
            if rotation.is_some() {
                surface.pop();
            }
        }
        Op::Qr { x, y, side, matrix, dark, light, quiet_zone, logo } => {
            surface.set_fill(Some(fill(*light, 1.0)));
            rect(surface, *x, *y, *side, *side);
            let total = matrix.width() as f32 + 2.0 * *quiet_zone as f32;
            let module = side / total;
            let origin = (x + module * *quiet_zone as f32, y + module * *quiet_zone as f32);
            // One path of horizontal runs in module units, stroked one module thick with butt
            // caps: two small integers per end keep the content stream short. The stroke is a
            // little thicker than a module so that no hairline shows between rows when a
            // viewer anti-aliases.
            let mut path = PathBuilder::new();
            for (row, column, len) in matrix.dark_runs() {
                let y = row as f32 + 0.5;
                path.move_to(column as f32, y);
                path.line_to((column + len) as f32, y);
            }
            if let Some(path) = path.finish() {
                surface.push_transform(&Transform::from_row(module, 0.0, 0.0, module, origin.0, origin.1));
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: paint(*dark),
                    width: 1.04,
                    line_cap: LineCap::Butt,
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
                surface.set_stroke(None);
                surface.pop();
            }
            if let Some((name, scale)) = logo {
                let symbol = matrix.width() as f32 * module;
                let (pad, inner) = logo_boxes(symbol, *scale);
                let pad_at = (origin.0 + (symbol - pad) / 2.0, origin.1 + (symbol - pad) / 2.0);
                surface.set_fill(Some(fill(*light, 1.0)));
                rect(surface, pad_at.0, pad_at.1, pad, pad);
                if let Some(image) = images.0.get(name) {
                    let (w, h) = image.size();
                    let fit = inner / (w.max(h).max(1) as f32);
                    let (dw, dh) = (w as f32 * fit, h as f32 * fit);
                    if let Some(size) = Size::from_wh(dw, dh) {
                        surface.push_transform(&Transform::from_translate(
                            pad_at.0 + (pad - dw) / 2.0,
                            pad_at.1 + (pad - dh) / 2.0,
                        ));
                        surface.draw_image(image.clone(), size);
                        surface.pop();
                    }
                }
            }
        }
    }
}
