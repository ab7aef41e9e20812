//! Outbound webhooks against real HTTP servers on loopback (started here): every topic
//! delivered with the Standard Webhooks headers, each signature verified by an implementation
//! of our own and by `tests/tools/verify_webhook.py` (Python's standard library, with the
//! specification's test vector), a 503 retried under the same `webhook-id`, a 400 not retried,
//! an endpoint failing for longer than allowed disabled (and the organisers told), and URLs that
//! would reach private addresses refused.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use crate::notifications::paid_order;
use crate::selling::shop;
use crate::support::{Backend, TestServer};

/// A request an endpoint got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
}

/// Endpoints on loopback: `/ok` answers 503 once then 200, `/refuse` 400, `/down` 500; every
/// request is kept.
async fn receiver() -> (std::net::SocketAddr, Arc<Mutex<Vec<Got>>>) {
    type Shared = (Arc<Mutex<Vec<Got>>>, Arc<Mutex<bool>>);
    async fn answer(
        axum::extract::State((got, failed_once)): axum::extract::State<Shared>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        let path = uri.path().to_owned();
        got.lock().expect("a lock").push(Got { path: path.clone(), headers, body });
        match path.as_str() {
            "/ok" => {
                let mut failed = failed_once.lock().expect("a lock");
                if *failed {
                    StatusCode::OK
                } else {
                    *failed = true;
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
            "/refuse" => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let app = axum::Router::new().fallback(axum::routing::post(answer)).with_state((got.clone(), Arc::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, got)
}

/// Each case's signature checked by the Python verifier.
fn python_verifies(cases: &[Value]) -> Vec<bool> {
    let mut child = Command::new("/usr/bin/python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools/verify_webhook.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), Value::from(cases.to_vec()).to_string().as_bytes())
        .expect("the cases");
    let out = child.wait_with_output().expect("the verdicts");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_topic_is_delivered_signed_retried_on_5xx_and_a_failing_endpoint_is_disabled() {
    let (addr, got) = receiver().await;
    let settings = [
        ("TICKETING_WEBHOOK_ALLOW_HTTP_LOOPBACK", "true"),
        ("TICKETING_JOB_RETRY_SECS", "1"),
        ("TICKETING_WEBHOOK_DISABLE_AFTER_SECS", "2"),
    ];
    let s = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite always runs");
    let shop = shop(&s, "hooks", 10).await;
    let org = Some(shop.organizer.as_str());
    let path = format!("/api/v1/events/{}/webhooks", shop.event);

    for (url, events, field) in [
        ("https://10.0.0.1/in", json!(["order.paid"]), "url"),
        ("https://169.254.169.254/latest", json!(["order.paid"]), "url"),
        ("http://hooks.example.org/in", json!(["order.paid"]), "url"),
        (&*format!("http://{addr}/ok"), json!(["order.created"]), "events"),
        (&*format!("http://{addr}/ok"), json!([]), "events"),
    ] {
        let refused = s.call(Method::POST, &path, org, Some(json!({"url": url, "events": events}))).await;
        assert_eq!(
            (refused.status, refused.json["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{url}: {}",
            refused.text
        );
    }
    let all = json!(["ticket.created", "order.paid", "ticket.refunded", "ticket.scanned"]);
    let ok = s.call(Method::POST, &path, org, Some(json!({"url": format!("http://{addr}/ok"), "events": all}))).await;
    let ok = ok.ok(StatusCode::CREATED).clone();
    let secret = ok["secret"].as_str().expect("the secret, shown once").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let paid_only = json!(["order.paid"]);
    for tail in ["refuse", "down"] {
        let body = json!({"url": format!("http://{addr}/{tail}"), "events": paid_only});
        s.call(Method::POST, &path, org, Some(body)).await.ok(StatusCode::CREATED);
    }
    let listed = s.call(Method::GET, &path, org, None).await;
    let listed = listed.ok(StatusCode::OK).as_array().expect("a list").clone();
    assert_eq!(listed.len(), 3);
    let mut extra = vec![];
    for n in 0..8 {
        let body = json!({"url": format!("https://crm{n}.example.org/in"), "events": ["ticket.scanned"]});
        let answer = s.call(Method::POST, &path, org, Some(body)).await;
        if n < 7 {
            extra.push(answer.ok(StatusCode::CREATED)["endpoint"]["id"].as_str().expect("id").to_owned());
        } else {
            assert_eq!(answer.status, StatusCode::CONFLICT, "at most 10 endpoints an event: {}", answer.text);
        }
    }
    for id in extra {
        let gone = s.call(Method::DELETE, &format!("/api/v1/webhooks/{id}"), org, None).await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
    }
    assert!(listed.iter().all(|e| e.get("secret").is_none()), "secrets are never shown again");

    // A ticket issued, an order paid then refunded, the ticket scanned in.
    let tickets = format!("/api/v1/ticket-types/{}/tickets", shop.ticket_type);
    let issued =
        s.call(Method::POST, &tickets, org, Some(json!({"status": "paid", "holders": [{"name": "Ana"}]}))).await;
    let ticket = issued.ok(StatusCode::CREATED)[0].clone();
    let placed = paid_order(&s, &shop.event, &shop.ticket_type, "evt_hooks").await;
    let order_id = placed["order"]["id"].as_str().expect("an order id").to_owned();
    let refund = s.call(Method::POST, &format!("/api/v1/orders/{order_id}/refund"), org, Some(json!({}))).await;
    assert!(refund.status.is_success(), "{}", refund.text);
    let agent = Some(shop.agent.as_str());
    let request = json!({"gate_id": shop.gate, "short_code": ticket["short_code"]});
    let session = s.call(Method::POST, "/api/v1/scan/request", agent, Some(request)).await.ok(StatusCode::OK).clone();
    let confirm = json!({"gate_id": shop.gate, "scan_session_token": session["scan_session_token"], "direction": "in"});
    let entered = s.call(Method::POST, "/api/v1/scan/confirm", agent, Some(confirm)).await;
    assert_eq!(entered.ok(StatusCode::OK)["ok"], true);

    // `/ok` gets each message (the first twice: a 503, then the retry).
    let mut at_ok = vec![];
    for _ in 0..200 {
        at_ok = got.lock().expect("a lock").iter().filter(|g| g.path == "/ok").cloned().collect::<Vec<_>>();
        if at_ok.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let types: Vec<String> = at_ok
        .iter()
        .map(|g| serde_json::from_str::<Value>(&g.body).expect("JSON")["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut distinct = types.clone();
    distinct.sort();
    assert_eq!(
        distinct,
        ["order.paid", "ticket.created", "ticket.created", "ticket.refunded", "ticket.refunded", "ticket.scanned"],
        "the first delivery twice, then one each: {types:?}"
    );
    let first = at_ok.iter().skip(1).find(|g| g.header("webhook-id") == at_ok[0].header("webhook-id"));
    assert_eq!(first.map(|g| &g.body), Some(&at_ok[0].body), "a retry keeps its webhook-id and its body");
    let ids: std::collections::BTreeSet<String> = at_ok.iter().map(|g| g.header("webhook-id")).collect();
    assert_eq!(ids.len(), 5, "one id per message");
    for g in &at_ok {
        let body: Value = serde_json::from_str(&g.body).expect("JSON");
        assert_eq!(g.header("content-type"), "application/json");
        assert!(g.header("webhook-id").starts_with("msg_"));
        let timestamp: i64 = g.header("webhook-timestamp").parse().expect("seconds");
        assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
        let ours = ticketing_core::hook::Secret::parse(&secret).expect("a secret");
        assert_eq!(ours.sign(&g.header("webhook-id"), timestamp, g.body.as_bytes()), g.header("webhook-signature"));
        match body["type"].as_str() {
            Some("order.paid") => assert_eq!(body["data"]["order_id"], order_id.as_str()),
            Some("ticket.scanned") => {
                assert_eq!(
                    (body["data"]["ticket_id"].as_str(), body["data"]["direction"].as_str()),
                    (ticket["id"].as_str(), Some("in"))
                );
            }
            Some("ticket.created") => assert_eq!(body["data"]["short_code"], ticket["short_code"]),
            Some("ticket.refunded") => assert_eq!(body["data"]["order_id"], order_id.as_str()),
            other => panic!("{other:?}"),
        }
    }
    // Verified independently, with the specification's vector and a tampered body.
    let mut cases: Vec<Value> = at_ok
        .iter()
        .map(|g| {
            json!({"secret": secret, "id": g.header("webhook-id"), "timestamp": g.header("webhook-timestamp"),
                   "body": g.body, "signature": g.header("webhook-signature")})
        })
        .collect();
    cases.push(json!({"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "timestamp": "1614265330", "body": "{\"test\": 2432232314}",
        "signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}));
    let mut tampered = cases[0].clone();
    tampered["body"] = json!(format!("{} ", at_ok[0].body));
    cases.push(tampered);
    let mut expected = vec![true; at_ok.len() + 1];
    expected.push(false);
    assert_eq!(python_verifies(&cases), expected);

    // A 400 is final; a 500 is retried until the endpoint has failed for 2 s, then it is
    // disabled and the organisers told.
    let mut disabled = Value::Null;
    for _ in 0..300 {
        let listed = s.call(Method::GET, &path, org, None).await;
        let listed = listed.ok(StatusCode::OK).as_array().expect("a list").clone();
        if let Some(down) = listed.iter().find(|e| e["url"].as_str().is_some_and(|u| u.ends_with("/down")))
            && down["enabled"] == false
        {
            disabled = down.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(disabled["enabled"], false, "the failing endpoint is disabled");
    assert!(disabled["last_error"].as_str().is_some_and(|e| e.starts_with("HTTP 500")), "{disabled}");
    let requests = got.lock().expect("a lock").clone();
    let at = |tail: &str| requests.iter().filter(|g| g.path == tail).count();
    assert_eq!(at("/refuse"), 1, "a 400 is not retried");
    assert!(at("/down") >= 2, "a 500 is retried");
    let mut told = vec![];
    for _ in 0..100 {
        let log = s.call(Method::GET, &format!("/api/v1/events/{}/notifications", shop.event), org, None).await;
        told = log.ok(StatusCode::OK).as_array().expect("a list").clone();
        if told.iter().any(|m| m["kind"] == "endpoint_disabled") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(told.iter().any(|m| m["kind"] == "endpoint_disabled"), "the organisers are told: {told:?}");
    let enabled = s
        .call(Method::POST, &format!("/api/v1/webhooks/{}/enable", disabled["id"].as_str().expect("id")), org, None)
        .await;
    assert_eq!(
        (enabled.ok(StatusCode::OK)["enabled"].clone(), enabled.json["failing_since"].clone()),
        (json!(true), Value::Null)
    );
    let gone =
        s.call(Method::DELETE, &format!("/api/v1/webhooks/{}", disabled["id"].as_str().expect("id")), org, None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let listed = s.call(Method::GET, &path, org, None).await;
    assert_eq!(listed.ok(StatusCode::OK).as_array().map(Vec::len), Some(2));
    s.stop().await;
}
