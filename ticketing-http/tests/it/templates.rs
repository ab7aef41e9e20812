//! Templates over the API: versions, activation, previews, and the version a ticket is drawn
//! with (pinned at its first download, so a later activation does not change it).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestServer, event_body, pdf_text, template_doc, type_body};

/// A template document that draws `mark` on the ticket.
fn marked(name: &str, mark: &str) -> Value {
    let mut doc = template_doc(name);
    doc["elements"]
        .as_array_mut()
        .expect("elements")
        .push(json!({"type": "text", "x": 20, "y": 140, "width": 100, "text": mark, "size": 8}));
    doc
}

/// A new ticket's magic-link PDF, as text.
async fn new_ticket_pdf(s: &TestServer, org: Option<&str>, ticket_type: &str) -> (String, String) {
    let issued =
        s.call(Method::POST, &format!("/api/v1/ticket-types/{ticket_type}/tickets"), org, Some(json!({}))).await;
    let path = issued.ok(StatusCode::CREATED)[0]["magic_link"]["path"].as_str().expect("path").to_owned();
    (pdf_text(&s.raw_bytes(Method::GET, &format!("{path}/pdf"), None).await), path)
}

async fn templates_version_activate_and_pin(s: &TestServer) {
    let admin = s.admin().await;
    s.user(&admin, "designer@example.org", "organizer").await;
    let organizer = s.token("designer@example.org", PASSWORD).await;
    let org = Some(organizer.as_str());
    let event = s.call(Method::POST, "/api/v1/events", org, Some(event_body("Affiches", 50))).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let t =
        s.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), org, Some(type_body("Entry", 20))).await;
    let ticket_type = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();

    // A document that is not a template is refused, naming it; nothing is stored.
    let bad = s.call(Method::POST, &format!("/api/v1/events/{event}/templates"), org, Some(json!({"format": 1}))).await;
    assert_eq!(
        (bad.status, bad.code(), bad.json["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", Some("document"))
    );
    let made = s
        .call(Method::POST, &format!("/api/v1/events/{event}/templates"), org, Some(marked("Poster", "Poster one")))
        .await;
    let made = made.ok(StatusCode::CREATED).clone();
    assert_eq!((made["latest_version"].as_u64(), made["active_version"].as_u64()), (Some(1), None));
    let template = made["id"].as_str().expect("id").to_owned();
    let clash =
        s.call(Method::POST, &format!("/api/v1/events/{event}/templates"), org, Some(marked("Poster", "x"))).await;
    assert_eq!((clash.status, clash.code()), (StatusCode::CONFLICT, "conflict"));
    let v2 = s
        .call(
            Method::POST,
            &format!("/api/v1/templates/{template}/versions"),
            org,
            Some(marked("Poster", "Poster two")),
        )
        .await;
    assert_eq!(v2.ok(StatusCode::CREATED)["version"].as_u64(), Some(2));
    let versions = s.call(Method::GET, &format!("/api/v1/templates/{template}/versions"), org, None).await;
    let versions = versions.ok(StatusCode::OK).as_array().expect("versions").clone();
    assert_eq!(versions.iter().map(|v| v["version"].as_u64().expect("n")).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(versions[0]["document"]["name"], "Poster");
    let listed = s.call(Method::GET, &format!("/api/v1/events/{event}/templates"), org, None).await;
    assert_eq!(listed.ok(StatusCode::OK).as_array().expect("list").len(), 1);

    // No active template: the built-in default.
    let (text, _) = new_ticket_pdf(s, org, &ticket_type).await;
    assert!(!text.contains("Poster"), "{text}");
    // Version 1 active: a new ticket is drawn with it, and pinned to it at its first download.
    let active =
        s.call(Method::POST, &format!("/api/v1/templates/{template}/activate"), org, Some(json!({"version": 1}))).await;
    assert_eq!(active.ok(StatusCode::OK)["active_version"].as_u64(), Some(1));
    let (text, first) = new_ticket_pdf(s, org, &ticket_type).await;
    assert!(text.contains("Poster one"), "{text}");
    // Version 2 active: new tickets get it; the pinned one keeps version 1.
    let active = s.call(Method::POST, &format!("/api/v1/templates/{template}/activate"), org, Some(json!({}))).await;
    assert_eq!(active.ok(StatusCode::OK)["active_version"].as_u64(), Some(2), "the newest by default");
    let (text, _) = new_ticket_pdf(s, org, &ticket_type).await;
    assert!(text.contains("Poster two"), "{text}");
    let again = pdf_text(&s.raw_bytes(Method::GET, &format!("{first}/pdf"), None).await);
    assert!(again.contains("Poster one") && !again.contains("Poster two"), "a re-download looks the same: {again}");
    let missing =
        s.call(Method::POST, &format!("/api/v1/templates/{template}/activate"), org, Some(json!({"version": 9}))).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Previews: PDF of a chosen version, PNG; bad formats and resolutions are refused.
    let pdf = s.raw_bytes(Method::GET, &format!("/api/v1/templates/{template}/preview?version=1"), org).await;
    assert!(pdf_text(&pdf).contains("Poster one"));
    let png = s.raw_bytes(Method::GET, &format!("/api/v1/templates/{template}/preview?format=png&dpi=72"), org).await;
    assert!(png.starts_with(b"\x89PNG"));
    let gif = s.call(Method::GET, &format!("/api/v1/templates/{template}/preview?format=gif"), org, None).await;
    assert_eq!((gif.status, gif.json["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("format")));
    let sharp =
        s.call(Method::GET, &format!("/api/v1/templates/{template}/preview?format=png&dpi=1000"), org, None).await;
    assert_eq!((sharp.status, sharp.json["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("dpi")));

    // The event's tickets in one ZIP, each drawn with its own template version.
    let zip = s.raw_bytes(Method::GET, &format!("/api/v1/events/{event}/tickets.zip"), org).await;
    let dir = std::env::temp_dir().join(format!("ticketing-zip-{}-{template}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    std::fs::write(dir.join("tickets.zip"), &zip).expect("write the archive");
    let unzipped = std::process::Command::new("unzip")
        .args(["-q", "-o", "tickets.zip"])
        .current_dir(&dir)
        .status()
        .expect("unzip is installed (the CI script installs it)");
    assert!(unzipped.success());
    let texts: Vec<String> = std::fs::read_dir(&dir)
        .expect("the dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pdf"))
        .map(|p| pdf_text(&std::fs::read(p).expect("a PDF")))
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(texts.len(), 3, "one file per ticket");
    let count = |mark: &str| texts.iter().filter(|t| t.contains(mark)).count();
    assert_eq!(
        (count("Poster one"), count("Poster two")),
        (1, 2),
        "the unpinned first ticket takes the active version"
    );
    let gif = s.call(Method::GET, &format!("/api/v1/events/{event}/tickets.zip?format=gif"), org, None).await;
    assert_eq!((gif.status, gif.json["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("format")));

    // Links can be revoked without a new one: the page answers 404 like an unknown link.
    let ticket_id = s.call(Method::GET, &format!("/api/v1/events/{event}/tickets?per_page=1"), org, None).await;
    let ticket_id = ticket_id.ok(StatusCode::OK)[0]["id"].as_str().expect("id").to_owned();
    let detail = s.call(Method::GET, &format!("/api/v1/tickets/{ticket_id}"), org, None).await;
    let path = detail.ok(StatusCode::OK)["magic_link"]["path"].as_str().expect("a live link").to_owned();
    let revoked = s.call(Method::DELETE, &format!("/api/v1/tickets/{ticket_id}/magic-link"), org, None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert_eq!(s.call(Method::GET, &path, None, None).await.status, StatusCode::NOT_FOUND);
    let detail = s.call(Method::GET, &format!("/api/v1/tickets/{ticket_id}"), org, None).await;
    assert_eq!(detail.json["magic_link"], Value::Null, "no live link left");

    // A cashier of the event reads its tickets but not what lets their bearer in.
    let cashier = s.user(&admin, "till@example.org", "cashier").await;
    let staffed = s
        .call(Method::PUT, &format!("/api/v1/events/{event}/staff/{cashier}"), org, Some(json!({"duty": "cashier"})))
        .await;
    staffed.ok(StatusCode::OK);
    let till = s.token("till@example.org", PASSWORD).await;
    let seen = s.call(Method::GET, &format!("/api/v1/tickets/{ticket_id}"), Some(&till), None).await;
    let seen = seen.ok(StatusCode::OK).clone();
    assert_eq!((seen["qr_payload"].clone(), seen["magic_link"].clone()), (Value::Null, Value::Null), "{seen}");
    let owner_view = s.call(Method::GET, &format!("/api/v1/tickets/{ticket_id}"), org, None).await;
    assert!(owner_view.ok(StatusCode::OK)["qr_payload"].is_string());

    // A generation job may choose a template only of its own event.
    let other = s.call(Method::POST, "/api/v1/events", org, Some(event_body("Ailleurs", 50))).await;
    let other = other.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let t2 =
        s.call(Method::POST, &format!("/api/v1/events/{other}/ticket-types"), org, Some(type_body("Entry", 20))).await;
    let other_type = t2.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let foreign = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{other_type}/generations"),
            org,
            Some(json!({"count": 1, "template_id": template})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
}

crate::on_both_backends!(templates, &[], templates_version_activate_and_pin);
