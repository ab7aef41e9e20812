//! PDF pages to PNG with hayro, a pure-Rust PDF rasteriser: a ticket's PNG is its PDF drawn, so
//! the two always look the same.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::Pdf;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};

/// The highest resolution a page is rasterised at, in dots per inch.
pub const MAX_DPI: u16 = 600;

/// Rasterises page `page` (from 0) of `pdf` at `dpi` onto white, as a PNG.
pub(crate) fn page_png(pdf: Vec<u8>, page: usize, dpi: u16) -> Result<Vec<u8>, String> {
    let dpi = dpi.clamp(1, MAX_DPI);
    let pdf = Pdf::new(pdf).map_err(|e| format!("{e:?}"))?;
    let pages = pdf.pages();
    let page = pages.get(page).ok_or("no such page")?;
    let (w, h) = page.render_dimensions();
    let scale = f32::from(dpi) / 72.0;
    if w * scale > f32::from(u16::MAX) || h * scale > f32::from(u16::MAX) {
        return Err(format!("{dpi} dpi makes the image too large"));
    }
    let settings = PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE };
    let cache = RenderCache::new();
    let pixmap = hayro::render(page, &cache, &InterpreterSettings::default(), &RenderSettings::default(), &settings);
    pixmap.into_png().map_err(|e| e.to_string())
}
