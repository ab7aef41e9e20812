//! PDF pages to PNG with hayro, a pure-Rust PDF rasteriser: a ticket's PNG is its PDF drawn, so
//! the two always look the same.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};

/// The highest resolution a page is rasterised at, in dots per inch.
pub const MAX_DPI: u16 = 600;
/// The most pixels a page's image may have (an A4 page at 600 dpi is 35 million): a larger page
/// is drawn at the resolution that fits.
pub const MAX_PIXELS: f32 = 40_000_000.0;

/// Rasterises page `page` (from 0) of `pdf` at `dpi` onto white, as a PNG.
pub(crate) fn page_png(pdf: Vec<u8>, page: usize, dpi: u16) -> Result<Vec<u8>, String> {
    let dpi = dpi.clamp(1, MAX_DPI);
    let pdf = Pdf::new(pdf).map_err(|e| format!("{e:?}"))?;
    let pages = pdf.pages();
    let page = pages.get(page).ok_or("no such page")?;
    let (w, h) = page.render_dimensions();
    let scale = scale(w, h, dpi);
    let settings = PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE };
    let cache = RenderCache::new();
    let pixmap = hayro::render(page, &cache, &InterpreterSettings::default(), &RenderSettings::default(), &settings);
    pixmap.into_png().map_err(|e| e.to_string())
}

/// Pixels per point for a `w` × `h` pt page at `dpi`: never more than [`MAX_PIXELS`] in all,
/// nor more than a pixmap's side can hold.
fn scale(w: f32, h: f32, dpi: u16) -> f32 {
    let asked = f32::from(dpi.clamp(1, MAX_DPI)) / 72.0;
    let fits = (MAX_PIXELS / (w * h).max(1.0)).sqrt().min(f32::from(u16::MAX) / w.max(h).max(1.0));
    asked.min(fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_drawn_at_the_dpi_asked_unless_it_would_be_too_many_pixels() {
        let a4 = (595.3, 841.9);
        assert_eq!(scale(a4.0, a4.1, 150), 150.0 / 72.0);
        assert_eq!(scale(a4.0, a4.1, 9_000), 600.0 / 72.0, "clamped to MAX_DPI");
        let huge = 1_200.0 / 25.4 * 72.0;
        let s = scale(huge, huge, 600);
        assert!(s < 600.0 / 72.0);
        assert!((huge * s) * (huge * s) <= MAX_PIXELS * 1.001);
    }
}
