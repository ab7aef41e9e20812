//! Helpers for the rendering tests: real decoders and Poppler's tools.
#![allow(dead_code)]

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ticketing_core::signing::{KeyId, KeyMaterial, KeyState, Keyring};

/// A keyring with one current HMAC key.
pub fn keyring() -> Keyring {
    Keyring::new()
        .with_key(KeyId(7), KeyState::Current, KeyMaterial::HmacSecret(vec![0x5a; 32]))
        .expect("a 32-byte HMAC key is accepted")
}

/// The path of a command-line tool, or a failure that says how to get it.
pub fn tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    found.unwrap_or_else(|| panic!("`{name}` is not installed: `.ci/run` installs it (apt-get install {package})"))
}

/// Runs `program` with `args`, feeding `stdin`; returns standard output, failing on a non-zero exit.
pub fn run(program: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tool starts");
    child.stdin.take().expect("stdin is piped").write_all(stdin).expect("the tool reads its input");
    let out = child.wait_with_output().expect("the tool finishes");
    assert!(
        out.status.success(),
        "{} {args:?} failed: {}\n{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ticketing-pdf-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temporary directory is created");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `qpdf --check` passes.
pub fn qpdf_check(pdf: &[u8]) {
    let dir = TempDir::new("qpdf");
    let file = dir.0.join("t.pdf");
    std::fs::write(&file, pdf).expect("the PDF is written");
    let out = run(&tool("qpdf", "qpdf"), &["--check", file.to_str().expect("a UTF-8 path")], b"");
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("No syntax or stream encoding errors found"), "{text}");
}

/// The number of pages, as qpdf counts them.
pub fn page_count(pdf: &[u8]) -> usize {
    let dir = TempDir::new("npages");
    let file = dir.0.join("t.pdf");
    std::fs::write(&file, pdf).expect("the PDF is written");
    let out = run(&tool("qpdf", "qpdf"), &["--show-npages", file.to_str().expect("a UTF-8 path")], b"");
    String::from_utf8_lossy(&out).trim().parse().expect("a page count")
}

/// The PDF's text, as `pdftotext` extracts it.
pub fn pdf_text(pdf: &[u8]) -> String {
    let out = run(&tool("pdftotext", "poppler-utils"), &["-enc", "UTF-8", "-", "-"], pdf);
    String::from_utf8(out).expect("pdftotext writes UTF-8")
}

/// Every page of the PDF rasterised in grey by `pdftoppm` at `dpi`, as PNG files in `dir`.
pub fn rasterise(pdf: &[u8], dpi: u32, dir: &Path) -> Vec<PathBuf> {
    let prefix = dir.join("page");
    let dpi = dpi.to_string();
    let args = ["-r", dpi.as_str(), "-gray", "-png", "-", prefix.to_str().expect("a UTF-8 path")];
    run(&tool("pdftoppm", "poppler-utils"), &args, pdf);
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the directory lists")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    pages.sort();
    pages
}

/// What zbarimg reads from an image file: each symbol's text.
pub fn zbar(image: &Path) -> Vec<String> {
    let out = run(
        &tool("zbarimg", "zbar-tools"),
        &["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", image.to_str().expect("a UTF-8 path")],
        b"",
    );
    String::from_utf8(out).expect("zbarimg writes UTF-8").lines().map(str::to_owned).collect()
}

/// What rqrr (a pure-Rust decoder) reads from a PNG: each symbol's text.
pub fn rqrr(png_bytes: &[u8]) -> Vec<String> {
    let mut decoder = png::Decoder::new(Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let luma = |x: usize, y: usize| {
        let p = &buf[(y * w + x) * channels..][..channels];
        if channels >= 3 { ((u32::from(p[0]) * 3 + u32::from(p[1]) * 6 + u32::from(p[2])) / 10) as u8 } else { p[0] }
    };
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, luma);
    image.detect_grids().into_iter().map(|grid| grid.decode().expect("a detected grid decodes").1).collect()
}

/// A PNG logo: a coloured disc on transparency, `side` pixels wide.
pub fn logo_png(side: u32) -> Vec<u8> {
    let mut rgba = Vec::with_capacity((side * side * 4) as usize);
    let r = side as f32 / 2.0;
    for y in 0..side {
        for x in 0..side {
            let (dx, dy) = (x as f32 + 0.5 - r, y as f32 + 0.5 - r);
            let inside = dx * dx + dy * dy <= r * r;
            rgba.extend_from_slice(if inside { &[0xe0, 0x3a, 0x3a, 0xff] } else { &[0, 0, 0, 0] });
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("a header");
    writer.write_image_data(&rgba).expect("the pixels");
    writer.finish().expect("the end");
    out
}
