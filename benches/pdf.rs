//! Criterion benchmarks of rendering: QR images, one-ticket PDFs, ticket PNGs, and a batch.
//! The 10,000-ticket batch with its peak memory is measured by the CLI (see BENCHMARKS.md).
//!
//! ```sh
//! cargo bench --bench pdf && scripts/criterion-medians
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ticketing::core::short_code::ShortCode;
use ticketing::core::signing::QrClaims;
use ticketing::pdf::batch::{Format, render_batch};
use ticketing::pdf::qr::{EcLevel, QrMatrix, QrStyle, qr_png, qr_svg};
use ticketing::pdf::template::{Element, ImageData, ImageElement};
use ticketing::pdf::{Color, Renderer, Template, sample_ticket, sample_tickets};
use ticketing::prelude::*;

fn keyring() -> Keyring {
    Keyring::new().with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![0x42; 32])).expect("a valid key")
}

/// The built-in template with a 300 px PNG logo in its header: the "logo and QR" ticket.
fn with_logo() -> Renderer {
    let logo_style =
        QrStyle { dark: Color::rgb(0x1f, 0x2a, 0x44), light: Color::rgb(0xe0, 0xa5, 0x26), ..QrStyle::default() };
    let logo = qr_png("LOGO", &logo_style).expect("a logo");
    let mut template = Template::default_ticket();
    template.images.insert("logo".into(), ImageData::new(logo).expect("a PNG"));
    template.elements.push(Element::Image(ImageElement {
        image: "logo".into(),
        x: 176.0,
        y: 17.0,
        width: 18.0,
        height: 18.0,
    }));
    Renderer::new(template).expect("a valid template")
}

fn qr(c: &mut Criterion) {
    let keys = keyring();
    let claims = QrClaims { ticket: ShortCode::from_value(123_456_789_012).expect("in range"), expires_at: None };
    let text = keys.sign_qr(Algorithm::HmacSha256, &claims).expect("signs");
    let style = QrStyle { pixels: 300, level: EcLevel::M, ..QrStyle::default() };
    c.bench_function("render/qr matrix (level M)", |b| b.iter(|| QrMatrix::encode(black_box(&text), EcLevel::M)));
    c.bench_function("render/qr png 300 px", |b| b.iter(|| qr_png(black_box(&text), &style)));
    c.bench_function("render/qr svg", |b| b.iter(|| qr_svg(black_box(&text), &style)));
    c.bench_function("render/sign + qr png 300 px", |b| {
        b.iter(|| qr_png(&keys.sign_qr(Algorithm::HmacSha256, black_box(&claims)).expect("signs"), &style))
    });
}

fn tickets(c: &mut Criterion) {
    let keys = keyring();
    let ticket = sample_ticket(&keys, 1).expect("signs");
    let plain = Renderer::default_ticket();
    let logo = with_logo();
    c.bench_function("render/pdf one page (default template)", |b| b.iter(|| plain.pdf(black_box(&ticket))));
    c.bench_function("render/pdf one page (logo + qr)", |b| b.iter(|| logo.pdf(black_box(&ticket))));
    // A complete ticket as in a batch: each iteration the next of 1,000 distinct tickets (their
    // short codes and QR texts differ; the event's fields repeat, as they do in a real batch).
    let distinct = sample_tickets(&keys, 0, 1_000).expect("signs");
    let mut next = 0;
    c.bench_function("render/sign + pdf (logo + qr)", |b| {
        b.iter(|| {
            let mut t = distinct[next % distinct.len()].clone();
            next += 1;
            let claims = QrClaims { ticket: t.short_code, expires_at: None };
            t.qr_payload = keys.sign_qr(Algorithm::HmacSha256, &claims).expect("signs");
            logo.pdf(black_box(&t))
        })
    });
    let mut group = c.benchmark_group("render/slow");
    group.sample_size(10);
    group.bench_function("ticket png 150 dpi", |b| b.iter(|| plain.png(black_box(&ticket), 150)));
    let batch = sample_tickets(&keys, 0, 1_000).expect("signs");
    group.bench_function("1000 pdfs (logo + qr) on 2 threads", |b| {
        b.iter(|| {
            render_batch(&logo, batch.iter().cloned(), 2, Format::Pdf, |r| {
                black_box(r.bytes.len());
                Ok::<(), ()>(())
            })
        })
    });
    group.finish();
}

criterion_group!(benches, qr, tickets);
criterion_main!(benches);
