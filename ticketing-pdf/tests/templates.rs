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

fn png_of_size(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    let mut writer = encoder.write_header().expect("a header");
    writer.write_image_data(&vec![0; (width * height) as usize]).expect("the pixels");
    writer.finish().expect("the end");
    out
}
