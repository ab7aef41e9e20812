//! [`Renderer`]: a checked template with its fonts and images prepared, turning ticket data into
//! PDF and PNG.

use thiserror::Error;
use ticketing_core::signing::Keyring;

use crate::data::{TicketData, sample_ticket, trial_ticket};
use crate::font::FontSet;
use crate::layout::{FittedLines, lay_out};
use crate::pdf::PdfAssets;
use crate::qr::QrError;
use crate::raster;
use crate::template::{Template, TemplateError};

/// The heaviest one-ticket PDF a template may make: 5 MB (the built-in template makes 20 KB).
pub const MAX_PDF_BYTES: usize = 5 * 1024 * 1024;

/// Why a ticket could not be rendered.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum RenderError {
    /// The ticket's QR text cannot be drawn (too long for the template's level).
    #[error(transparent)]
    Qr(#[from] QrError),
    /// The PDF writer refused the document (a font or image it cannot embed).
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
    /// The PDF could not be rasterised.
    #[error("the PNG could not be drawn: {0}")]
    Png(String),
    /// Signing the sample's QR text failed.
    #[error("the sample ticket could not be signed: {0}")]
    Sample(String),
}

/// A template ready to render: fonts parsed and images decoded once, shared by every ticket.
/// It is `Send + Sync`: one renderer serves every thread of a batch.
pub struct Renderer {
    template: Template,
    fonts: FontSet,
    lines: FittedLines,
    pdf: PdfAssets,
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer").field("template", &self.template.name).finish_non_exhaustive()
    }
}

impl Renderer {
    /// Prepares `template`, checking it first; then renders a trial ticket so that a font or image
    /// the PDF writer cannot use, or a ticket heavier than [`MAX_PDF_BYTES`], is refused now, not
    /// at the first customer's download. Preparing decodes the template's images: from a
    /// millisecond to a few tens for the largest allowed; an async server does it off its
    /// reactor (`spawn_blocking`).
    pub fn new(template: Template) -> Result<Self, TemplateError> {
        template.validate()?;
        let fonts = FontSet::new(&template.fonts).map_err(|e| TemplateError::one("fonts", e))?;
        let lines = FittedLines::new(&template, &fonts);
        let pdf = PdfAssets::new(&template, &fonts, &lines).map_err(|(path, e)| TemplateError::one(path, e))?;
        let renderer = Self { template, fonts, lines, pdf };
        let trial = renderer.pdf(&trial_ticket()).map_err(|e| TemplateError::one("", e.to_string()))?;
        if trial.len() > MAX_PDF_BYTES {
            let message = format!("a ticket renders to {} bytes; the limit is {MAX_PDF_BYTES}", trial.len());
            return Err(TemplateError::one("images", message));
        }
        Ok(renderer)
    }

    /// The built-in template, prepared.
    pub fn default_ticket() -> Self {
        Self::new(Template::default_ticket()).expect("the built-in template renders")
    }

    /// The template it renders.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// One ticket as a one-page PDF.
    pub fn pdf(&self, ticket: &TicketData) -> Result<Vec<u8>, RenderError> {
        self.pdf_pages(std::slice::from_ref(ticket))
    }

    /// Many tickets in one PDF, a page each, in order.
    pub fn pdf_pages(&self, tickets: &[TicketData]) -> Result<Vec<u8>, RenderError> {
        let title = match tickets {
            [one] => format!("{} — {}", one.event_title, one.short_code),
            [first, ..] => format!("{} — {} tickets", first.event_title, tickets.len()),
            [] => self.template.name.clone(),
        };
        let layouts = tickets
            .iter()
            .map(|ticket| lay_out(&self.template, &self.fonts, &self.lines, ticket))
            .collect::<Result<Vec<_>, _>>()?;
        self.pdf.document(&title, &layouts).map_err(RenderError::Pdf)
    }

    /// One ticket as a PNG at `dpi` dots per inch (clamped to 1–[`MAX_DPI`](crate::MAX_DPI), and
    /// lowered for a page so large it would exceed [`MAX_PIXELS`](crate::MAX_PIXELS)).
    pub fn png(&self, ticket: &TicketData, dpi: u16) -> Result<Vec<u8>, RenderError> {
        raster::page_png(self.pdf(ticket)?, 0, dpi).map_err(RenderError::Png)
    }

    /// A preview: the template filled with a sample ticket (accents, long names), its QR text
    /// signed with `keyring` so the preview scans. Returns the PDF and a PNG at `dpi`.
    pub fn preview(&self, keyring: &Keyring, dpi: u16) -> Result<(Vec<u8>, Vec<u8>), RenderError> {
        let sample = sample_ticket(keyring, 0).map_err(|e| RenderError::Sample(e.to_string()))?;
        let pdf = self.pdf(&sample)?;
        let png = raster::page_png(pdf.clone(), 0, dpi).map_err(RenderError::Png)?;
        Ok((pdf, png))
    }
}
