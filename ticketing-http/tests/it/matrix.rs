//! The role × endpoint matrix: every documented endpoint, called by each kind of caller, on a
//! fresh event each time, answers exactly the allow or the deny the tenancy rules say.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestServer, event_body, template_doc, type_body};

/// The callers, in the order of each row's expectations.
const CALLERS: [&str; 6] = ["anonymous", "superadmin", "owner", "other organizer", "cashier", "agent"];

struct Cast {
    /// Tokens, by caller (none for anonymous).
    tokens: Vec<Option<String>>,
    owner: String,
    cashier: String,
    spare_cashier: String,
    agent: String,
}

/// A fresh event of the owner's, published, with a type, a gate (the agent's), the cashier on
/// its staff, and an API client of the owner's.
struct World {
    event: String,
    ticket_type: String,
    gate: String,
    client: String,
    spare_user: String,
    /// A paid ticket of the type.
    ticket: String,
    /// Its magic-link token.
    link: String,
    /// A cancelled generation job.
    job: String,
    /// An event of the owner's with nothing sold, to delete.
    empty_event: String,
    /// A type of the event with nothing sold, to delete.
    unsold_type: String,
    /// A template of the event.
    template: String,
    /// A pending order of the event.
    order: String,
    /// Its buyer's token.
    order_token: String,
    /// A webhook endpoint of the event.
    endpoint: String,
}

async fn cast(s: &TestServer) -> Cast {
    let admin = s.admin().await;
    let owner = s.user(&admin, "owner@example.org", "organizer").await;
    s.user(&admin, "other@example.org", "organizer").await;
    let cashier = s.user(&admin, "cashier@example.org", "cashier").await;
    let spare_cashier = s.user(&admin, "cashier2@example.org", "cashier").await;
    let agent = s.user(&admin, "agent@example.org", "agent").await;
    let mut tokens = vec![None, Some(admin)];
    for email in ["owner@example.org", "other@example.org", "cashier@example.org", "agent@example.org"] {
        tokens.push(Some(s.token(email, PASSWORD).await));
    }
    Cast { tokens, owner, cashier, spare_cashier, agent }
}

async fn world(s: &TestServer, cast: &Cast) -> World {
    let owner = cast.tokens[2].as_deref();
    let admin = cast.tokens[1].as_deref();
    let event = s.call(Method::POST, "/api/v1/events", owner, Some(event_body("Matrix", 100))).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let published = s
        .call(Method::POST, &format!("/api/v1/events/{event}/status"), owner, Some(json!({"status": "published"})))
        .await;
    published.ok(StatusCode::OK);
    let t = s
        .call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), owner, Some(type_body("Standard", 50)))
        .await;
    let ticket_type = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let g = s
        .call(
            Method::POST,
            &format!("/api/v1/events/{event}/gates"),
            owner,
            Some(json!({"name": "North", "agents": [cast.agent]})),
        )
        .await;
    let gate = g.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let staffed = s
        .call(
            Method::PUT,
            &format!("/api/v1/events/{event}/staff/{}", cast.cashier),
            owner,
            Some(json!({"duty": "cashier"})),
        )
        .await;
    staffed.ok(StatusCode::OK);
    let c = s.call(Method::POST, "/api/v1/clients", owner, Some(json!({"name": "Box office"}))).await;
    let client = c.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let u = s
        .call(
            Method::POST,
            "/api/v1/users",
            admin,
            Some(json!({"email": format!("spare-{event}@example.org"), "name": "Spare", "role": "agent", "password": PASSWORD})),
        )
        .await;
    let spare_user = u.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let issued = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{ticket_type}/tickets"),
            owner,
            Some(json!({"status": "paid"})),
        )
        .await;
    let issued = &issued.ok(StatusCode::CREATED)[0];
    let (ticket, link) = (
        issued["id"].as_str().expect("id").to_owned(),
        issued["magic_link"]["token"].as_str().expect("token").to_owned(),
    );
    let job = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{ticket_type}/generations"),
            owner,
            Some(json!({"count": 1})),
        )
        .await;
    let job = job.ok(StatusCode::ACCEPTED)["id"].as_str().expect("id").to_owned();
    let cancelled = s.call(Method::POST, &format!("/api/v1/jobs/{job}/cancel"), owner, None).await;
    cancelled.ok(StatusCode::OK);
    let empty = s.call(Method::POST, "/api/v1/events", owner, Some(event_body("Empty", 10))).await;
    let empty_event = empty.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let unsold = s
        .call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), owner, Some(type_body("Unsold", 5)))
        .await;
    let unsold_type = unsold.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let made =
        s.call(Method::POST, &format!("/api/v1/events/{event}/templates"), owner, Some(template_doc("Gala"))).await;
    let template = made.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let own = s
        .call(Method::POST, &format!("/api/v1/events/{event}/message-templates"), owner, Some(message_template()))
        .await;
    own.ok(StatusCode::OK);
    let hook = json!({"url": "https://hooks.example.org/in", "events": ["order.paid"]});
    let hook = s.call(Method::POST, &format!("/api/v1/events/{event}/webhooks"), owner, Some(hook)).await;
    let endpoint = hook.ok(StatusCode::CREATED)["endpoint"]["id"].as_str().expect("id").to_owned();
    let placed = s
        .call(Method::POST, &format!("/api/v1/public/events/{event}/orders"), None, Some(order_body(&ticket_type)))
        .await;
    let placed = placed.ok(StatusCode::CREATED);
    let (order, order_token) = (
        placed["order"]["id"].as_str().expect("order id").to_owned(),
        placed["order_token"].as_str().expect("token").to_owned(),
    );
    World {
        event,
        ticket_type,
        gate,
        client,
        spare_user,
        ticket,
        link,
        job,
        empty_event,
        unsold_type,
        template,
        order,
        order_token,
        endpoint,
    }
}

/// The event's own `refunded` message in English.
fn message_template() -> Value {
    json!({
        "kind": "refunded",
        "locale": "en",
        "subject": "Refunded: {{ event.title }}",
        "text": "{{ name }}, {{ order.total }} is on its way back: {{ order.url }}",
        "html": "<p>{{ name }}, {{ order.total }} is on its way back.</p>",
        "sms": "Refunded: {{ event.title }}"
    })
}

fn order_body(ticket_type: &str) -> Value {
    json!({"lines": [{"ticket_type_id": ticket_type, "quantity": 1}], "buyer": {"name": "Zoé", "email": "zoe@example.org"}})
}

type Path = fn(&World, &Cast) -> String;
type Make = fn(&World, &Cast) -> Value;

/// One endpoint: how to call it, and the status each caller gets (in [`CALLERS`] order).
struct Row {
    method: Method,
    path: Path,
    body: Option<Make>,
    expect: [u16; 6],
}

fn rows() -> Vec<Row> {
    use Method as M;
    let row = |method: M, path: Path, body: Option<Make>, expect| Row { method, path, body, expect };
    vec![
        row(M::GET, |_, _| "/api/v1/public/events".into(), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |w, _| format!("/api/v1/public/events/{}", w.event), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |_, _| "/api/v1/events".into(), None, [401, 200, 200, 200, 200, 403]),
        row(
            M::POST,
            |_, _| "/api/v1/events".into(),
            Some(|_, _| event_body("New", 10)),
            [401, 201, 201, 201, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/events/{}", w.event), None, [401, 200, 200, 404, 200, 403]),
        row(
            M::PUT,
            |w, _| format!("/api/v1/events/{}", w.event),
            Some(|_, _| event_body("Renamed", 120)),
            [401, 200, 200, 404, 403, 403],
        ),
        row(
            M::POST,
            |w, _| format!("/api/v1/events/{}/status", w.event),
            Some(|_, _| json!({"status": "cancelled"})),
            [401, 200, 200, 404, 403, 403],
        ),
        row(M::DELETE, |w, _| format!("/api/v1/events/{}", w.empty_event), None, [401, 204, 204, 404, 403, 403]),
        row(M::GET, |w, _| format!("/api/v1/events/{}/staff", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(M::GET, |w, _| format!("/api/v1/events/{}/notifications", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::GET,
            |w, _| format!("/api/v1/events/{}/message-templates", w.event),
            None,
            [401, 200, 200, 404, 403, 403],
        ),
        row(
            M::POST,
            |w, _| format!("/api/v1/events/{}/message-templates", w.event),
            Some(|_, _| message_template()),
            [401, 200, 200, 404, 403, 403],
        ),
        row(
            M::DELETE,
            |w, _| format!("/api/v1/events/{}/message-templates/refunded/en", w.event),
            None,
            [401, 204, 204, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/events/{}/webhooks", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/events/{}/webhooks", w.event),
            Some(|_, _| json!({"url": "https://crm.example.org/in", "events": ["ticket.scanned"]})),
            [401, 201, 201, 404, 403, 403],
        ),
        row(M::DELETE, |w, _| format!("/api/v1/webhooks/{}", w.endpoint), None, [401, 204, 204, 404, 403, 403]),
        row(M::POST, |w, _| format!("/api/v1/webhooks/{}/enable", w.endpoint), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/events/{}/message-templates/preview", w.event),
            Some(|_, _| json!({"kind": "refunded", "locale": "fr"})),
            [401, 200, 200, 404, 403, 403],
        ),
        row(
            M::PUT,
            |w, c| format!("/api/v1/events/{}/staff/{}", w.event, c.spare_cashier),
            Some(|_, _| json!({"duty": "cashier"})),
            [401, 200, 200, 404, 403, 403],
        ),
        row(
            M::DELETE,
            |w, c| format!("/api/v1/events/{}/staff/{}", w.event, c.cashier),
            None,
            [401, 204, 204, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/events/{}/ticket-types", w.event), None, [401, 200, 200, 404, 200, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/events/{}/ticket-types", w.event),
            Some(|_, _| type_body("VIP", 10)),
            [401, 201, 201, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/ticket-types/{}", w.ticket_type), None, [401, 200, 200, 404, 200, 403]),
        row(
            M::PUT,
            |w, _| format!("/api/v1/ticket-types/{}", w.ticket_type),
            Some(|_, _| type_body("Standard plus", 60)),
            [401, 200, 200, 404, 403, 403],
        ),
        row(M::DELETE, |w, _| format!("/api/v1/ticket-types/{}", w.unsold_type), None, [401, 204, 204, 404, 403, 403]),
        row(M::GET, |w, _| format!("/api/v1/events/{}/gates", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/events/{}/gates", w.event),
            Some(|_, _| json!({"name": "South"})),
            [401, 201, 201, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/gates/{}", w.gate), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::PUT,
            |w, _| format!("/api/v1/gates/{}", w.gate),
            Some(|_, _| json!({"name": "North-East"})),
            [401, 200, 200, 404, 403, 403],
        ),
        row(M::DELETE, |w, _| format!("/api/v1/gates/{}", w.gate), None, [401, 204, 204, 404, 403, 403]),
        row(M::GET, |_, _| "/api/v1/me".into(), None, [401, 200, 200, 200, 200, 200]),
        row(M::GET, |_, _| "/api/v1/users".into(), None, [401, 200, 403, 403, 403, 403]),
        row(
            M::POST,
            |_, _| "/api/v1/users".into(),
            Some(
                |w, _| json!({"email": format!("new-{}@example.org", w.event), "name": "New", "role": "agent", "password": PASSWORD}),
            ),
            [401, 201, 403, 403, 403, 403],
        ),
        row(M::GET, |_, c| format!("/api/v1/users/{}", c.owner), None, [401, 200, 403, 403, 403, 403]),
        row(
            M::PATCH,
            |w, _| format!("/api/v1/users/{}", w.spare_user),
            Some(|_, _| json!({"name": "Renamed"})),
            [401, 200, 403, 403, 403, 403],
        ),
        row(M::GET, |_, _| "/api/v1/clients".into(), None, [401, 200, 200, 200, 403, 403]),
        row(
            M::POST,
            |_, _| "/api/v1/clients".into(),
            Some(|_, _| json!({"name": "Sync"})),
            [401, 201, 201, 201, 403, 403],
        ),
        row(M::DELETE, |w, _| format!("/api/v1/clients/{}", w.client), None, [401, 204, 204, 404, 403, 403]),
        row(M::GET, |w, _| format!("/api/v1/audit?event_id={}", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(M::GET, |_, _| "/api/v1/audit".into(), None, [401, 200, 422, 422, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/ticket-types/{}/tickets", w.ticket_type),
            Some(|_, _| json!({"count": 2})),
            [401, 201, 201, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/events/{}/tickets", w.event), None, [401, 200, 200, 404, 200, 403]),
        row(M::GET, |w, _| format!("/api/v1/tickets/{}", w.ticket), None, [401, 200, 200, 404, 200, 403]),
        row(M::GET, |w, _| format!("/api/v1/tickets/{}/qr", w.ticket), None, [401, 200, 200, 404, 403, 403]),
        row(M::POST, |w, _| format!("/api/v1/tickets/{}/refund", w.ticket), None, [401, 200, 200, 404, 403, 403]),
        row(M::POST, |w, _| format!("/api/v1/tickets/{}/invalidate", w.ticket), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/tickets/{}/magic-link", w.ticket),
            Some(|_, _| json!({})),
            [401, 201, 201, 404, 403, 403],
        ),
        row(M::DELETE, |w, _| format!("/api/v1/tickets/{}/magic-link", w.ticket), None, [401, 204, 204, 404, 403, 403]),
        row(M::GET, |w, _| format!("/api/v1/events/{}/tickets.zip", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(M::GET, |w, _| format!("/api/v1/public/tickets/{}", w.link), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |w, _| format!("/api/v1/public/tickets/{}/pdf", w.link), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |w, _| format!("/api/v1/public/tickets/{}/qr.png", w.link), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |w, _| format!("/api/v1/public/tickets/{}/qr.svg", w.link), None, [200, 200, 200, 200, 200, 200]),
        row(
            M::POST,
            |_, _| "/api/v1/scan/request".into(),
            Some(|w, _| json!({"gate_id": w.gate, "short_code": "AAAAA-AAAAA"})),
            [401, 200, 200, 404, 403, 200],
        ),
        row(
            M::POST,
            |_, _| "/api/v1/scan/confirm".into(),
            Some(|w, _| json!({"gate_id": w.gate, "scan_session_token": "not-a-token", "direction": "in"})),
            [401, 200, 200, 404, 403, 200],
        ),
        row(M::GET, |w, _| format!("/api/v1/scan/logs?event_id={}", w.event), None, [401, 200, 200, 404, 403, 200]),
        row(M::GET, |w, _| format!("/api/v1/events/{}/scanner-keys", w.event), None, [401, 200, 200, 404, 403, 200]),
        row(M::GET, |_, _| "/api/v1/scan/gates".into(), None, [401, 200, 200, 200, 403, 200]),
        row(
            M::POST,
            |w, _| format!("/api/v1/ticket-types/{}/generations", w.ticket_type),
            Some(|_, _| json!({"count": 3})),
            [401, 202, 202, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/jobs?event_id={}", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(M::GET, |w, _| format!("/api/v1/jobs/{}", w.job), None, [401, 200, 200, 404, 403, 403]),
        row(M::POST, |w, _| format!("/api/v1/jobs/{}/cancel", w.job), None, [401, 200, 200, 404, 403, 403]),
        row(M::POST, |w, _| format!("/api/v1/jobs/{}/retry", w.job), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::GET,
            |w, _| format!("/api/v1/events/{}/participants.csv", w.event),
            None,
            [401, 200, 200, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/events/{}/scans.csv", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/events/{}/templates", w.event),
            Some(|_, _| template_doc("Another")),
            [401, 201, 201, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/events/{}/templates", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/templates/{}/versions", w.template),
            Some(|_, _| template_doc("Gala")),
            [401, 201, 201, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/templates/{}/versions", w.template), None, [401, 200, 200, 404, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/templates/{}/activate", w.template),
            Some(|_, _| json!({})),
            [401, 200, 200, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/templates/{}/preview", w.template), None, [401, 200, 200, 404, 403, 403]),
        row(M::GET, |w, _| format!("/api/v1/events/{}/dashboard", w.event), None, [401, 200, 200, 404, 403, 403]),
        row(M::GET, |_, _| "/api/v1/queue/stats".into(), None, [401, 200, 403, 403, 403, 403]),
        row(M::POST, |_, _| "/api/v1/queue/purge".into(), Some(|_, _| json!({})), [401, 200, 403, 403, 403, 403]),
        row(
            M::POST,
            |w, _| format!("/api/v1/public/events/{}/orders", w.event),
            Some(|w, _| order_body(&w.ticket_type)),
            [201, 201, 201, 201, 201, 201],
        ),
        row(M::GET, |w, _| format!("/api/v1/public/orders/{}", w.order_token), None, [200, 200, 200, 200, 200, 200]),
        row(
            M::POST,
            |w, _| format!("/api/v1/public/events/{}/resend-tickets", w.event),
            Some(|_, _| json!({"email": "someone@example.org"})),
            [202, 202, 202, 202, 202, 202],
        ),
        // The matrix's event has no payment link: everyone is told to pay at the desk.
        row(M::GET, |w, _| format!("/pay/{}", w.order_token), None, [409, 409, 409, 409, 409, 409]),
        // The web pages: the same for everyone (they take no bearer token).
        row(M::GET, |_, _| "/".into(), None, [303, 303, 303, 303, 303, 303]),
        row(M::GET, |_, _| "/events".into(), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |w, _| format!("/events/{}", w.event), None, [200, 200, 200, 200, 200, 200]),
        // A JSON body is not the form: nothing chosen, the page says so.
        row(
            M::POST,
            |w, _| format!("/events/{}/order", w.event),
            Some(|w, _| order_body(&w.ticket_type)),
            [422, 422, 422, 422, 422, 422],
        ),
        row(M::GET, |w, _| format!("/orders/{}", w.order_token), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |w, _| format!("/tickets/{}", w.link), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |w, _| format!("/tickets/{}/event.ics", w.link), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |_, _| ticketing_http::asset_url("site.css"), None, [200, 200, 200, 200, 200, 200]),
        // The staff pages are the same for everyone: their scripts sign in.
        row(M::GET, |_, _| "/scan".into(), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |_, _| "/admin".into(), None, [200, 200, 200, 200, 200, 200]),
        row(
            M::POST,
            |w, _| format!("/api/v1/events/{}/sales", w.event),
            Some(|w, _| json!({"lines": [{"ticket_type_id": w.ticket_type, "quantity": 1}], "method": "cash"})),
            [401, 201, 201, 404, 201, 403],
        ),
        row(
            M::POST,
            |w, _| format!("/api/v1/orders/{}/mark-paid", w.order),
            Some(|_, _| json!({"method": "transfer", "reference": "VIR-1"})),
            [401, 200, 200, 404, 200, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/events/{}/orders", w.event), None, [401, 200, 200, 404, 200, 403]),
        // The world's order is pending: a refund of it is refused as such, to those who may refund.
        row(
            M::POST,
            |w, _| format!("/api/v1/orders/{}/refund", w.order),
            Some(|_, _| json!({"reason": "matrix"})),
            [401, 409, 409, 404, 403, 403],
        ),
        row(M::GET, |w, _| format!("/api/v1/events/{}/cash-report", w.event), None, [401, 200, 200, 404, 200, 403]),
        row(M::GET, |w, _| format!("/api/v1/events/{}/orders.csv", w.event), None, [401, 200, 200, 404, 403, 403]),
        // Unsigned: refused alike, whoever sends it (providers hold no bearer token).
        row(
            M::POST,
            |_, _| "/api/v1/payments/generic/webhook".into(),
            Some(|_, _| json!({"id": "evt_1", "type": "payment.succeeded"})),
            [400, 400, 400, 400, 400, 400],
        ),
        row(
            M::GET,
            |w, _| format!("/api/v1/payments/events?event_id={}", w.event),
            None,
            [401, 200, 200, 404, 403, 403],
        ),
        row(M::GET, |_, _| "/health".into(), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |_, _| "/health/live".into(), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |_, _| "/health/ready".into(), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |_, _| "/metrics".into(), None, [200, 200, 200, 200, 200, 200]),
        row(M::GET, |_, _| "/openapi.json".into(), None, [200, 200, 200, 200, 200, 200]),
    ]
}

/// The route template a called path matches in the OpenAPI document.
fn template_of(path: &str, templates: &[String]) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let parts: Vec<&str> = path.split('/').collect();
    templates
        .iter()
        .find(|t| {
            let tparts: Vec<&str> = t.split('/').collect();
            tparts.len() == parts.len()
                && tparts.iter().zip(&parts).all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
        })
        .cloned()
}

async fn every_role_reaches_exactly_what_it_may(s: &TestServer) {
    let cast = cast(s).await;
    let spec = s.call(Method::GET, "/openapi.json", None, None).await.json;
    let paths = spec["paths"].as_object().expect("paths");
    let templates: Vec<String> = paths.keys().cloned().collect();
    let mut covered = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for row in rows() {
        for (i, caller) in CALLERS.iter().enumerate() {
            let world = world(s, &cast).await;
            let path = (row.path)(&world, &cast);
            let body = row.body.map(|make| make(&world, &cast));
            let answer = s.call(row.method.clone(), &path, cast.tokens[i].as_deref(), body).await;
            if answer.status.as_u16() != row.expect[i] {
                failures.push(format!(
                    "{} {path} as {caller}: {} (wanted {}) {}",
                    row.method, answer.status, row.expect[i], answer.text
                ));
            }
            // A page refuses with a page; the API with a problem.
            let page = !(path.starts_with("/api/") || path.starts_with("/pay/"));
            if page {
                let html = answer.headers.get("content-type").and_then(|v| v.to_str().ok());
                assert!(
                    answer.status.is_success()
                        || answer.status.is_redirection()
                        || html == Some("text/html; charset=utf-8"),
                    "{} {path} as {caller}: a page's refusal is a page",
                    row.method
                );
            } else if !answer.status.is_success() && answer.status != StatusCode::NOT_FOUND {
                assert_eq!(
                    answer.headers.get("content-type").and_then(|v| v.to_str().ok()),
                    Some("application/problem+json"),
                    "{} {path} as {caller}: a refusal is a problem body",
                    row.method
                );
            }
            if answer.status == StatusCode::NOT_FOUND && !page {
                assert_eq!(answer.code(), "not_found", "{} {path} as {caller}: the route exists", row.method);
            }
        }
        let named = (row.path)(&world_stub(), &cast);
        let template =
            template_of(&named, &templates).unwrap_or_else(|| panic!("{named} is not in the OpenAPI document"));
        covered.insert((template, row.method.as_str().to_lowercase()));
    }
    assert!(failures.is_empty(), "{} cells differ:\n{}", failures.len(), failures.join("\n"));
    // The matrix covers every documented operation but the OAuth2 ones, which take no bearer
    // token and answer everyone alike (the oauth tests walk them).
    let documented: std::collections::BTreeSet<(String, String)> = paths
        .iter()
        .filter(|(path, _)| !path.starts_with("/oauth/"))
        .flat_map(|(path, item)| {
            item.as_object().into_iter().flat_map(move |ops| ops.keys().map(move |m| (path.clone(), m.clone())))
        })
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(missing.is_empty(), "documented but not in the matrix: {missing:?}");

    // Every staff change the matrix made left its entry, written with the change itself.
    let trail = s.state.store().audit_entries(None, 1_000_000).await.expect("the trail");
    let actions: std::collections::BTreeSet<&str> = trail.iter().map(|e| e.action.as_str()).collect();
    let unrecorded: Vec<&str> = AUDITED.iter().copied().filter(|a| !actions.contains(a)).collect();
    assert!(unrecorded.is_empty(), "no entry for {unrecorded:?}");

    // Listings hold only what the caller reaches.
    let w = world(s, &cast).await;
    let event = s.call(Method::GET, &format!("/api/v1/events/{}", w.event), cast.tokens[1].as_deref(), None).await;
    let from = event.json["starts_at"].as_str().expect("starts_at").replace('+', "%2B");
    for (i, sees) in [(1, true), (2, true), (3, false), (4, true)] {
        let path = format!("/api/v1/events?from={from}");
        let list = s.call(Method::GET, &path, cast.tokens[i].as_deref(), None).await;
        let ids: Vec<&str> =
            list.json["items"].as_array().expect("items").iter().filter_map(|e| e["id"].as_str()).collect();
        assert_eq!(ids.contains(&w.event.as_str()), sees, "{} listing", CALLERS[i]);
    }
}

/// The action of each change a staff route makes, each made at least once by the matrix (all but
/// `order.refund`: the world's order is pending, so its refund is refused; the selling tests
/// refund).
const AUDITED: &[&str] = &[
    "client.create",
    "client.revoke",
    "event.create",
    "event.delete",
    "event.staff.assign",
    "event.staff.unassign",
    "event.status",
    "event.update",
    "gate.create",
    "gate.delete",
    "gate.update",
    "job.cancel",
    "job.generate",
    "job.retry",
    "message_template.delete",
    "message_template.save",
    "order.mark_paid",
    "order.sell",
    "queue.purge",
    "template.activate",
    "template.create",
    "template.save",
    "ticket.invalidate",
    "ticket.issue",
    "ticket.magic_link",
    "ticket.magic_link_revoke",
    "ticket.refund",
    "ticket_type.create",
    "ticket_type.delete",
    "ticket_type.update",
    "user.create",
    "user.update",
    "webhook.delete",
    "webhook.enable",
    "webhook.register",
];

/// A world with placeholder ids, to name a row's route.
fn world_stub() -> World {
    World {
        event: "{id}".into(),
        ticket_type: "{id}".into(),
        gate: "{id}".into(),
        client: "{id}".into(),
        spare_user: "{id}".into(),
        ticket: "{id}".into(),
        link: "{id}".into(),
        job: "{id}".into(),
        empty_event: "{id}".into(),
        unsold_type: "{id}".into(),
        template: "{id}".into(),
        order: "{id}".into(),
        order_token: "{token}".into(),
        endpoint: "{id}".into(),
    }
}

crate::on_both_backends!(
    role_matrix,
    // No workers: the world's job stays queued until cancelled, so it can always be retried.
    &[
        ("TICKETING_RATE_GENERATION", "1000000"),
        ("TICKETING_RATE_BATCH", "1000000"),
        ("TICKETING_RATE_DOWNLOAD", "1000000"),
        ("TICKETING_WORKERS", "0"),
    ],
    every_role_reaches_exactly_what_it_may
);
