//! Exports: a ZIP of ticket PDFs written as a stream.

use std::io::{self, Write};

use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

use crate::batch::{BatchError, Format, Rendered, render_batch};
use crate::data::TicketData;
use crate::renderer::Renderer;

/// A ZIP archive written straight to `W` (a file, a socket, an HTTP body) entry by entry: only
/// the central directory is kept until the end (about 200 bytes an entry: 20 MB for 100,000
/// tickets), never the entries' bytes. Entries are stored uncompressed, as a PDF's streams are
/// already compressed; sizes follow each entry in a data descriptor, which `unzip`, Python,
/// Windows and macOS read (Java's streaming `ZipInputStream` does not).
pub struct ZipStream<W: Write> {
    zip: ZipWriter<StreamWriter<W>>,
}

impl<W: Write> std::fmt::Debug for ZipStream<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipStream").finish_non_exhaustive()
    }
}

impl<W: Write> ZipStream<W> {
    /// Starts an archive on `out`.
    pub fn new(out: W) -> Self {
        Self { zip: ZipWriter::new_stream(out) }
    }

    /// Adds a file.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> io::Result<()> {
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(bytes.len() as u64 >= u64::from(u32::MAX));
        self.zip.start_file(name, options).map_err(io::Error::other)?;
        self.zip.write_all(bytes)
    }

    /// Writes the central directory and gives the output back.
    pub fn finish(self) -> io::Result<W> {
        self.zip.finish().map(StreamWriter::into_inner).map_err(io::Error::other)
    }
}

/// The file name of a rendered ticket: `ticket-XXXXX-XXXXX.pdf` (or `.png`).
pub fn file_name(rendered: &Rendered, format: Format) -> String {
    format!("ticket-{}.{}", rendered.short_code, format.extension())
}

/// Renders `tickets` in parallel (see [`render_batch`]) as `format` into a ZIP streamed to `out`; `each` is
/// called with every ticket added (for progress, or to print its QR text). Returns the output
/// and the number of tickets.
pub fn zip_batch<W, I>(
    renderer: &Renderer,
    tickets: I,
    threads: usize,
    format: Format,
    out: W,
    mut each: impl FnMut(&Rendered),
) -> Result<(W, u64), BatchError<io::Error>>
where
    W: Write,
    I: Iterator<Item = TicketData> + Send,
{
    let mut zip = ZipStream::new(out);
    let count = render_batch(renderer, tickets, threads, format, |rendered| {
        zip.add(&file_name(&rendered, format), &rendered.bytes)?;
        each(&rendered);
        Ok(())
    })?;
    let out = zip.finish().map_err(BatchError::Sink)?;
    Ok((out, count))
}
