//! Images and fonts carried inside a template, as base64 in its JSON.
//!
//! Each is checked as it is read: an image must be a PNG or JPEG of bounded size, a font a TrueType
//! or OpenType font of bounded size. A template therefore never refers to a file or a URL.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

/// The largest image a template may carry, in bytes.
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;
/// The largest side of an image a template may carry, in pixels.
pub const MAX_IMAGE_PIXELS: usize = 4096;
/// The largest font a template may carry, in bytes.
pub const MAX_FONT_BYTES: usize = 4 * 1024 * 1024;

/// The image formats a template may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// PNG (transparency kept).
    Png,
    /// JPEG.
    Jpeg,
}

impl ImageFormat {
    fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
        }
    }
}

/// A checked image: its bytes, format and size in pixels.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageData {
    bytes: Arc<Vec<u8>>,
    format: ImageFormat,
    width: u32,
    height: u32,
}

impl ImageData {
    /// Checks `bytes` is a PNG or JPEG within [`MAX_IMAGE_BYTES`] and [`MAX_IMAGE_PIXELS`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(format!("the image is {} bytes; the limit is {MAX_IMAGE_BYTES}", bytes.len()));
        }
        let format = match imagesize::image_type(&bytes) {
            Ok(imagesize::ImageType::Png) => ImageFormat::Png,
            Ok(imagesize::ImageType::Jpeg) => ImageFormat::Jpeg,
            _ => return Err("the image is neither a PNG nor a JPEG".to_owned()),
        };
        let size = imagesize::blob_size(&bytes).map_err(|e| format!("the image cannot be read: {e}"))?;
        if size.width == 0 || size.height == 0 || size.width > MAX_IMAGE_PIXELS || size.height > MAX_IMAGE_PIXELS {
            return Err(format!(
                "the image is {}×{} px; each side must be 1 to {MAX_IMAGE_PIXELS}",
                size.width, size.height
            ));
        }
        // Only the header is read here; the data is decoded when a renderer is prepared (see
        // `Renderer::new`), within the template's pixel budget (`MAX_IMAGE_AREA`).
        Ok(Self { bytes: Arc::new(bytes), format, width: size.width as u32, height: size.height as u32 })
    }

    /// Reads base64, with or without a `data:image/…;base64,` prefix.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let data = strip_data_uri(text);
        let bytes = BASE64.decode(data.trim()).map_err(|e| format!("the image is not valid base64: {e}"))?;
        Self::new(bytes)
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &Arc<Vec<u8>> {
        &self.bytes
    }

    /// PNG or JPEG.
    pub fn format(&self) -> ImageFormat {
        self.format
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}

fn strip_data_uri(text: &str) -> &str {
    match text.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map_or(rest, |(_, data)| data),
        None => text,
    }
}

impl fmt::Debug for ImageData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageData({:?}, {}×{} px, {} bytes)", self.format, self.width, self.height, self.bytes.len())
    }
}

impl TryFrom<String> for ImageData {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_base64(&value)
    }
}

impl From<ImageData> for String {
    fn from(image: ImageData) -> Self {
        format!("data:{};base64,{}", image.format.mime(), BASE64.encode(image.bytes.as_slice()))
    }
}

/// A checked font file.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FontData(Arc<Vec<u8>>);

impl FontData {
    /// Checks `bytes` is a TrueType or OpenType font within [`MAX_FONT_BYTES`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, String> {
        if bytes.len() > MAX_FONT_BYTES {
            return Err(format!("the font is {} bytes; the limit is {MAX_FONT_BYTES}", bytes.len()));
        }
        if rustybuzz::Face::from_slice(&bytes, 0).is_none() {
            return Err("the font is not a TrueType or OpenType font".to_owned());
        }
        Ok(Self(Arc::new(bytes)))
    }

    /// Reads base64, with or without a `data:…;base64,` prefix.
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let data = strip_data_uri(text);
        let bytes = BASE64.decode(data.trim()).map_err(|e| format!("the font is not valid base64: {e}"))?;
        Self::new(bytes)
    }

    pub(crate) fn from_static(bytes: &'static [u8]) -> Self {
        Self(Arc::new(bytes.to_vec()))
    }

    /// The font file's bytes.
    pub fn bytes(&self) -> &Arc<Vec<u8>> {
        &self.0
    }
}

impl fmt::Debug for FontData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FontData({} bytes)", self.0.len())
    }
}

impl TryFrom<String> for FontData {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::from_base64(&value)
    }
}

impl From<FontData> for String {
    fn from(font: FontData) -> Self {
        format!("data:font/ttf;base64,{}", BASE64.encode(font.0.as_slice()))
    }
}
