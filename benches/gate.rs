//! A gate's scan pair (request, then confirm in or out) through the whole server but the socket:
//! the router, its layers (request id, tracing, rate limits, authentication), the handlers, JSON
//! and the store, on a SQLite file (so on its lanes) as `ticketing-server` runs by default. The
//! HTTP figure with sockets and a client is `examples/load.rs`'s (BENCHMARKS.md); this one is
//! the guard `cargo bench` shows a regression with.
//!
//! ```sh
//! cargo bench --bench gate
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, header};
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use ticketing::chrono::{Duration, Utc};
use ticketing::http::{Config, Server};
use tower::ServiceExt as _;

const PASSWORD: &str = "bench password long enough";
const TICKETS: usize = 500;

/// One request through the router; the status and the JSON answer.
async fn call(router: &axum::Router, method: Method, path: &str, token: Option<&str>, body: Body, kind: &str) -> Value {
    let mut request = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, kind);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(body).expect("a request");
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
    let response = router.clone().oneshot(request).await.expect("the router answers");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("the body").to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {value}");
    value
}

async fn json(router: &axum::Router, method: Method, path: &str, token: &str, body: Value) -> Value {
    call(router, method, path, Some(token), Body::from(body.to_string()), "application/json").await
}

async fn token(router: &axum::Router, email: &str, password: &str) -> String {
    let form = format!("grant_type=password&username={email}&password={}", password.replace(' ', "+"));
    let answer =
        call(router, Method::POST, "/oauth/token", None, Body::from(form), "application/x-www-form-urlencoded").await;
    answer["access_token"].as_str().expect("a token").to_owned()
}

/// The server on a fresh SQLite folder, an open event with a gate and `TICKETS` tickets, and the
/// gate's agent signed in.
struct Gate {
    router: axum::Router,
    agent: String,
    gate: String,
    codes: Vec<String>,
    _dir: TempDir,
}

/// A folder removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn gate() -> Gate {
    let dir = TempDir(std::env::temp_dir().join(format!("ticketing-bench-gate-{}", std::process::id())));
    let vars: BTreeMap<String, String> = [
        ("TICKETING_DATA_DIR", dir.0.to_str().expect("a UTF-8 path")),
        ("TICKETING_LISTEN", "127.0.0.1:0"),
        ("TICKETING_LOG_LEVEL", "warn"),
        ("TICKETING_SUPERADMIN_PASSWORD", PASSWORD),
        ("TICKETING_WORKERS", "0"),
        ("TICKETING_RATE_GENERATION", "1000000"),
        ("TICKETING_RATE_SCAN_AGENT", "1000000"),
        ("TICKETING_RATE_SCAN_GATE", "1000000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let server = Server::start(Config::from_vars(vars).expect("settings")).await.expect("the server starts");
    let router = server.router();
    let admin = token(&router, "admin@ticketing.local", PASSWORD).await;
    let agent_email = "bench-agent@example.org";
    let agent = json(
        &router,
        Method::POST,
        "/api/v1/users",
        &admin,
        json!({"email": agent_email, "name": "Bench agent", "role": "agent", "password": PASSWORD}),
    )
    .await;
    let now = Utc::now();
    let event = json(
        &router,
        Method::POST,
        "/api/v1/events",
        &admin,
        json!({"title": "Bench", "starts_at": (now - Duration::hours(1)).to_rfc3339(),
               "ends_at": (now + Duration::hours(23)).to_rfc3339(), "time_zone": "Europe/Paris",
               "location": "Bench hall", "capacity": TICKETS, "allow_reentry": true}),
    )
    .await;
    let event = event["id"].as_str().expect("id").to_owned();
    json(&router, Method::POST, &format!("/api/v1/events/{event}/status"), &admin, json!({"status": "published"}))
        .await;
    let ticket_type = json(
        &router,
        Method::POST,
        &format!("/api/v1/events/{event}/ticket-types"),
        &admin,
        json!({"name": "Pass", "price_minor": 1000, "currency": "EUR", "quota": TICKETS, "usage_limit": 1_000_000}),
    )
    .await;
    let gate = json(
        &router,
        Method::POST,
        &format!("/api/v1/events/{event}/gates"),
        &admin,
        json!({"name": "Main", "agents": [agent["id"]]}),
    )
    .await;
    let issue = format!("/api/v1/ticket-types/{}/tickets", ticket_type["id"].as_str().expect("id"));
    let mut codes = Vec::with_capacity(TICKETS);
    while codes.len() < TICKETS {
        // A hundred at a time: more is a generation job.
        let issued = json(&router, Method::POST, &issue, &admin, json!({"count": 100, "status": "paid"})).await;
        let issued = issued.as_array().expect("tickets").iter();
        codes.extend(issued.map(|t| t["short_code"].as_str().expect("a code").to_owned()));
    }
    let agent = token(&router, agent_email, PASSWORD).await;
    Gate { router, agent, gate: gate["id"].as_str().expect("id").to_owned(), codes, _dir: dir }
}

impl Gate {
    /// One pair: the request, then the confirmation the request allows (in, or out for a ticket
    /// inside).
    async fn pair(&self, code: &str) {
        let asked = json!({"gate_id": self.gate, "short_code": code});
        let verdict = json(&self.router, Method::POST, "/api/v1/scan/request", &self.agent, asked).await;
        let session = verdict["scan_session_token"].as_str().expect("a session");
        let direction = if verdict["allowed"] == json!(["out"]) { "out" } else { "in" };
        let confirm = json!({"gate_id": self.gate, "scan_session_token": session, "direction": direction});
        let done = json(&self.router, Method::POST, "/api/v1/scan/confirm", &self.agent, confirm).await;
        assert_eq!(done["reason"], "ok", "{done}");
    }
}

fn scan_pair(c: &mut Criterion) {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    let gate = runtime.block_on(gate());
    let mut next = 0;
    c.bench_function("gate/scan pair through the router (SQLite file)", |b| {
        b.iter(|| {
            next = (next + 1) % gate.codes.len();
            runtime.block_on(gate.pair(&gate.codes[next]));
        })
    });
}

criterion_group!(benches, scan_pair);
criterion_main!(benches);
