//! Operations: health, metrics by route template, the public list's filters and paging, the
//! audit trail with before/after, and the OpenAPI document.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Backend, PASSWORD, PrivateRedis, TestServer, event_body};

async fn health_metrics_listing_and_audit(s: &TestServer) {
    let health = s.call(Method::GET, "/health", None, None).await;
    assert_eq!((health.status, health.json["status"].as_str()), (StatusCode::OK, Some("ok")), "{}", health.text);
    for component in ["database", "queue", "renderer"] {
        assert_eq!(health.json[component]["status"], "up", "{component}");
    }
    let redis = health.json["redis"]["status"].as_str().expect("redis status");
    assert!(redis == "up" || redis == "not_configured", "{redis}");
    let ready = s.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!((ready.status, ready.json["status"].as_str()), (StatusCode::OK, Some("ready")), "{}", ready.text);
    assert_eq!(
        (ready.json["database"]["status"].as_str(), ready.json["redis"]["status"].as_str()),
        (Some("up"), Some(redis))
    );
    let live = s.call(Method::GET, "/health/live", None, None).await;
    assert_eq!((live.status, live.text.as_str()), (StatusCode::OK, r#"{"status":"alive"}"#));

    let admin = s.admin().await;
    let token = Some(admin.as_str());
    let organizer = s.user(&admin, "org@example.org", "organizer").await;
    let org = s.token("org@example.org", PASSWORD).await;
    let mut ids = Vec::new();
    for (i, place) in ["Lyon", "Paris", "Lyon Sud", "Marseille", "Lille"].iter().enumerate() {
        let mut body = event_body(&format!("Show {i}"), 10);
        body["location"] = json!(place);
        let start = chrono::Utc::now() + chrono::Duration::days(30 + i as i64);
        body["starts_at"] = json!(start.to_rfc3339());
        body["ends_at"] = json!((start + chrono::Duration::hours(2)).to_rfc3339());
        let event = s.call(Method::POST, "/api/v1/events", Some(&org), Some(body)).await;
        let id = event.json["id"].as_str().expect("id").to_owned();
        if i < 4 {
            s.call(
                Method::POST,
                &format!("/api/v1/events/{id}/status"),
                Some(&org),
                Some(json!({"status": "published"})),
            )
            .await;
        }
        ids.push(id);
    }
    let page = |query: &str| {
        let path = format!("/api/v1/public/events{query}");
        async move {
            let answer = s.call(Method::GET, &path, None, None).await;
            assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
            answer.json
        }
    };
    let titles = |json: &serde_json::Value| -> Vec<String> {
        json["items"].as_array().expect("items").iter().map(|e| e["title"].as_str().expect("t").to_owned()).collect()
    };
    assert_eq!(titles(&page("").await), ["Show 0", "Show 1", "Show 2", "Show 3"], "published only, by start");
    assert_eq!(titles(&page("?location=lyon").await), ["Show 0", "Show 2"]);
    let second = page("?per_page=3&page=2").await;
    assert_eq!((titles(&second), second["has_more"].as_bool()), (vec!["Show 3".to_owned()], Some(false)));
    assert_eq!(page("?per_page=3").await["has_more"], true);
    let from = (chrono::Utc::now() + chrono::Duration::days(31) + chrono::Duration::hours(1)).to_rfc3339();
    assert_eq!(titles(&page(&format!("?from={}", from.replace('+', "%2B"))).await), ["Show 2", "Show 3"]);
    s.call(
        Method::POST,
        &format!("/api/v1/events/{}/status", ids[3]),
        Some(&org),
        Some(json!({"status": "cancelled"})),
    )
    .await;
    assert_eq!(titles(&page("?status=cancelled").await), ["Show 3"]);

    // The audit trail: who, what, before and after; an organizer reads their event's.
    let renamed = event_body("Show 0, renamed", 12);
    let mut renamed = renamed;
    renamed["location"] = json!("Lyon");
    let changed = s.call(Method::PUT, &format!("/api/v1/events/{}", ids[0]), Some(&org), Some(renamed)).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let trail = s.call(Method::GET, &format!("/api/v1/audit?event_id={}", ids[0]), Some(&org), None).await;
    let entries = trail.json.as_array().expect("entries");
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().expect("action")).collect();
    assert_eq!(actions, ["event.update", "event.status", "event.create"], "newest first");
    let update = &entries[0];
    assert_eq!((update["actor_kind"].as_str(), update["actor_id"].as_str()), (Some("user"), Some(organizer.as_str())));
    assert!(update["before"].as_str().expect("before").contains("\"capacity\":10"));
    assert!(update["after"].as_str().expect("after").contains("Show 0, renamed"));
    let all = s.call(Method::GET, "/api/v1/audit?limit=500", token, None).await;
    assert!(all.json.as_array().expect("entries").iter().any(|e| e["action"] == "user.create"), "users' changes too");

    // Metrics: per route template, never per raw path.
    let metrics = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.headers["content-type"], "text/plain; version=0.0.4");
    assert!(metrics.text.contains("route=\"/api/v1/events/{id}/status\",status=\"200\""), "{}", metrics.text);
    assert!(!metrics.text.contains(&ids[0]), "no raw ids in labels");
    for family in [
        "tickets_generated_total",
        "ticket_generation_duration_seconds",
        "generation_queue_size",
        "generation_errors_total",
    ] {
        assert!(metrics.text.contains(&format!("# TYPE {family} ")), "{family}");
    }
}

crate::on_both_backends!(operations, &[], health_metrics_listing_and_audit);

/// Every operation in the document is served (none answers `route_not_found` or
/// `method_not_allowed`), and `/docs` is served from the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served_and_docs_load() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite");
    let admin = s.admin().await;
    let spec = s.call(Method::GET, "/openapi.json", None, None).await.json;
    assert_eq!(spec["openapi"], "3.1.0");
    let paths = spec["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{}", paths.len());
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|p| if p.starts_with('{') { "00000000-0000-0000-0000-000000000000" } else { p })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().expect("operations").keys() {
            let method: Method = method.to_uppercase().parse().expect("a method");
            let answer = s.call(method.clone(), &concrete, Some(&admin), None).await;
            assert!(
                !matches!(answer.code(), "route_not_found" | "method_not_allowed"),
                "{method} {path} is documented but not served: {}",
                answer.text
            );
            assert_ne!(answer.status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path}: {}", answer.text);
        }
    }
    let docs = s.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(docs.status, StatusCode::OK);
    assert!(docs.text.contains("swagger-ui"), "{}", &docs.text[..docs.text.len().min(300)]);
    s.stop().await;
}

/// Health turns 503 when Redis goes away, and back to 200 when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_while_redis_is_down() {
    let Some(redis) = PrivateRedis::start() else { return };
    let url = redis.url();
    let Some(s) = TestServer::start_with(Backend::PgRedis, &[("TICKETING_REDIS_URL", &url)]).await else { return };
    assert_eq!(s.call(Method::GET, "/health", None, None).await.json["redis"]["status"], "up");
    let redis = redis.stop();
    let down = s.call(Method::GET, "/health", None, None).await;
    assert_eq!(
        (down.status, down.json["status"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("degraded")),
        "{}",
        down.text
    );
    assert_eq!(down.json["redis"]["status"], "down");
    assert_eq!(down.json["database"]["status"], "up");
    let _redis = redis.restart();
    let mut back = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        back = s.call(Method::GET, "/health", None, None).await.status;
        if back == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(back, StatusCode::OK, "healthy again once Redis is back");
    s.stop().await;
}

async fn issuing_jobs_and_downloads_are_rate_limited(s: &TestServer) {
    let admin = s.admin().await;
    let token = Some(admin.as_str());
    let event = s.call(Method::POST, "/api/v1/events", token, Some(event_body("Limited", 100))).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let t = s
        .call(
            Method::POST,
            &format!("/api/v1/events/{event}/ticket-types"),
            token,
            Some(crate::support::type_body("A", 50)),
        )
        .await;
    let type_id = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let issue = format!("/api/v1/ticket-types/{type_id}/tickets");
    let first = s.call(Method::POST, &issue, token, Some(json!({"count": 1}))).await;
    let link = first.ok(StatusCode::CREATED)[0]["magic_link"]["token"].as_str().expect("token").to_owned();
    s.call(Method::POST, &issue, token, Some(json!({"count": 1}))).await.ok(StatusCode::CREATED);
    let limited = s.call(Method::POST, &issue, token, Some(json!({"count": 1}))).await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    assert!(limited.headers.contains_key("retry-after"));
    let jobs = format!("/api/v1/ticket-types/{type_id}/generations");
    s.call(Method::POST, &jobs, token, Some(json!({"count": 1}))).await.ok(StatusCode::ACCEPTED);
    assert_eq!(
        s.call(Method::POST, &jobs, token, Some(json!({"count": 1}))).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let page = format!("/api/v1/public/tickets/{link}");
    s.call(Method::GET, &page, None, None).await.ok(StatusCode::OK);
    s.call(Method::GET, &format!("{page}/qr.svg"), None, None).await.ok(StatusCode::OK);
    assert_eq!(s.call(Method::GET, &format!("{page}/pdf"), None, None).await.status, StatusCode::TOO_MANY_REQUESTS);
}

crate::on_both_backends!(
    ticket_limits,
    &[("TICKETING_RATE_GENERATION", "2"), ("TICKETING_RATE_BATCH", "1"), ("TICKETING_RATE_DOWNLOAD", "2")],
    issuing_jobs_and_downloads_are_rate_limited
);

/// `ticketing-server` run with `args` and the `TICKETING_*` settings `vars` only: its exit code,
/// standard output and standard error.
fn server_command(args: &[&str], vars: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ticketing-server"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TICKETING_")) {
        command.env_remove(key);
    }
    let out = command.args(args).envs(vars.iter().copied()).output().expect("the server's binary runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh folder for a command's data directory (removed if left by an earlier run), and the
/// settings that put its data and SQLite database there.
fn command_folder(name: &str) -> (std::path::PathBuf, String, String) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let database = format!("sqlite://{}/ticketing.db", dir.display());
    let data_dir = dir.display().to_string();
    (dir, data_dir, database)
}

/// The operations subcommands: `check-config` prints the effective settings with the secrets
/// hidden, and refuses a bad one by its name (exit 2); `migrate` migrates the database and exits.
#[test]
fn the_server_checks_its_settings_and_migrates_its_database() {
    let (dir, data_dir, database) = command_folder("ops-command");
    let settings = [
        ("TICKETING_DATA_DIR", data_dir.as_str()),
        ("TICKETING_DATABASE_URL", database.as_str()),
        ("TICKETING_SUPERADMIN_PASSWORD", "a secret nobody may print"),
        ("TICKETING_TRUSTED_PROXIES", "10.0.0.0/8"),
    ];
    let (code, out, err) = server_command(&["check-config"], &settings);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("listen: 127.0.0.1:8080") && out.contains("10.0.0.0/8"), "{out}");
    assert!(out.ends_with("the settings are valid\n"), "{out}");
    assert!(!out.contains("a secret nobody may print") && !out.contains("sqlite://"), "secrets hidden: {out}");
    assert!(!dir.exists(), "checking changes nothing");

    let (code, _, err) = server_command(&["check-config"], &[("TICKETING_RATE_BATCH", "0")]);
    assert_eq!(code, Some(2));
    assert!(err.contains("`rate_batch` (TICKETING_RATE_BATCH)"), "{err}");

    let (code, out, err) = server_command(&["migrate"], &settings);
    assert_eq!((code, out.as_str()), (Some(0), "the database is migrated\n"), "{err}");
    assert!(dir.join("ticketing.db").exists());
    let (code, _, _) = server_command(&["migrate"], &settings);
    assert_eq!(code, Some(0), "migrating again changes nothing");

    let (code, _, err) = server_command(&["unknown-command"], &settings);
    assert_eq!(code, Some(2), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `seed` migrates and makes the first superadmin once (a generated password printed once,
/// nothing changed the second time); `keys rotate` stages a new QR key, then makes it current,
/// keeping the old one for verifying; keys given in `TICKETING_QR_KEYS` are printed as the value
/// to set.
#[test]
fn the_server_seeds_its_database_and_rotates_its_keys() {
    let (dir, data_dir, database) = command_folder("ops-seed");
    let settings = [
        ("TICKETING_DATA_DIR", data_dir.as_str()),
        ("TICKETING_DATABASE_URL", database.as_str()),
        ("TICKETING_SUPERADMIN_EMAIL", "ops@example.org"),
    ];
    let (code, out, err) = server_command(&["seed"], &settings);
    assert_eq!(code, Some(0), "{err}");
    let password =
        out.strip_prefix("superadmin made: ops@example.org / ").and_then(|rest| rest.split_whitespace().next());
    assert!(password.is_some_and(|p| p.len() >= 12), "a generated password, shown once: {out}");
    let (code, out, err) = server_command(&["seed"], &settings);
    assert_eq!((code, out.as_str()), (Some(0), "the database is seeded already: nothing changed\n"), "{err}");
    assert!(!dir.join("keys.toml").exists(), "seeding makes no key");

    let (code, _, err) = server_command(&["keys", "rotate"], &settings);
    assert_eq!(code, Some(1));
    assert!(err.contains("start the server once"), "{err}");
    let first = format!("qr_keys = [\"1:current:{}\"]\n", "ab".repeat(32));
    std::fs::write(dir.join("keys.toml"), &first).expect("a first key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(dir.join("keys.toml"), private).expect("the key file made private");
    }
    let (code, out, err) = server_command(&["keys", "rotate", "--stage"], &settings);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("key 2 staged (verify-only)"), "{out}");
    let staged = std::fs::read_to_string(dir.join("keys.toml")).expect("the keys");
    assert!(
        staged.contains(&format!("\"1:current:{}\"", "ab".repeat(32))) && staged.contains("\"2:verify:"),
        "{staged}"
    );
    let (code, out, err) = server_command(&["keys", "rotate"], &settings);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("key 2 is current"), "{out}");
    let rotated = std::fs::read_to_string(dir.join("keys.toml")).expect("the keys");
    assert!(
        rotated.contains(&format!("\"1:verify:{}\"", "ab".repeat(32))) && rotated.contains("\"2:current:"),
        "{rotated}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("keys.toml")).expect("the keys").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the rewritten file keeps its mode");
    }

    let listed = format!("1:current:{}", "cd".repeat(32));
    let (code, out, err) = server_command(&["keys", "rotate"], &[("TICKETING_QR_KEYS", listed.as_str())]);
    assert_eq!(code, Some(0), "{err}");
    let line = out.lines().next().expect("the new setting");
    assert!(line.starts_with(&format!("TICKETING_QR_KEYS=1:verify:{},2:current:", "cd".repeat(32))), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A request's log lines all carry its id. The server runs as a process of its own with JSON
/// logs, behind a trusted proxy (the test): the proxy's `x-request-id` is the request's id, is
/// returned, and is on the request's every line (a refusal logged inside it, and its end), with
/// the route and the caller. With the storage's spans on (`ticketing_storage=debug`), the
/// refusal's line names the store call it came from, inside the request; a job's lines carry the
/// job's span (its id, kind and worker).
#[tokio::test]
async fn a_requests_log_lines_carry_its_id() {
    let (dir, data_dir, database) = command_folder("request-id");
    std::fs::create_dir_all(&dir).expect("a folder");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address").port();
    let log = dir.join("server.log");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ticketing-server"));
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("TICKETING_")) {
        command.env_remove(key);
    }
    let child = command
        .envs([
            ("TICKETING_DATA_DIR", data_dir.as_str()),
            ("TICKETING_DATABASE_URL", database.as_str()),
            ("TICKETING_LISTEN", &format!("127.0.0.1:{port}")),
            ("TICKETING_SUPERADMIN_EMAIL", crate::support::ADMIN),
            ("TICKETING_SUPERADMIN_PASSWORD", crate::support::ADMIN_PASSWORD),
            ("TICKETING_TRUSTED_PROXIES", "127.0.0.1/32"),
            ("TICKETING_LOG_FORMAT", "json"),
            ("TICKETING_LOG_LEVEL", "ticketing_storage=debug,info"),
        ])
        .stdout(std::fs::File::create(&log).expect("a log file"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the server binary");
    let _server = Killed(child);
    let h = crate::support::Handle::to(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(h.addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let admin = h.token(crate::support::ADMIN, crate::support::ADMIN_PASSWORD).await;
    let user = json!({"email": "twin@example.org", "name": "A", "role": "agent", "password": "long enough password"});
    h.call(Method::POST, "/api/v1/users", Some(&admin), Some(user.clone())).await.ok(StatusCode::CREATED);
    let id = "edge-7f3a:42";
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}/api/v1/users", h.addr))
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {admin}"))
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .header("x-request-id", id)
        .body(http_body_util::Full::new(axum::body::Bytes::from(user.to_string())))
        .expect("a request");
    let twin = h.send(request).await;
    assert_eq!(twin.status, StatusCode::CONFLICT, "{}", twin.text);
    assert_eq!(twin.headers["x-request-id"], id, "the proxy's id comes back");

    // The request's lines: the refusal logged inside it, and its end (written as it answers).
    let request_span = |line: &serde_json::Value| {
        line["spans"].as_array().and_then(|spans| spans.iter().find(|s| s["name"] == "request")).cloned()
    };
    let mut ours = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(&log).expect("the log");
        let lines: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        for line in &lines {
            if let Some(span) = request_span(line) {
                let given = span["request_id"].as_str().unwrap_or("");
                assert!(!given.is_empty(), "a line of a request without its id: {line}");
            }
        }
        ours = lines.into_iter().filter(|l| request_span(l).is_some_and(|s| s["request_id"] == id)).collect();
        if ours.iter().any(|l| l["fields"]["message"] == "finished processing request") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let messages: Vec<&str> = ours.iter().filter_map(|l| l["fields"]["message"].as_str()).collect();
    assert!(messages.contains(&"the database refused a write"), "{messages:?}");
    let refusal = ours.iter().find(|l| l["fields"]["message"] == "the database refused a write").expect("the refusal");
    let names: Vec<&str> =
        refusal["spans"].as_array().expect("spans").iter().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["request", "store"], "{refusal}");
    assert_eq!(refusal["span"]["call"], "insert_user", "the store call it came from: {refusal}");
    assert!(messages.contains(&"finished processing request"), "{messages:?}");
    let span = ours.last().and_then(request_span).expect("the request's span");
    assert_eq!(span["route"], "/api/v1/users", "{span}");
    // No line names a raw path: a magic link's token would be in it.
    let page = h.call(Method::GET, "/api/v1/public/tickets/not-a-real-token-0123456789", None, None).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let text = std::fs::read_to_string(&log).expect("the log");
    assert!(!text.contains("not-a-real-token-0123456789"), "a token in the logs");
    assert!(text.contains("/api/v1/public/tickets/{token}"), "the route template instead");
    assert!(span["caller"].as_str().is_some_and(|c| c.len() == 36), "the caller's id: {span}");

    // A job's lines carry its span.
    let event =
        h.call(Method::POST, "/api/v1/events", Some(&admin), Some(crate::support::event_body("Logged", 10))).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/events/{event}/ticket-types");
    let kind = h.call(Method::POST, &path, Some(&admin), Some(crate::support::type_body("Pass", 10))).await;
    let kind = kind.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/ticket-types/{kind}/generations");
    let job = h.call(Method::POST, &path, Some(&admin), Some(json!({"count": 2}))).await;
    let job = job.ok(StatusCode::ACCEPTED)["id"].as_str().expect("id").to_owned();
    let job_span = |line: &serde_json::Value| {
        line["spans"].as_array().and_then(|s| s.iter().find(|s| s["name"] == "job")).cloned()
    };
    let mut step = None;
    for _ in 0..200 {
        let text = std::fs::read_to_string(&log).expect("the log");
        step = text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|l| l["fields"]["message"] == "job step" && job_span(l).is_some_and(|s| s["id"] == job.as_str()));
        if step.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let step = step.expect("the job's step, in its span");
    let span = job_span(&step).expect("the job's span");
    assert_eq!(span["kind"], "generate_tickets", "{span}");
    assert!(span["worker"].as_str().is_some_and(|w| w.contains(&format!(":{port}/worker-"))), "{span}");
}

/// A client that is not a trusted proxy does not choose its request's id: the server draws one.
#[tokio::test]
async fn a_clients_own_request_id_is_replaced() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite needs no server");
    let request = axum::http::Request::builder()
        .uri(format!("http://{}/health/live", s.addr))
        .header("x-request-id", "chosen-by-the-client")
        .body(http_body_util::Full::new(axum::body::Bytes::new()))
        .expect("a request");
    let answer = s.send(request).await;
    let given = answer.headers["x-request-id"].to_str().expect("text");
    assert_ne!(given, "chosen-by-the-client");
    assert!(given.len() == 32 && given.bytes().all(|b| b.is_ascii_hexdigit()), "{given}");
    s.stop().await;
}

/// A child process killed (and waited for) on drop.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// With `TICKETING_METRICS_LISTEN`, `/metrics` is served on that listener only: the public
/// address answers 404, the metrics one the exposition, its queue gauge counted by the server
/// (not by the scrape).
#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let settings = [("TICKETING_METRICS_LISTEN", "127.0.0.1:0")];
    let s = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite needs no server");
    let public = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!((public.status, public.code()), (StatusCode::NOT_FOUND, "route_not_found"), "{}", public.text);
    let alone = crate::support::Handle::to(s.metrics_addr.expect("a metrics listener"));
    let mut text = String::new();
    for _ in 0..100 {
        let answer = alone.call(Method::GET, "/metrics", None, None).await;
        assert_eq!(answer.status, StatusCode::OK);
        text = answer.text;
        if text.contains("queue_depth{kind=\"generate_tickets\"} 0") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(text.contains("queue_depth{kind=\"generate_tickets\"} 0"), "{text}");
    assert!(text.contains("generation_queue_size{queue_name=\"generation\"} 0"), "{text}");
    s.stop().await;
}
