//! Selling through HTTP, on both backends: a buyer's order → `GET /pay/{token}` answers 303 to the
//! event's payment link filled in → a Stripe-signed `checkout.session.completed` → order and
//! tickets paid, a notification queued → the magic link's PDF decodes to the ticket's QR → it
//! scans in. Then the storms (buyers, deliveries, cashiers), holds that expire and sell again,
//! and malformed webhooks and orders.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};
use ticketing_core::webhook_signature::sign;

use crate::support::{GENERIC_SECRET, Handle, PASSWORD, STRIPE_SECRET, TestServer, decode_pdf_qr, event_body};

const LINK: &str = "https://pay.example.test/b/test_7sI?client_reference_id={order_id}&prefilled_email={email}&amount={amount}&currency={currency}&back={return_url}";

/// An organizer's published event (doors open now) with a type of `quota`, an agent's gate and a
/// cashier; its payment link is [`LINK`].
pub(crate) struct Shop {
    pub(crate) organizer: String,
    cashier: String,
    pub(crate) agent: String,
    pub(crate) gate: String,
    pub(crate) event: String,
    pub(crate) ticket_type: String,
}

pub(crate) async fn shop(s: &TestServer, name: &str, quota: u32) -> Shop {
    let admin = s.admin().await;
    s.user(&admin, &format!("org-{name}@example.org"), "organizer").await;
    let cashier_id = s.user(&admin, &format!("cash-{name}@example.org"), "cashier").await;
    let agent_id = s.user(&admin, &format!("gate-{name}@example.org"), "agent").await;
    let organizer = s.token(&format!("org-{name}@example.org"), PASSWORD).await;
    let org = Some(organizer.as_str());
    let mut body = event_body(name, 5000);
    body["starts_at"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    body["ends_at"] = json!((chrono::Utc::now() + chrono::Duration::hours(23)).to_rfc3339());
    body["payment_url"] = json!(LINK);
    body["max_tickets_per_order"] = json!(4);
    let event = s.call(Method::POST, "/api/v1/events", org, Some(body)).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let status = json!({"status": "published"});
    s.call(Method::POST, &format!("/api/v1/events/{event}/status"), org, Some(status)).await.ok(StatusCode::OK);
    let t = json!({"name": "Fosse", "price_minor": 4500, "currency": "EUR", "quota": quota, "usage_limit": 1});
    let t = s.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), org, Some(t)).await;
    let ticket_type = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let g = json!({"name": "Nord", "agents": [agent_id]});
    let g = s.call(Method::POST, &format!("/api/v1/events/{event}/gates"), org, Some(g)).await;
    let gate = g.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let duty = json!({"duty": "cashier"});
    s.call(Method::PUT, &format!("/api/v1/events/{event}/staff/{cashier_id}"), org, Some(duty))
        .await
        .ok(StatusCode::OK);
    Shop {
        cashier: s.token(&format!("cash-{name}@example.org"), PASSWORD).await,
        agent: s.token(&format!("gate-{name}@example.org"), PASSWORD).await,
        organizer,
        gate,
        event,
        ticket_type,
    }
}

fn order_body(shop: &Shop, quantity: u32) -> Value {
    json!({
        "lines": [{"ticket_type_id": shop.ticket_type, "quantity": quantity}],
        "buyer": {"name": "Zoé Lefèvre", "email": "zoé+jazz@example.org", "locale": "fr"}
    })
}

async fn place(s: &TestServer, shop: &Shop, quantity: u32) -> Value {
    let path = format!("/api/v1/public/events/{}/orders", shop.event);
    s.call(Method::POST, &path, None, Some(order_body(shop, quantity))).await.ok(StatusCode::CREATED).clone()
}

/// Posts `body` to a provider's webhook, signed with `secret` under `header` (none: unsigned).
pub(crate) async fn deliver(
    s: &Handle,
    provider: &str,
    signature: Option<(&str, &str)>,
    body: &[u8],
) -> crate::support::Answer {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/api/v1/payments/{provider}/webhook", s.addr))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some((name, secret)) = signature {
        request = request.header(name, sign(secret.as_bytes(), body, chrono::Utc::now()));
    }
    s.send(request.body(Full::new(Bytes::copy_from_slice(body))).expect("a request")).await
}

pub(crate) fn stripe_completed(event_id: &str, order: &Value) -> Vec<u8> {
    json!({
        "id": event_id,
        "type": "checkout.session.completed",
        "data": {"object": {
            "object": "checkout.session",
            "client_reference_id": order["id"],
            "amount_total": order["total_minor"],
            "currency": order["currency"].as_str().expect("currency").to_lowercase(),
            "payment_status": "paid",
            "payment_intent": format!("pi_{event_id}"),
        }}
    })
    .to_string()
    .into_bytes()
}

fn generic(event_id: &str, kind: &str, order: &Value, amount: i64) -> Vec<u8> {
    json!({"id": event_id, "type": kind, "order_id": order["id"], "amount_minor": amount, "currency": "EUR", "reference": "ref-1"})
        .to_string()
        .into_bytes()
}

async fn order_page(s: &TestServer, token: &str) -> Value {
    s.call(Method::GET, &format!("/api/v1/public/orders/{token}"), None, None).await.ok(StatusCode::OK).clone()
}

async fn a_buyer_pays_through_the_link_and_walks_in(s: &TestServer) {
    let shop = shop(s, "buy", 100).await;
    let placed = place(s, &shop, 2).await;
    let (order, token) = (&placed["order"], placed["order_token"].as_str().expect("token"));
    assert_eq!((order["status"].as_str(), order["total_minor"].as_i64()), (Some("pending"), Some(9000)));
    assert!(
        order["tickets"]
            .as_array()
            .expect("tickets")
            .iter()
            .all(|t| t["status"] == "reserved" && t["magic_link"].is_null())
    );
    let id = order["id"].as_str().expect("id");
    let return_url = format!("http://{}/orders/{token}", s.addr);
    let expected = format!(
        "https://pay.example.test/b/test_7sI?client_reference_id={id}&prefilled_email=zo%C3%A9%2Bjazz%40example.org&amount=90.00&currency=EUR&back={}",
        return_url.replace(':', "%3A").replace('/', "%2F")
    );
    assert_eq!(placed["payment_url"].as_str(), Some(expected.as_str()));

    let pay = s.call(Method::GET, &format!("/pay/{token}"), None, None).await;
    assert_eq!(pay.status, StatusCode::SEE_OTHER, "{}", pay.text);
    assert_eq!(pay.headers.get(header::LOCATION), Some(&HeaderValue::from_str(&expected).expect("a header")));

    let delivery =
        deliver(&s.handle(), "stripe", Some(("Stripe-Signature", STRIPE_SECRET)), &stripe_completed("evt_buy", order))
            .await;
    assert_eq!(delivery.ok(StatusCode::OK)["outcome"], "paid", "{}", delivery.text);
    let paid = order_page(s, token).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment"]["reference"], "pi_evt_buy");
    let gone = s.call(Method::GET, &format!("/pay/{token}"), None, None).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::CONFLICT, "order_paid"));

    let org = Some(shop.organizer.as_str());
    let jobs = s.call(Method::GET, &format!("/api/v1/jobs?event_id={}", shop.event), org, None).await;
    let kinds: Vec<&str> =
        jobs.ok(StatusCode::OK).as_array().expect("jobs").iter().filter_map(|j| j["kind"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "notify").count(),
        1,
        "a payment_succeeded notification is queued: {kinds:?}"
    );

    for ticket in paid["tickets"].as_array().expect("tickets") {
        assert_eq!(ticket["status"], "paid");
        let link = ticket["magic_link"]["token"].as_str().expect("a link once paid");
        let pdf = s.raw_bytes(Method::GET, &format!("/api/v1/public/tickets/{link}/pdf"), None).await;
        let page = s.call(Method::GET, &format!("/api/v1/public/tickets/{link}"), None, None).await;
        let qr = page.ok(StatusCode::OK)["qr_payload"].as_str().expect("qr").to_owned();
        assert_eq!(decode_pdf_qr(&pdf), qr, "the PDF's QR is the ticket's");
        let agent = Some(shop.agent.as_str());
        let verdict =
            s.call(Method::POST, "/api/v1/scan/request", agent, Some(json!({"gate_id": shop.gate, "qr": qr}))).await;
        let verdict = verdict.ok(StatusCode::OK);
        assert_eq!(verdict["reason"], "ok", "{verdict}");
        let confirm =
            json!({"gate_id": shop.gate, "scan_session_token": verdict["scan_session_token"], "direction": "in"});
        let entered = s.call(Method::POST, "/api/v1/scan/confirm", agent, Some(confirm)).await;
        assert_eq!(entered.ok(StatusCode::OK)["reason"], "ok");
    }
    let listed = s.call(Method::GET, &format!("/api/v1/payments/events?event_id={}", shop.event), org, None).await;
    assert_eq!(listed.ok(StatusCode::OK).as_array().map(Vec::len), Some(1));
    // A buyer whose name is a formula: the export defuses it.
    let mut sly = order_body(&shop, 1);
    sly["buyer"]["name"] = json!("=HYPERLINK(\"http://x\")");
    let path = format!("/api/v1/public/events/{}/orders", shop.event);
    s.call(Method::POST, &path, None, Some(sly)).await.ok(StatusCode::CREATED);
    let csv = s.call(Method::GET, &format!("/api/v1/events/{}/orders.csv", shop.event), org, None).await;
    assert_eq!(csv.status, StatusCode::OK);
    let rows: Vec<&str> = csv.text.lines().collect();
    assert!(rows[0].starts_with("order_id,status,channel,created_at,paid_at,method"), "{}", csv.text);
    assert_eq!(rows.len(), 3, "a header and two orders: {}", csv.text);
    assert!(rows[1].contains(",paid,online,") && rows[1].contains(",provider,stripe,pi_evt_buy,"), "{}", rows[1]);
    assert!(rows[2].contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{}", rows[2]);
    let metrics = s.call(Method::GET, "/metrics", None, None).await.text;
    assert!(metrics.contains("payment_webhooks_total{provider=\"stripe\",outcome=\"paid\"} 1"), "{metrics}");
}

crate::on_both_backends!(buyer_journey, &[], a_buyer_pays_through_the_link_and_walks_in);

async fn storms_sell_each_place_once(s: &TestServer) {
    let shop = Arc::new(shop(s, "storm", 100).await);
    let server = s.handle();
    let buyers: Vec<_> = (0..2000)
        .map(|_| {
            let (s, shop) = (server.clone(), shop.clone());
            tokio::spawn(async move {
                let path = format!("/api/v1/public/events/{}/orders", shop.event);
                let answer = s.call(Method::POST, &path, None, Some(order_body(&shop, 1))).await;
                (answer.status, answer.code().to_owned())
            })
        })
        .collect();
    let (mut placed, mut sold_out) = (0, 0);
    for buyer in buyers {
        match buyer.await.expect("a buyer") {
            (StatusCode::CREATED, _) => placed += 1,
            (StatusCode::CONFLICT, code) if code == "sold_out" => sold_out += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((placed, sold_out), (100, 1900));
    let org = Some(shop.organizer.as_str());
    let orders = s.call(Method::GET, &format!("/api/v1/events/{}/orders?per_page=500", shop.event), org, None).await;
    let orders = orders.ok(StatusCode::OK).as_array().expect("orders").clone();
    assert_eq!(orders.len(), 100);

    // Twenty deliveries of one webhook at once: paid once.
    let first = orders[0].clone();
    let body = Arc::new(generic("evt_storm", "payment.succeeded", &first, 4500));
    let deliveries: Vec<_> = (0..20)
        .map(|_| {
            let (s, body) = (server.clone(), body.clone());
            tokio::spawn(
                async move { deliver(&s, "generic", Some(("Ticketing-Signature", GENERIC_SECRET)), &body).await },
            )
        })
        .collect();
    let mut repeats = 0;
    for delivery in deliveries {
        let answer = delivery.await.expect("a delivery");
        let view = answer.ok(StatusCode::OK);
        assert_eq!(view["outcome"], "paid");
        repeats += usize::from(view["repeat"] == true);
    }
    assert_eq!(repeats, 19, "one delivery applied, nineteen repeats");
    let tickets = s.call(Method::GET, &format!("/api/v1/events/{}/tickets?status=paid", shop.event), org, None).await;
    assert_eq!(tickets.ok(StatusCode::OK).as_array().map(Vec::len), Some(1), "paid once");

    // Fifty box-office sales at once of a type with thirty places: thirty receipts, 1 to 30.
    let balcony = json!({"name": "Balcon", "price_minor": 6000, "currency": "EUR", "quota": 30, "usage_limit": 1});
    let balcony =
        s.call(Method::POST, &format!("/api/v1/events/{}/ticket-types", shop.event), org, Some(balcony)).await;
    let balcony = Arc::new(balcony.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned());
    let sales: Vec<_> = (0..50)
        .map(|_| {
            let (s, shop, balcony) = (server.clone(), shop.clone(), balcony.clone());
            tokio::spawn(async move {
                let body = json!({"lines": [{"ticket_type_id": *balcony, "quantity": 1}], "method": "cash"});
                let path = format!("/api/v1/events/{}/sales", shop.event);
                s.call(Method::POST, &path, Some(&shop.cashier), Some(body)).await
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for sale in sales {
        let answer = sale.await.expect("a sale");
        match answer.status {
            StatusCode::CREATED => {
                assert_eq!(answer.json["tickets"][0]["status"], "paid");
                assert!(answer.json["tickets"][0]["qr_payload"].is_string());
                receipts.push(answer.json["receipt"].as_u64().expect("a receipt"));
            }
            _ => assert_eq!((answer.status, answer.code()), (StatusCode::CONFLICT, "sold_out"), "{}", answer.text),
        }
    }
    receipts.sort_unstable();
    assert_eq!(receipts, (1..=30).collect::<Vec<u64>>(), "gap-free, one per place");
    // The day's cash report adds up to the rows: thirty cash sales at 60.00, all the cashier's.
    for token in [&shop.cashier, &shop.organizer] {
        let report =
            s.call(Method::GET, &format!("/api/v1/events/{}/cash-report", shop.event), Some(token), None).await;
        let report = report.ok(StatusCode::OK);
        assert_eq!(report["lines"].as_array().map(Vec::len), Some(1), "{report}");
        let line = &report["lines"][0];
        assert_eq!(
            (line["method"].as_str(), line["orders"].as_u64(), line["tickets"].as_u64()),
            (Some("cash"), Some(30), Some(30))
        );
        assert_eq!(
            (line["total_minor"].as_i64(), report["totals"]["EUR"].as_i64()),
            (Some(30 * 6000), Some(30 * 6000))
        );
    }
    let board = s.call(Method::GET, &format!("/api/v1/events/{}/dashboard", shop.event), org, None).await;
    let board = board.ok(StatusCode::OK);
    assert_eq!(board["revenue_by_channel"]["box_office"]["EUR"].as_i64(), Some(30 * 6000), "{board}");
    assert_eq!(board["revenue_by_channel"]["online"]["EUR"].as_i64(), Some(4500), "the one order paid: {board}");
    let paid = s
        .call(Method::GET, &format!("/api/v1/events/{}/tickets?ticket_type_id={}", shop.event, balcony), org, None)
        .await;
    assert_eq!(paid.ok(StatusCode::OK).as_array().map(Vec::len), Some(30), "no oversell");
}

crate::on_both_backends!(selling_storms, &[], storms_sell_each_place_once);

async fn holds_end_and_their_places_sell_again(s: &TestServer) {
    let shop = shop(s, "hold", 2).await;
    let first = place(s, &shop, 2).await;
    let path = format!("/api/v1/public/events/{}/orders", shop.event);
    let sold_out = s.call(Method::POST, &path, None, Some(order_body(&shop, 1))).await;
    assert_eq!((sold_out.status, sold_out.code()), (StatusCode::CONFLICT, "sold_out"));
    let token = first["order_token"].as_str().expect("token");
    // The hold is a second long: the reaper job (run by the server's workers) ends it.
    let mut status = String::new();
    for _ in 0..100 {
        status = order_page(s, token).await["status"].as_str().unwrap_or_default().to_owned();
        if status == "expired" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "expired", "the hold ended and the reaper released the tickets");
    let page = order_page(s, token).await;
    assert!(page["tickets"].as_array().expect("tickets").iter().all(|t| t["status"] == "invalid"));
    let gone = s.call(Method::GET, &format!("/pay/{token}"), None, None).await;
    assert_eq!((gone.status, gone.code()), (StatusCode::CONFLICT, "order_expired"));
    let again = place(s, &shop, 2).await;
    assert_eq!(again["order"]["status"], "pending", "the places sell again");
    // The first order's payment arrives late, its places gone: kept, to be refunded, with an alert.
    let late = generic("evt_late", "payment.succeeded", &first["order"], 9000);
    let answer = deliver(&s.handle(), "generic", Some(("Ticketing-Signature", GENERIC_SECRET)), &late).await;
    assert_eq!(answer.ok(StatusCode::OK)["outcome"], "paid_unfulfilled");
    assert_eq!(order_page(s, token).await["status"], "paid_unfulfilled");
    let org = Some(shop.organizer.as_str());
    let audit = s.call(Method::GET, &format!("/api/v1/audit?event_id={}", shop.event), org, None).await;
    let actions: Vec<&str> =
        audit.ok(StatusCode::OK).as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"order.paid_unfulfilled"), "{actions:?}");
    let metrics = s.call(Method::GET, "/metrics", None, None).await.text;
    assert!(metrics.contains("holds_expired_total 1"), "{metrics}");
}

crate::on_both_backends!(holds_expire, &[("TICKETING_ORDER_HOLD_SECS", "1")], holds_end_and_their_places_sell_again);

async fn bad_webhooks_and_orders_change_nothing(s: &TestServer) {
    let shop = shop(s, "bad", 10).await;
    let placed = place(s, &shop, 1).await;
    let order = &placed["order"];
    let h = s.handle();
    let generic_signed = Some(("Ticketing-Signature", GENERIC_SECRET));
    let valid = generic("evt_ok", "payment.succeeded", order, 4500);
    let unsigned = deliver(&h, "generic", None, &valid).await;
    assert_eq!((unsigned.status, unsigned.code()), (StatusCode::BAD_REQUEST, "bad_signature"));
    let wrong = deliver(&h, "generic", Some(("Ticketing-Signature", "another secret entirely")), &valid).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::BAD_REQUEST, "bad_signature"));
    let old = chrono::Utc::now() - chrono::Duration::minutes(6);
    let stale = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/api/v1/payments/generic/webhook", s.addr))
        .header("Ticketing-Signature", sign(GENERIC_SECRET.as_bytes(), &valid, old))
        .body(Full::new(Bytes::from(valid.clone())))
        .expect("a request");
    let stale = s.send(stale).await;
    assert_eq!((stale.status, stale.code()), (StatusCode::BAD_REQUEST, "bad_signature"), "outside the tolerance");
    let cases: [(&[u8], &str); 4] = [
        (b"{not json", "body"),
        (br#"[1, 2]"#, "body"),
        (br#"{"id": "evt_x", "type": "payment.exploded", "order_id": "x"}"#, "type"),
        (br#"{"id": "evt_y", "type": "payment.succeeded", "order_id": "not-a-uuid", "amount_minor": 1, "currency": "EUR"}"#, "order_id"),
    ];
    for (body, field) in cases {
        let answer = deliver(&h, "generic", generic_signed, body).await;
        assert_eq!((answer.status, answer.code()), (StatusCode::BAD_REQUEST, "invalid_webhook"), "{}", answer.text);
        assert_eq!(answer.json["field"], field, "{}", answer.text);
    }
    // Past the webhook's own 256 KiB (under the server's 1 MiB body limit), and past the server's.
    for size in [300 << 10, 2 << 20] {
        let huge = vec![b' '; size];
        let answer = deliver(&h, "generic", generic_signed, &huge).await;
        assert_eq!((answer.status, answer.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"), "{size}");
    }
    let nobody = json!({"id": "0193a1b2-0000-7000-8000-00000000beef", "total_minor": 4500, "currency": "EUR"});
    let unknown =
        deliver(&h, "generic", generic_signed, &generic("evt_nobody", "payment.succeeded", &nobody, 4500)).await;
    assert_eq!(unknown.ok(StatusCode::OK)["outcome"], "unknown_order");
    let other = br#"{"id": "evt_c", "type": "customer.created", "data": {"object": {}}}"#;
    let ignored = deliver(&h, "stripe", Some(("Stripe-Signature", STRIPE_SECRET)), other).await;
    assert_eq!(ignored.ok(StatusCode::OK)["outcome"], "ignored");
    let short = deliver(&h, "generic", generic_signed, &generic("evt_short", "payment.succeeded", order, 100)).await;
    assert_eq!(short.ok(StatusCode::OK)["outcome"], "payment_mismatch");
    let nowhere = deliver(&h, "paypal", generic_signed, &valid).await;
    assert_eq!((nowhere.status, nowhere.code()), (StatusCode::NOT_FOUND, "unknown_provider"));
    let token = placed["order_token"].as_str().expect("token");
    assert_eq!(order_page(s, token).await["status"], "pending", "nothing refused changed the order");
    let admin = s.admin().await;
    let listed =
        s.call(Method::GET, &format!("/api/v1/payments/events?event_id={}", shop.event), Some(&admin), None).await;
    let outcomes: Vec<&str> = listed
        .ok(StatusCode::OK)
        .as_array()
        .expect("deliveries")
        .iter()
        .filter_map(|d| d["outcome"].as_str())
        .collect();
    assert_eq!(outcomes, ["payment_mismatch"], "refused deliveries are not kept; the unknown order's has no event");

    let path = format!("/api/v1/public/events/{}/orders", shop.event);
    let ticket_type = shop.ticket_type.as_str();
    let bodies = [
        (
            json!({"lines": [], "buyer": {"name": "A", "email": "a@example.org"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines",
        ),
        (
            json!({"lines": [{"ticket_type_id": ticket_type, "quantity": 0}], "buyer": {"name": "A", "email": "a@example.org"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"ticket_type_id": ticket_type, "quantity": 5}], "buyer": {"name": "A", "email": "a@example.org"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines",
        ),
        (
            json!({"lines": [{"ticket_type_id": "0193a1b2-0000-7000-8000-000000000009", "quantity": 1}], "buyer": {"name": "A", "email": "a@example.org"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines[0].ticket_type_id",
        ),
        (
            json!({"lines": [{"ticket_type_id": ticket_type, "quantity": 1}], "buyer": {"name": "A", "email": "nope"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "buyer.email",
        ),
        (
            json!({"lines": [{"ticket_type_id": ticket_type, "quantity": 1}], "buyer": {"name": "A", "email": "a@example.org", "locale": "de"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "buyer.locale",
        ),
        (json!({"lines": [{"ticket_type_id": ticket_type, "quantity": 1}]}), StatusCode::UNPROCESSABLE_ENTITY, "buyer"),
    ];
    for (body, status, field) in bodies {
        let answer = s.call(Method::POST, &path, None, Some(body)).await;
        assert_eq!((answer.status, answer.json["field"].as_str()), (status, Some(field)), "{}", answer.text);
    }
    let too_many = s.call(Method::POST, &path, None, Some(order_body(&shop, 5))).await;
    assert_eq!(too_many.code(), "too_many");
    let mut keyed = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}{path}", s.addr))
        .header(header::CONTENT_TYPE, "application/json");
    keyed = keyed.header("Idempotency-Key", "k".repeat(300));
    let long_key =
        s.send(keyed.body(Full::new(Bytes::from(order_body(&shop, 1).to_string()))).expect("a request")).await;
    assert_eq!(long_key.json["field"], "Idempotency-Key", "{}", long_key.text);
    let org = Some(shop.organizer.as_str());
    let orders = s.call(Method::GET, &format!("/api/v1/events/{}/orders", shop.event), org, None).await;
    assert_eq!(orders.ok(StatusCode::OK).as_array().map(Vec::len), Some(1), "no refused order was written");

    // A retry with the same key answers the same order.
    let retry = || {
        Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}{path}", s.addr))
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", "checkout-42-0193a1b2-7d2a-4b1e")
            .body(Full::new(Bytes::from(order_body(&shop, 2).to_string())))
            .expect("a request")
    };
    let once = s.send(retry()).await;
    let twice = s.send(retry()).await;
    assert_eq!((once.status, twice.status), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(once.json["order"]["id"], twice.json["order"]["id"]);
    assert_eq!(once.json["order_token"], twice.json["order_token"]);
}

crate::on_both_backends!(malformed_selling, &[], bad_webhooks_and_orders_change_nothing);

async fn orders_are_limited_per_address(s: &TestServer) {
    let shop = shop(s, "limit", 100).await;
    let path = format!("/api/v1/public/events/{}/orders", shop.event);
    for _ in 0..3 {
        s.call(Method::POST, &path, None, Some(order_body(&shop, 1))).await.ok(StatusCode::CREATED);
    }
    let refused = s.call(Method::POST, &path, None, Some(order_body(&shop, 1))).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", refused.text);
    assert!(refused.headers.get(header::RETRY_AFTER).is_some());
}

crate::on_both_backends!(order_rate_limit, &[("TICKETING_RATE_ORDER_ADDRESS", "3")], orders_are_limited_per_address);

/// What the fake provider got: path, `Authorization`, `Idempotency-Key`, body.
type Seen = Arc<std::sync::Mutex<Vec<(String, String, String, String)>>>;

/// Stripe's refunds API as a local server plays it: it answers 503 once, then the refund; it
/// keeps every request it got.
struct FakeStripe {
    addr: std::net::SocketAddr,
    seen: Seen,
}

async fn fake_stripe() -> FakeStripe {
    use axum::extract::State as AxumState;
    use axum::http::HeaderMap as Headers;
    let seen: Seen = Arc::default();
    async fn refunds(AxumState(seen): AxumState<Seen>, headers: Headers, body: String) -> (StatusCode, String) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let mut seen = seen.lock().expect("a lock");
        seen.push(("/v1/refunds".into(), header("authorization"), header("idempotency-key"), body));
        if seen.len() == 1 {
            (StatusCode::SERVICE_UNAVAILABLE, r#"{"error":{"message":"try again"}}"#.into())
        } else {
            (StatusCode::OK, r#"{"id":"re_test_1","object":"refund","status":"succeeded"}"#.into())
        }
    }
    let app = axum::Router::new().route("/v1/refunds", axum::routing::post(refunds)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeStripe { addr, seen }
}

async fn refunds_go_back_through_the_provider(s: &TestServer, stripe: &FakeStripe) {
    let shop = shop(s, "refund", 10).await;
    let placed = place(s, &shop, 2).await;
    let (order, token) = (&placed["order"], placed["order_token"].as_str().expect("token"));
    let paid =
        deliver(&s.handle(), "stripe", Some(("Stripe-Signature", STRIPE_SECRET)), &stripe_completed("evt_r", order))
            .await;
    assert_eq!(paid.ok(StatusCode::OK)["outcome"], "paid");
    let tickets = order_page(s, token).await["tickets"].as_array().expect("tickets").clone();
    let first = tickets[0]["id"].as_str().expect("id").to_owned();
    let org = Some(shop.organizer.as_str());
    let id = order["id"].as_str().expect("id");
    let asked = s
        .call(
            Method::POST,
            &format!("/api/v1/orders/{id}/refund"),
            org,
            Some(json!({"ticket_ids": [first], "reason": "Cannot come"})),
        )
        .await;
    let refund = asked.ok(StatusCode::OK).clone();
    assert_eq!((refund["status"].as_str(), refund["amount_minor"].as_i64()), (Some("requested"), Some(4500)));
    // The refund job asks Stripe, is told to come back, and is paid on its second try.
    let mut status = String::new();
    for _ in 0..100 {
        let jobs = s.call(Method::GET, &format!("/api/v1/jobs?event_id={}", shop.event), org, None).await;
        let jobs = jobs.ok(StatusCode::OK).as_array().expect("jobs").clone();
        status = jobs
            .iter()
            .find(|j| j["kind"] == "refund_payment")
            .map(|j| j["status"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        if status == "succeeded" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "succeeded", "the refund job ended");
    let seen = stripe.seen.lock().expect("a lock").clone();
    assert_eq!(seen.len(), 2, "one failed try, one paid: {seen:?}");
    let key = format!("refund-{}", refund["id"].as_str().expect("id"));
    for (path, auth, idempotency, body) in &seen {
        assert_eq!((path.as_str(), auth.as_str(), idempotency), ("/v1/refunds", "Bearer sk_test_local_123", &key));
        assert!(body.starts_with("payment_intent=pi_evt_r&amount=4500&metadata%5Border_id%5D="), "{body}");
    }
    // Stripe then reports the refund we asked for: recorded, nothing changes twice.
    let reported = json!({"id": "evt_ch_r", "type": "charge.refunded", "data": {"object": {"payment_intent": "pi_evt_r", "amount_refunded": 4500, "currency": "eur"}}});
    let reported = reported.to_string().into_bytes();
    let answer = deliver(&s.handle(), "stripe", Some(("Stripe-Signature", STRIPE_SECRET)), &reported).await;
    assert_eq!(answer.ok(StatusCode::OK)["outcome"], "refunded");
    let page = order_page(s, token).await;
    assert_eq!(page["refunded_minor"].as_i64(), Some(4500));
    let statuses: Vec<&str> =
        page["tickets"].as_array().expect("tickets").iter().filter_map(|t| t["status"].as_str()).collect();
    assert_eq!(statuses, ["paid"], "the refunded ticket's link is revoked; the other stays paid");
    let again = s
        .call(
            Method::POST,
            &format!("/api/v1/orders/{id}/refund"),
            org,
            Some(json!({"ticket_ids": [tickets[0]["id"]]})),
        )
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "invalid_transition"), "{}", again.text);
    let alone = format!("/api/v1/tickets/{}/refund", tickets[1]["id"].as_str().expect("id"));
    let alone = s.call(Method::POST, &alone, org, None).await;
    assert_eq!(alone.status, StatusCode::CONFLICT, "a sold ticket is refunded through its order: {}", alone.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_through_a_local_stripe() {
    for backend in [crate::support::Backend::Sqlite, crate::support::Backend::PgRedis] {
        let stripe = fake_stripe().await;
        let base = format!("http://{}", stripe.addr);
        let settings = [
            ("TICKETING_STRIPE_API_KEY", "sk_test_local_123"),
            ("TICKETING_STRIPE_API_BASE", base.as_str()),
            ("TICKETING_JOB_RETRY_SECS", "1"),
        ];
        // Postgres+Redis runs when configured (CI requires it).
        let Some(s) = TestServer::start_with(backend, &settings).await else { continue };
        refunds_go_back_through_the_provider(&s, &stripe).await;
        s.stop().await;
    }
}

/// The generic provider's refund URL as a local server plays it: it checks the request's
/// signature with the shared secret (as the README tells providers to), answers 401 to a bad
/// one, and keeps what it got.
async fn fake_generic_provider() -> FakeStripe {
    use axum::extract::State as AxumState;
    use axum::http::HeaderMap as Headers;
    let seen: Seen = Arc::default();
    async fn refunds(AxumState(seen): AxumState<Seen>, headers: Headers, body: String) -> (StatusCode, String) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let secrets = [GENERIC_SECRET.as_bytes()];
        let signed = ticketing_core::webhook_signature::verify(
            &header("ticketing-signature"),
            body.as_bytes(),
            &secrets,
            chrono::Utc::now(),
            ticketing_core::webhook_signature::TOLERANCE,
        );
        let path = if signed.is_ok() { "/refunds" } else { "/refunds (bad signature)" };
        seen.lock().expect("a lock").push((
            path.into(),
            header("ticketing-signature"),
            header("idempotency-key"),
            body,
        ));
        match signed {
            Ok(_) => (StatusCode::OK, r#"{"id":"gen_refund_1"}"#.into()),
            Err(e) => (StatusCode::UNAUTHORIZED, e.to_string()),
        }
    }
    let app = axum::Router::new().route("/refunds", axum::routing::post(refunds)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    FakeStripe { addr, seen }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_through_a_local_generic_provider() {
    let provider = fake_generic_provider().await;
    let url = format!("http://{}/refunds", provider.addr);
    let settings = [("TICKETING_GENERIC_REFUND_URL", url.as_str()), ("TICKETING_JOB_RETRY_SECS", "1")];
    let s = TestServer::start_with(crate::support::Backend::Sqlite, &settings).await.expect("SQLite always runs");
    let shop = shop(&s, "generic-refund", 10).await;
    let placed = place(&s, &shop, 2).await;
    let order = &placed["order"];
    let paid = deliver(
        &s.handle(),
        "generic",
        Some(("Ticketing-Signature", GENERIC_SECRET)),
        &generic("evt_g", "payment.succeeded", order, 9000),
    )
    .await;
    assert_eq!(paid.ok(StatusCode::OK)["outcome"], "paid");
    let org = Some(shop.organizer.as_str());
    let id = order["id"].as_str().expect("id");
    let refund = s.call(Method::POST, &format!("/api/v1/orders/{id}/refund"), org, Some(json!({}))).await;
    let refund = refund.ok(StatusCode::OK).clone();
    assert_eq!((refund["amount_minor"].as_i64(), refund["provider"].as_str()), (Some(9000), Some("generic")));
    let trail = s.call(Method::GET, &format!("/api/v1/audit?event_id={}", shop.event), org, None).await;
    let trail = trail.ok(StatusCode::OK).clone();
    let (newest, paid) = (&trail[0], &trail[1]);
    assert_eq!(
        (newest["action"].as_str(), newest["target"].as_str()),
        (Some("order.refund"), Some(&*format!("order:{id}")))
    );
    assert!(newest["after"].as_str().expect("after").contains("\"amount_minor\":9000"), "{newest}");
    assert_eq!((paid["action"].as_str(), paid["actor_kind"].as_str()), (Some("order.paid"), Some("system")), "{paid}");
    for _ in 0..100 {
        if !provider.seen.lock().expect("a lock").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let seen = provider.seen.lock().expect("a lock").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let (path, _, key, body) = &seen[0];
    assert_eq!(path, "/refunds", "signed with the shared secret");
    assert_eq!(key, &format!("refund-{}", refund["id"].as_str().expect("id")));
    let body: Value = serde_json::from_str(body).expect("JSON");
    assert_eq!(
        (
            body["order_id"].as_str(),
            body["amount_minor"].as_i64(),
            body["currency"].as_str(),
            body["reference"].as_str()
        ),
        (Some(id), Some(9000), Some("EUR"), Some("ref-1"))
    );
    s.stop().await;
}
