//! # ticketing-pdf
//!
//! QR images and PDF tickets rendered from templates.
//!
//! - [`qr`]: a QR code's module matrix, as PNG or SVG, with an optional centre logo at level H.
//! - [`template`]: ticket templates as JSON data, checked when read; [`Template::default_ticket`].
//! - [`Renderer`]: a template prepared once, then PDF, multi-page PDF, PNG and previews.
//! - [`batch`] and [`export`]: many tickets in parallel into a streamed ZIP; memory holds a few
//!   PDFs at a time, plus the archive's directory (about 200 bytes a ticket).
//! - [`library`]: templates saved as versions in a store; a ticket keeps the version it was first
//!   rendered with.
//!
//! The PDF writer (pdf-writer) and the rasteriser (hayro) are implementation details: the API speaks
//! bytes, templates and [`TicketData`].
//!
//! ```
//! use ticketing_core::signing::{KeyId, KeyMaterial, KeyState, Keyring};
//! use ticketing_pdf::{Renderer, sample_ticket};
//!
//! let keys = Keyring::new().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![7; 32]))?;
//! let renderer = Renderer::default_ticket();
//! let pdf = renderer.pdf(&sample_ticket(&keys, 0)?)?;
//! assert!(pdf.starts_with(b"%PDF-"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod batch;
pub mod color;
mod data;
pub mod export;
mod font;
mod layout;
pub mod library;
mod pdf;
pub mod qr;
mod raster;
mod renderer;
pub mod template;

pub use color::Color;
pub use data::{TicketData, sample_ticket, sample_tickets};
pub use library::{LibraryError, TemplateLibrary};
pub use raster::{MAX_DPI, MAX_PIXELS};
pub use renderer::{MAX_PDF_BYTES, RenderError, Renderer};
pub use template::{Template, TemplateError};
