//! A template's images as PDF image objects, decoded and compressed once per renderer: a ticket's
//! document copies their bytes.

use std::io::Cursor;

use pdf_writer::{Chunk, Filter, Finish, Name, Ref};

use super::deflate;
use crate::template::{ImageData, ImageFormat};

/// One image, written once into a chunk with its object numbers fixed (the image, then its soft
/// mask when it has transparency).
pub(super) struct PdfImage {
    pub(super) chunk: Chunk,
    /// Its size in pixels.
    pub(super) size: (u32, u32),
}

/// The objects an image takes: the image and, for transparency, its soft mask.
pub(super) const REFS_PER_IMAGE: i32 = 2;

impl PdfImage {
    /// `data` as the image object `at` (and its mask at `at + 1`).
    pub(super) fn new(data: &ImageData, at: Ref) -> Result<Self, String> {
        let mut chunk = Chunk::new();
        let size = match data.format() {
            ImageFormat::Png => write_png(&mut chunk, data.bytes(), at)?,
            ImageFormat::Jpeg => write_jpeg(&mut chunk, data.bytes(), at)?,
        };
        Ok(Self { chunk, size })
    }
}

/// The image named `name` among `images`: its index and size in pixels.
pub(super) fn find_image(images: &[(String, PdfImage)], name: &str) -> Option<(usize, (u32, u32))> {
    let index = images.iter().position(|(n, _)| n == name)?;
    Some((index, images[index].1.size))
}

/// A PNG decoded to 8-bit samples: its colour channels deflated, its alpha (unless every pixel
/// is opaque) as a soft mask.
fn write_png(chunk: &mut Chunk, bytes: &[u8], at: Ref) -> Result<(u32, u32), String> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let mut pixels = vec![0; reader.output_buffer_size().ok_or("the PNG is too large")?];
    let frame = reader.next_frame(&mut pixels).map_err(|e| e.to_string())?;
    pixels.truncate(frame.buffer_size());
    let (width, height) = (frame.width, frame.height);
    let (colours, has_alpha) = match frame.color_type {
        png::ColorType::Grayscale => (1, false),
        png::ColorType::GrayscaleAlpha => (1, true),
        png::ColorType::Rgb => (3, false),
        png::ColorType::Rgba => (3, true),
        png::ColorType::Indexed => return Err("the PNG's palette could not be expanded".to_owned()),
    };
    let (samples, alpha) = if has_alpha {
        let stride = colours + 1;
        let mut samples = Vec::with_capacity(pixels.len() / stride * colours);
        let mut alpha = Vec::with_capacity(pixels.len() / stride);
        for pixel in pixels.chunks_exact(stride) {
            samples.extend_from_slice(&pixel[..colours]);
            alpha.push(pixel[colours]);
        }
        let opaque = alpha.iter().all(|&a| a == u8::MAX);
        (samples, (!opaque).then_some(alpha))
    } else {
        (pixels, None)
    };
    let (w, h) = (to_i32(width)?, to_i32(height)?);
    let mask = at.next();
    let samples = deflate(&samples, IMAGE_LEVEL);
    let mut image = chunk.image_xobject(at, &samples);
    image.width(w).height(h).bits_per_component(8);
    image.filter(Filter::FlateDecode);
    let space = if colours == 1 { Name(b"DeviceGray") } else { Name(b"DeviceRGB") };
    image.color_space_name(space);
    if alpha.is_some() {
        image.s_mask(mask);
    }
    image.finish();
    if let Some(alpha) = alpha {
        let alpha = deflate(&alpha, IMAGE_LEVEL);
        let mut image = chunk.image_xobject(mask, &alpha);
        image.width(w).height(h).bits_per_component(8);
        image.filter(Filter::FlateDecode);
        image.color_space_name(Name(b"DeviceGray"));
    }
    Ok((width, height))
}

/// Images are compressed once per renderer, so at the level that makes them smallest.
const IMAGE_LEVEL: u32 = 9;

/// A JPEG as it is: PDF readers decode baseline and progressive 8-bit JPEG themselves (the
/// lossless, arithmetic-coded and 12-bit kinds are refused, as many readers cannot show them).
fn write_jpeg(chunk: &mut Chunk, bytes: &[u8], at: Ref) -> Result<(u32, u32), String> {
    let frame = jpeg_frame(bytes).ok_or("the JPEG is not an 8-bit baseline or progressive one")?;
    let mut image = chunk.image_xobject(at, bytes);
    image.width(to_i32(frame.width)?).height(to_i32(frame.height)?);
    image.filter(Filter::DctDecode);
    image.bits_per_component(8);
    match frame.components {
        1 => {
            image.color_space_name(Name(b"DeviceGray"));
        }
        3 => {
            image.color_space_name(Name(b"DeviceRGB"));
        }
        4 => {
            // Adobe's CMYK JPEGs, nearly the only ones there are, store their channels inverted.
            image.color_space_name(Name(b"DeviceCMYK"));
            if frame.adobe {
                image.decode([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
            }
        }
        n => return Err(format!("a JPEG with {n} colour components cannot be embedded")),
    }
    Ok((frame.width, frame.height))
}

fn to_i32(side: u32) -> Result<i32, String> {
    i32::try_from(side).map_err(|_| "the image is too large".to_owned())
}

/// What a JPEG's frame header says.
struct JpegFrame {
    width: u32,
    height: u32,
    components: u8,
    /// An Adobe (APP14) marker came before the frame.
    adobe: bool,
}

/// Reads the markers up to the first start-of-frame.
fn jpeg_frame(bytes: &[u8]) -> Option<JpegFrame> {
    let mut at = 2;
    let mut adobe = false;
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    loop {
        while *bytes.get(at)? == 0xFF && *bytes.get(at + 1)? == 0xFF {
            at += 1;
        }
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        let length = usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
        let segment = bytes.get(at + 4..at + 2 + length)?;
        match marker {
            0xEE if segment.starts_with(b"Adobe") => adobe = true,
            // Baseline, extended and progressive Huffman-coded frames.
            0xC0..=0xC2 => {
                if *segment.first()? != 8 {
                    return None;
                }
                let height = u32::from(u16::from_be_bytes([*segment.get(1)?, *segment.get(2)?]));
                let width = u32::from(u16::from_be_bytes([*segment.get(3)?, *segment.get(4)?]));
                return Some(JpegFrame { width, height, components: *segment.get(5)?, adobe });
            }
            // The other frame kinds (less DHT, JPG and DAC, which are not frames).
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            _ => {}
        }
        at += 2 + length;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jpeg_frame_header_gives_its_size_and_components() {
        // SOI, APP14 "Adobe", SOF0 of 3 × 2 pixels, 4 components.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xEE, 0x00, 0x07];
        jpeg.extend(b"Adobe");
        jpeg.extend([0xFF, 0xC0, 0x00, 0x0B, 8, 0x00, 0x02, 0x00, 0x03, 4, 0, 0, 0]);
        let frame = jpeg_frame(&jpeg).unwrap();
        assert_eq!((frame.width, frame.height, frame.components, frame.adobe), (3, 2, 4, true));
        assert!(jpeg_frame(&jpeg[..8]).is_none(), "cut before its frame");
        assert!(jpeg_frame(b"GIF89a").is_none());
        let mut lossless = jpeg.clone();
        lossless[12] = 0xC3;
        assert!(jpeg_frame(&lossless).is_none(), "a lossless frame");
        let mut twelve_bit = jpeg;
        twelve_bit[15] = 12;
        assert!(jpeg_frame(&twelve_bit).is_none(), "12-bit samples");
    }
}
