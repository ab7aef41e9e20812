//! QR codes: the module matrix, and PNG and SVG images of it.
//!
//! The matrix comes from [`fast_qr`] (about seven times faster than the `qrcode` crate here, see
//! `ARCHITECTURE.md`); the images are written by this module: a PNG is one bit per pixel unless a
//! logo is drawn, an SVG is one path of horizontal runs. A centre logo hides modules, so it is
//! allowed only at level H (30 % of the code words recoverable) and at most a quarter of the width.

use std::fmt::Write as _;
use std::io::Cursor;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use fast_qr::{ECL, QRBuilder};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::color::Color;

/// The largest share of the symbol's width a centre logo (with its light pad) may take.
pub const MAX_LOGO_SCALE: f32 = 0.25;
/// The widest QR image this module writes, in pixels.
pub const MAX_PIXELS: u32 = 4096;
/// The widest quiet zone accepted, in modules.
pub const MAX_QUIET_ZONE: u32 = 40;
/// The widest logo image accepted, in pixels.
pub const MAX_LOGO_PIXELS: u32 = 2048;
/// The smallest contrast ratio between the dark and light colours a scanner can rely on.
pub const MIN_CONTRAST: f32 = 3.0;

/// Why a QR code could not be made.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum QrError {
    /// The text does not fit in a QR code at this level.
    #[error("the text ({0} bytes) does not fit in a QR code at this error-correction level")]
    TooLong(usize),
    /// A quiet zone wider than [`MAX_QUIET_ZONE`].
    #[error("the quiet zone must be at most {MAX_QUIET_ZONE} modules, got {0}")]
    QuietZone(u32),
    /// The requested image is smaller than one pixel per module, or larger than [`MAX_PIXELS`].
    #[error("a {requested} px image cannot hold this code: it needs {min} to {MAX_PIXELS} px")]
    BadPixelSize {
        /// The size asked for.
        requested: u32,
        /// The smallest size that gives every module a pixel.
        min: u32,
    },
    /// A logo at a level other than H.
    #[error("a centre logo is allowed only at error-correction level H")]
    LogoNeedsLevelH,
    /// A logo wider than [`MAX_LOGO_SCALE`] of the symbol, or not wider than zero.
    #[error("the logo's scale must be above 0 and at most {MAX_LOGO_SCALE}, got {0}")]
    LogoScale(f32),
    /// The logo is not a PNG this module can read, or is too large.
    #[error("the logo is not a readable PNG of at most {MAX_LOGO_PIXELS} px a side: {0}")]
    LogoImage(String),
    /// The colours are too close for a scanner.
    #[error("the dark and light colours contrast {0:.1}:1, below the {MIN_CONTRAST}:1 a scanner needs")]
    LowContrast(f32),
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

/// Error-correction level: the share of code words a reader can recover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EcLevel {
    /// About 7 %.
    L,
    /// About 15 %: the default, enough for a printed or on-screen ticket.
    #[default]
    M,
    /// About 25 %.
    Q,
    /// About 30 %: required for a centre logo.
    H,
}

impl EcLevel {
    fn ecl(self) -> ECL {
        match self {
            EcLevel::L => ECL::L,
            EcLevel::M => ECL::M,
            EcLevel::Q => ECL::Q,
            EcLevel::H => ECL::H,
        }
    }
}

/// The modules of a QR symbol, without its quiet zone; `true` is dark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrMatrix {
    width: usize,
    dark: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `text` at `level`, in the smallest version that holds it.
    pub fn encode(text: &str, level: EcLevel) -> Result<Self, QrError> {
        let code =
            QRBuilder::new(text.as_bytes()).ecl(level.ecl()).build().map_err(|_| QrError::TooLong(text.len()))?;
        let width = code.size;
        let dark = code.data[..width * width].iter().map(|m| m.value()).collect();
        Ok(Self { width, dark })
    }

    /// Modules per side (21 for version 1, 4 more per version).
    pub fn width(&self) -> usize {
        self.width
    }

    /// Whether the module at column `x`, row `y` is dark; outside the symbol is light.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// The rows, top to bottom.
    pub fn rows(&self) -> impl Iterator<Item = &[bool]> {
        self.dark.chunks(self.width)
    }

    /// Horizontal runs of dark modules as `(row, first column, length)`: what a vector drawing fills.
    pub fn dark_runs(&self) -> impl Iterator<Item = (usize, usize, usize)> + '_ {
        self.rows().enumerate().flat_map(|(y, row)| {
            let mut x = 0;
            std::iter::from_fn(move || {
                while x < row.len() && !row[x] {
                    x += 1;
                }
                if x == row.len() {
                    return None;
                }
                let start = x;
                while x < row.len() && row[x] {
                    x += 1;
                }
                Some((y, start, x - start))
            })
        })
    }
}

/// A centre logo: a PNG, and the share of the symbol's width its light pad takes.
#[derive(Clone, Debug, PartialEq)]
pub struct QrLogo {
    png: Vec<u8>,
    scale: f32,
}

impl QrLogo {
    /// Checks the PNG can be read and the scale is within (0, [`MAX_LOGO_SCALE`]].
    pub fn new(png: Vec<u8>, scale: f32) -> Result<Self, QrError> {
        check_logo_scale(scale)?;
        decode_png(&png)?;
        Ok(Self { png, scale })
    }

    /// The PNG bytes.
    pub fn png(&self) -> &[u8] {
        &self.png
    }

    /// The share of the symbol's width the logo's pad takes.
    pub fn scale(&self) -> f32 {
        self.scale
    }
}

pub(crate) fn check_logo_scale(scale: f32) -> Result<(), QrError> {
    if scale > 0.0 && scale <= MAX_LOGO_SCALE { Ok(()) } else { Err(QrError::LogoScale(scale)) }
}

/// How a QR image looks.
#[derive(Clone, Debug, PartialEq)]
pub struct QrStyle {
    /// Width and height of the image in pixels (PNG) or user units (SVG), quiet zone included.
    pub pixels: u32,
    /// Light modules around the symbol; 4 is the standard's minimum for reliable reading.
    pub quiet_zone: u32,
    /// Error-correction level.
    pub level: EcLevel,
    /// Colour of dark modules.
    pub dark: Color,
    /// Colour of light modules and the quiet zone.
    pub light: Color,
    /// An optional centre logo (level H only).
    pub logo: Option<QrLogo>,
}

impl Default for QrStyle {
    fn default() -> Self {
        Self { pixels: 300, quiet_zone: 4, level: EcLevel::M, dark: Color::BLACK, light: Color::WHITE, logo: None }
    }
}

impl QrStyle {
    fn check(&self) -> Result<(), QrError> {
        if self.quiet_zone > MAX_QUIET_ZONE {
            return Err(QrError::QuietZone(self.quiet_zone));
        }
        if self.pixels == 0 || self.pixels > MAX_PIXELS {
            return Err(QrError::BadPixelSize { requested: self.pixels, min: 1 });
        }
        if self.logo.is_some() && self.level != EcLevel::H {
            return Err(QrError::LogoNeedsLevelH);
        }
        let contrast = self.dark.contrast(self.light);
        if contrast < MIN_CONTRAST || self.dark.luminance() > self.light.luminance() {
            return Err(QrError::LowContrast(contrast));
        }
        Ok(())
    }

    /// Where the symbol sits in the image: pixels per module and the offset of module (0, 0).
    fn grid(&self, matrix: &QrMatrix) -> Result<(u32, u32), QrError> {
        let total = u32::try_from(matrix.width()).unwrap_or(u32::MAX).saturating_add(2 * self.quiet_zone);
        if self.pixels < total || self.pixels > MAX_PIXELS {
            return Err(QrError::BadPixelSize { requested: self.pixels, min: total });
        }
        let module = self.pixels / total;
        // What integer modules leave over is split evenly round the quiet zone, so the image is
        // exactly the size asked for and every module stays crisp.
        let offset = (self.pixels - module * total) / 2 + module * self.quiet_zone;
        Ok((module, offset))
    }
}

/// The QR code of `text` as a PNG.
pub fn qr_png(text: &str, style: &QrStyle) -> Result<Vec<u8>, QrError> {
    style.check()?;
    let matrix = QrMatrix::encode(text, style.level)?;
    matrix_png(&matrix, style)
}

/// An already encoded matrix as a PNG.
pub fn matrix_png(matrix: &QrMatrix, style: &QrStyle) -> Result<Vec<u8>, QrError> {
    style.check()?;
    let (module, offset) = style.grid(matrix)?;
    let side = style.pixels as usize;
    let module_at = |p: usize| -> Option<usize> {
        let p = p.checked_sub(offset as usize)?;
        let m = p / module as usize;
        (m < matrix.width()).then_some(m)
    };
    // Which module each pixel column falls in, computed once for all rows.
    let columns: Vec<Option<usize>> = (0..side).map(module_at).collect();
    match &style.logo {
        None => {
            // Pack one pixel row per module row, then copy it down the module's height.
            let stride = side.div_ceil(8);
            let mut bits = vec![0u8; stride * side];
            let mut line = vec![0u8; stride];
            let mut packed_row = None;
            for py in 0..side {
                let Some(my) = module_at(py) else { continue };
                if packed_row != Some(my) {
                    line.fill(0);
                    for (px, column) in columns.iter().enumerate() {
                        if column.is_some_and(|mx| matrix.is_dark(mx, my)) {
                            line[px / 8] |= 0x80 >> (px % 8);
                        }
                    }
                    packed_row = Some(my);
                }
                bits[py * stride..(py + 1) * stride].copy_from_slice(&line);
            }
            let palette = [style.light.r, style.light.g, style.light.b, style.dark.r, style.dark.g, style.dark.b];
            encode_png(side as u32, png::ColorType::Indexed, png::BitDepth::One, Some(&palette), &bits)
        }
        Some(logo) => {
            let mut rgb = vec![0u8; side * side * 3];
            for (py, line) in rgb.chunks_mut(side * 3).enumerate() {
                let my = module_at(py);
                for (px, pixel) in line.chunks_mut(3).enumerate() {
                    let dark = matches!((columns[px], my), (Some(mx), Some(my)) if matrix.is_dark(mx, my));
                    let c = if dark { style.dark } else { style.light };
                    pixel.copy_from_slice(&[c.r, c.g, c.b]);
                }
            }
            let symbol = module * matrix.width() as u32;
            draw_logo(&mut rgb, side, offset, symbol, logo, style.light)?;
            encode_png(side as u32, png::ColorType::Rgb, png::BitDepth::Eight, None, &rgb)
        }
    }
}

/// The QR code of `text` as an SVG document.
pub fn qr_svg(text: &str, style: &QrStyle) -> Result<String, QrError> {
    style.check()?;
    let matrix = QrMatrix::encode(text, style.level)?;
    let total = matrix.width() + 2 * style.quiet_zone as usize;
    let q = style.quiet_zone as usize;
    let mut svg = String::with_capacity(64 * matrix.width() * 4);
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{px}" height="{px}" viewBox="0 0 {total} {total}" shape-rendering="crispEdges"><rect width="{total}" height="{total}" fill="{light}"/><path fill="{dark}" d=""#,
        px = style.pixels,
        light = style.light,
        dark = style.dark,
    );
    for (y, x, len) in matrix.dark_runs() {
        let _ = write!(svg, "M{} {}h{len}v1h-{len}z", x + q, y + q);
    }
    svg.push_str(r#""/>"#);
    if let Some(logo) = &style.logo {
        let (pad, inner) = logo_boxes(matrix.width() as f32, logo.scale);
        let at = q as f32 + (matrix.width() as f32 - pad) / 2.0;
        let inset = (pad - inner) / 2.0;
        let _ = write!(
            svg,
            r#"<rect x="{at}" y="{at}" width="{pad}" height="{pad}" fill="{light}"/><image x="{ix}" y="{ix}" width="{inner}" height="{inner}" preserveAspectRatio="xMidYMid meet" href="data:image/png;base64,{data}"/>"#,
            light = style.light,
            ix = at + inset,
            data = BASE64.encode(logo.png()),
        );
    }
    svg.push_str("</svg>");
    Ok(svg)
}

/// The light pad's side and the logo's side, for a symbol `width` units wide.
pub(crate) fn logo_boxes(width: f32, scale: f32) -> (f32, f32) {
    let pad = width * scale;
    (pad, pad * 0.82)
}

fn encode_png(
    side: u32,
    color: png::ColorType,
    depth: png::BitDepth,
    palette: Option<&[u8]>,
    data: &[u8],
) -> Result<Vec<u8>, QrError> {
    let mut out = Vec::with_capacity(data.len() / 4 + 256);
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(color);
    encoder.set_depth(depth);
    encoder.set_compression(png::Compression::Fast);
    if let Some(palette) = palette {
        encoder.set_palette(palette);
    }
    let png_error = |e: png::EncodingError| QrError::Png(e.to_string());
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(data).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(out)
}

/// A decoded PNG as 8-bit RGBA.
struct Rgba {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

fn decode_png(bytes: &[u8]) -> Result<Rgba, QrError> {
    let refuse = |e: &dyn std::fmt::Display| QrError::LogoImage(e.to_string());
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8() | png::Transformations::ALPHA);
    let mut reader = decoder.read_info().map_err(|e| refuse(&e))?;
    let (width, height) = (reader.info().width, reader.info().height);
    if width == 0 || height == 0 || width > MAX_LOGO_PIXELS || height > MAX_LOGO_PIXELS {
        return Err(refuse(&format_args!("{width}×{height} px")));
    }
    let size = reader.output_buffer_size().ok_or_else(|| refuse(&"image too large"))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| refuse(&e))?;
    let (width, height) = (info.width as usize, info.height as usize);
    let pixels = match info.color_type {
        png::ColorType::Rgba => buf[..width * height * 4].to_vec(),
        png::ColorType::GrayscaleAlpha => {
            buf[..width * height * 2].chunks(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect()
        }
        other => return Err(refuse(&format_args!("unexpected colour type {other:?}"))),
    };
    Ok(Rgba { width, height, pixels })
}

/// Draws the logo's light pad and the logo (scaled to fit, alpha-blended) over the symbol's centre.
fn draw_logo(
    rgb: &mut [u8],
    side: usize,
    offset: u32,
    symbol: u32,
    logo: &QrLogo,
    light: Color,
) -> Result<(), QrError> {
    let image = decode_png(logo.png())?;
    let (pad, inner) = logo_boxes(symbol as f32, logo.scale());
    let pad_start = offset as f32 + (symbol as f32 - pad) / 2.0;
    let fill = |rgb: &mut [u8], x: usize, y: usize, c: [u8; 3]| {
        let i = (y * side + x) * 3;
        rgb[i..i + 3].copy_from_slice(&c);
    };
    let (p0, p1) = (pad_start.round() as usize, (pad_start + pad).round() as usize);
    for y in p0..p1.min(side) {
        for x in p0..p1.min(side) {
            fill(rgb, x, y, [light.r, light.g, light.b]);
        }
    }
    // Fit the logo in the inner square, keeping its aspect ratio.
    let fit = inner / image.width.max(image.height) as f32;
    let (w, h) = ((image.width as f32 * fit).round() as usize, (image.height as f32 * fit).round() as usize);
    let x0 = (pad_start + (pad - w as f32) / 2.0).round() as usize;
    let y0 = (pad_start + (pad - h as f32) / 2.0).round() as usize;
    for y in 0..h {
        for x in 0..w {
            let (sx, sy) = (
                (x * image.width / w.max(1)).min(image.width - 1),
                (y * image.height / h.max(1)).min(image.height - 1),
            );
            let s = &image.pixels[(sy * image.width + sx) * 4..][..4];
            let (px, py) = (x0 + x, y0 + y);
            if px >= side || py >= side {
                continue;
            }
            let i = (py * side + px) * 3;
            let a = u16::from(s[3]);
            for c in 0..3 {
                let under = u16::from(rgb[i + c]);
                rgb[i + c] = ((u16::from(s[c]) * a + under * (255 - a)) / 255) as u8;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_cover_exactly_the_dark_modules() {
        let matrix = QrMatrix::encode("HELLO RUNS", EcLevel::M).unwrap();
        let mut painted = vec![false; matrix.width() * matrix.width()];
        for (y, x, len) in matrix.dark_runs() {
            for i in x..x + len {
                assert!(!painted[y * matrix.width() + i], "a module painted twice");
                painted[y * matrix.width() + i] = true;
            }
        }
        let dark: Vec<bool> = matrix.rows().flatten().copied().collect();
        assert_eq!(painted, dark);
    }

    #[test]
    fn the_image_is_exactly_the_size_asked_for() {
        let matrix = QrMatrix::encode("SIZE", EcLevel::M).unwrap();
        let style = QrStyle { pixels: 301, ..QrStyle::default() };
        let (module, offset) = style.grid(&matrix).unwrap();
        assert_eq!(module, 301 / (21 + 8));
        let leftover = 301 - module * 29;
        assert_eq!(offset, leftover / 2 + module * 4);
        let png = matrix_png(&matrix, &style).unwrap();
        let info = png::Decoder::new(Cursor::new(&png)).read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (301, 301));
    }

    #[test]
    fn refuses_sizes_colours_and_logos_a_scanner_would_fail_on() {
        let small = QrStyle { pixels: 20, ..QrStyle::default() };
        assert_eq!(qr_png("X", &small), Err(QrError::BadPixelSize { requested: 20, min: 29 }));
        let pale = QrStyle { dark: Color::rgb(200, 200, 200), ..QrStyle::default() };
        assert!(matches!(qr_png("X", &pale), Err(QrError::LowContrast(_))));
        let inverted = QrStyle { dark: Color::WHITE, light: Color::BLACK, ..QrStyle::default() };
        assert!(matches!(qr_svg("X", &inverted), Err(QrError::LowContrast(_))));
        assert_eq!(QrLogo::new(vec![1, 2, 3], 0.3), Err(QrError::LogoScale(0.3)));
        assert!(matches!(QrLogo::new(vec![1, 2, 3], 0.2), Err(QrError::LogoImage(_))));
        assert_eq!(qr_png(&"A".repeat(5000), &QrStyle::default()), Err(QrError::TooLong(5000)));
    }
}
