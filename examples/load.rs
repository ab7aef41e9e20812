//! Load against a running `ticketing-server`: scan request+confirm pairs per second and public
//! event reads per second, each with p50 and p99 latency, the wall time of a generation job,
//! (with `zip=1`) the time to download every ticket's PDF in one ZIP, and (with `purchases=1`)
//! complete purchases per second: an order placed and its signed generic payment webhook applied,
//! through HTTP, then a count of the tickets sold against the places (zero oversell), and (with
//! `emails=N`) the time for N ticket emails with their PDF attached: N tickets issued over the
//! API to holders with an email, until every `ticket_created` notification has been sent.
//!
//! `URL` may list several instances of one fleet, comma-separated: the world is set up through the
//! first, and the scanning clients spread over all of them (client `i` scans through instance
//! `i mod n`).
//!
//! ```sh
//! cargo run --release -p ticketing-http --bin ticketing-server      # in one shell (prints the password)
//! cargo run --release --example load -- http://127.0.0.1:8080 admin@ticketing.local 'PASSWORD' \
//!     [tickets=10000] [concurrency=32] [seconds=10] [zip=0|1] [scan=1|0] [purchases=0|1] [emails=0]
//! ```
//!
//! Emails need the server's SMTP settings (`TICKETING_SMTP_URL`) and room to issue that many
//! (`TICKETING_RATE_GENERATION`); `scripts/bench-emails` runs it against a local SMTP server.
//!
//! Purchases sign their webhooks with `TICKETING_GENERIC_WEBHOOK_SECRETS` (the server's own), and
//! the server must let one address place that many orders (`TICKETING_RATE_ORDER_ADDRESS`,
//! `TICKETING_RATE_ORDER_EVENT`).
//!
//! It sets up its own world through the API (an event, a type, a gate, an agent), generates the
//! tickets as one job (timing it), then runs `concurrency` scanning clients, each confirming one
//! ticket after another (request by short code, then confirm `in`), and as many clients reading
//! the public event list, for `seconds` each.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

#[path = "support/api.rs"]
mod api;
use api::{Api, report};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base, email, password, rest @ ..] = args.as_slice() else {
        eprintln!("usage: load URL EMAIL PASSWORD [tickets=10000] [concurrency=32] [seconds=10] [zip=0|1]");
        std::process::exit(2);
    };
    let setting = |name: &str, default: u64| {
        rest.iter()
            .find_map(|a| a.strip_prefix(&format!("{name}=")).map(|v| v.parse().expect("a number")))
            .unwrap_or(default)
    };
    let (tickets, concurrency, seconds) =
        (setting("tickets", 10_000), setting("concurrency", 32), setting("seconds", 10));
    let http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build_http();
    let fleet: Vec<std::sync::Arc<Api>> = base
        .split(',')
        .map(|base| std::sync::Arc::new(Api { http: http.clone(), base: base.trim_end_matches('/').to_owned() }))
        .collect();
    let api = fleet[0].clone();
    let admin = api.token(email, password).await;
    if setting("scan", 1) == 1 {
        scans_and_reads(&fleet, &admin, tickets, concurrency, seconds, setting("zip", 0) == 1).await;
    }
    if setting("purchases", 0) == 1 {
        purchases(&api, &admin, concurrency, seconds).await;
    }
    if setting("emails", 0) > 0 {
        emails(&api, &admin, setting("emails", 0), concurrency).await;
    }
}

/// `n` tickets issued over the API to holders with an email, 100 a request from `concurrency`
/// clients, timed until every `ticket_created` notification has been sent.
async fn emails(api: &std::sync::Arc<Api>, admin: &str, n: u64, concurrency: u64) {
    let now = chrono::Utc::now();
    let run = std::process::id();
    let (_, type_id) = published_event(
        api,
        admin,
        json!({"title": format!("Mail {run}"), "starts_at": (now + chrono::Duration::days(7)).to_rfc3339(),
               "ends_at": (now + chrono::Duration::days(8)).to_rfc3339(), "time_zone": "Europe/Paris",
               "location": "Salle des fêtes", "capacity": n, "allow_reentry": true}),
        json!({"name": "Entrée", "price_minor": 1500, "currency": "EUR", "quota": n, "usage_limit": 1}),
    )
    .await;
    let path = format!("/api/v1/ticket-types/{type_id}/tickets");
    let sent_before = notify_succeeded(api, admin).await;
    let started = Instant::now();
    let batches: Vec<u64> = (0..n.div_ceil(100)).collect();
    let chunks: Vec<Vec<u64>> =
        batches.chunks(batches.len().div_ceil(concurrency as usize).max(1)).map(<[u64]>::to_vec).collect();
    let mut clients = Vec::new();
    for chunk in chunks {
        let (api, admin, path) = (api.clone(), admin.to_owned(), path.clone());
        clients.push(tokio::spawn(async move {
            for batch in chunk {
                let holders: Vec<Value> = (batch * 100..((batch + 1) * 100).min(n))
                    .map(|i| json!({"name": format!("Holder {i}"), "email": format!("holder-{i}@example.org")}))
                    .collect();
                api.json(Method::POST, &path, &admin, json!({"status": "paid", "holders": holders})).await;
            }
        }));
    }
    for client in clients {
        client.await.expect("a client");
    }
    let issued = started.elapsed().as_secs_f64();
    loop {
        let sent = notify_succeeded(api, admin).await - sent_before;
        if sent >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "emails: {n} ticket emails with the PDF attached, issued in {issued:.1} s, all sent in {secs:.1} s = {:.0} emails/s",
        n as f64 / secs
    );
}

/// An event made from `event`, published, with one ticket type made from `ticket_type`: their ids.
async fn published_event(api: &Api, admin: &str, event: Value, ticket_type: Value) -> (String, String) {
    let event = api.json(Method::POST, "/api/v1/events", admin, event).await;
    let event_id = event["id"].as_str().expect("id").to_owned();
    api.json(Method::POST, &format!("/api/v1/events/{event_id}/status"), admin, json!({"status": "published"})).await;
    let path = format!("/api/v1/events/{event_id}/ticket-types");
    let ticket_type = api.json(Method::POST, &path, admin, ticket_type).await;
    (event_id, ticket_type["id"].as_str().expect("id").to_owned())
}

/// Notification jobs that succeeded so far.
async fn notify_succeeded(api: &Api, admin: &str) -> u64 {
    let stats = api.get("/api/v1/queue/stats", Some(admin)).await;
    stats["kinds"]["notify"]["succeeded"].as_u64().unwrap_or(0)
}

/// Generation, (ZIP,) scan pairs and public reads.
async fn scans_and_reads(
    fleet: &[std::sync::Arc<Api>],
    admin: &str,
    tickets: u64,
    concurrency: u64,
    seconds: u64,
    zip: bool,
) {
    let (api, admin) = (&fleet[0], admin.to_owned());

    // The world: an agent, an event open now, a type, a gate.
    let run = format!("{}", std::process::id());
    let agent_email = format!("load-agent-{run}@example.org");
    let agent_password = "load test agent password";
    let agent = api
        .json(
            Method::POST,
            "/api/v1/users",
            &admin,
            json!({"email": agent_email, "name": "Load agent", "role": "agent", "password": agent_password}),
        )
        .await;
    let now = chrono::Utc::now();
    let (event_id, type_id) = published_event(
        api,
        &admin,
        json!({"title": format!("Load {run}"), "starts_at": (now - chrono::Duration::hours(1)).to_rfc3339(),
                   "ends_at": (now + chrono::Duration::hours(23)).to_rfc3339(), "time_zone": "Europe/Paris",
                   "location": "Load test hall", "capacity": tickets, "allow_reentry": true}),
        json!({"name": "Pass", "price_minor": 1000, "currency": "EUR", "quota": tickets, "usage_limit": 1000}),
    )
    .await;
    let (event_id, type_id) = (event_id.as_str(), type_id.as_str());
    let gate = api
        .json(
            Method::POST,
            &format!("/api/v1/events/{event_id}/gates"),
            &admin,
            json!({"name": "Main", "agents": [agent["id"]]}),
        )
        .await;
    let gate_id = gate["id"].as_str().expect("id").to_owned();

    // The generation job, timed from the request to the last chunk.
    let started = Instant::now();
    let job = api
        .json(
            Method::POST,
            &format!("/api/v1/ticket-types/{type_id}/generations"),
            &admin,
            json!({"count": tickets, "status": "paid"}),
        )
        .await;
    let job_id = job["id"].as_str().expect("id");
    loop {
        let job = api.get(&format!("/api/v1/jobs/{job_id}"), Some(&admin)).await;
        match job["status"].as_str() {
            Some("succeeded") => break,
            Some("failed" | "cancelled") => panic!("the job ended {job}"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    println!(
        "generation job: {tickets} tickets in {:.2} s (request to done, workers inside the server)",
        started.elapsed().as_secs_f64()
    );

    // With `zip=1`: every ticket's PDF in one streamed ZIP (the seed's full batch), timed.
    if zip {
        let started = Instant::now();
        let size = api.download(&format!("/api/v1/events/{event_id}/tickets.zip"), &admin).await;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "tickets.zip: {tickets} PDFs, {:.1} MB in {secs:.2} s = {:.0} tickets/s",
            size as f64 / 1e6,
            tickets as f64 / secs
        );
    }

    let mut codes = Vec::with_capacity(tickets as usize);
    for page in 1.. {
        let list = api.get(&format!("/api/v1/events/{event_id}/tickets?per_page=500&page={page}"), Some(&admin)).await;
        let items = list.as_array().expect("tickets");
        codes.extend(items.iter().map(|t| t["short_code"].as_str().expect("code").to_owned()));
        if items.len() < 500 {
            break;
        }
    }
    let agent_token = api.token(&agent_email, agent_password).await;

    // Scan pairs: each client takes the next ticket and lets it in (request, then confirm).
    let codes = std::sync::Arc::new(codes);
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut clients = Vec::new();
    for client in 0..concurrency {
        let api = fleet[client as usize % fleet.len()].clone();
        let (codes, next, token, gate) = (codes.clone(), next.clone(), agent_token.clone(), gate_id.clone());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(code) = codes.get(i % codes.len()) else { break };
                let t0 = Instant::now();
                let verdict = api
                    .json(Method::POST, "/api/v1/scan/request", &token, json!({"gate_id": gate, "short_code": code}))
                    .await;
                let Some(session) = verdict["scan_session_token"].as_str() else {
                    // A ticket already inside (the codes came round again): let it out instead.
                    continue;
                };
                let direction = if verdict["allowed"] == json!(["out"]) { "out" } else { "in" };
                let done = api
                    .json(
                        Method::POST,
                        "/api/v1/scan/confirm",
                        &token,
                        json!({"gate_id": gate, "scan_session_token": session, "direction": direction}),
                    )
                    .await;
                assert_eq!(done["reason"], "ok", "{done}");
                latencies.push(t0.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.expect("a client"));
    }
    report("scan pairs (request + confirm)", latencies, started.elapsed());

    // Public event reads.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let api = api.clone();
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                api.get("/api/v1/public/events?location=load", None).await;
                latencies.push(t0.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.expect("a client"));
    }
    report("public event list reads", latencies, started.elapsed());
}

/// Complete purchases: each client places a one-ticket order, then delivers its signed
/// `payment.succeeded` webhook, and counts the pair once the order is paid.
async fn purchases(api: &std::sync::Arc<Api>, admin: &str, concurrency: u64, seconds: u64) {
    let secret = std::env::var("TICKETING_GENERIC_WEBHOOK_SECRETS")
        .expect("TICKETING_GENERIC_WEBHOOK_SECRETS: the server's generic webhook secret, to sign deliveries");
    let secret = std::sync::Arc::new(secret.split(',').next().unwrap_or_default().to_owned());
    let now = chrono::Utc::now();
    let places: u64 = 1_000_000;
    let (event_id, type_id) = published_event(
        api,
        admin,
        json!({"title": format!("Sale {}", std::process::id()), "starts_at": (now + chrono::Duration::days(30)).to_rfc3339(),
               "ends_at": (now + chrono::Duration::days(31)).to_rfc3339(), "time_zone": "Europe/Paris",
               "location": "Load test hall", "capacity": places,
               "payment_url": "https://pay.example.test/checkout?ref={order_id}"}),
        json!({"name": "Fosse", "price_minor": 4500, "currency": "EUR", "quota": places, "usage_limit": 1}),
    )
    .await;
    let type_id = std::sync::Arc::new(type_id);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (api, event_id, type_id, secret) = (api.clone(), event_id.clone(), type_id.clone(), secret.clone());
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let body = json!({"lines": [{"ticket_type_id": *type_id, "quantity": 1}],
                                  "buyer": {"name": "Load buyer", "email": "buyer@example.org"}});
                let (status, placed) = api
                    .send(
                        Method::POST,
                        &format!("/api/v1/public/events/{event_id}/orders"),
                        None,
                        Some(("application/json", serde_json::to_vec(&body).expect("json"))),
                    )
                    .await;
                assert_eq!(status, 201, "{placed}");
                let order = &placed["order"];
                let delivery = json!({"id": format!("evt_{}", order["id"].as_str().expect("id")), "type": "payment.succeeded",
                                      "order_id": order["id"], "amount_minor": order["total_minor"], "currency": "EUR"});
                let delivery = serde_json::to_vec(&delivery).expect("json");
                let signature = ticketing::core::webhook_signature::sign(secret.as_bytes(), &delivery, chrono::Utc::now());
                let request = Request::builder()
                    .method(Method::POST)
                    .uri(format!("{}/api/v1/payments/generic/webhook", api.base))
                    .header(header::CONTENT_TYPE, "application/json")
                    .header("Ticketing-Signature", signature)
                    .body(Full::new(Bytes::from(delivery)))
                    .expect("a request");
                let response = api.http.request(request).await.expect("the server answers");
                let status = response.status().as_u16();
                let answer = response.into_body().collect().await.expect("a body").to_bytes();
                let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
                assert_eq!((status, answer["outcome"].as_str()), (200, Some("paid")), "{answer}");
                latencies.push(t0.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.expect("a client"));
    }
    let bought = latencies.len();
    report("purchases (order placed + signed webhook applied)", latencies, started.elapsed());
    let mut paid = 0;
    for page in 1.. {
        let path = format!("/api/v1/events/{event_id}/tickets?status=paid&per_page=500&page={page}");
        let n = api.get(&path, Some(admin)).await.as_array().expect("tickets").len();
        paid += n;
        if n < 500 {
            break;
        }
    }
    assert_eq!(paid, bought, "every purchase paid exactly its one ticket");
    println!("purchases: {bought} orders paid, {paid} tickets paid, none over the quota");
}
