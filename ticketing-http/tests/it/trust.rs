//! Trust at the gate and in the protocol, as users and attackers found it: QR texts that survive
//! any key id and a scanner's Enter, refusals that show nothing of another organiser's ticket,
//! nonces that replay only their own request, gates told within a second and a half that the
//! database is unreachable, kept-alive connections that survive an early refusal, scan limits
//! and bounded suspicious-activity rows, private files, a Redis key prefix, and the standards'
//! small print (RFC 6750 and 6749 challenges, 413 on forms, problems under `/docs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::support::{Backend, PASSWORD, PgProxy, TestServer, event_body};

/// An organizer's published event (doors open now) with a type, and a gate with an agent.
struct Stand {
    organizer: String,
    agent: String,
    gate: String,
    event: String,
    ticket_type: String,
}

async fn stand(s: &TestServer, admin: &str, name: &str) -> Stand {
    s.user(admin, &format!("org-{name}@example.org"), "organizer").await;
    let agent_id = s.user(admin, &format!("agent-{name}@example.org"), "agent").await;
    let organizer = s.token(&format!("org-{name}@example.org"), PASSWORD).await;
    let agent = s.token(&format!("agent-{name}@example.org"), PASSWORD).await;
    let org = Some(organizer.as_str());
    let mut body = event_body(&format!("Festival {name}"), 100);
    body["starts_at"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    body["ends_at"] = json!((chrono::Utc::now() + chrono::Duration::hours(23)).to_rfc3339());
    let event = s.call(Method::POST, "/api/v1/events", org, Some(body)).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let status = json!({"status": "published"});
    s.call(Method::POST, &format!("/api/v1/events/{event}/status"), org, Some(status)).await.ok(StatusCode::OK);
    let body = json!({"name": "Pass", "price_minor": 2500, "currency": "EUR", "quota": 50, "usage_limit": 3});
    let t = s.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), org, Some(body)).await;
    let ticket_type = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let body = json!({"name": "Main", "agents": [agent_id]});
    let g = s.call(Method::POST, &format!("/api/v1/events/{event}/gates"), org, Some(body)).await;
    let gate = g.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    Stand { organizer, agent, gate, event, ticket_type }
}

/// A paid ticket of `stand` held by `holder`: the issuing answer (id, short code, QR text…).
async fn paid(s: &TestServer, stand: &Stand, holder: &str) -> Value {
    let body = json!({"holders": [{"name": holder}], "status": "paid"});
    let path = format!("/api/v1/ticket-types/{}/tickets", stand.ticket_type);
    let issued = s.call(Method::POST, &path, Some(&stand.organizer), Some(body)).await;
    issued.ok(StatusCode::CREATED)[0].clone()
}

async fn scan(s: &TestServer, agent: &str, gate: &str, credential: Value) -> Value {
    let mut body = credential;
    body["gate_id"] = json!(gate);
    s.call(Method::POST, "/api/v1/scan/request", Some(agent), Some(body)).await.ok(StatusCode::OK).clone()
}

async fn confirm(s: &TestServer, stand: &Stand, token: &Value, nonce: &str) -> Value {
    let body = json!({"gate_id": stand.gate, "scan_session_token": token, "direction": "in", "nonce": nonce});
    s.call(Method::POST, "/api/v1/scan/confirm", Some(&stand.agent), Some(body)).await.ok(StatusCode::OK).clone()
}

/// Organizer A's ticket at organizer B's gate is a bare `wrong_event`: no holder, status or type,
/// and B's scan log and export name no ticket of A's. A nonce reused for another ticket is
/// refused (`nonce_reused`), never answered with the first ticket's entry.
async fn refusals_show_nothing_and_nonces_replay_only_their_request(s: &TestServer) {
    let admin = s.admin().await;
    let (a, b) = (stand(s, &admin, "a").await, stand(s, &admin, "b").await);
    let theirs = paid(s, &a, "Alice Confidentielle").await;
    for credential in [json!({"short_code": theirs["short_code"]}), json!({"qr": theirs["qr_payload"]})] {
        let verdict = scan(s, &b.agent, &b.gate, credential).await;
        assert_eq!((verdict["reason"].as_str(), &verdict["ticket"]), (Some("wrong_event"), &Value::Null), "{verdict}");
        assert!(!verdict.to_string().contains("Alice"), "{verdict}");
    }
    let path = format!("/api/v1/scan/logs?event_id={}", b.event);
    let logs = s.call(Method::GET, &path, Some(&b.organizer), None).await;
    assert!(logs.ok(StatusCode::OK).as_array().is_some_and(|l| l.len() == 2), "{}", logs.text);
    let id = theirs["id"].as_str().expect("id");
    assert!(!logs.text.contains(id), "B's log names none of A's tickets: {}", logs.text);
    let export = s.call(Method::GET, &format!("/api/v1/events/{}/scans.csv", b.event), Some(&b.organizer), None).await;
    assert!(export.status == StatusCode::OK && !export.text.contains(id), "{}", export.text);

    let (one, two) = (paid(s, &b, "Un").await, paid(s, &b, "Deux").await);
    let first = scan(s, &b.agent, &b.gate, json!({"short_code": one["short_code"]})).await;
    let entered = confirm(s, &b, &first["scan_session_token"], "counter-1").await;
    assert_eq!((entered["ok"].as_bool(), entered["replayed"].as_bool()), (Some(true), Some(false)), "{entered}");
    let second = scan(s, &b.agent, &b.gate, json!({"short_code": two["short_code"]})).await;
    let reused = confirm(s, &b, &second["scan_session_token"], "counter-1").await;
    assert_eq!(
        (reused["ok"].as_bool(), reused["reason"].as_str(), reused["replayed"].as_bool(), &reused["ticket_id"]),
        (Some(false), Some("nonce_reused"), Some(false), &Value::Null),
        "{reused}"
    );
    let two_now = s
        .call(Method::GET, &format!("/api/v1/tickets/{}", two["id"].as_str().expect("id")), Some(&b.organizer), None)
        .await;
    assert_eq!(two_now.json["status"], "paid", "ticket 2 did not enter");
    let fresh = confirm(s, &b, &second["scan_session_token"], "counter-2").await;
    assert_eq!((fresh["ok"].as_bool(), &fresh["ticket_id"]), (Some(true), &two["id"]), "{fresh}");
}

crate::on_both_backends!(refusals_and_nonces, &[], refusals_show_nothing_and_nonces_replay_only_their_request);

/// With key id 1234 every QR text starts with a space (a base45 symbol): it scans, as read by a
/// camera and as typed by a keyboard-wedge scanner ending in Enter.
async fn qr_texts_of_any_key_id_scan(s: &TestServer) {
    let admin = s.admin().await;
    let b = stand(s, &admin, "keys").await;
    for (n, suffix) in ["", "\r\n", "\n"].into_iter().enumerate() {
        let ticket = paid(s, &b, &format!("Holder {n}")).await;
        let qr = ticket["qr_payload"].as_str().expect("qr");
        assert!(qr.starts_with(' '), "key id 1234 gives a leading space: {qr:?}");
        let verdict = scan(s, &b.agent, &b.gate, json!({"qr": format!("{qr}{suffix}")})).await;
        assert_eq!(verdict["reason"], "ok", "{suffix:?}: {verdict}");
    }
}

const KEY_1234: &[(&str, &str)] =
    &[("TICKETING_QR_KEYS", "1234:current:5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a")];
crate::on_both_backends!(any_key_id, super::KEY_1234, qr_texts_of_any_key_id_scan);

/// Scan requests are limited per agent (here 5 a window) and per gate (here 8), with
/// `Retry-After`.
async fn scans_are_limited_per_agent_and_gate(s: &TestServer) {
    let admin = s.admin().await;
    let b = stand(s, &admin, "limit").await;
    for n in 0..5 {
        let verdict = scan(s, &b.agent, &b.gate, json!({"qr": format!("FORGED{n}")})).await;
        assert_eq!(verdict["reason"], "bad_signature");
    }
    let body = json!({"gate_id": b.gate, "qr": "FORGED"});
    let limited = s.call(Method::POST, "/api/v1/scan/request", Some(&b.agent), Some(body)).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", limited.text);
    assert!(limited.headers.contains_key("retry-after"));

    // The gate allows 8: an agent of another gate is refused (403) without using any of them, the
    // organizer's first 3 pass (5 + 3), the next is limited, and another gate is not.
    s.user(&admin, "agent-elsewhere@example.org", "agent").await;
    let stranger = s.token("agent-elsewhere@example.org", PASSWORD).await;
    // (Five: beyond that, the stranger's own agent limit answers first.)
    for _ in 0..5 {
        let body = json!({"gate_id": b.gate, "qr": "FORGED"});
        let refused = s.call(Method::POST, "/api/v1/scan/request", Some(&stranger), Some(body)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    }
    for _ in 0..3 {
        assert_eq!(scan(s, &b.organizer, &b.gate, json!({"qr": "FORGED"})).await["reason"], "bad_signature");
    }
    let body = json!({"gate_id": b.gate, "qr": "FORGED"});
    let full = s.call(Method::POST, "/api/v1/scan/request", Some(&b.organizer), Some(body)).await;
    assert_eq!((full.status, full.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"), "{}", full.text);
    let side = s
        .call(
            Method::POST,
            &format!("/api/v1/events/{}/gates", b.event),
            Some(&b.organizer),
            Some(json!({"name": "Side"})),
        )
        .await;
    let side = side.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    assert_eq!(
        scan(s, &b.organizer, &side, json!({"qr": "FORGED"})).await["reason"],
        "bad_signature",
        "another gate's allowance"
    );
}

const SCAN_LIMITS: &[(&str, &str)] = &[("TICKETING_RATE_SCAN_AGENT", "5"), ("TICKETING_RATE_SCAN_GATE", "8")];
crate::on_both_backends!(scan_limits, super::SCAN_LIMITS, scans_are_limited_per_agent_and_gate);

/// A flood of forged codes at one gate writes one `suspicious.bad_signatures` row a window, not
/// one per five codes.
async fn forged_code_floods_cost_rows_by_time(s: &TestServer) {
    let admin = s.admin().await;
    let b = stand(s, &admin, "flood").await;
    for n in 0..40 {
        let verdict = scan(s, &b.agent, &b.gate, json!({"qr": format!("FORGED{n}")})).await;
        assert_eq!(verdict["reason"], "bad_signature");
    }
    let trail = s.call(Method::GET, &format!("/api/v1/audit?event_id={}&limit=500", b.event), Some(&admin), None).await;
    let rows: Vec<&Value> =
        trail.json.as_array().expect("entries").iter().filter(|e| e["action"] == "suspicious.bad_signatures").collect();
    assert_eq!(rows.len(), 1, "one row per gate per window: {rows:?}");
}

crate::on_both_backends!(flood, &[], forged_code_floods_cost_rows_by_time);

/// With Postgres unreachable (connections hang, nothing answers), each scan step answers 503
/// within 1.5 s and nobody is admitted; once it is back, the ticket enters once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gates_learn_within_a_second_and_a_half_that_the_database_is_unreachable() {
    let Some(proxy) = PgProxy::start().await else { return };
    let url = proxy.url();
    let Some(s) = TestServer::start_with(Backend::PgRedis, &[("TICKETING_DATABASE_URL", &url)]).await else { return };
    let admin = s.admin().await;
    let b = stand(&s, &admin, "cut").await;
    let ticket = paid(&s, &b, "Patience").await;
    let session = scan(&s, &b.agent, &b.gate, json!({"short_code": ticket["short_code"]})).await;

    proxy.silence();
    let confirm_body = json!({"gate_id": b.gate, "scan_session_token": session["scan_session_token"], "direction": "in", "nonce": "n-1"});
    let request_body = json!({"gate_id": b.gate, "short_code": ticket["short_code"]});
    for (path, body) in [("/api/v1/scan/request", request_body), ("/api/v1/scan/confirm", confirm_body.clone())] {
        let started = Instant::now();
        let down = s.call(Method::POST, path, Some(&b.agent), Some(body)).await;
        let took = started.elapsed();
        assert_eq!(
            (down.status, down.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "{path}: {}",
            down.text
        );
        assert!(took < Duration::from_millis(1500), "{path} answered in {took:?}");
    }

    proxy.restore();
    let id = ticket["id"].as_str().expect("id");
    let mut state = Value::Null;
    for _ in 0..100 {
        let answer = s.call(Method::GET, &format!("/api/v1/tickets/{id}"), Some(&b.organizer), None).await;
        if answer.status == StatusCode::OK {
            state = answer.json;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state["status"], "paid", "nobody was admitted while the database was away: {state}");
    // The confirmation sent again with its nonce enters the ticket once (or, if its session was
    // spent as the step was dropped, a new scan does).
    let again = s.call(Method::POST, "/api/v1/scan/confirm", Some(&b.agent), Some(confirm_body)).await;
    if again.ok(StatusCode::OK)["ok"] != true {
        let fresh = scan(&s, &b.agent, &b.gate, json!({"short_code": ticket["short_code"]})).await;
        assert_eq!(confirm(&s, &b, &fresh["scan_session_token"], "n-2").await["ok"], true);
    }
    let after = s.call(Method::GET, &format!("/api/v1/tickets/{id}"), Some(&b.organizer), None).await;
    assert_eq!((after.json["status"].as_str(), after.json["entries_used"].as_u64()), (Some("inside"), Some(1)));
    s.stop().await;
}

/// One HTTP/1.1 answer read off `stream`: its status line, lower-cased headers and body.
async fn read_answer(stream: &mut TcpStream) -> (u16, BTreeMap<String, String>, Vec<u8>) {
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).await.expect("the answer's head");
        assert_eq!(n, 1, "the connection closed before the answer: {:?}", String::from_utf8_lossy(&buffer));
        buffer.push(byte[0]);
    }
    let head = String::from_utf8(buffer).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).expect("a status");
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).expect("a content length");
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.expect("the body");
    (status, headers, body)
}

/// A request refused before its body is read (401, 415) leaves the kept-alive connection usable
/// for the next request, 20 times over on one socket; a body that never comes gets the answer
/// with `Connection: close`.
async fn kept_alive_connections_survive_early_refusals(s: &TestServer) {
    let admin = s.admin().await;
    let mut stream = TcpStream::connect(s.addr).await.expect("a connection");
    let body = serde_json::to_vec(&event_body("Kept alive", 10)).expect("JSON");
    for round in 0..20 {
        let (auth, content_type, expected) = if round % 2 == 0 {
            ("Bearer not-a-real-token".to_owned(), "application/json", 401)
        } else {
            (format!("Bearer {admin}"), "text/plain", 415)
        };
        let head = format!(
            "POST /api/v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: {auth}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        stream.write_all(&body).await.expect("body");
        let (status, headers, _) = read_answer(&mut stream).await;
        assert_eq!(status, expected, "round {round}");
        assert_ne!(headers.get("connection").map(String::as_str), Some("close"), "round {round}: {headers:?}");
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n").await.expect("the next request");
        let (status, _, health) = read_answer(&mut stream).await;
        assert_eq!(status, 200, "round {round}: {}", String::from_utf8_lossy(&health));
    }
    // A client that waits for the answer before sending its body is told the connection closes.
    let mut stream = TcpStream::connect(s.addr).await.expect("a connection");
    let head = "POST /api/v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer nope\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(head.as_bytes()).await.expect("head");
    let (status, headers, _) = read_answer(&mut stream).await;
    assert_eq!((status, headers.get("connection").map(String::as_str)), (401, Some("close")), "{headers:?}");
}

crate::on_both_backends!(keep_alive, &[], kept_alive_connections_survive_early_refusals);

/// RFC 6750 §3: an unknown token's 401 says `error="invalid_token"` (a missing one does not);
/// RFC 6749 §5.2: a malformed Basic header is 401 `invalid_client` with a Basic challenge; forms
/// over the body limit are 413 problems; errors under `/docs` are problems too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standards_small_print() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite always runs");
    let unknown =
        s.call(Method::GET, "/api/v1/events", Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), None).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.headers["www-authenticate"], "Bearer realm=\"ticketing\", error=\"invalid_token\"");
    let malformed = s.call(Method::GET, "/api/v1/events", Some("not base64url!"), None).await;
    assert_eq!(malformed.headers["www-authenticate"], "Bearer realm=\"ticketing\", error=\"invalid_token\"");
    let missing = s.call(Method::GET, "/api/v1/events", None, None).await;
    assert_eq!(missing.headers["www-authenticate"], "Bearer realm=\"ticketing\"", "no token, no error");

    for header in ["Basic !!!not-base64", "Basic bm8tY29sb24", "Basic"] {
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri(format!("http://{}/oauth/token", s.addr))
            .header("authorization", header)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(http_body_util::Full::new(axum::body::Bytes::from_static(b"grant_type=client_credentials")))
            .expect("a request");
        let answer = s.send(request).await;
        assert_eq!(
            (answer.status, answer.json["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{header}: {}",
            answer.text
        );
        assert_eq!(answer.headers["www-authenticate"], "Basic realm=\"ticketing\"", "{header}");
    }

    let huge = format!("grant_type=password&username={}", "a".repeat(1 << 20));
    for path in ["/oauth/token", "/oauth/revoke"] {
        let answer = s
            .raw(Method::POST, path, None, Some(("application/x-www-form-urlencoded", huge.clone().into_bytes())))
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            "{path}: {}",
            answer.text
        );
        assert_eq!(answer.headers["content-type"], "application/problem+json");
    }

    for path in ["/docs/no-such-page", "/docs/no/such/page.js"] {
        let answer = s.call(Method::GET, path, None, None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(answer.headers["content-type"], "application/problem+json", "{path}: {}", answer.text);
    }
    s.stop().await;
}

/// A server started by `Server::start` from settings alone, as the binary does (the store opened
/// from its URL, in `dir`), with `settings` added; not serving.
async fn started_as_operators_do(dir: &std::path::Path, settings: &[(&str, &str)]) -> ticketing_http::Server {
    let mut vars: BTreeMap<String, String> = [
        ("TICKETING_LISTEN", "127.0.0.1:0"),
        ("TICKETING_SUPERADMIN_PASSWORD", crate::support::ADMIN_PASSWORD),
        ("TICKETING_WORKERS", "0"),
    ]
    .iter()
    .chain(settings)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    vars.insert("TICKETING_DATA_DIR".into(), dir.display().to_string());
    let config = ticketing_http::Config::from_vars(vars).expect("settings");
    ticketing_http::Server::start(config).await.expect("the server starts")
}

/// The data directory is the owner's alone (0700), and so are the database and its WAL and
/// shared-memory files (0600): they hold holders' names, emails and phones.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("http-tests")
        .join(format!("private-{}", std::process::id()))
        .join("data");
    let _ = std::fs::remove_dir_all(&dir);
    let server = started_as_operators_do(&dir, &[]).await;
    let mode = |name: &str| std::fs::metadata(dir.join(name)).expect(name).permissions().mode() & 0o777;
    assert_eq!(std::fs::metadata(&dir).expect("dir").permissions().mode() & 0o777, 0o700);
    for file in ["ticketing.db", "ticketing.db-wal", "ticketing.db-shm", "keys.toml", "link.key"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    drop(server);
}

/// `TICKETING_REDIS_PREFIX` puts every Redis key of this deployment under its own prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_keys_carry_the_configured_prefix() {
    let Some(redis) = ticketing_storage::testkit::servers::redis_url() else {
        assert_ne!(std::env::var("TICKETING_REQUIRE_SERVERS").as_deref(), Ok("1"), "REDIS_URL is required");
        eprintln!("skipped: REDIS_URL is not set");
        return;
    };
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("http-tests")
        .join(format!("prefix-{}", std::process::id()));
    let prefix = format!("deployment-{}:", std::process::id());
    let server =
        started_as_operators_do(&dir, &[("TICKETING_REDIS_URL", &redis), ("TICKETING_REDIS_PREFIX", &prefix)]).await;
    let store = server.handle().store().clone();
    assert!(store.try_lock("trial", "me", Duration::from_secs(30)).await.expect("Redis"));
    let keys = std::process::Command::new("redis-cli")
        .args(["-u", &redis, "--scan", "--pattern", &format!("{prefix}*")])
        .output()
        .expect("redis-cli (redis-tools) is installed");
    let keys = String::from_utf8_lossy(&keys.stdout).into_owned();
    assert_eq!(keys.trim(), format!("{prefix}lock:trial"), "{keys}");
    assert!(store.unlock("trial", "me").await.expect("Redis"));
    drop(server);
}

/// With an Ed25519 key current, tickets are signed with it and the event's scanners get its
/// public key (and the older key's, still verifying) from `/scanner-keys`: a scanner holding
/// only those verifies the QR text offline, and the server accepts it at the gate too. An agent
/// with no gate at the event is told of no such event; an HMAC key, a shared secret, is never
/// served.
#[tokio::test]
async fn an_ed25519_key_signs_and_scanners_get_its_public_key() {
    use ticketing_core::signing::{KeyMaterial, KeySetting, KeyState, Keyring};
    let old: KeySetting = format!("1:verify:{}", "0f".repeat(32)).parse().expect("an HMAC key");
    let new: KeySetting = format!("2:current:ed25519:{}", "5c".repeat(32)).parse().expect("an Ed25519 key");
    let keys = format!("{},{}", old.to_setting(), new.to_setting());
    let Some(s) = TestServer::start_with(Backend::Sqlite, &[("TICKETING_QR_KEYS", keys.as_str())]).await else {
        return;
    };
    let admin = s.admin().await;
    s.user(&admin, "ed@example.org", "organizer").await;
    let org = s.token("ed@example.org", PASSWORD).await;
    let agent = s.user(&admin, "gate@example.org", "agent").await;
    let agent_token = s.token("gate@example.org", PASSWORD).await;
    s.user(&admin, "elsewhere@example.org", "agent").await;
    let stranger = s.token("elsewhere@example.org", PASSWORD).await;
    let (event, kind) = crate::support::running_event(&s, &org, "Offline", 10, 1).await;
    let door = json!({"name": "Door", "agents": [agent]});
    let gate = s.call(Method::POST, &format!("/api/v1/events/{event}/gates"), Some(&org), Some(door)).await;
    let gate = gate.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let one = json!({"count": 1, "status": "paid"});
    let issued = s.call(Method::POST, &format!("/api/v1/ticket-types/{kind}/tickets"), Some(&org), Some(one)).await;
    let qr = issued.ok(StatusCode::CREATED)[0]["qr_payload"].as_str().expect("a QR text").to_owned();

    let answer = s.call(Method::GET, &format!("/api/v1/events/{event}/scanner-keys"), Some(&agent_token), None).await;
    let served = answer.ok(StatusCode::OK).clone();
    assert_eq!(served["signing_algorithm"], "ed25519", "{served}");
    assert_eq!(
        served["keys"],
        json!([{"id": 2, "algorithm": "ed25519", "public_key": hex::encode(new.public_key().expect("public")), "current": true}])
    );
    // A scanner that has only what was served verifies the ticket.
    let mut scanner = Keyring::new();
    for key in served["keys"].as_array().expect("keys") {
        let public: [u8; 32] =
            hex::decode(key["public_key"].as_str().expect("hex")).expect("hex").try_into().expect("32 bytes");
        let id = ticketing_core::signing::KeyId(u16::try_from(key["id"].as_u64().expect("an id")).expect("u16"));
        scanner = scanner.with_key(id, KeyState::VerifyOnly, KeyMaterial::Ed25519Public(public)).expect("a key");
    }
    let claims = scanner.verify_qr(&qr, chrono::Utc::now()).expect("verified offline");
    assert_eq!(claims.ticket.to_string(), issued.json[0]["short_code"].as_str().expect("a short code"));
    // The server accepts it at the gate as well.
    let verdict = s
        .call(Method::POST, "/api/v1/scan/request", Some(&agent_token), Some(json!({"gate_id": gate, "qr": qr})))
        .await;
    assert_eq!(verdict.ok(StatusCode::OK)["reason"], "ok");

    let elsewhere = s.call(Method::GET, &format!("/api/v1/events/{event}/scanner-keys"), Some(&stranger), None).await;
    assert_eq!((elsewhere.status, elsewhere.code()), (StatusCode::NOT_FOUND, "not_found"), "{}", elsewhere.text);
    let by_owner = s.call(Method::GET, &format!("/api/v1/events/{event}/scanner-keys"), Some(&org), None).await;
    assert_eq!(by_owner.ok(StatusCode::OK)["keys"], served["keys"]);
    // A template preview signs its sample ticket with the current key too: its QR verifies offline.
    let doc = crate::support::template_doc("Offline");
    let template = s.call(Method::POST, &format!("/api/v1/events/{event}/templates"), Some(&org), Some(doc)).await;
    let template = template.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let pdf = s.raw_bytes(Method::GET, &format!("/api/v1/templates/{template}/preview"), Some(&org)).await;
    let sample = crate::support::decode_pdf_qr(&pdf);
    assert!(scanner.verify_qr(&sample, chrono::Utc::now()).is_ok(), "the preview's QR: {sample:?}");
    s.stop().await;

    // HMAC only: nothing to serve, and the scanners are told to scan online.
    let Some(s) = TestServer::start(Backend::Sqlite).await else { return };
    let admin = s.admin().await;
    let (event, _) = crate::support::running_event(&s, &admin, "Online", 10, 1).await;
    let answer = s.call(Method::GET, &format!("/api/v1/events/{event}/scanner-keys"), Some(&admin), None).await;
    assert_eq!(
        answer.ok(StatusCode::OK).clone(),
        json!({"event_id": event, "signing_algorithm": "hmac-sha256", "keys": []})
    );
    s.stop().await;
}
