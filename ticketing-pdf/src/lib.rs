//! # ticketing-pdf
//!
//! QR images and PDF tickets rendered from templates. A placeholder until the rendering issue
//! lands: the QR payload it will draw is [`ticketing_core::signing`]'s.

pub use ticketing_core::signing::MAX_TEXT_LEN as MAX_QR_TEXT_LEN;
