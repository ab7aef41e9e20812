//! A real server on a random port, on SQLite or on Postgres+Redis, and an HTTP client for it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use ticketing_core::env::{Clock, SystemClock};
use ticketing_core::store::Store;
use ticketing_http::{Config, Server};
use ticketing_storage::testkit::servers::{Prefixes, Schemas, database_url, redis_url};
use ticketing_storage::{PgStore, RedisLayer, SqliteStore};
use tokio::sync::oneshot;

/// The superadmin every test server is seeded with.
pub const ADMIN: &str = "admin@example.org";
/// Their password.
pub const ADMIN_PASSWORD: &str = "the admin's long password";
/// The password of every user the tests make.
pub const PASSWORD: &str = "a long enough password";
/// The secret test servers verify Stripe deliveries with.
pub const STRIPE_SECRET: &str = "whsec_test_stripe_secret_0001";
/// The secret test servers verify generic deliveries with.
pub const GENERIC_SECRET: &str = "whsec_test_generic_secret_001";

/// Which storage a test server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file of its own.
    Sqlite,
    /// A Postgres schema and a Redis key prefix of its own.
    PgRedis,
}

/// A running server.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Where `/metrics` is served alone, when it is (`TICKETING_METRICS_LISTEN`).
    pub metrics_addr: Option<SocketAddr>,
    /// Its state, to reach under the API (issuing tickets before their endpoints exist).
    pub state: ticketing_http::Handle,
    client: Client<HttpConnector, Full<Bytes>>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    cleanup: Option<(Schemas, Prefixes)>,
    dir: PathBuf,
}

/// Sends requests to a test server; cheap to clone into tasks.
#[derive(Clone)]
pub struct Handle {
    /// Where the server listens.
    pub addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Handle {
    /// A client of the server at `addr` (one started apart, as a process of its own).
    pub fn to(addr: SocketAddr) -> Self {
        Self { addr, client: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let bytes = body.map(|b| serde_json::to_vec(&b).expect("JSON"));
        self.raw(method, path, token, bytes.map(|b| ("application/json", b))).await
    }

    /// Sends a request with a body of the given content type.
    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: Option<(&str, Vec<u8>)>) -> Answer {
        let mut request = Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let body = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        self.send(request.body(Full::new(body)).expect("a request")).await
    }

    /// Posts a form to `path`.
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        let body: String =
            pairs.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect::<Vec<_>>().join("&");
        self.raw(Method::POST, path, None, Some(("application/x-www-form-urlencoded", body.into_bytes()))).await
    }

    /// Signs in with the password grant; the token answer.
    pub async fn sign_in(&self, email: &str, password: &str) -> Answer {
        self.form("/oauth/token", &[("grant_type", "password"), ("username", email), ("password", password)]).await
    }

    /// An access token for `email`.
    pub async fn token(&self, email: &str, password: &str) -> String {
        let answer = self.sign_in(email, password).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json["access_token"].as_str().expect("an access token").to_owned()
    }

    /// Sends a built request.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Answer {
        let response = self.client.request(request).await.expect("the server answers");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("a body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Answer {
            status: parts.status,
            headers: parts.headers,
            json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text,
        }
    }
}

/// An answer.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when empty or not JSON).
    pub json: Value,
    /// The body as text.
    pub text: String,
}

impl Answer {
    /// The JSON body, after checking the status is `status`.
    pub fn ok(&self, status: StatusCode) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        &self.json
    }

    /// The problem code, for an error.
    pub fn code(&self) -> &str {
        self.json["code"].as_str().unwrap_or("")
    }
}

fn folder() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("http-tests").join(format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a folder for the test server");
    dir
}

/// Whether the Postgres+Redis tests must run (CI sets it, so a missing server fails them).
fn servers_required() -> bool {
    std::env::var("TICKETING_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

impl TestServer {
    /// A server on `backend` with the default settings.
    pub async fn start(backend: Backend) -> Option<Self> {
        Self::start_with(backend, &[]).await
    }

    /// A server on `backend` with extra `TICKETING_*` settings; `None` (and a note) when the
    /// Postgres+Redis servers are not configured and not required.
    pub async fn start_with(backend: Backend, settings: &[(&str, &str)]) -> Option<Self> {
        Self::start_in(backend, settings, folder()).await
    }

    /// Stops this SQLite server (gracefully: its job workers hand their running jobs back) and
    /// starts another on the same data folder, with `settings`.
    pub async fn restart(mut self, settings: &[(&str, &str)]) -> Self {
        assert!(self.cleanup.is_none(), "restarts are for servers on SQLite");
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.expect("the server task").expect("the server stopped");
        }
        let dir = self.dir.clone();
        drop(self);
        Self::start_in(Backend::Sqlite, settings, dir).await.expect("SQLite needs no server")
    }

    async fn start_in(backend: Backend, settings: &[(&str, &str)], dir: PathBuf) -> Option<Self> {
        let mut vars: BTreeMap<String, String> = [
            ("TICKETING_LISTEN", "127.0.0.1:0".to_owned()),
            ("TICKETING_DATA_DIR", dir.display().to_string()),
            ("TICKETING_SUPERADMIN_EMAIL", ADMIN.to_owned()),
            ("TICKETING_SUPERADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("TICKETING_STRIPE_WEBHOOK_SECRETS", STRIPE_SECRET.to_owned()),
            ("TICKETING_GENERIC_WEBHOOK_SECRETS", GENERIC_SECRET.to_owned()),
            // The tests place orders by the hundred from one address; the limit's own test sets it.
            ("TICKETING_RATE_ORDER_ADDRESS", "1000000".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        vars.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (store, cleanup): (Arc<dyn Store>, _) = match backend {
            Backend::Sqlite => {
                // Its own file, unless the settings name one (servers sharing a database).
                let url = settings.iter().find(|(k, _)| *k == "TICKETING_DATABASE_URL").map_or_else(
                    || format!("sqlite://{}", dir.join("ticketing.db").display()),
                    |(_, v)| (*v).to_owned(),
                );
                vars.insert("TICKETING_DATABASE_URL".into(), url.clone());
                (Arc::new(SqliteStore::open(&url, clock.clone()).await.expect("SQLite")), None)
            }
            Backend::PgRedis => {
                let redis_setting =
                    settings.iter().find(|(k, _)| *k == "TICKETING_REDIS_URL").map(|(_, v)| (*v).to_owned());
                let (Some(url), Some(redis)) = (database_url(), redis_setting.or_else(redis_url)) else {
                    assert!(
                        !servers_required(),
                        "TICKETING_REQUIRE_SERVERS=1 but DATABASE_URL or REDIS_URL is not set"
                    );
                    eprintln!("skipped: DATABASE_URL or REDIS_URL is not set");
                    return None;
                };
                // A test may route the database through a proxy of its own.
                let url =
                    settings.iter().find(|(k, _)| *k == "TICKETING_DATABASE_URL").map_or(url, |(_, v)| (*v).to_owned());
                vars.insert("TICKETING_DATABASE_URL".into(), url.clone());
                vars.insert("TICKETING_REDIS_URL".into(), redis.clone());
                let (schemas, prefixes) = (Schemas::default(), Prefixes::default());
                let db = PgStore::open_with(schemas.fresh(&url).await, 8, clock.clone()).await.expect("Postgres");
                // The server's shared state (limits, news, the watch) under the store's prefix.
                let prefix = prefixes.fresh();
                vars.insert("TICKETING_REDIS_PREFIX".into(), prefix.clone());
                let layer = RedisLayer::connect(db, &redis, &prefix, clock.clone()).await.expect("Redis");
                (Arc::new(layer) as Arc<dyn Store>, Some((schemas, prefixes)))
            }
        };
        let config = Config::from_vars(vars).expect("test settings");
        let server = Server::start_with(config, store, clock).await.expect("the server starts");
        Some(Self::serving(server, cleanup, dir))
    }

    /// `server`, serving on a task of its own until stopped.
    fn serving(server: Server, cleanup: Option<(Schemas, Prefixes)>, dir: PathBuf) -> Self {
        let addr = server.local_addr().expect("bound");
        let metrics_addr = server.metrics_addr().map(|a| a.expect("bound"));
        let state = server.handle();
        let (stop, stopped) = oneshot::channel();
        let served = tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { addr, metrics_addr, state, client, stop: Some(stop), served: Some(served), cleanup, dir }
    }

    /// Another instance of this server: its settings and data folder (so its keys), on the same
    /// store, so on Postgres+Redis the same database and Redis prefix. Stop it before this one.
    pub async fn sibling(&self) -> Self {
        let mut config = self.state.config().clone();
        config.listen = "127.0.0.1:0".parse().expect("an address");
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let server = Server::start_with(config, self.state.store().clone(), clock).await.expect("the sibling starts");
        // No cleanup and a folder of its own to remove: the first instance's are left alone.
        let port = server.local_addr().expect("bound").port();
        Self::serving(server, None, std::env::temp_dir().join(format!("ticketing-sibling-{port}")))
    }

    /// A handle that sends requests to this server, for tasks of their own.
    pub fn handle(&self) -> Handle {
        Handle { addr: self.addr, client: self.client.clone() }
    }

    /// Sends a request; `body` is sent as JSON.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.handle().call(method, path, token, body).await
    }

    /// Sends a request with a body of the given content type.
    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: Option<(&str, Vec<u8>)>) -> Answer {
        self.handle().raw(method, path, token, body).await
    }

    /// Sends a built request.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Answer {
        self.handle().send(request).await
    }

    /// The raw body of a GET (a PDF, an image).
    pub async fn raw_bytes(&self, method: Method, path: &str, bearer: Option<&str>) -> Vec<u8> {
        let mut request = Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Full::new(Bytes::new())).expect("a request");
        let response = self.client.request(request).await.expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        response.into_body().collect().await.expect("a body").to_bytes().to_vec()
    }

    /// Posts a form to `path`.
    pub async fn form(&self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        self.handle().form(path, pairs).await
    }

    /// Signs in with the password grant; the token answer.
    pub async fn sign_in(&self, email: &str, password: &str) -> Answer {
        self.handle().sign_in(email, password).await
    }

    /// An access token for `email`.
    pub async fn token(&self, email: &str, password: &str) -> String {
        self.handle().token(email, password).await
    }

    /// The superadmin's access token.
    pub async fn admin(&self) -> String {
        self.token(ADMIN, ADMIN_PASSWORD).await
    }

    /// Makes a user with `role`; their id.
    pub async fn user(&self, admin: &str, email: &str, role: &str) -> String {
        let body = json!({"email": email, "name": email, "role": role, "password": PASSWORD});
        let answer = self.call(Method::POST, "/api/v1/users", Some(admin), Some(body)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json["id"].as_str().expect("an id").to_owned()
    }

    /// Stops the server and removes what it left.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let (Some((schemas, prefixes)), Some(url), Some(redis)) = (self.cleanup.take(), database_url(), redis_url())
        {
            schemas.drop_all(&url).await;
            prefixes.delete_all(&redis).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An event body starting a year from now.
pub fn event_body(title: &str, capacity: u32) -> Value {
    let start = chrono::Utc::now() + chrono::Duration::days(365);
    json!({
        "title": title,
        "starts_at": start.to_rfc3339(),
        "ends_at": (start + chrono::Duration::hours(6)).to_rfc3339(),
        "time_zone": "Europe/Paris",
        "location": "Lyon, Halle Tony Garnier",
        "capacity": capacity,
        "allow_reentry": true
    })
}

/// A published event made by `token`'s user, its doors open now (from an hour ago for six
/// hours), with one ticket type `Pass` of `quota` places and `usage_limit` entries: their ids.
pub async fn running_event(s: &TestServer, token: &str, title: &str, quota: u32, usage_limit: u32) -> (String, String) {
    let mut body = event_body(title, 500);
    body["starts_at"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    body["ends_at"] = json!((chrono::Utc::now() + chrono::Duration::hours(5)).to_rfc3339());
    let event = s.call(Method::POST, "/api/v1/events", Some(token), Some(body)).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let publish = Some(json!({"status": "published"}));
    s.call(Method::POST, &format!("/api/v1/events/{event}/status"), Some(token), publish).await.ok(StatusCode::OK);
    let kind =
        json!({"name": "Pass", "price_minor": 3900, "currency": "EUR", "quota": quota, "usage_limit": usage_limit});
    let kind = s.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), Some(token), Some(kind)).await;
    let kind = kind.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    (event, kind)
}

/// The text of the one QR code on the first page of `pdf`, read by real decoders.
pub fn decode_pdf_qr(pdf: &[u8]) -> String {
    let dir = std::env::temp_dir().join(format!("ticketing-journey-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let file = dir.join("ticket.pdf");
    std::fs::write(&file, pdf).expect("write the PDF");
    let raster = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-gray", "-png", "-f", "1", "-l", "1"])
        .arg(&file)
        .arg(dir.join("page"))
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(raster.success());
    let page = std::fs::read_dir(&dir)
        .expect("the dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "png"))
        .expect("a page image");
    let out = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&page)
        .output()
        .expect("zbarimg (zbar-tools) is installed");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8(out.stdout).expect("UTF-8").trim_end().to_owned()
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A ticket type body.
pub fn type_body(name: &str, quota: u32) -> Value {
    json!({"name": name, "price_minor": 4500, "currency": "EUR", "quota": quota, "usage_limit": 1})
}

/// The text of `pdf`, read by Poppler's `pdftotext`.
pub fn pdf_text(pdf: &[u8]) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("ticketing-text-{}-{n}.pdf", std::process::id()));
    std::fs::write(&file, pdf).expect("write the PDF");
    let out = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    let _ = std::fs::remove_file(&file);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A ticket template document: the built-in default, named `name`.
pub fn template_doc(name: &str) -> Value {
    let mut doc: Value = serde_json::from_str(ticketing_pdf::template::DEFAULT_JSON).expect("the default template");
    doc["name"] = json!(name);
    doc
}

/// Defines the test `$name` once per backend, each a fresh server given to `$body`.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $settings:expr, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = $crate::support::TestServer::start_with($crate::support::Backend::Sqlite, $settings)
                    .await
                    .expect("SQLite always runs");
                super::$body(&server).await;
                server.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                if let Some(server) =
                    $crate::support::TestServer::start_with($crate::support::Backend::PgRedis, $settings).await
                {
                    super::$body(&server).await;
                    server.stop().await;
                }
            }
        }
    };
}

/// A private `redis-server` on a port of its own, stopped when dropped: for tests that take
/// Redis away from a running server.
pub struct PrivateRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    /// Starts one; `None` (and a note) when the server tests are not to run here.
    pub fn start() -> Option<Self> {
        if database_url().is_none() {
            assert!(!servers_required(), "TICKETING_REQUIRE_SERVERS=1 but DATABASE_URL is not set");
            eprintln!("skipped: DATABASE_URL is not set");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        Some(Self { port, child: None }.restart())
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it (its data is gone: it keeps nothing on disk).
    pub fn stop(mut self) -> Self {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self
    }

    /// Starts it again on the same port, empty.
    pub fn restart(mut self) -> Self {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed (the CI script installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        self.child = Some(child);
        self
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP proxy in front of the real Postgres that can cut the line: every connection through it
/// is closed and new ones are closed at once until it is restored. For tests that take the
/// database away from a running server.
pub struct PgProxy {
    addr: SocketAddr,
    down: tokio::sync::watch::Sender<bool>,
    silent: tokio::sync::watch::Sender<bool>,
}

impl PgProxy {
    /// A proxy to the Postgres of `DATABASE_URL`; `None` (and a note) when it is not set and not
    /// required.
    pub async fn start() -> Option<Self> {
        let Some(url) = database_url() else {
            assert!(!servers_required(), "TICKETING_REQUIRE_SERVERS=1 but DATABASE_URL is not set");
            eprintln!("skipped: DATABASE_URL is not set");
            return None;
        };
        // postgres://user@host:port/db: the part between `@` and the next `/`.
        let after_at = url.rsplit_once('@').map_or(url.as_str(), |(_, rest)| rest);
        let target = after_at.split('/').next().expect("host:port").to_owned();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port for the proxy");
        let addr = listener.local_addr().expect("bound");
        let (down, watch) = tokio::sync::watch::channel(false);
        let (silent, hush) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (mut watch, mut hush) = (watch.clone(), hush.clone());
                if *watch.borrow() {
                    continue; // dropped: closed at once
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let silent = *hush.borrow();
                    if silent {
                        // Unreachable: the connection is held open and nothing ever answers.
                        let _ = async { hush.wait_for(|silent| !*silent).await.is_ok() }.await;
                        return;
                    }
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else { return };
                    let hushed = tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
                        _ = watch.wait_for(|down| *down) => false,
                        // Every byte is swallowed from now on, both ways, as by a dead route.
                        _ = async { hush.wait_for(|silent| *silent).await.is_ok() } => true,
                    };
                    if hushed {
                        let _ = async { hush.wait_for(|silent| !*silent).await.is_ok() }.await;
                    }
                });
            }
        });
        Some(Self { addr, down, silent })
    }

    /// `DATABASE_URL` with this proxy as its host.
    pub fn url(&self) -> String {
        let url = database_url().expect("DATABASE_URL");
        let (scheme_user, rest) = url.rsplit_once('@').expect("postgres://user@host:port/db");
        let path = rest.split_once('/').map_or(String::new(), |(_, db)| format!("/{db}"));
        format!("{scheme_user}@{}{path}", self.addr)
    }

    /// Cuts every connection, and refuses new ones.
    pub fn cut(&self) {
        let _ = self.down.send(true);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        let _ = self.down.send(false);
        let _ = self.silent.send(false);
    }

    /// Makes the database unreachable rather than refusing: connections stay open and nothing
    /// answers, as when a route to the host is lost (each query waits, no error comes).
    pub fn silence(&self) {
        let _ = self.silent.send(true);
    }
}
