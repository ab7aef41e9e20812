//! Every QR code this crate draws decodes, with real decoders, to exactly the signed text; the
//! PDFs pass `qpdf --check` and carry their text. Needs qpdf, poppler-utils and zbar-tools
//! (`.ci/run` installs them).

mod support;

use base64::Engine as _;
use ticketing_core::signing::{Algorithm, KeyId, KeyMaterial, KeyState, Keyring, QrClaims};
use ticketing_pdf::batch::{BatchError, Format, render_batch};
use ticketing_pdf::export::zip_batch;
use ticketing_pdf::qr::{EcLevel, QrLogo, QrStyle, qr_png, qr_svg};
use ticketing_pdf::{Color, Renderer, Template, TicketData, sample_ticket, sample_tickets};

use support::*;

/// Signed texts of both algorithms: HMAC (63 characters) and Ed25519 (111), with and without expiry.
fn payloads() -> Vec<String> {
    let keys = Keyring::new()
        .with_key(KeyId(1), KeyState::Current, KeyMaterial::HmacSecret(vec![1; 32]))
        .and_then(|k| k.with_key(KeyId(2), KeyState::Current, KeyMaterial::Ed25519Secret([2; 32])))
        .expect("valid keys");
    let mut out = Vec::new();
    for (i, t) in sample_tickets(&keys, 0, 4).expect("signs").into_iter().enumerate() {
        let expires_at = (i % 2 == 0).then(|| "2026-06-21T04:00:00Z".parse().expect("a date"));
        let claims = QrClaims { ticket: t.short_code, expires_at };
        out.push(keys.sign_qr(Algorithm::HmacSha256, &claims).expect("signs"));
        out.push(keys.sign_qr(Algorithm::Ed25519, &claims).expect("signs"));
    }
    out
}

#[test]
fn qr_pngs_decode_to_exactly_their_text_at_every_level_and_size() {
    for text in payloads() {
        for level in [EcLevel::L, EcLevel::M, EcLevel::Q, EcLevel::H] {
            for pixels in [150, 300, 333] {
                let style = QrStyle { pixels, level, ..QrStyle::default() };
                let png = qr_png(&text, &style).unwrap();
                assert_eq!(rqrr(&png), std::slice::from_ref(&text), "{level:?} at {pixels} px");
            }
        }
    }
}

#[test]
fn zbar_reads_a_coloured_qr_png_and_one_with_a_logo_at_level_h() {
    let dir = TempDir::new("zbar-png");
    let text = &payloads()[1];
    let coloured =
        QrStyle { dark: Color::rgb(0x1f, 0x2a, 0x44), light: Color::rgb(0xfd, 0xf6, 0xe3), ..QrStyle::default() };
    let logo = QrLogo::new(logo_png(64), 0.22).unwrap();
    let with_logo = QrStyle { level: EcLevel::H, logo: Some(logo), pixels: 400, ..QrStyle::default() };
    for (name, style) in [("coloured", coloured), ("logo", with_logo)] {
        let png = qr_png(text, &style).unwrap();
        let file = dir.0.join(format!("{name}.png"));
        std::fs::write(&file, &png).unwrap();
        assert_eq!(zbar(&file), std::slice::from_ref(text), "{name}");
        assert_eq!(rqrr(&png), std::slice::from_ref(text), "{name}");
    }
}

/// The modules an SVG from `qr_svg` paints, read back from its path, drawn 8 px a module.
fn svg_to_png(svg: &str) -> Vec<u8> {
    let view = svg.split("viewBox=\"0 0 ").nth(1).and_then(|r| r.split(' ').next()).expect("a viewBox");
    let side: usize = view.parse().expect("a size");
    let path = svg.split(" d=\"").nth(1).and_then(|r| r.split('"').next()).expect("a path");
    let mut dark = vec![false; side * side];
    for run in path.split('z').filter(|r| !r.is_empty()) {
        // `M{x} {y}h{len}v1h-{len}`
        let (start, rest) = run.trim_start_matches('M').split_once('h').expect("a run");
        let (x, y) = start.split_once(' ').expect("x y");
        let (x, y): (usize, usize) = (x.parse().expect("x"), y.parse().expect("y"));
        let len: usize = rest.split('v').next().expect("a length").parse().expect("a number");
        for i in x..x + len {
            dark[y * side + i] = true;
        }
    }
    let scale = 8;
    let px = side * scale;
    let pixels: Vec<u8> =
        (0..px * px).map(|i| if dark[(i / px / scale) * side + (i % px) / scale] { 0 } else { 255 }).collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, px as u32, px as u32);
    encoder.set_color(png::ColorType::Grayscale);
    let mut writer = encoder.write_header().expect("a header");
    writer.write_image_data(&pixels).expect("the pixels");
    writer.finish().expect("the end");
    out
}

#[test]
fn an_svg_draws_exactly_the_code_and_embeds_its_logo() {
    let text = &payloads()[0];
    let svg = qr_svg(text, &QrStyle::default()).unwrap();
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"300\" height=\"300\""));
    assert_eq!(svg.matches("<path").count(), 1);
    assert!(svg.ends_with("</svg>"));
    assert_eq!(rqrr(&svg_to_png(&svg)), std::slice::from_ref(text));
    let logo = logo_png(32);
    let style =
        QrStyle { level: EcLevel::H, logo: Some(QrLogo::new(logo.clone(), 0.2).unwrap()), ..QrStyle::default() };
    let svg = qr_svg(text, &style).unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&logo);
    assert!(svg.contains(&format!("href=\"data:image/png;base64,{encoded}\"")));
}

#[test]
fn the_default_ticket_passes_qpdf_carries_its_text_and_its_code_scans() {
    let ticket = sample_ticket(&keyring(), 0).unwrap();
    let pdf = Renderer::default_ticket().pdf(&ticket).unwrap();
    qpdf_check(&pdf);
    let text = pdf_text(&pdf);
    for expected in [
        "Nuit des Étoiles — Gala d'été",
        "Zoé Lefèvre-Château",
        &ticket.short_code.to_string(),
        "Saturday 20 June 2026",
    ] {
        assert!(text.contains(expected), "pdftotext did not find {expected:?} in:\n{text}");
    }
    let dir = TempDir::new("default");
    let pages = rasterise(&pdf, 150, &dir.0);
    assert_eq!(pages.len(), 1);
    assert_eq!(zbar(&pages[0]), std::slice::from_ref(&ticket.qr_payload));
    assert_eq!(rqrr(&std::fs::read(&pages[0]).unwrap()), [ticket.qr_payload]);
}

#[test]
fn a_preview_is_a_sample_ticket_as_pdf_and_png_and_scans() {
    let keys = keyring();
    let (pdf, png) = Renderer::default_ticket().preview(&keys, 100).unwrap();
    let sample = sample_ticket(&keys, 0).unwrap();
    assert!(pdf_text(&pdf).contains("Zoé Lefèvre-Château"));
    assert_eq!(rqrr(&png), [sample.qr_payload]);
}

#[test]
fn a_ticket_png_is_its_pdf_drawn_and_scans() {
    let ticket = sample_ticket(&keyring(), 3).unwrap();
    let png = Renderer::default_ticket().png(&ticket, 110).unwrap();
    assert_eq!(rqrr(&png), [ticket.qr_payload]);
}

/// An A6 French ticket with a background image, a logo in the QR code and a watermark; an
/// 80 × 200 mm stub; a custom landscape card.
fn other_templates() -> Vec<Template> {
    let logo = base64::engine::general_purpose::STANDARD.encode(logo_png(96));
    let a6 = format!(
        r##"{{
        "format": 1, "name": "A6 fr", "language": "fr", "page": {{ "size": "a6" }},
        "background": "#fdf6e3", "background_image": "bg",
        "images": {{ "logo": "data:image/png;base64,{logo}", "bg": "{logo}" }},
        "elements": [
          {{ "type": "image", "image": "logo", "x": 5, "y": 5, "width": 12, "height": 12 }},
          {{ "type": "text", "x": 20, "y": 6, "width": 80, "text": "{{{{event.title}}}}", "size": 12, "bold": true }},
          {{ "type": "text", "x": 20, "y": 13, "width": 80, "text": "{{{{event.start}}}}", "size": 8 }},
          {{ "type": "text", "x": 5, "y": 22, "width": 95, "text": "{{{{holder.name}}}} · {{{{ticket_type.price}}}}", "size": 10 }},
          {{ "type": "qr", "x": 22.5, "y": 40, "size": 60, "level": "H", "logo": "logo", "logo_scale": 0.2, "dark": "#1f2a44", "light": "#ffffff" }},
          {{ "type": "text", "x": 5, "y": 105, "width": 95, "text": "{{{{ticket.short_code}}}}", "size": 14, "bold": true, "align": "center" }}
        ],
        "watermark": {{ "text": "SPÉCIMEN", "angle": 0 }}
    }}"##
    );
    let stub = r##"{
        "format": 1, "name": "Stub", "page": { "size": "ticket_80x200" },
        "elements": [
          { "type": "rect", "x": 0, "y": 0, "width": 80, "height": 20, "color": "#222" },
          { "type": "text", "x": 4, "y": 6, "width": 72, "text": "{{ event.title }}", "size": 11, "bold": true, "color": "#fff", "uppercase": true },
          { "type": "qr", "x": 10, "y": 40, "size": 60 },
          { "type": "line", "x1": 0, "y1": 150, "x2": 80, "y2": 150, "dashed": true },
          { "type": "text", "x": 4, "y": 160, "width": 72, "text": "{{ ticket.short_code }}", "size": 12, "align": "right" }
        ]
    }"##;
    let card = r##"{
        "format": 1, "name": "Card", "page": { "size": "custom", "width": 150, "height": 70 },
        "elements": [
          { "type": "qr", "x": 100, "y": 10, "size": 45, "level": "Q", "quiet_zone": 2 },
          { "type": "text", "x": 5, "y": 10, "width": 90, "text": "{{ holder.name }}", "size": 14 },
          { "type": "text", "x": 5, "y": 25, "width": 90, "text": "{{ ticket.short_code }}", "size": 10 }
        ]
    }"##;
    [a6.as_str(), stub, card].into_iter().map(|json| Template::from_json(json).expect("a valid template")).collect()
}

#[test]
fn every_page_size_with_logos_backgrounds_and_watermarks_scans_and_checks() {
    let keys = keyring();
    for (i, template) in other_templates().into_iter().enumerate() {
        let name = template.name.clone();
        let renderer = Renderer::new(template).unwrap();
        let ticket = sample_ticket(&keys, 10 + i as u64).unwrap();
        let pdf = renderer.pdf(&ticket).unwrap();
        qpdf_check(&pdf);
        let text = pdf_text(&pdf);
        assert!(text.contains(&ticket.short_code.to_string()), "{name}: {text}");
        let dir = TempDir::new(&format!("sizes-{i}"));
        let pages = rasterise(&pdf, 200, &dir.0);
        assert_eq!(zbar(&pages[0]), std::slice::from_ref(&ticket.qr_payload), "{name}");
        if name == "A6 fr" {
            assert!(text.contains("samedi 20 juin 2026 à 20:30 (CEST)"), "{text}");
            assert!(text.contains("45,00 EUR"), "{text}");
            assert!(text.contains("SPÉCIMEN"), "{text}");
        }
    }
}

#[test]
fn many_tickets_in_one_pdf_have_a_page_each_in_order_and_each_scans() {
    let tickets = sample_tickets(&keyring(), 20, 4).unwrap();
    let pdf = Renderer::default_ticket().pdf_pages(&tickets).unwrap();
    qpdf_check(&pdf);
    assert_eq!(page_count(&pdf), 4);
    let dir = TempDir::new("pages");
    let pages = rasterise(&pdf, 120, &dir.0);
    let read: Vec<Vec<String>> = pages.iter().map(|p| zbar(p)).collect();
    let expected: Vec<Vec<String>> = tickets.iter().map(|t| vec![t.qr_payload.clone()]).collect();
    assert_eq!(read, expected);
}

#[test]
fn a_zip_export_holds_every_ticket_once_rendered_in_parallel() {
    let tickets: Vec<TicketData> = sample_tickets(&keyring(), 100, 30).unwrap();
    let mut seen = Vec::new();
    let renderer = Renderer::default_ticket();
    let (zip, count) = zip_batch(&renderer, tickets.clone().into_iter(), 2, Format::Pdf, Vec::new(), |r| {
        seen.push(r.qr_payload.clone())
    })
    .unwrap();
    assert_eq!(count, 30);
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    assert_eq!(archive.len(), 30);
    let mut names = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{name}");
        assert!(bytes.trim_ascii_end().ends_with(b"%%EOF"), "{name}");
        names.push(name);
    }
    let mut expected: Vec<String> = tickets.iter().map(|t| format!("ticket-{}.pdf", t.short_code)).collect();
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
    seen.sort();
    let mut payloads: Vec<String> = tickets.into_iter().map(|t| t.qr_payload).collect();
    payloads.sort();
    assert_eq!(seen, payloads);
}

#[test]
fn a_ticket_that_cannot_be_drawn_stops_the_batch_with_its_index() {
    let renderer = Renderer::default_ticket();
    let mut tickets = sample_tickets(&keyring(), 0, 6).unwrap();
    tickets[4].qr_payload = "X".repeat(8_000);
    let mut taken = 0;
    let result = render_batch(&renderer, tickets.into_iter(), 2, Format::Pdf, |_| {
        taken += 1;
        Ok::<(), ()>(())
    });
    assert!(matches!(result, Err(BatchError::Render { index: 4, .. })), "{result:?}");
    assert!(taken <= 5);
}

#[test]
fn a_failing_sink_stops_the_batch_and_keeps_what_it_took() {
    let renderer = Renderer::default_ticket();
    let tickets = sample_tickets(&keyring(), 0, 50).unwrap().into_iter();
    let mut taken = 0;
    let result = render_batch(&renderer, tickets, 2, Format::Pdf, |_| {
        taken += 1;
        if taken == 3 { Err("disk full") } else { Ok(()) }
    });
    assert!(matches!(result, Err(BatchError::Sink("disk full"))));
    assert_eq!(taken, 3);
}

/// Holders whose names need glyphs beyond a face's prepared subset (Greek, Cyrillic, Polish, a
/// ligature, a combining accent, a character the font lacks), mixed with names that need none.
fn worldwide_tickets(count: u64) -> Vec<TicketData> {
    const NAMES: [&str; 7] = [
        "Ἀθηνᾶ Παπαδοπούλου",
        "Иван Петров",
        "Zoé Lefèvre-Château",
        "Łucja Wójcik-Żak",
        "office affluence",
        "Rene\u{301}e Dupont",
        "李 Wei Zhang",
    ];
    let mut tickets = sample_tickets(&keyring(), 300, count).expect("signs");
    for (i, ticket) in tickets.iter_mut().enumerate() {
        // Every eighth keeps its sample name.
        if i % 8 != 7 {
            ticket.holder_name = Some(NAMES[i % NAMES.len()].to_owned());
        }
    }
    tickets
}

#[test]
fn names_beyond_the_prepared_glyphs_are_embedded_and_extract_exactly() {
    let renderer = Renderer::default_ticket();
    for ticket in worldwide_tickets(7) {
        let pdf = renderer.pdf(&ticket).unwrap();
        qpdf_check(&pdf);
        let name = ticket.holder_name.clone().unwrap_or_default();
        // pdftotext gives the text as drawn; a combining accent may come back composed.
        let text = pdf_text(&pdf);
        let composed = name.replace("e\u{301}", "é");
        assert!(text.contains(&name) || text.contains(&composed), "{name:?} not in:\n{text}");
        let dir = TempDir::new("worldwide");
        let pages = rasterise(&pdf, 120, &dir.0);
        assert_eq!(zbar(&pages[0]), std::slice::from_ref(&ticket.qr_payload), "{name}");
    }
}

#[test]
fn a_ticket_rendered_alone_is_the_same_file_as_in_a_batch() {
    let tickets = worldwide_tickets(24);
    // A fresh renderer for each ticket alone: nothing another ticket prepared can help it.
    let alone: Vec<(String, Vec<u8>)> = tickets
        .iter()
        .map(|t| (format!("ticket-{}.pdf", t.short_code), Renderer::default_ticket().pdf(t).unwrap()))
        .collect();
    let renderer = Renderer::default_ticket();
    let (zip, _) = zip_batch(&renderer, tickets.into_iter(), 3, Format::Pdf, Vec::new(), |_| {}).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    for (name, bytes) in alone {
        let mut entry = archive.by_name(&name).unwrap();
        let mut batched = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut batched).unwrap();
        assert!(batched == bytes, "{name} differs between alone and in the batch");
    }
}
