//! The checks a template passes before it is accepted.

use super::{Element, PaperSize, Problem, Template, TemplateError};
use crate::qr::{MAX_LOGO_SCALE, MIN_CONTRAST};

/// The most elements a template may have.
pub const MAX_ELEMENTS: usize = 200;
/// The most images a template may carry.
pub const MAX_IMAGES: usize = 32;
/// The most pixels all of a template's images may have together (decoded once per renderer).
pub const MAX_IMAGE_AREA: u64 = 4096 * 4096;
/// The most problems one refusal lists.
const MAX_PROBLEMS: usize = 50;
const MAX_IMAGE_NAME: usize = 64;
/// The smallest QR square, quiet zone included, in millimetres: about 0.4 mm a module for the
/// largest payload, which phone cameras and gate scanners read at arm's length.
pub const MIN_QR_MM: f32 = 20.0;
const PAGE_MM: std::ops::RangeInclusive<f32> = 20.0..=1200.0;
const TEXT_PT: std::ops::RangeInclusive<f32> = 4.0..=200.0;
const MAX_TEXT_CHARS: usize = 500;
const MAX_NAME_CHARS: usize = 100;
/// Millimetres per point.
const MM_PER_PT: f32 = 25.4 / 72.0;
/// A line of text takes its size plus this share, for accents above and descenders below.
pub(crate) const LINE_HEIGHT: f32 = 1.2;

struct Checker {
    problems: Vec<Problem>,
    page: (f32, f32),
}

impl Checker {
    fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        // One extra slot says that more were found; nothing beyond it is kept.
        if self.problems.len() <= MAX_PROBLEMS {
            self.problems.push(Problem { path: path.into(), message: message.into() });
        }
    }

    fn check(&mut self, ok: bool, path: &str, message: impl FnOnce() -> String) {
        if !ok {
            self.fail(path, message());
        }
    }

    /// A box must have a positive size and lie on the page (a tolerance of 0.01 mm for rounding).
    fn on_page(&mut self, path: &str, x: f32, y: f32, width: f32, height: f32) {
        let values = [x, y, width, height];
        if values.iter().any(|v| !v.is_finite()) {
            return self.fail(path, "positions and sizes must be numbers");
        }
        if width <= 0.0 || height <= 0.0 {
            return self.fail(path, format!("the size must be above zero, got {width} × {height} mm"));
        }
        let (pw, ph) = self.page;
        let tolerance = 0.01;
        if x < -tolerance || y < -tolerance || x + width > pw + tolerance || y + height > ph + tolerance {
            self.fail(
                path,
                format!(
                    "off the page: it spans x {x}–{} mm and y {y}–{} mm on a {pw} × {ph} mm page",
                    x + width,
                    y + height
                ),
            );
        }
    }

    fn opacity(&mut self, path: &str, opacity: f32) {
        self.check((0.0..=1.0).contains(&opacity), path, || format!("opacity must be 0 to 1, got {opacity}"));
    }

    fn text_size(&mut self, path: &str, size: f32) {
        self.check(TEXT_PT.contains(&size), path, || {
            format!("font size must be {} to {} pt, got {size}", TEXT_PT.start(), TEXT_PT.end())
        });
    }

    fn text_length(&mut self, path: &str, text: &str) {
        let chars = text.chars().count();
        self.check(chars <= MAX_TEXT_CHARS, path, || format!("{chars} characters; the limit is {MAX_TEXT_CHARS}"));
    }

    fn image_exists(&mut self, template: &Template, path: &str, name: &str) {
        self.check(template.images.contains_key(name), path, || {
            // Names are checked short and few (below), so the list stays short too.
            let known: Vec<&str> = template.images.keys().map(String::as_str).collect();
            format!("no image named `{}` in `images` (it has: {})", clip(name), known.join(", "))
        });
    }

    fn images(&mut self, template: &Template) {
        let count = template.images.len();
        self.check(count <= MAX_IMAGES, "images", || format!("{count} images; the limit is {MAX_IMAGES}"));
        let area: u64 = template.images.values().map(|i| u64::from(i.size().0) * u64::from(i.size().1)).sum();
        self.check(area <= MAX_IMAGE_AREA, "images", || {
            format!("the images have {area} pixels together; the limit is {MAX_IMAGE_AREA} (4096 × 4096)")
        });
        let used: Vec<&str> = template
            .elements
            .iter()
            .filter_map(|e| match e {
                Element::Image(im) => Some(im.image.as_str()),
                Element::Qr(q) => q.logo.as_deref(),
                _ => None,
            })
            .chain(template.background_image.as_deref())
            .collect();
        for name in template.images.keys() {
            let path = format!("images.{}", clip(name));
            let well_formed = !name.is_empty()
                && name.len() <= MAX_IMAGE_NAME
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            self.check(well_formed, &path, || {
                format!("an image name is 1 to {MAX_IMAGE_NAME} letters, digits, `_` or `-`")
            });
            self.check(used.contains(&name.as_str()), &path, || {
                "no element uses this image: remove it (every image is decoded and embedded)".into()
            });
        }
    }
}

/// A name cut for a message.
fn clip(name: &str) -> String {
    if name.chars().count() <= MAX_IMAGE_NAME {
        name.to_owned()
    } else {
        name.chars().take(MAX_IMAGE_NAME).collect::<String>() + "…"
    }
}

pub(super) fn validate(template: &Template) -> Result<(), TemplateError> {
    let mut c = Checker { problems: Vec::new(), page: template.page.size_mm() };
    c.check(template.format == super::FORMAT, "format", || {
        format!("format {} is not known; this version reads format {}", template.format, super::FORMAT)
    });
    let name = template.name.trim();
    c.check(!name.is_empty() && name.chars().count() <= MAX_NAME_CHARS, "name", || {
        format!("the name must be 1 to {MAX_NAME_CHARS} characters")
    });
    let page = &template.page;
    let custom = page.size == PaperSize::Custom;
    if custom {
        c.check(page.width.is_some() && page.height.is_some(), "page", || {
            "a custom page needs its width and height in millimetres".into()
        });
        c.check(!page.landscape, "page.landscape", || "a custom page takes its width and height as given".into());
    } else {
        c.check(page.width.is_none() && page.height.is_none(), "page", || {
            "width and height are for a custom page only; a named size has its own".into()
        });
    }
    let (pw, ph) = c.page;
    c.check(PAGE_MM.contains(&pw) && PAGE_MM.contains(&ph), "page", || {
        format!("each side must be {} to {} mm, got {pw} × {ph}", PAGE_MM.start(), PAGE_MM.end())
    });
    if let Some(name) = &template.background_image {
        c.image_exists(template, "background_image", name);
    }
    if template.elements.len() > MAX_ELEMENTS {
        // Checking each of thousands of elements would only make the refusal longer.
        c.fail("elements", format!("{} elements; the limit is {MAX_ELEMENTS}", template.elements.len()));
        return Err(TemplateError { problems: c.problems });
    }
    c.images(template);
    c.check(template.elements.iter().any(|e| matches!(e, Element::Qr(_))), "elements", || {
        "a ticket template needs a `qr` element: the code is what the gate scans".into()
    });
    for (i, element) in template.elements.iter().enumerate() {
        let path = format!("elements[{i}]");
        match element {
            Element::Rect(r) => {
                c.on_page(&path, r.x, r.y, r.width, r.height);
                c.opacity(&format!("{path}.opacity"), r.opacity);
            }
            Element::Line(l) => {
                let (x, y) = (l.x1.min(l.x2), l.y1.min(l.y2));
                // A horizontal or vertical line has no extent one way: give it its thickness.
                let t = l.thickness * MM_PER_PT;
                c.on_page(&path, x, y, (l.x1 - l.x2).abs().max(t), (l.y1 - l.y2).abs().max(t));
                c.check(l.thickness > 0.0 && l.thickness <= 20.0, &format!("{path}.thickness"), || {
                    format!("thickness must be above 0 and at most 20 pt, got {}", l.thickness)
                });
            }
            Element::Text(t) => {
                c.text_size(&format!("{path}.size"), t.size);
                c.text_length(&format!("{path}.text"), t.text.source());
                c.on_page(&path, t.x, t.y, t.width, t.size * LINE_HEIGHT * MM_PER_PT);
            }
            Element::Image(im) => {
                c.image_exists(template, &format!("{path}.image"), &im.image);
                c.on_page(&path, im.x, im.y, im.width, im.height);
            }
            Element::Qr(q) => {
                c.on_page(&path, q.x, q.y, q.size, q.size);
                c.check(q.size >= MIN_QR_MM, &format!("{path}.size"), || {
                    format!("a QR code smaller than {MIN_QR_MM} mm does not scan reliably, got {}", q.size)
                });
                c.check((2..=10).contains(&q.quiet_zone), &format!("{path}.quiet_zone"), || {
                    format!("the quiet zone must be 2 to 10 modules, got {}", q.quiet_zone)
                });
                let contrast = q.dark.contrast(q.light);
                c.check(contrast >= MIN_CONTRAST && q.dark.luminance() < q.light.luminance(), &format!("{path}.dark"), || {
                    format!(
                        "dark {} on light {} contrasts {contrast:.1}:1; scanners need dark on light at {MIN_CONTRAST}:1 or more",
                        q.dark, q.light
                    )
                });
                if let Some(logo) = &q.logo {
                    c.image_exists(template, &format!("{path}.logo"), logo);
                    c.check(q.level == crate::qr::EcLevel::H, &format!("{path}.level"), || {
                        "a centre logo is allowed only at error-correction level H".into()
                    });
                }
                // Checked with or without a logo: a value out of range (an infinity read from
                // 1e39) would not survive being written back as JSON.
                c.check(q.logo_scale > 0.0 && q.logo_scale <= MAX_LOGO_SCALE, &format!("{path}.logo_scale"), || {
                    format!("the logo's scale must be above 0 and at most {MAX_LOGO_SCALE}, got {}", q.logo_scale)
                });
            }
        }
    }
    if let Some(w) = &template.watermark {
        c.text_size("watermark.size", w.size);
        c.text_length("watermark.text", w.text.source());
        c.opacity("watermark.opacity", w.opacity);
        c.check(w.angle.is_finite(), "watermark.angle", || "the angle must be a number".into());
    }
    if c.problems.len() > MAX_PROBLEMS {
        c.problems.truncate(MAX_PROBLEMS);
        c.problems.push(Problem { path: String::new(), message: "more problems were found; fix these first".into() });
    }
    if c.problems.is_empty() { Ok(()) } else { Err(TemplateError { problems: c.problems }) }
}
