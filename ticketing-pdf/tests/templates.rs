//! Templates are checked when they are read: every problem is refused with the JSON path at
//! fault and a message, and the built-in template passes.

mod support;

use base64::Engine as _;
use ticketing_pdf::template::{DEFAULT_JSON, Problem, Template};
use ticketing_pdf::{Renderer, TemplateError};

fn minimal(elements: &str) -> String {
    format!(
        r#"{{ "format": 1, "name": "T", "page": {{ "size": "a6" }}, "elements": [ {{ "type": "qr", "x": 10, "y": 10, "size": 40 }} {elements} ] }}"#
    )
}

fn problems(json: &str) -> Vec<Problem> {
    Template::from_json(json).expect_err("the template is refused").problems
}

fn paths(json: &str) -> Vec<String> {
    problems(json).into_iter().map(|p| p.path).collect()
}

#[test]
fn the_built_in_template_round_trips_through_its_json() {
    let template = Template::default_ticket();
    assert_eq!(Template::from_json(DEFAULT_JSON).unwrap(), template);
    assert_eq!(Template::from_json(&template.to_json()).unwrap(), template);
    Renderer::new(template).unwrap();
}

#[test]
fn unknown_placeholders_are_refused_with_the_known_ones_listed() {
    let json = minimal(r#", { "type": "text", "x": 5, "y": 80, "width": 50, "text": "{{ holder.email }}" }"#);
    let [problem] = problems(&json).try_into().unwrap();
    assert_eq!(problem.path, "elements[1].text");
    assert!(
        problem.message.starts_with("unknown placeholder `{{holder.email}}`; known: event.title"),
        "{}",
        problem.message
    );
}

#[test]
fn bad_colours_and_unknown_keys_name_their_path() {
    let colour = minimal(r##", { "type": "rect", "x": 0, "y": 0, "width": 5, "height": 5, "color": "#12345" }"##);
    let [problem] = problems(&colour).try_into().unwrap();
    assert_eq!(problem.path, "elements[1].color");
    assert!(problem.message.contains("`#12345` is not a colour"), "{}", problem.message);
    let typo = minimal(r#", { "type": "text", "x": 5, "y": 80, "width": 50, "text": "x", "colour": "red" }"#);
    assert_eq!(paths(&typo), ["elements[1].colour"]);
    let script = minimal(r#", { "type": "script", "code": "rm -rf /" }"#);
    assert_eq!(paths(&script), ["elements[1]"]);
}

#[test]
fn fields_off_the_page_are_refused_with_where_they_reach() {
    let off = minimal(
        r##", { "type": "text", "x": 90, "y": 10, "width": 30, "text": "{{ holder.name }}" },
                         { "type": "rect", "x": 0, "y": 140, "width": 10, "height": 10, "color": "#000" }"##,
    );
    let found = problems(&off);
    assert_eq!(found.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["elements[1]", "elements[2]"]);
    assert!(found[0].message.contains("off the page: it spans x 90–120 mm"), "{}", found[0].message);
    assert!(found[0].message.contains("on a 105 × 148 mm page"), "{}", found[0].message);
}

#[test]
fn oversized_or_unreadable_images_are_refused() {
    let wide = base64::engine::general_purpose::STANDARD.encode(png_of_size(5000, 1));
    let json = format!(
        r#"{{ "format": 1, "name": "T", "page": {{ "size": "a6" }}, "images": {{ "logo": "{wide}" }},
                          "elements": [ {{ "type": "qr", "x": 10, "y": 10, "size": 40 }} ] }}"#
    );
    let [problem] = problems(&json).try_into().unwrap();
    assert_eq!(problem.path, "images.logo");
    assert!(problem.message.contains("5000×1 px"), "{}", problem.message);
    let text = base64::engine::general_purpose::STANDARD.encode(b"<script>alert(1)</script>");
    let json = json.replace(&wide, &text);
    assert!(problems(&json)[0].message.contains("neither a PNG nor a JPEG"));
}

#[test]
fn a_logo_needs_level_h_and_a_template_needs_a_qr_code() {
    let logo = base64::engine::general_purpose::STANDARD.encode(support::logo_png(16));
    let json = format!(
        r#"{{ "format": 1, "name": "T", "page": {{ "size": "a6" }}, "images": {{ "logo": "{logo}" }},
        "elements": [ {{ "type": "qr", "x": 10, "y": 10, "size": 40, "level": "M", "logo": "logo", "logo_scale": 0.4 }} ] }}"#
    );
    assert_eq!(paths(&json), ["elements[0].level", "elements[0].logo_scale"]);
    // Without a logo too: 1e39 reads as an infinity, which no JSON could carry back.
    let huge = r#"{ "format": 1, "name": "T", "page": { "size": "a6" },
        "elements": [ { "type": "qr", "x": 10, "y": 10, "size": 40, "logo_scale": 1e39 } ] }"#;
    assert_eq!(paths(huge), ["elements[0].logo_scale"]);
    let none = r#"{ "format": 1, "name": "T", "page": { "size": "a6" }, "elements": [] }"#;
    assert_eq!(problems(none)[0].message, "a ticket template needs a `qr` element: the code is what the gate scans");
}

#[test]
fn a_qr_code_too_small_or_too_pale_is_refused() {
    let json = r##"{ "format": 1, "name": "T", "page": { "size": "a6" },
        "elements": [ { "type": "qr", "x": 10, "y": 10, "size": 12, "dark": "#bbbbbb" } ] }"##;
    assert_eq!(paths(json), ["elements[0].size", "elements[0].dark"]);
}

#[test]
fn every_problem_is_reported_at_once_and_the_error_reads_well() {
    let json = r##"{ "format": 2, "name": " ", "page": { "size": "custom", "width": 5000, "height": 100 },
        "elements": [ { "type": "qr", "x": 10, "y": 10, "size": 40 } ] }"##;
    let error: TemplateError = Template::from_json(json).unwrap_err();
    assert_eq!(error.problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["format", "name", "page"]);
    assert!(error.to_string().starts_with("the template was refused: format: format 2 is not known"), "{error}");
}

#[test]
fn malformed_json_is_refused_not_panicked_on() {
    for bad in ["", "{", "[]", "null", r#"{"format": "1"}"#, "{} trailing"] {
        let error = Template::from_json(bad).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{bad}: {error}");
    }
}

#[test]
fn what_a_hostile_template_could_make_expensive_is_bounded() {
    // Thousands of elements: one problem, found at once.
    let many = (0..5_000).map(|_| r#", { "type": "image", "image": "none", "x": 1, "y": 1, "width": 1, "height": 1 }"#);
    let found = problems(&minimal(&many.collect::<String>()));
    assert_eq!(found, [Problem { path: "elements".into(), message: "5001 elements; the limit is 200".into() }]);
    // Images: at most 32, each used, with short plain names, 16 million pixels together.
    let small = base64::engine::general_purpose::STANDARD.encode(support::logo_png(4));
    let images: Vec<String> = (0..33).map(|i| format!(r#""i{i}": "{small}""#)).collect();
    let elements: String = (0..33)
        .map(|i| format!(r#", {{ "type": "image", "image": "i{i}", "x": 1, "y": 1, "width": 5, "height": 5 }}"#))
        .collect();
    let json = with_images(&minimal(&elements), &images.join(","));
    assert_eq!(paths(&json), ["images"]);
    let unused = with_images(&minimal(""), &format!(r#""a b": "{small}""#));
    let found = problems(&unused);
    assert_eq!(found.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["images.a b", "images.a b"]);
    assert!(found[1].message.starts_with("no element uses this image"), "{}", found[1].message);
    let big = base64::engine::general_purpose::STANDARD.encode(png_claiming(4096, 4096));
    let two = r#", { "type": "image", "image": "a", "x": 1, "y": 1, "width": 5, "height": 5 },
                  { "type": "image", "image": "b", "x": 1, "y": 1, "width": 5, "height": 5 }"#;
    let json = with_images(&minimal(two), &format!(r#""a": "{big}", "b": "{big}""#));
    let found = problems(&json);
    assert_eq!(found[0].path, "images");
    assert!(found[0].message.contains("33554432 pixels together"), "{}", found[0].message);
    // Many problems: the first 50, then a note.
    let off: String = (0..120)
        .map(|_| r##", { "type": "rect", "x": 500, "y": 1, "width": 1, "height": 1, "color": "#000" }"##)
        .collect();
    let found = problems(&minimal(&off));
    assert_eq!(found.len(), 51);
    assert_eq!(found[50].message, "more problems were found; fix these first");
}

/// `json` with an `images` object holding `entries`.
fn with_images(json: &str, entries: &str) -> String {
    json.replacen(r#""elements""#, &format!(r#""images": {{ {entries} }}, "elements""#), 1)
}

/// A PNG whose header claims `width` × `height` pixels over a 1 × 1 image's data: what the
/// header checks see without the cost of a real large image.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = png_of_size(1, 1);
    // Signature (8), IHDR length (4) and type (4), then width and height; the CRC follows the
    // 13 bytes of IHDR data.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_of_size(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    let mut writer = encoder.write_header().expect("a header");
    writer.write_image_data(&vec![0; (width * height) as usize]).expect("the pixels");
    writer.finish().expect("the end");
    out
}
