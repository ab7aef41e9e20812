//! `ticketing render`.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use ticketing_core::event::TimeZone;
use ticketing_core::money::{Currency, Money};
use ticketing_core::short_code::ShortCode;
use ticketing_core::signing::{Algorithm, QrClaims};
use ticketing_pdf::batch::{BatchError, Format, Rendered, default_threads, render_batch};
use ticketing_pdf::export::{file_name, zip_batch};
use ticketing_pdf::{Renderer, Template, TicketData, sample_ticket};

use crate::keys::{KEY_ENV, keyring};

/// Render tickets to PDF or PNG: the built-in template or a template file, with sample or given
/// data. Prints, for each ticket, the file, its short code and the QR text it embeds.
#[derive(clap::Args)]
pub struct Args {
    /// A template file (JSON); the built-in template when absent.
    #[arg(long, short)]
    template: Option<PathBuf>,
    /// One ticket's data as JSON: event_title, venue, starts_at (RFC 3339), time_zone,
    /// ticket_type, price_minor, currency, and optionally dress_code, holder_name and
    /// short_code. Sample data when absent.
    #[arg(long, conflicts_with = "count")]
    data: Option<PathBuf>,
    /// What to write.
    #[arg(long, value_enum, default_value = "pdf")]
    format: FormatArg,
    /// Resolution of PNG output, in dots per inch.
    #[arg(long, default_value_t = 150)]
    dpi: u16,
    /// The output file; with --count, a folder, or a file ending in `.zip`.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Render this many distinct sample tickets.
    #[arg(long)]
    count: Option<u64>,
    /// With --count and PDF: every ticket in one PDF, a page each.
    #[arg(long, requires = "count")]
    one_file: bool,
    /// Threads for --count (default: the machine's cores).
    #[arg(long)]
    threads: Option<usize>,
    /// HMAC key in hex (32 bytes or more) the QR texts are signed with.
    #[arg(long, env = KEY_ENV, hide_env_values = true)]
    key: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    Pdf,
    Png,
}

/// A ticket's data as `--data` gives it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GivenTicket {
    event_title: String,
    venue: String,
    starts_at: DateTime<Utc>,
    time_zone: String,
    #[serde(default)]
    dress_code: Option<String>,
    ticket_type: String,
    price_minor: i64,
    currency: String,
    #[serde(default)]
    holder_name: Option<String>,
    #[serde(default)]
    short_code: Option<String>,
}

pub fn run(args: Args) -> Result<(), String> {
    let template = match &args.template {
        Some(path) => {
            let json = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Template::from_json(&json).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Template::default_ticket(),
    };
    let renderer = Renderer::new(template).map_err(|e| e.to_string())?;
    let keys = keyring(args.key.as_deref())?;
    let format = match args.format {
        FormatArg::Pdf => Format::Pdf,
        FormatArg::Png => Format::Png { dpi: args.dpi },
    };
    match args.count {
        None => {
            let ticket = match &args.data {
                Some(path) => given_ticket(path, &keys)?,
                None => sample_ticket(&keys, 0).map_err(|e| e.to_string())?,
            };
            let bytes = format.render(&renderer, &ticket).map_err(|e| e.to_string())?;
            let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("ticket.{}", format.extension())));
            fs::write(&out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            println!("{}\t{}\t{}", out.display(), ticket.short_code, ticket.qr_payload);
            Ok(())
        }
        Some(count) => render_many(&args, &renderer, format, count, &keys),
    }
}

fn given_ticket(path: &Path, keys: &ticketing_core::signing::Keyring) -> Result<TicketData, String> {
    let at = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let json = fs::read_to_string(path).map_err(|e| at(&e))?;
    let given: GivenTicket = serde_json::from_str(&json).map_err(|e| at(&e))?;
    let mut ticket = sample_ticket(keys, 0).map_err(|e| at(&e))?;
    ticket.event_title = given.event_title;
    ticket.venue = given.venue;
    ticket.starts_at = given.starts_at;
    ticket.time_zone = TimeZone::parse(&given.time_zone).map_err(|e| at(&e))?;
    ticket.dress_code = given.dress_code;
    ticket.ticket_type = given.ticket_type;
    let currency = Currency::parse(&given.currency).map_err(|e| at(&e))?;
    ticket.price = Money::new(given.price_minor, currency).map_err(|e| at(&e))?;
    ticket.holder_name = given.holder_name;
    if let Some(code) = given.short_code {
        ticket.short_code = ShortCode::parse(&code).map_err(|e| at(&e))?;
    }
    let claims = QrClaims { ticket: ticket.short_code, expires_at: None };
    ticket.qr_payload = keys.sign_qr(Algorithm::HmacSha256, &claims).map_err(|e| at(&e))?;
    Ok(ticket)
}

fn render_many(
    args: &Args,
    renderer: &Renderer,
    format: Format,
    count: u64,
    keys: &ticketing_core::signing::Keyring,
) -> Result<(), String> {
    let started = Instant::now();
    let samples = (0..count).map(|i| sample_ticket(keys, i).expect("an active HMAC key signs"));
    let mut stdout = std::io::stdout().lock();
    if args.one_file {
        if format != Format::Pdf {
            return Err("--one-file makes a PDF: drop --format png".into());
        }
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from("tickets.pdf"));
        let tickets: Vec<TicketData> = samples.collect();
        let pdf = renderer.pdf_pages(&tickets).map_err(|e| e.to_string())?;
        fs::write(&out, pdf).map_err(|e| format!("{}: {e}", out.display()))?;
        for (page, t) in tickets.iter().enumerate() {
            let _ = writeln!(stdout, "{}#{}\t{}\t{}", out.display(), page + 1, t.short_code, t.qr_payload);
        }
        summary(count, started);
        return Ok(());
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("tickets"));
    let threads = args.threads.unwrap_or_else(default_threads);
    let bar = ProgressBar::new(count).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} tickets, {per_sec}, {eta} left")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut print = |r: &Rendered, name: &str| {
        bar.inc(1);
        let _ = writeln!(stdout, "{name}\t{}\t{}", r.short_code, r.qr_payload);
    };
    let is_zip = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    let result = if is_zip {
        let file = File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        zip_batch(renderer, samples, threads, format, BufWriter::new(file), |r| print(r, &file_name(r, format)))
            .and_then(|(mut w, n)| w.flush().map(|()| n).map_err(BatchError::Sink))
    } else {
        fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        render_batch(renderer, samples, threads, format, |r| {
            let name = file_name(&r, format);
            fs::write(out.join(&name), &r.bytes)?;
            print(&r, &name);
            Ok::<(), std::io::Error>(())
        })
    };
    bar.finish_and_clear();
    result.map_err(|e| e.to_string())?;
    eprintln!("wrote {}", out.display());
    summary(count, started);
    Ok(())
}

fn summary(count: u64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_mib().map(|m| format!(", peak RSS {m:.0} MiB")).unwrap_or_default();
    eprintln!("rendered {count} tickets in {seconds:.2} s ({:.0}/s){peak}", count as f64 / seconds.max(1e-9));
}

/// The process's peak resident set (Linux `VmHWM`), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
