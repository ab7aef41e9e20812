//! Rendering many tickets in parallel, with memory bounded however large the batch.
//!
//! Worker threads take tickets one at a time from the caller's iterator and send each finished
//! PDF through a channel of `2 × threads` slots to the calling thread, which hands it to a sink
//! (a folder, a ZIP stream, an upload). A slow sink holds the workers back, so at most about
//! `3 × threads` PDFs exist at any moment, and tickets are drawn from the iterator only as fast
//! as they are rendered: a batch of a million can come straight from a database cursor.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;
use std::thread;

use thiserror::Error;
use ticketing_core::short_code::ShortCode;

use crate::data::TicketData;
use crate::renderer::{RenderError, Renderer};

/// A ticket of a batch, rendered.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Its position in the input, from 0.
    pub index: u64,
    /// Its short code (a good file name).
    pub short_code: ShortCode,
    /// The QR text drawn on it.
    pub qr_payload: String,
    /// The file: a one-page PDF or a PNG.
    pub bytes: Vec<u8>,
}

/// What a batch renders each ticket to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A one-page PDF.
    Pdf,
    /// A PNG at this many dots per inch.
    Png {
        /// Resolution.
        dpi: u16,
    },
}

impl Format {
    /// Renders one ticket.
    pub fn render(self, renderer: &Renderer, ticket: &TicketData) -> Result<Vec<u8>, RenderError> {
        match self {
            Format::Pdf => renderer.pdf(ticket),
            Format::Png { dpi } => renderer.png(ticket, dpi),
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Pdf => "pdf",
            Format::Png { .. } => "png",
        }
    }
}

/// Why a batch stopped. Tickets already handed to the sink stay there.
#[derive(Debug, Error)]
pub enum BatchError<E> {
    /// A ticket could not be rendered.
    #[error("ticket {index} could not be rendered: {error}")]
    Render {
        /// Its position in the input.
        index: u64,
        /// Why.
        error: RenderError,
    },
    /// The sink refused a ticket.
    #[error("the output failed: {0}")]
    Sink(E),
}

/// The most threads a batch starts.
pub const MAX_THREADS: usize = 64;

/// The number of threads worth using here: the machine's cores.
pub fn default_threads() -> usize {
    thread::available_parallelism().map_or(1, |n| n.get())
}

/// Renders `tickets` on `threads` threads and gives each file to `sink`, on the calling thread,
/// in the order they finish, on `threads` threads (1 to [`MAX_THREADS`]). Stops at the first
/// error; returns how many the sink took.
pub fn render_batch<I, S, E>(
    renderer: &Renderer,
    tickets: I,
    threads: usize,
    format: Format,
    mut sink: S,
) -> Result<u64, BatchError<E>>
where
    I: Iterator<Item = TicketData> + Send,
    S: FnMut(Rendered) -> Result<(), E>,
{
    let threads = threads.clamp(1, MAX_THREADS);
    let source = Mutex::new(tickets.zip(0u64..));
    let stop = AtomicBool::new(false);
    let (tx, rx) = sync_channel::<Result<Rendered, (u64, RenderError)>>(threads * 2);
    thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (source, stop) = (&source, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // A panic elsewhere cannot leave the iterator half-advanced: take it as is.
                    let next = source.lock().unwrap_or_else(|poison| poison.into_inner()).next();
                    let Some((ticket, index)) = next else { break };
                    let rendered = format
                        .render(renderer, &ticket)
                        .map(|bytes| Rendered {
                            index,
                            short_code: ticket.short_code,
                            qr_payload: ticket.qr_payload,
                            bytes,
                        })
                        .map_err(|error| (index, error));
                    if tx.send(rendered).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut taken = 0;
        let mut failure = None;
        // Keep draining after a failure so that no worker stays blocked on a full channel.
        for result in rx {
            if failure.is_some() {
                continue;
            }
            match result
                .map_err(|(index, error)| BatchError::Render { index, error })
                .and_then(|r| sink(r).map_err(BatchError::Sink))
            {
                Ok(()) => taken += 1,
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    failure = Some(e);
                }
            }
        }
        failure.map_or(Ok(taken), Err)
    })
}
