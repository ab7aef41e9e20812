//! The public pages in a real browser (Debian's Chromium through chromedriver), against a real
//! server on SQLite: the buyer's whole journey, and what every page answers with.

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::selling::{deliver, shop, stripe_completed};
use crate::support::{Backend, STRIPE_SECRET, TestServer, decode_pdf_qr, event_body};
use crate::webdriver::Browser;

/// List → filter by location → event → buy → order page → paid by a Stripe-signed webhook →
/// the ticket's page behind its magic link → its PDF, whose QR decodes to the ticket's; then
/// the same page in French, and its calendar file. Screenshots of each page at phone and
/// desktop sizes land in `target/tmp/screenshots`.
#[tokio::test]
async fn a_buyer_finds_an_event_buys_and_opens_the_ticket_in_a_browser() {
    let Some(browser) = Browser::start().await else { return };
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite needs no server");
    let shop = shop(&s, "jazz", 50).await;
    // Another published event elsewhere, for the filter to leave out.
    let admin = s.admin().await;
    let mut other = event_body("Jazz à Vienne", 300);
    other["location"] = json!("Théâtre antique, Vienne");
    let other = s.call(Method::POST, "/api/v1/events", Some(&admin), Some(other)).await;
    let other = other.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let publish = Some(json!({"status": "published"}));
    s.call(Method::POST, &format!("/api/v1/events/{other}/status"), Some(&admin), publish).await.ok(StatusCode::OK);
    let base = format!("http://{}", s.addr);

    // The list, then filtered by location.
    browser.go(&format!("{base}/")).await;
    assert!(browser.url().await.ends_with("/events"), "the home page is the list");
    assert_eq!(browser.count(".card").await, 2, "both events are listed");
    browser.screenshots("events").await;
    let location = browser.find("#location").await;
    browser.type_in(&location, "lyon").await;
    browser.click(&browser.find(".filters button").await).await;
    // The new page's field holds the filter in its HTML (typing changed only the old one's value).
    browser.find("input#location[value=lyon]").await;
    assert_eq!(browser.count(".card").await, 1, "only the event in Lyon: {}", browser.text("main").await);
    assert_eq!(browser.text(".card h2").await, "jazz");

    // The event: its type, price and places, then the buy form.
    browser.click(&browser.find(".card h2 a").await).await;
    browser.find(".buy form").await;
    let main = browser.text("main").await;
    assert!(main.contains("Fosse") && main.contains("45.00 EUR") && main.contains("50"), "{main}");
    assert!(main.contains("Lyon, Halle Tony Garnier"), "{main}");
    browser.screenshots("event").await;
    let quantity = browser.find(&format!("#qty-{}", shop.ticket_type)).await;
    browser.type_in(&quantity, "2").await;
    browser.type_in(&browser.find("#name").await, "Zoé Lefèvre").await;
    browser.type_in(&browser.find("#email").await, "zoe@example.org").await;
    browser.click(&browser.find(".buy button").await).await;

    // The order's page: held, with the pay button to the payment link.
    browser.find(".status").await;
    let order_url = browser.url().await;
    let token = order_url.rsplit_once("/orders/").map(|(_, t)| t.to_owned()).expect("on the order's page");
    assert_eq!(browser.text(".status").await, "Awaiting payment");
    let pay = browser.attribute(&browser.find("a.button").await, "href").await.expect("a pay button");
    assert!(pay.ends_with(&format!("/pay/{token}")), "{pay}");
    assert!(browser.text("tfoot").await.contains("90.00 EUR"));
    browser.screenshots("order-pending").await;

    // The provider says it is paid; the page says so and links the tickets.
    let order = s.call(Method::GET, &format!("/api/v1/public/orders/{token}"), None, None).await;
    let order = order.ok(StatusCode::OK).clone();
    let paid = deliver(
        &s.handle(),
        "stripe",
        Some(("Stripe-Signature", STRIPE_SECRET)),
        &stripe_completed("evt_page", &order),
    )
    .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.text);
    browser.go(&order_url).await;
    assert_eq!(browser.text(".status").await, "Paid");
    assert_eq!(browser.count(".card a").await, 2, "each ticket's page is linked");
    browser.screenshots("order-paid").await;

    // The ticket's page: status in words, the QR drawn, the PDF whose QR is the ticket's.
    browser.click(&browser.find(".card a").await).await;
    browser.find(".qr img").await;
    assert_eq!(browser.text(".status").await, "Paid: valid for entry");
    let drawn =
        browser.run("const i = document.querySelector('.qr img'); return i.complete && i.naturalWidth > 0;").await;
    assert_eq!(drawn, json!(true), "the QR image loads under the page's CSP");
    browser.screenshots("ticket").await;
    let ticket_url = browser.url().await;
    let link = ticket_url.rsplit_once("/tickets/").map(|(_, t)| t.to_owned()).expect("on the ticket's page");
    let pdf_href = browser.attribute(&browser.find(".actions a").await, "href").await.expect("a PDF link");
    let pdf_path = pdf_href.strip_prefix(&base).unwrap_or(&pdf_href).to_owned();
    let pdf = s.raw(Method::GET, &pdf_path, None, None).await;
    assert_eq!(pdf.headers[header::CONTENT_TYPE], "application/pdf");
    let pdf = s.raw_bytes(Method::GET, &pdf_path, None).await;
    let ticket = s.call(Method::GET, &format!("/api/v1/public/tickets/{link}"), None, None).await;
    let ticket = ticket.ok(StatusCode::OK).clone();
    assert_eq!(decode_pdf_qr(&pdf), ticket["qr_payload"].as_str().expect("a payload"), "the PDF's QR is the ticket's");

    // In French, remembered.
    browser.click(&browser.find("a[hreflang=fr]").await).await;
    browser.find("html[lang=fr] .status").await;
    assert_eq!(browser.text(".status").await, "Payé : valable pour l'entrée");
    assert_eq!(browser.run("return document.documentElement.lang;").await, json!("fr"));
    browser.go(&format!("{base}/events")).await;
    assert_eq!(browser.text("h1").await, "Événements", "the cookie keeps the language");
    browser.screenshots("events-fr").await;

    // "Add to calendar".
    let ics = s.raw(Method::GET, &format!("/tickets/{link}/event.ics"), None, None).await;
    assert_eq!(ics.status, StatusCode::OK);
    assert_eq!(ics.headers[header::CONTENT_TYPE], "text/calendar; charset=utf-8");
    assert_eq!(ics.headers[header::CACHE_CONTROL], "private, no-store");
    assert_eq!(ics.headers[header::CONTENT_DISPOSITION], "attachment; filename=\"event.ics\"");
    assert!(ics.text.starts_with("BEGIN:VCALENDAR\r\n") && ics.text.contains("SUMMARY:jazz\r\n"), "{}", ics.text);
    browser.quit().await;
    s.stop().await;
}

/// Every page: HTML in the asked language, the strict policy and its companions, no script, no
/// inline style; refusals are pages with their status, never a 5xx.
#[tokio::test]
async fn pages_answer_with_their_policy_and_refuse_in_words() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite needs no server");
    let shop = shop(&s, "policy", 5).await;
    let css = {
        // Attributes are escaped (`/` as `&#x2f;`).
        let page = s.raw(Method::GET, "/events", None, None).await.text.replace("&#x2f;", "/");
        let start = page.find("/assets/site.").expect("the stylesheet's link");
        page[start..].split('"').next().expect("a link").to_owned()
    };
    for path in
        ["/events", &format!("/events/{}", shop.event), "/events?from=nonsense", "/tickets/nope", "/orders/nope"]
    {
        let page = s.raw(Method::GET, path, None, None).await;
        assert!(!page.status.is_server_error(), "{path}: {}", page.status);
        let headers = &page.headers;
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "{path}");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert!(!page.text.contains("<script") && !page.text.contains("style="), "{path}: nothing inline");
    }
    let bad = s.raw(Method::GET, "/events?from=nonsense", None, None).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("a day such as 2027-07-01"), "{}", bad.text);
    let gone = s.raw(Method::GET, "/tickets/nope", None, None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    let french = s
        .send(
            axum::http::Request::builder()
                .uri(format!("http://{}/tickets/nope", s.addr))
                .header(header::ACCEPT_LANGUAGE, "fr-FR,fr;q=0.9")
                .body(http_body_util::Full::new(axum::body::Bytes::new()))
                .expect("a request"),
        )
        .await;
    assert!(french.text.contains("Cette page n&#x27;existe pas"), "{}", french.text);
    assert_eq!(french.headers[header::CONTENT_LANGUAGE], "fr");
    // Buying nothing, and buying more than the places: the event's page again, saying why.
    let none = s.form(&format!("/events/{}/order", shop.event), &[("name", "A"), ("email", "a@example.org")]).await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(none.text.contains("choose at least one ticket") && none.text.contains("value=\"a@example.org\""));
    let qty = format!("qty:{}", shop.ticket_type);
    let many = s
        .form(&format!("/events/{}/order", shop.event), &[(&qty, "4"), ("name", "A"), ("email", "a@example.org")])
        .await;
    assert_eq!(many.status, StatusCode::SEE_OTHER, "{}", many.text);
    let sold_out = s
        .form(&format!("/events/{}/order", shop.event), &[(&qty, "2"), ("name", "B"), ("email", "b@example.org")])
        .await;
    assert_eq!(sold_out.status, StatusCode::CONFLICT, "{}", sold_out.text);
    assert!(sold_out.text.contains("role=\"alert\""), "{}", sold_out.text);
    // The stylesheet: cached for a year under its fingerprint; another fingerprint is not found.
    let sheet = s.raw(Method::GET, &css, None, None).await;
    assert_eq!(sheet.status, StatusCode::OK);
    assert_eq!(sheet.headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(sheet.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert_eq!(s.raw(Method::GET, "/assets/site.0000000000.css", None, None).await.status, StatusCode::NOT_FOUND);
    s.stop().await;
}
