//! The multi-instance test: three `ticketing-server` processes on one Postgres database and one
//! Redis (under a key prefix of their own), sharing their keys through secret files, with the
//! client spreading its requests over the three. It checks, and exits non-zero if any fails:
//!
//! 1. 1,000 concurrent buyers for 100 places: exactly 100 orders placed, 100 tickets held;
//! 2. 50 concurrent confirms of one ticket from 5 gates through the 3 instances: exactly one entry;
//! 3. a rate limit of N per window admits N in total across the instances, not 3N;
//! 4. a token revoked through the first instance is refused by the other two within 100 ms;
//! 5. during a scan storm: the instance running a generation job is killed (`kill -9`), and
//!    another resumes the job within its lease; Redis is stopped (scans fail closed: 503) and
//!    started again (scans recover); Postgres is restarted (scans recover). Afterwards no ticket
//!    entered twice, every entry the client was told of is in the database, the job made each of
//!    its tickets once, and every event's and type's counters equal their rows;
//! 6. a fourth instance started without the keys refuses to start, saying why.
//!
//! ```sh
//! FLEET_STOP_REDIS='redis-cli -p 6379 shutdown nosave' FLEET_START_REDIS='redis-server --daemonize yes' \
//! FLEET_RESTART_POSTGRES='pg_ctlcluster 15 main restart' \
//!     cargo run --release --example fleet -- target/release/ticketing-server \
//!     postgres://postgres@127.0.0.1:5432/ticketing_fleet redis://127.0.0.1:6379
//! ```
//!
//! The database must be empty (`.ci/run` makes a fresh one); the three `FLEET_*` commands control
//! the machine's own Redis and Postgres, which this test stops and restarts.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sqlx::Row as _;

#[path = "support/api.rs"]
mod api;
use api::{Api, Http, encode};

const ADMIN: &str = "fleet@example.org";
const PASSWORD: &str = "the fleet's admin password";
/// Sign-ins (and revocations) per window from one address: the shared limit under test.
const TOKEN_LIMIT: u32 = 20;
/// The storm's tickets.
const STORM_TICKETS: u64 = 10_000;

/// One server process.
struct Instance {
    child: Child,
    api: Arc<Api>,
    port: u16,
}

/// The three instances, and how to start one.
struct Fleet {
    bin: PathBuf,
    dir: PathBuf,
    settings: Vec<(String, String)>,
    http: Http,
    instances: Vec<Option<Instance>>,
}

impl Fleet {
    /// Starts instance `n` (its data folder and log under the fleet's folder) with the fleet's
    /// settings less those named in `without`.
    fn start(&self, n: usize, without: &[&str]) -> Result<Instance, String> {
        let data = self.dir.join(format!("instance-{n}"));
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let log = self.dir.join(format!("instance-{n}.log"));
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(&self.bin);
        command.arg("serve").env("TICKETING_DATA_DIR", &data).stdin(Stdio::null()).stdout(out).stderr(err);
        for (key, value) in self.settings.iter().filter(|(k, _)| !without.contains(&k.as_str())) {
            command.env(key, value);
        }
        let mut child = command.spawn().map_err(|e| format!("{}: {e}", self.bin.display()))?;
        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(rest) = text.lines().find_map(|l| l.strip_prefix("listening on ")) {
                let base = rest.trim().to_owned();
                let port = base.rsplit(':').next().and_then(|p| p.parse().ok()).ok_or("no port")?;
                let api = Arc::new(Api { http: self.http.clone(), base });
                return Ok(Instance { child, api, port });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("instance {n} exited ({status}):\n{text}"));
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                return Err(format!("instance {n} did not start in 60 s:\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The live instances' APIs.
    fn live(&self) -> Vec<Arc<Api>> {
        self.instances.iter().flatten().map(|i| i.api.clone()).collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for instance in self.instances.iter_mut().flatten() {
            let _ = instance.child.kill();
            let _ = instance.child.wait();
        }
    }
}

/// A check that failed, with what was seen: a panic, so that the fleet's servers are stopped and
/// Redis started again as the stack unwinds (a failing storm client's panic reaches the main task
/// when it is joined).
fn fail(what: impl std::fmt::Display) -> ! {
    panic!("FAILED: {what}");
}

/// Runs its command when dropped while armed: Redis started again if a check failed while it was
/// stopped.
struct Restore(Option<&'static str>);

impl Drop for Restore {
    fn drop(&mut self) {
        if let Some(name) = self.0.take()
            && let Ok(shell) = std::env::var(name)
        {
            let _ = Command::new("sh").arg("-c").arg(shell).status();
        }
    }
}

fn check(ok: bool, what: impl std::fmt::Display) {
    if ok {
        println!("ok: {what}");
    } else {
        fail(what);
    }
}

/// Runs `shell` (one of the `FLEET_*` commands).
fn run(name: &str) {
    let shell = std::env::var(name).unwrap_or_else(|_| fail(format!("{name} is not set")));
    let status = Command::new("sh").arg("-c").arg(&shell).status().unwrap_or_else(|e| fail(format!("{shell}: {e}")));
    check(status.success(), format!("{name}: `{shell}` ran"));
}

/// A request with `body` as JSON (and, when `from` is given, as forwarded for that address):
/// the status and body, or `None` when the instance could not be reached.
async fn call(
    api: &Api,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    from: Option<&str>,
) -> Option<(u16, Value)> {
    let mut request = Request::builder().method(method).uri(format!("{}{path}", api.base));
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(address) = from {
        request = request.header("x-forwarded-for", address);
    }
    let bytes = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Bytes::from(serde_json::to_vec(&body).expect("json"))
        }
        None => Bytes::new(),
    };
    let request = request.body(Full::new(bytes)).expect("a request");
    let response = tokio::time::timeout(Duration::from_secs(10), api.http.request(request)).await.ok()?.ok()?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.ok()?.to_bytes();
    Some((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// A form post to `/oauth/*` from `from`.
async fn oauth(api: &Api, path: &str, form: &str, from: &str) -> (u16, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("{}{path}", api.base))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", from)
        .body(Full::new(Bytes::from(form.to_owned())))
        .expect("a request");
    let response = api.http.request(request).await.unwrap_or_else(|e| fail(format!("{path}: {e}")));
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("a body").to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// The admin's access token, signed in from an address of its own (so the sign-ins of the setup
/// do not use up the limit under test).
async fn sign_in(api: &Api, from: &str) -> String {
    let form = format!("grant_type=password&username={}&password={}", encode(ADMIN), encode(PASSWORD));
    let (status, json) = oauth(api, "/oauth/token", &form, from).await;
    check(status == 200, format!("sign-in from {from}: {status}"));
    json["access_token"].as_str().expect("a token").to_owned()
}

/// A published event running now (doors open), its ticket type and `gates` gates.
async fn running_event(
    api: &Api,
    admin: &str,
    title: &str,
    places: u64,
    gates: usize,
) -> (String, String, Vec<String>) {
    let now = chrono::Utc::now();
    let event = json!({"title": title, "starts_at": (now - chrono::Duration::minutes(30)).to_rfc3339(),
                       "ends_at": (now + chrono::Duration::hours(6)).to_rfc3339(), "time_zone": "Europe/Paris",
                       "location": "Fleet hall", "capacity": places, "allow_reentry": false,
                       "payment_url": "https://pay.example.test/checkout?ref={order_id}"});
    let event = api.json(Method::POST, "/api/v1/events", admin, event).await;
    let event_id = event["id"].as_str().expect("id").to_owned();
    api.json(Method::POST, &format!("/api/v1/events/{event_id}/status"), admin, json!({"status": "published"})).await;
    let kind = json!({"name": "Pass", "price_minor": 2000, "currency": "EUR", "quota": places, "usage_limit": 1});
    let kind = api.json(Method::POST, &format!("/api/v1/events/{event_id}/ticket-types"), admin, kind).await;
    let mut ids = Vec::new();
    for g in 0..gates {
        let gate = api
            .json(
                Method::POST,
                &format!("/api/v1/events/{event_id}/gates"),
                admin,
                json!({"name": format!("Gate {g}")}),
            )
            .await;
        ids.push(gate["id"].as_str().expect("id").to_owned());
    }
    (event_id, kind["id"].as_str().expect("id").to_owned(), ids)
}

/// Starts a generation job of `count` paid tickets; its id.
async fn generate(api: &Api, admin: &str, type_id: &str, count: u64) -> String {
    let path = format!("/api/v1/ticket-types/{type_id}/generations");
    let job = api.json(Method::POST, &path, admin, json!({"count": count, "status": "paid"})).await;
    job["id"].as_str().expect("id").to_owned()
}

/// Waits for the job to succeed (within `limit`); the job.
async fn finished(api: &Api, admin: &str, job: &str, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        if let Some((200, seen)) = call(api, Method::GET, &format!("/api/v1/jobs/{job}"), Some(admin), None, None).await
        {
            match seen["status"].as_str() {
                Some("succeeded") => return seen,
                Some("failed" | "cancelled") => fail(format!("job {job} ended {seen}")),
                _ => {}
            }
        }
        if started.elapsed() > limit {
            fail(format!("job {job} not done in {limit:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every short code of the event's tickets.
async fn short_codes(api: &Api, admin: &str, event_id: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for page in 1.. {
        let list = api.get(&format!("/api/v1/events/{event_id}/tickets?per_page=500&page={page}"), Some(admin)).await;
        let items = list.as_array().expect("tickets");
        codes.extend(items.iter().map(|t| t["short_code"].as_str().expect("code").to_owned()));
        if items.len() < 500 {
            return codes;
        }
    }
    codes
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bin, database, redis] = args.as_slice() else {
        eprintln!("usage: fleet SERVER_BINARY DATABASE_URL REDIS_URL");
        std::process::exit(2);
    };
    let dir = std::env::temp_dir().join(format!("ticketing-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder");
    let (qr_keys, link_key) = (dir.join("qr_keys"), dir.join("link_key"));
    std::fs::write(&qr_keys, format!("1:current:{}\n", "4f".repeat(32))).expect("the QR keys");
    std::fs::write(&link_key, format!("{}\n", "9c".repeat(32))).expect("the link key");
    let path = |p: &Path| p.display().to_string();
    let settings: Vec<(String, String)> = [
        ("TICKETING_LISTEN", "127.0.0.1:0".to_owned()),
        ("TICKETING_DATABASE_URL", database.clone()),
        ("TICKETING_REDIS_URL", redis.clone()),
        ("TICKETING_REDIS_PREFIX", format!("fleet:{}:", std::process::id())),
        ("TICKETING_QR_KEYS_FILE", path(&qr_keys)),
        ("TICKETING_LINK_KEY_FILE", path(&link_key)),
        ("TICKETING_SUPERADMIN_EMAIL", ADMIN.to_owned()),
        ("TICKETING_SUPERADMIN_PASSWORD", PASSWORD.to_owned()),
        // The client is the proxy: it names the address each request stands for.
        ("TICKETING_TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ("TICKETING_RATE_TOKEN", TOKEN_LIMIT.to_string()),
        ("TICKETING_RATE_ORDER_ADDRESS", "1000000".to_owned()),
        ("TICKETING_RATE_ORDER_EVENT", "1000000".to_owned()),
        ("TICKETING_RATE_SCAN_AGENT", "1000000".to_owned()),
        ("TICKETING_RATE_SCAN_GATE", "1000000".to_owned()),
        ("TICKETING_RATE_GENERATION", "1000000".to_owned()),
        ("TICKETING_RATE_BATCH", "1000000".to_owned()),
        ("TICKETING_LOG_LEVEL", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(64).build_http();
    let mut fleet =
        Fleet { bin: PathBuf::from(bin), dir: dir.clone(), settings, http: http.clone(), instances: Vec::new() };
    for n in 0..3 {
        let instance = fleet.start(n, &[]).unwrap_or_else(|e| fail(e));
        println!("instance {n} at {}", instance.api.base);
        fleet.instances.push(Some(instance));
    }
    let apis = fleet.live();
    let admin = sign_in(&apis[0], "198.51.100.1").await;
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect(database)
        .await
        .unwrap_or_else(|e| fail(format!("the test's own connection to {database}: {e}")));

    buyers(&apis, &admin, &db).await;
    one_ticket_many_gates(&apis, &admin, &db).await;
    limit_across(&apis).await;
    revocation_across(&apis).await;
    storm_with_faults(&mut fleet, &admin, &db).await;
    counters_equal_rows(&db).await;
    let refused = fleet.start(3, &["TICKETING_QR_KEYS_FILE", "TICKETING_LINK_KEY_FILE"]);
    match refused {
        Ok(mut instance) => {
            let _ = instance.child.kill();
            fail("a fourth instance without keys started")
        }
        Err(why) => check(
            why.contains("give this instance the fleet's keys"),
            format!("a fourth instance without keys refuses to start: {}", why.lines().last().unwrap_or_default()),
        ),
    }
    drop(fleet);
    let _ = std::fs::remove_dir_all(&dir);
    println!("fleet: every check passed");
}

/// 1,000 concurrent buyers of one place each, for 100 places, spread over the instances.
async fn buyers(apis: &[Arc<Api>], admin: &str, db: &sqlx::PgPool) {
    let (event_id, type_id, _) = running_event(&apis[0], admin, "Fleet sale", 100, 0).await;
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let api = apis[i % apis.len()].clone();
            let (event_id, type_id) = (event_id.clone(), type_id.clone());
            tokio::spawn(async move {
                let body = json!({"lines": [{"ticket_type_id": type_id, "quantity": 1}],
                                  "buyer": {"name": format!("Buyer {i}"), "email": format!("buyer{i}@example.org")}});
                let path = format!("/api/v1/public/events/{event_id}/orders");
                call(&api, Method::POST, &path, None, Some(body), Some(&format!("192.0.2.{}", i % 250))).await
            })
        })
        .collect();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for task in tasks {
        let (status, _) = task.await.expect("a buyer").unwrap_or_else(|| fail("an instance did not answer a buyer"));
        *statuses.entry(status).or_default() += 1;
    }
    check(statuses.get(&201) == Some(&100), format!("1,000 buyers for 100 places: 100 orders placed ({statuses:?})"));
    check(
        statuses.keys().all(|s| *s == 201 || *s == 409),
        format!("the others are refused as sold out (409), none fails: {statuses:?}"),
    );
    let held: i64 = count(
        db,
        "SELECT count(*) FROM tickets WHERE event_id = $1::uuid AND status = 'reserved'",
        Some(event_id.as_str()),
    )
    .await;
    check(held == 100, format!("exactly 100 tickets held in the database ({held})"));
}

/// 50 confirms of one ticket at once, from 5 gates, through the instances.
async fn one_ticket_many_gates(apis: &[Arc<Api>], admin: &str, db: &sqlx::PgPool) {
    let (event_id, type_id, gates) = running_event(&apis[0], admin, "Fleet gates", 10, 5).await;
    let issued = apis[0]
        .json(Method::POST, &format!("/api/v1/ticket-types/{type_id}/tickets"), admin, json!({"status": "paid"}))
        .await;
    let qr = issued[0]["qr_payload"].as_str().expect("a QR").to_owned();
    let mut sessions = Vec::new();
    for i in 0..50 {
        let (api, gate) = (&apis[i % apis.len()], &gates[i % gates.len()]);
        let read = json!({"gate_id": gate, "qr": qr});
        let verdict = api.json(Method::POST, "/api/v1/scan/request", admin, read).await;
        let session = verdict["scan_session_token"].as_str().unwrap_or_else(|| fail(format!("no session: {verdict}")));
        sessions.push((api.clone(), gate.clone(), session.to_owned()));
    }
    let confirms: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, (api, gate, session))| {
            let admin = admin.to_owned();
            tokio::spawn(async move {
                let body = json!({"gate_id": gate, "scan_session_token": session, "direction": "in",
                                  "nonce": format!("gates-{i}")});
                call(&api, Method::POST, "/api/v1/scan/confirm", Some(&admin), Some(body), None).await
            })
        })
        .collect();
    let mut entered = 0;
    for confirm in confirms {
        let (status, verdict) = confirm.await.expect("a confirm").unwrap_or_else(|| fail("a confirm got no answer"));
        if status != 200 {
            fail(format!("a confirm is answered with a verdict, not {status} {verdict}"));
        }
        entered += usize::from(verdict["reason"] == "ok");
    }
    check(entered == 1, format!("50 confirms of one ticket from 5 gates through 3 instances: {entered} entry"));
    let rows: i64 = count(
        db,
        "SELECT count(*) FROM scan_logs WHERE event_id = $1::uuid AND stage = 'confirm' AND reason = 'ok'",
        Some(event_id.as_str()),
    )
    .await;
    check(rows == 1, format!("one applied confirmation in the database ({rows})"));
}

/// A limit of N a window admits N across the three instances.
async fn limit_across(apis: &[Arc<Api>]) {
    let form = format!("grant_type=password&username={}&password={}", encode(ADMIN), encode(PASSWORD));
    let mut passed = 0;
    let mut refused = 0;
    for i in 0..(3 * TOKEN_LIMIT as usize) {
        match oauth(&apis[i % apis.len()], "/oauth/token", &form, "203.0.113.9").await.0 {
            200 => passed += 1,
            429 => refused += 1,
            other => fail(format!("a sign-in answered {other}")),
        }
    }
    check(
        passed == TOKEN_LIMIT,
        format!("a limit of {TOKEN_LIMIT} sign-ins a window admits {passed} across 3 instances ({refused} refused)"),
    );
}

/// A token revoked through the first instance is refused by the others within 100 ms.
async fn revocation_across(apis: &[Arc<Api>]) {
    let token = sign_in(&apis[0], "198.51.100.2").await;
    for api in apis {
        let seen = call(api, Method::GET, "/api/v1/users", Some(&token), None, None).await;
        check(seen.as_ref().is_some_and(|(s, _)| *s == 200), "the token works on every instance (and is cached)");
    }
    let (status, _) = oauth(&apis[0], "/oauth/revoke", &format!("token={token}"), "198.51.100.2").await;
    check(status == 200, "revoked through the first instance");
    let revoked = Instant::now();
    for (n, api) in apis.iter().enumerate().skip(1) {
        loop {
            let (status, _) = call(api, Method::GET, "/api/v1/users", Some(&token), None, None)
                .await
                .unwrap_or_else(|| fail("an instance did not answer"));
            if status == 401 {
                break;
            }
            if revoked.elapsed() > Duration::from_millis(100) {
                fail(format!("instance {n} still accepts the revoked token after 100 ms"));
            }
        }
    }
    check(true, format!("refused by instances 2 and 3 within {:?} of the revocation", revoked.elapsed()));
}

/// What one storm client learned of a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// Its confirm was answered `ok`: it entered.
    Entered,
    /// A request answered that it is inside already (an earlier confirm, whose answer was lost).
    Inside,
}

/// A scan storm over the live instances while one instance is killed, Redis is stopped and
/// started, and Postgres is restarted.
async fn storm_with_faults(fleet: &mut Fleet, admin: &str, db: &sqlx::PgPool) {
    let apis = fleet.live();
    let (storm_event, storm_type, gates) = running_event(&apis[0], admin, "Fleet storm", STORM_TICKETS, 3).await;
    let job = generate(&apis[0], admin, &storm_type, STORM_TICKETS).await;
    finished(&apis[0], admin, &job, Duration::from_secs(120)).await;
    let mut codes = short_codes(&apis[0], admin, &storm_event).await;
    // The last ticket is the probe: only ever requested (a request opens a session in Redis).
    let probe_code = codes.pop().expect("a probe ticket");
    let codes = Arc::new(codes);
    // The job the kill interrupts: big enough to be running when the holder dies.
    let (big_event, big_type, _) = running_event(&apis[0], admin, "Fleet generation", 100_000, 0).await;
    let big_job = generate(&apis[0], admin, &big_type, 100_000).await;

    let running = Arc::new(AtomicBool::new(true));
    let alive: Arc<std::sync::Mutex<Vec<Arc<Api>>>> = Arc::new(std::sync::Mutex::new(apis.clone()));
    let next = Arc::new(AtomicUsize::new(0));
    let unavailable = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..12)
        .map(|c| {
            let (running, alive, next, codes, gates) =
                (running.clone(), alive.clone(), next.clone(), codes.clone(), gates.clone());
            let (unavailable, admin) = (unavailable.clone(), admin.to_owned());
            tokio::spawn(async move {
                let mut seen: HashMap<String, Seen> = HashMap::new();
                let mut attempt = c;
                while running.load(Ordering::SeqCst) {
                    // About ten tickets a second a client: the storm lasts as long as the faults.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let Some(code) = codes.get(next.fetch_add(1, Ordering::SeqCst)) else { break };
                    // One ticket until a verdict: another instance after an error.
                    while running.load(Ordering::SeqCst) {
                        attempt += 1;
                        let api = {
                            let alive = alive.lock().expect("the live instances");
                            alive[attempt % alive.len()].clone()
                        };
                        let gate = &gates[attempt % gates.len()];
                        let read = json!({"gate_id": gate, "short_code": code});
                        let verdict =
                            call(&api, Method::POST, "/api/v1/scan/request", Some(&admin), Some(read), None).await;
                        let verdict = match verdict {
                            Some((200, verdict)) => verdict,
                            Some((503, _)) => {
                                unavailable.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                            _ => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                                continue;
                            }
                        };
                        // Inside already (an earlier confirm whose answer was lost): only `out` is
                        // offered.
                        if verdict["ok"] == true
                            && !verdict["allowed"].as_array().is_some_and(|a| a.contains(&json!("in")))
                        {
                            seen.insert(code.clone(), Seen::Inside);
                            break;
                        }
                        let Some(session) = verdict["scan_session_token"].as_str() else {
                            fail(format!("a storm ticket refused: {verdict}"))
                        };
                        let body = json!({"gate_id": gate, "scan_session_token": session, "direction": "in",
                                          "nonce": format!("storm-{code}-{attempt}")});
                        match call(&api, Method::POST, "/api/v1/scan/confirm", Some(&admin), Some(body), None).await {
                            Some((200, done)) if done["reason"] == "ok" => {
                                seen.insert(code.clone(), Seen::Entered);
                                break;
                            }
                            Some((200, done)) if done["reason"] == "already_inside" => {
                                seen.insert(code.clone(), Seen::Inside);
                                break;
                            }
                            Some((503, _)) => {
                                unavailable.fetch_add(1, Ordering::SeqCst);
                            }
                            _ => {}
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                seen
            })
        })
        .collect();

    // kill -9 the instance holding the big job, once it has committed a chunk.
    let looking = Instant::now();
    let holder = loop {
        if looking.elapsed() > Duration::from_secs(60) {
            fail("the generation job was not seen running with a committed chunk within 60 s");
        }
        let row = sqlx::query("SELECT lease_owner, progress_done FROM jobs WHERE id = $1::uuid")
            .bind(&big_job)
            .fetch_one(db)
            .await
            .expect("the job");
        let (owner, done): (Option<String>, i64) = (row.get(0), row.get(1));
        if let Some(owner) = owner.filter(|_| done > 0) {
            break owner;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let port: u16 = holder
        .split('/')
        .next()
        .and_then(|host| host.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| fail(format!("a lease owner without a port: {holder}")));
    let victim = fleet
        .instances
        .iter()
        .position(|i| i.as_ref().is_some_and(|i| i.port == port))
        .unwrap_or_else(|| fail(format!("no instance on port {port}")));
    let mut killed = fleet.instances[victim].take().expect("the holder");
    killed.child.kill().expect("kill -9");
    let _ = killed.child.wait();
    let killed_at = Instant::now();
    alive.lock().expect("the live instances").retain(|a| a.base != killed.api.base);
    println!("killed instance {victim} (port {port}), which held the generation job ({holder})");
    let resumed_by = loop {
        let owner: Option<String> = sqlx::query("SELECT lease_owner FROM jobs WHERE id = $1::uuid")
            .bind(&big_job)
            .fetch_one(db)
            .await
            .expect("the job")
            .get(0);
        let holder_instance = holder.split('/').next();
        if let Some(owner) = owner.filter(|o| o.split('/').next() != holder_instance) {
            break owner;
        }
        if killed_at.elapsed() > Duration::from_secs(30) {
            fail("the killed instance's job was not resumed within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    check(
        killed_at.elapsed() < Duration::from_secs(20),
        format!("its job resumed on {resumed_by} {:?} after the kill (lease 15 s)", killed_at.elapsed()),
    );
    let survivors = fleet.live();

    // Redis stopped: scans fail closed; started: they recover.
    run("FLEET_STOP_REDIS");
    let mut restore = Restore(Some("FLEET_START_REDIS"));
    let probe = json!({"gate_id": gates[0], "short_code": probe_code});
    for api in &survivors {
        let answer = call(api, Method::POST, "/api/v1/scan/request", Some(admin), Some(probe.clone()), None).await;
        check(
            answer.as_ref().is_some_and(|(s, _)| *s == 503),
            format!("with Redis down, a scan request fails closed (503): {answer:?}"),
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    restore.0 = None;
    run("FLEET_START_REDIS");
    recovered(&survivors, admin, &probe, "Redis").await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Postgres restarted: scans recover.
    run("FLEET_RESTART_POSTGRES");
    recovered(&survivors, admin, &probe, "Postgres").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    running.store(false, Ordering::SeqCst);

    let mut seen: HashMap<String, Seen> = HashMap::new();
    for client in clients {
        seen.extend(client.await.expect("a storm client"));
    }
    let entered: HashSet<&String> = seen.iter().filter(|(_, s)| **s == Seen::Entered).map(|(c, _)| c).collect();
    println!(
        "storm: {} tickets scanned, {} entries answered ok, {} answers 503 while a server was down",
        seen.len(),
        entered.len(),
        unavailable.load(Ordering::SeqCst)
    );
    check(!entered.is_empty(), "the storm let people in");

    let twice: i64 = count(
        db,
        "SELECT count(*) FROM (SELECT ticket_id FROM scan_logs WHERE event_id = $1::uuid AND stage = 'confirm' \
         AND reason = 'ok' AND direction = 'in' GROUP BY ticket_id HAVING count(*) > 1) AS twice",
        Some(storm_event.as_str()),
    )
    .await;
    check(twice == 0, format!("no ticket entered twice ({twice})"));
    let inside: Vec<i64> =
        sqlx::query("SELECT short_code FROM tickets WHERE event_id = $1::uuid AND status = 'inside'")
            .bind(&storm_event)
            .fetch_all(db)
            .await
            .expect("the tickets inside")
            .iter()
            .map(|r| r.get(0))
            .collect();
    let inside: HashSet<String> = inside
        .into_iter()
        .filter_map(|v| u64::try_from(v).ok().and_then(ticketing::core::short_code::ShortCode::from_value))
        .map(|c| c.to_string())
        .collect();
    let missing = entered.iter().filter(|c| !inside.contains(c.as_str())).count();
    check(missing == 0, format!("every entry answered ok is inside in the database ({missing} missing)"));
    let applied: i64 = count(db, "SELECT count(*) FROM scan_logs WHERE event_id = $1::uuid AND stage = 'confirm' AND reason = 'ok' AND direction = 'in'", Some(storm_event.as_str())).await;
    check(
        usize::try_from(applied).ok() == Some(inside.len()),
        format!("one applied entry in the log per ticket inside ({applied} and {})", inside.len()),
    );

    let done = finished(&survivors[0], admin, &big_job, Duration::from_secs(300)).await;
    check(done["attempts"].as_u64().is_some_and(|a| a >= 2), format!("the job ran again after the kill: {done}"));
    let made: i64 = count(db, "SELECT count(*) FROM tickets WHERE event_id = $1::uuid", Some(big_event.as_str())).await;
    check(made == 100_000, format!("the resumed job made each of its 100,000 tickets once ({made})"));
}

/// Waits (30 s at most) until a scan request is answered with a verdict again on every instance.
async fn recovered(apis: &[Arc<Api>], admin: &str, probe: &Value, what: &str) {
    let started = Instant::now();
    for api in apis {
        loop {
            let answer = call(api, Method::POST, "/api/v1/scan/request", Some(admin), Some(probe.clone()), None).await;
            if answer.as_ref().is_some_and(|(s, _)| *s == 200) {
                break;
            }
            if started.elapsed() > Duration::from_secs(30) {
                fail(format!("scans did not recover within 30 s of the {what} restart: {answer:?}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    check(true, format!("scans answered again {:?} after the {what} restart", started.elapsed()));
}

/// The one number `sql` (with `$1`, when given, the text `bind`) answers.
async fn count(db: &sqlx::PgPool, sql: &'static str, bind: Option<&str>) -> i64 {
    let query = sqlx::query(sql);
    let query = match bind {
        Some(value) => query.bind(value.to_owned()),
        None => query,
    };
    query.fetch_one(db).await.unwrap_or_else(|e| fail(format!("{sql}: {e}"))).get(0)
}

/// Every event's and type's live-ticket counter equals its rows.
async fn counters_equal_rows(db: &sqlx::PgPool) {
    let events: i64 = count(
        db,
        "SELECT count(*) FROM event_counters c WHERE c.live_tickets <> (SELECT count(*) FROM tickets t \
         WHERE t.event_id = c.event_id AND t.status NOT IN ('invalid', 'refunded'))",
        None,
    )
    .await;
    let types: i64 = count(
        db,
        "SELECT count(*) FROM type_counters c WHERE c.live_tickets <> (SELECT count(*) FROM tickets t \
         WHERE t.ticket_type_id = c.type_id AND t.status NOT IN ('invalid', 'refunded'))",
        None,
    )
    .await;
    check(events == 0 && types == 0, format!("counters equal rows ({events} events and {types} types differ)"));
}
