//! A small W3C WebDriver client for the browser tests: Debian's `chromedriver` driving Debian's
//! Chromium, headless, started on a free port for each test. Only the commands the tests use.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, Request, header};
use base64::Engine as _;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The key a WebDriver element reference is sent under.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the driver process ends with it.
pub struct Browser {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    driver: Child,
}

/// An element of the page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts `chromedriver` and a headless Chromium; `None` (and a note) when they are not
    /// installed and `TICKETING_REQUIRE_SERVERS` is not `1` (CI installs them and sets it).
    pub async fn start() -> Option<Self> {
        Self::start_with(&[]).await
    }

    /// [`Browser::start`], with Chromium's command line extended by `args`.
    pub async fn start_with(args: &[String]) -> Option<Self> {
        let (driver_path, chromium) = ("/usr/bin/chromedriver", "/usr/bin/chromium");
        if !std::path::Path::new(driver_path).exists() || !std::path::Path::new(chromium).exists() {
            assert!(
                !std::env::var("TICKETING_REQUIRE_SERVERS").is_ok_and(|v| v == "1"),
                "TICKETING_REQUIRE_SERVERS=1 but chromium and chromium-driver are not installed"
            );
            eprintln!("skipped: chromium and chromium-driver are not installed");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        // A process group of its own, so the browser it starts ends with it (`Drop`), even when a
        // test fails before `quit`.
        let driver = std::os::unix::process::CommandExt::process_group(&mut Command::new(driver_path), 0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Self {
            base: format!("http://127.0.0.1:{port}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
            driver,
        };
        for _ in 0..100 {
            if browser.try_send(Method::GET, "/status", None).await.is_some_and(|v| v["value"]["ready"] == true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut chromium_args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
            "--lang=en-GB",
        ]
        .map(str::to_owned)
        .to_vec();
        chromium_args.extend_from_slice(args);
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium, "args": chromium_args }
        }}});
        let session = browser.send(Method::POST, "/session", Some(capabilities)).await;
        let id = session["value"]["sessionId"].as_str().expect("a WebDriver session").to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        Some(browser)
    }

    async fn try_send(&self, method: Method, path: &str, body: Option<Value>) -> Option<Value> {
        let mut request = Request::builder().method(method).uri(format!("{}{path}", self.base));
        request = request.header(header::CONTENT_TYPE, "application/json");
        let body = Full::new(Bytes::from(body.map(|b| b.to_string()).unwrap_or_default()));
        let response = self.client.request(request.body(body).ok()?).await.ok()?;
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        serde_json::from_slice(&bytes).ok()
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let answer = self.try_send(method, path, body).await.expect("the driver answers");
        assert!(answer["value"]["error"].is_null(), "WebDriver {path}: {answer}");
        answer
    }

    /// Opens `url`.
    pub async fn go(&self, url: &str) {
        self.send(Method::POST, "/url", Some(json!({ "url": url }))).await;
    }

    /// The current address.
    pub async fn url(&self) -> String {
        self.send(Method::GET, "/url", None).await["value"].as_str().unwrap_or_default().to_owned()
    }

    /// The first element `css` selects, waiting up to 5 s for it.
    pub async fn find(&self, css: &str) -> Element {
        for _ in 0..50 {
            let found =
                self.try_send(Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
            if let Some(id) = found.as_ref().and_then(|f| f["value"][ELEMENT].as_str()) {
                return Element(id.to_owned());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no element matches {css}: the page is {}", self.text("body").await);
    }

    /// How many elements `css` selects now.
    pub async fn count(&self, css: &str) -> usize {
        let found = self.send(Method::POST, "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        found["value"].as_array().map_or(0, Vec::len)
    }

    /// The visible text of the first element `css` selects.
    pub async fn text(&self, css: &str) -> String {
        let found = self.try_send(Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        let Some(id) = found.as_ref().and_then(|f| f["value"][ELEMENT].as_str()) else { return String::new() };
        self.send(Method::GET, &format!("/element/{id}/text"), None).await["value"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Types `text` into `element`, after clearing it.
    pub async fn type_in(&self, element: &Element, text: &str) {
        self.send(Method::POST, &format!("/element/{}/clear", element.0), Some(json!({}))).await;
        self.send(Method::POST, &format!("/element/{}/value", element.0), Some(json!({ "text": text }))).await;
    }

    /// Clicks `element`.
    pub async fn click(&self, element: &Element) {
        self.send(Method::POST, &format!("/element/{}/click", element.0), Some(json!({}))).await;
    }

    /// `element`'s attribute `name`.
    pub async fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.send(Method::GET, &format!("/element/{}/attribute/{name}", element.0), None).await["value"]
            .as_str()
            .map(str::to_owned)
    }

    /// Runs `script` in the page (WebDriver's own channel: the page's CSP does not apply to it).
    pub async fn run(&self, script: &str) -> Value {
        self.send(Method::POST, "/execute/sync", Some(json!({ "script": script, "args": [] }))).await["value"].clone()
    }

    /// The serious and critical accessibility violations axe-core (vendored:
    /// `tests/vendor/axe-core`, `scripts/vendor-web-assets`) finds on the page, each as
    /// `rule: help (where)`. The library is injected through WebDriver, which the page's CSP
    /// does not govern; the page itself runs no script.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");
        self.send(Method::POST, "/execute/sync", Some(json!({ "script": format!("{AXE}\nreturn true;"), "args": [] })))
            .await;
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document)
              .then(r => done({ passed: r.passes.length, violations: r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target.join(' ')).join(', ')})`) }))
              .catch(e => done({ passed: 0, violations: ['axe failed: ' + e] }));";
        let found = self.send(Method::POST, "/execute/async", Some(json!({ "script": script, "args": [] }))).await;
        let report = &found["value"];
        assert!(report["passed"].as_u64().is_some_and(|n| n > 10), "axe-core checked the page: {report}");
        report["violations"]
            .as_array()
            .map(|v| v.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    }

    /// Resizes the window and saves a screenshot of the page as
    /// `{CARGO_TARGET_TMPDIR}/screenshots/{name}-{size}.png`, at phone and desktop sizes.
    /// Each is taken after axe-core finds no serious or critical violation on the page.
    pub async fn screenshots(&self, name: &str) {
        let violations = self.accessibility_violations().await;
        assert!(violations.is_empty(), "{name}: accessibility violations: {violations:#?}");
        let folder = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&folder).expect("a screenshot folder");
        for (size, width, height) in [("phone", 390, 844), ("desktop", 1280, 900)] {
            self.send(Method::POST, "/window/rect", Some(json!({ "width": width, "height": height }))).await;
            let shot = self.send(Method::GET, "/screenshot", None).await;
            let png = base64::engine::general_purpose::STANDARD
                .decode(shot["value"].as_str().expect("a screenshot"))
                .expect("base64");
            assert!(png.starts_with(b"\x89PNG"), "a PNG");
            std::fs::write(folder.join(format!("{name}-{size}.png")), png).expect("the screenshot is written");
        }
    }

    /// Ends the session (the browser closes), then the driver (`Drop`).
    pub async fn quit(self) {
        let _ = self.try_send(Method::DELETE, "", None).await;
    }
}

impl Drop for Browser {
    /// Ends the driver's whole process group: the driver and the browser it started.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.wait();
    }
}
