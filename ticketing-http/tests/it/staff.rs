//! The staff pages in a real browser (Debian's Chromium), against a real server on SQLite: the
//! gate scanner (`/scan`), its camera a video made from a ticket's QR
//! (`--use-file-for-fake-video-capture`), and the organiser's dashboard (`/admin`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::Full;
use serde_json::{Value, json};
use ticketing_pdf::qr::{EcLevel, QrMatrix};

use crate::support::{Backend, PASSWORD, PrivateRedis, TestServer, running_event};
use crate::webdriver::Browser;

/// The video's side, in pixels, and each QR module's.
const SIDE: usize = 480;
const MODULE: usize = 6;

/// A Y4M video (4:2:0) of `blank` white frames then `shown` frames of `text`'s QR, centred with
/// its quiet zone, at 10 frames a second. Chromium's fake camera plays it in a loop.
fn qr_video(name: &str, text: &str, blank: usize, shown: usize) -> PathBuf {
    let matrix = QrMatrix::encode(text, EcLevel::M).expect("the QR text encodes");
    let width = matrix.width();
    assert!((width + 8) * MODULE <= SIDE, "the QR fits the frame");
    let origin = (SIDE - width * MODULE) / 2;
    let mut code = vec![255u8; SIDE * SIDE];
    for y in 0..width * MODULE {
        for x in 0..width * MODULE {
            if matrix.is_dark(x / MODULE, y / MODULE) {
                code[(origin + y) * SIDE + origin + x] = 0;
            }
        }
    }
    let white = vec![255u8; SIDE * SIDE];
    let chroma = vec![128u8; SIDE * SIDE / 2];
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("camera-{name}-{}.y4m", std::process::id()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).expect("the video file"));
    writeln!(file, "YUV4MPEG2 W{SIDE} H{SIDE} F10:1 Ip A1:1 C420jpeg").expect("write");
    for frame in 0..blank + shown {
        file.write_all(b"FRAME\n").expect("write");
        file.write_all(if frame < blank { &white } else { &code }).expect("write");
        file.write_all(&chroma).expect("write");
    }
    file.flush().expect("write");
    path
}

/// A published event running now, a type, two gates with our agent (North, West) and one with
/// another agent (South), and three paid tickets.
struct Gate {
    agent_email: String,
    tickets: Vec<Value>,
}

async fn gate(s: &TestServer) -> Gate {
    let admin = s.admin().await;
    let agent_email = "gate-agent@example.org".to_owned();
    let agent = s.user(&admin, &agent_email, "agent").await;
    // Another agent's gate, which the picker must not offer.
    let other = s.user(&admin, "other-agent@example.org", "agent").await;
    let (event, kind) = running_event(s, &admin, "Nuits sonores", 100, 2).await;
    for (name, who) in [("North gate", &agent), ("West gate", &agent), ("South gate", &other)] {
        let body = Some(json!({"name": name, "agents": [who]}));
        let g = s.call(Method::POST, &format!("/api/v1/events/{event}/gates"), Some(&admin), body).await;
        g.ok(StatusCode::CREATED);
    }
    let holders: Vec<Value> =
        ["Camille Roux", "Inès Martin", "Hugo Petit"].iter().map(|n| json!({"name": n})).collect();
    let issued = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{kind}/tickets"),
            Some(&admin),
            Some(json!({"holders": holders, "status": "paid"})),
        )
        .await;
    let tickets = issued.ok(StatusCode::CREATED).as_array().expect("tickets").clone();
    Gate { agent_email, tickets }
}

/// Chromium's arguments for a camera that films `video`, allowed without asking.
fn camera(video: &Path) -> [String; 4] {
    [
        "--use-fake-ui-for-media-stream".to_owned(),
        "--use-fake-device-for-media-stream".to_owned(),
        format!("--use-file-for-fake-video-capture={}", video.display()),
        "--autoplay-policy=no-user-gesture-required".to_owned(),
    ]
}

/// Signs the scanner's page in as `email` and picks the North gate; the scanner is then ready.
async fn scanner_signed_in(browser: &Browser, base: &str, email: &str) {
    browser.go(&format!("{base}/scan")).await;
    browser.type_in(&browser.find("#scanner-email").await, email).await;
    browser.type_in(&browser.find("#scanner-password").await, PASSWORD).await;
    browser.click(&browser.find("#scanner-signin").await).await;
    pick_north(browser).await;
}

/// Picks the North gate in the scanner's gate picker, which offers only the agent's gates.
async fn pick_north(browser: &Browser) {
    browser.find("button.gate").await;
    let offered = browser.text(".gates").await;
    assert!(offered.contains("North gate") && offered.contains("West gate"), "{offered}");
    assert!(!offered.contains("South gate"), "another agent's gate is not offered: {offered}");
    browser
        .run("document.querySelectorAll('button.gate').forEach(b => b.textContent.includes('North') && b.click());")
        .await;
    browser.find("#scanner-verdict[data-kind=ready]").await;
}

/// The browser's timing of its reads (`window.scannerTimings`): per read, its source, when it
/// started and when its verdict was painted.
async fn timings(browser: &Browser) -> Vec<Value> {
    browser.run("return window.scannerTimings;").await.as_array().cloned().unwrap_or_default()
}

/// The kinds of verdict shown so far, once more than `before` were (waiting up to 10 s).
async fn read_after(browser: &Browser, before: usize) -> Vec<Value> {
    for _ in 0..100 {
        let all = timings(browser).await;
        if all.len() > before {
            return all.iter().map(|t| t["kind"].clone()).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no verdict after the read");
}

/// The last read's time from its start to its verdict on screen, in milliseconds.
async fn last_latency(browser: &Browser, source: &str) -> f64 {
    let all = timings(browser).await;
    let read = all.iter().rev().find(|t| t["source"] == source).expect("a timed read");
    read["shown"].as_f64().expect("shown") - read["started"].as_f64().expect("started")
}

/// The ticket's status as the API has it.
async fn status(s: &TestServer, ticket: &Value) -> String {
    let admin = s.admin().await;
    let id = ticket["id"].as_str().expect("id");
    let answer = s.call(Method::GET, &format!("/api/v1/tickets/{id}"), Some(&admin), None).await;
    answer.ok(StatusCode::OK)["status"].as_str().expect("status").to_owned()
}

/// Sign-in → the agent's own gate → the camera reads a ticket: green → In → the log and the
/// database agree; the same ticket again is offered Out only; a forged QR through the wedge is
/// red `bad_signature`; a typed QR and a typed short code pass; the verdicts' times are written
/// out; the server stopped between a green and its confirmation shows "unavailable", never
/// green.
#[tokio::test]
async fn an_agent_scans_with_the_camera_a_wedge_and_a_typed_code() {
    if !Path::new("/usr/bin/chromium").exists() {
        // `Browser::start` says why (and fails when CI requires it).
        assert!(Browser::start().await.is_none());
        return;
    }
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite needs no server");
    let g = gate(&s).await;
    let camera_ticket = &g.tickets[0];
    let video = qr_video("ticket", camera_ticket["qr_payload"].as_str().expect("qr"), 10, 30);
    let browser = Browser::start_with(&camera(&video)).await.expect("Chromium is installed");
    let base = format!("http://{}", s.addr);

    // Sign in; the picker offers this agent's gates only.
    browser.go(&format!("{base}/scan")).await;
    browser.find("#scanner-email").await;
    browser.screenshots("scanner-signin").await;
    browser.type_in(&browser.find("#scanner-email").await, &g.agent_email).await;
    browser.type_in(&browser.find("#scanner-password").await, PASSWORD).await;
    browser.click(&browser.find("#scanner-signin").await).await;
    browser.find("button.gate").await;
    browser.screenshots("scanner-gates").await;
    pick_north(&browser).await;
    let bar = browser.text(".bar").await;
    assert!(bar.contains("North gate") && !bar.contains("South gate"), "{bar}");
    browser.screenshots("scanner-ready").await;

    // The camera: the QR appears, the verdict is green with the holder; In records the entry.
    browser.click(&browser.find("#scanner-camera").await).await;
    browser.find("#scanner-verdict[data-kind=ok]").await;
    let camera_ms = last_latency(&browser, "camera").await;
    assert!(browser.text("#scanner-verdict").await.contains("Camille Roux"));
    browser.screenshots("scanner-green").await;
    browser.click(&browser.find("#scanner-in").await).await;
    browser.find("#scanner-verdict[data-kind=done]").await;
    assert_eq!(status(&s, camera_ticket).await, "inside", "the database agrees");
    browser.find("#scanner-log li[data-direction=in][data-reason=ok]").await;
    assert_eq!(browser.text("#scanner-counts").await, "In 1 · Out 0");

    // The QR stays in view: still one scan. Shown again (the camera started anew): Out only, not
    // green.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(browser.text("#scanner-verdict").await.lines().next(), Some("✔"), "no second scan");
    browser.click(&browser.find("#scanner-camera").await).await;
    browser.click(&browser.find("#scanner-camera").await).await;
    browser.find("#scanner-verdict[data-kind=exit]").await;
    assert_eq!(browser.count("#scanner-in").await, 0, "no In for a ticket inside");
    browser.find("#scanner-out").await;
    browser.screenshots("scanner-inside").await;
    browser.click(&browser.find("#scanner-camera").await).await;

    // The wedge: a forged QR is red with its reason in words; a real one is green.
    let forged = forge(g.tickets[1]["qr_payload"].as_str().expect("qr"));
    let wedge = browser.find("#scanner-wedge").await;
    browser.type_in(&wedge, &format!("{forged}\n")).await;
    browser.find("#scanner-verdict[data-kind=bad][data-reason=bad_signature]").await;
    assert!(browser.text("#scanner-verdict").await.contains("Forged or altered code"));
    browser.screenshots("scanner-red").await;
    browser.type_in(&wedge, &format!("{}\n", g.tickets[1]["qr_payload"].as_str().expect("qr"))).await;
    browser.find("#scanner-verdict[data-kind=ok]").await;
    let wedge_ms = last_latency(&browser, "wedge").await;
    assert!(browser.text("#scanner-verdict").await.contains("Inès Martin"));

    // A typed short code, confirmed In at once by the agent's setting.
    browser.click(&browser.find("#scanner-auto").await).await;
    let code = g.tickets[2]["short_code"].as_str().expect("code");
    browser.type_in(&browser.find("#scanner-manual").await, code).await;
    browser.click(&browser.find("#scanner-check").await).await;
    browser.find("#scanner-verdict[data-kind=done]").await;
    assert_eq!(status(&s, &g.tickets[2]).await, "inside");
    assert_eq!(browser.text("#scanner-counts").await, "In 2 · Out 0");

    let report = json!({ "camera_ms": camera_ms, "wedge_ms": wedge_ms, "reads": timings(&browser).await });
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scanner-timings.json");
    std::fs::write(&path, report.to_string()).expect("the timings are written");
    eprintln!("scanner: QR shown → verdict {camera_ms:.0} ms, wedge Enter → verdict {wedge_ms:.0} ms");
    // The issue's budgets (measured 58–98 ms and 12–20 ms here: see BENCHMARKS.md).
    assert!(camera_ms <= 300.0, "QR shown → verdict took {camera_ms:.0} ms (budget 300 ms)");
    assert!(wedge_ms <= 100.0, "wedge Enter → verdict took {wedge_ms:.0} ms (budget 100 ms)");

    // In French, the words follow.
    browser.go(&format!("{base}/scan?lang=fr")).await;
    browser.find("html[lang=fr] #scanner-verdict").await;
    assert!(browser.text(".bar").await.contains("Changer de porte"));
    browser.screenshots("scanner-fr").await;
    browser.go(&format!("{base}/scan?lang=en")).await;

    // The server stops between a green verdict and its confirmation: never green after.
    browser.click(&browser.find("#scanner-auto").await).await;
    // The second ticket was only requested at the wedge: it may still enter.
    let second = g.tickets[1]["qr_payload"].as_str().expect("qr");
    browser.type_in(&browser.find("#scanner-wedge").await, &format!("{second}\n")).await;
    browser.find("#scanner-verdict[data-kind=ok]").await;
    s.stop().await;
    browser.click(&browser.find("#scanner-in").await).await;
    browser.find("#scanner-verdict[data-kind=down]").await;
    let shown = browser.text("#scanner-verdict").await;
    assert!(shown.contains("System unavailable") && shown.contains("Do not admit."), "{shown}");
    browser.find("#scanner-retry").await;
    browser.find("#scanner-next").await;
    browser.screenshots("scanner-down").await;
    let before = timings(&browser).await.len();
    browser.type_in(&browser.find("#scanner-wedge").await, "26H5AJV4X2\n").await;
    let kinds = read_after(&browser, before).await;
    assert_eq!(kinds.last(), Some(&json!("down")), "{kinds:?}");
    assert!(!kinds.iter().skip_while(|k| **k != json!("down")).any(|k| k == "ok" || k == "done"), "{kinds:?}");
    browser.quit().await;
    let _ = std::fs::remove_file(video);
}

/// A server that answers 503 (on Postgres+Redis with its Redis gone, scanning fails closed):
/// the confirmation of a green verdict and a new read both show "unavailable", never green.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_shows_unavailable_and_never_green() {
    let Some(redis) = PrivateRedis::start() else { return };
    let url = redis.url();
    let Some(s) = TestServer::start_with(Backend::PgRedis, &[("TICKETING_REDIS_URL", &url)]).await else { return };
    let Some(browser) = Browser::start().await else { return };
    let g = gate(&s).await;
    scanner_signed_in(&browser, &format!("http://{}", s.addr), &g.agent_email).await;
    let wedge = browser.find("#scanner-wedge").await;
    browser.type_in(&wedge, &format!("{}\n", g.tickets[0]["qr_payload"].as_str().expect("qr"))).await;
    browser.find("#scanner-verdict[data-kind=ok]").await;

    let redis = redis.stop();
    browser.click(&browser.find("#scanner-in").await).await;
    browser.find("#scanner-verdict[data-kind=down]").await;
    let shown = browser.text("#scanner-verdict").await;
    assert!(shown.contains("System unavailable") && shown.contains("Do not admit."), "{shown}");
    let before = timings(&browser).await.len();
    browser.type_in(&wedge, &format!("{}\n", g.tickets[1]["qr_payload"].as_str().expect("qr"))).await;
    let kinds = read_after(&browser, before).await;
    assert_eq!(kinds, [json!("ok"), json!("down"), json!("down")], "never green once the server failed");

    // The API's own test (`journey::scanning_fails_closed_while_redis_is_down`) shows nobody was
    // admitted and that the ticket enters once when Redis is back.
    drop(redis);
    browser.quit().await;
    s.stop().await;
}

/// `qr` with its last symbol changed: its signature no longer matches.
fn forge(qr: &str) -> String {
    let (head, last) = qr.split_at(qr.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}

/// A forged QR before the camera: red, `bad_signature`, in words, and nothing to confirm. Then a
/// green verdict left unconfirmed turns red when its 5-second session ends.
#[tokio::test]
async fn a_forged_qr_before_the_camera_is_red_and_green_ends_with_its_session() {
    if !Path::new("/usr/bin/chromium").exists() {
        assert!(Browser::start().await.is_none());
        return;
    }
    let settings = [("TICKETING_SCAN_SESSION_TTL_SECS", "5")];
    let s = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite needs no server");
    let g = gate(&s).await;
    let video = qr_video("forged", &forge(g.tickets[0]["qr_payload"].as_str().expect("qr")), 5, 30);
    let browser = Browser::start_with(&camera(&video)).await.expect("Chromium is installed");
    scanner_signed_in(&browser, &format!("http://{}", s.addr), &g.agent_email).await;
    browser.click(&browser.find("#scanner-camera").await).await;
    browser.find("#scanner-verdict[data-kind=bad][data-reason=bad_signature]").await;
    let shown = browser.text("#scanner-verdict").await;
    assert!(shown.contains("Forged or altered code") && shown.contains("Do not admit."), "{shown}");
    assert_eq!(browser.count("#scanner-in").await + browser.count("#scanner-out").await, 0);
    assert_eq!(status(&s, &g.tickets[0]).await, "paid", "nothing changed");

    browser.click(&browser.find("#scanner-camera").await).await;
    let wedge = browser.find("#scanner-wedge").await;
    browser.type_in(&wedge, &format!("{}\n", g.tickets[1]["qr_payload"].as_str().expect("qr"))).await;
    browser.find("#scanner-verdict[data-kind=ok]").await;
    browser.find("#scanner-verdict[data-kind=bad][data-reason=session_expired]").await;
    assert!(browser.text("#scanner-verdict").await.contains("Too slow: scan again"));
    assert_eq!(browser.count("#scanner-in").await, 0, "nothing left to confirm");
    browser.quit().await;
    s.stop().await;
    let _ = std::fs::remove_file(video);
}

/// The scanner page: its policy lets scripts come from this server only (no inline script, no
/// `eval`), and what it loads weighs at most 250 KB compressed.
#[tokio::test]
async fn the_scanner_page_is_light_and_runs_nothing_from_elsewhere() {
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite needs no server");
    let page = s.raw(Method::GET, "/scan", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = page.headers[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
    assert!(policy.contains("script-src 'self';") && !policy.contains("unsafe"), "{policy}");
    for tag in page.text.split("<script").skip(1) {
        let tag = tag.split('>').next().unwrap_or_default();
        assert!(tag.contains(" src=") || tag.contains("type=\"application/json\""), "nothing inline runs: {tag}");
    }
    let mut weight = page.text.len();
    // minijinja writes `/` in attributes as `&#x2f;`.
    let html = page.text.replace("&#x2f;", "/");
    let linked: Vec<&str> = html.split(['"', '\'']).filter(|part| part.starts_with("/assets/")).collect();
    assert_eq!(linked.len(), 5, "the stylesheet, Vue, the sign-in, the scanner and its decoder: {linked:?}");
    for path in linked {
        let request = Request::builder()
            .uri(format!("http://{}{path}", s.addr))
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
            .body(Full::new(Bytes::new()))
            .expect("a request");
        let answer = s.send(request).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.headers[header::CONTENT_ENCODING], "gzip", "{path}");
        assert!(answer.headers[header::CACHE_CONTROL].to_str().expect("ascii").contains("immutable"));
        let length = answer.headers[header::CONTENT_LENGTH].to_str().expect("ascii");
        weight += length.parse::<usize>().expect("a length");
    }
    eprintln!("scanner page: {weight} bytes compressed");
    assert!(weight <= 250 * 1024, "the scanner weighs {weight} bytes compressed");
    s.stop().await;
}

/// The dashboard: the admin signs in, opens the event, and reads the counts the API returns
/// (sold, inside, occupancy), drawn per type, gate and reason; an export is fetched and saved.
#[tokio::test]
async fn the_dashboard_shows_what_the_api_counts() {
    let Some(browser) = Browser::start().await else { return };
    let s = TestServer::start(Backend::Sqlite).await.expect("SQLite needs no server");
    let g = gate(&s).await;
    // One entry and one forged read at the agent's gate.
    let agent = s.token(&g.agent_email, PASSWORD).await;
    let gates = s.call(Method::GET, "/api/v1/scan/gates", Some(&agent), None).await;
    let gates = gates.ok(StatusCode::OK).as_array().expect("gates").clone();
    let north = gates.iter().find(|g| g["name"] == "North gate").expect("the North gate");
    let gate_id = north["id"].as_str().expect("a gate").to_owned();
    let read = json!({"gate_id": gate_id, "qr": g.tickets[0]["qr_payload"]});
    let verdict = s.call(Method::POST, "/api/v1/scan/request", Some(&agent), Some(read)).await;
    let token = verdict.ok(StatusCode::OK)["scan_session_token"].clone();
    let confirm = json!({"gate_id": gate_id, "scan_session_token": token, "direction": "in"});
    s.call(Method::POST, "/api/v1/scan/confirm", Some(&agent), Some(confirm)).await.ok(StatusCode::OK);
    let forged = json!({"gate_id": gate_id, "qr": "TK1.forged"});
    s.call(Method::POST, "/api/v1/scan/request", Some(&agent), Some(forged)).await.ok(StatusCode::OK);
    let admin = s.admin().await;
    let event = g.tickets[0]["event_id"].as_str().expect("event").to_owned();
    let board = s.call(Method::GET, &format!("/api/v1/events/{event}/dashboard"), Some(&admin), None).await;
    let board = board.ok(StatusCode::OK).clone();

    let base = format!("http://{}", s.addr);
    browser.go(&format!("{base}/admin")).await;
    browser.type_in(&browser.find("#admin-email").await, crate::support::ADMIN).await;
    browser.type_in(&browser.find("#admin-password").await, crate::support::ADMIN_PASSWORD).await;
    browser.screenshots("admin-signin").await;
    browser.click(&browser.find("#admin-signin").await).await;
    browser.find(&format!("button[data-event='{event}']")).await;
    browser.screenshots("admin-events").await;
    browser.click(&browser.find(&format!("button[data-event='{event}']")).await).await;
    browser.find("#admin-sold").await;
    let sold: u64 = board["types"].as_array().expect("types").iter().map(|t| t["sold"].as_u64().expect("n")).sum();
    assert_eq!(browser.text("#admin-sold").await, sold.to_string());
    assert_eq!(browser.text("#admin-inside").await, board["inside"].to_string());
    assert_eq!((sold, board["inside"].as_u64()), (3, Some(1)), "{board}");
    assert_eq!(browser.text("#admin-occupancy").await, "0 %", "1 inside of 500");
    assert!(browser.text("#admin-types").await.contains("Pass"));
    assert!(browser.text("#admin-types li").await.ends_with("3 / 100"));
    assert!(browser.text("#admin-gates").await.contains("North gate"));
    assert!(browser.text("#admin-refusals").await.contains("Forged or altered code"));
    assert_eq!(browser.count("#admin-flow rect").await, 2 * board["flow"].as_array().expect("flow").len());
    browser.screenshots("admin-dashboard").await;
    browser.click(&browser.find("button[data-export='participants.csv']").await).await;
    browser.find("#admin-saved").await;
    assert_eq!(browser.text("#admin-saved").await, "Saved: participants.csv");

    // While the event runs the page counts again by itself: a second entry shows.
    let read = json!({"gate_id": gate_id, "qr": g.tickets[1]["qr_payload"]});
    let verdict = s.call(Method::POST, "/api/v1/scan/request", Some(&agent), Some(read)).await;
    let token = verdict.ok(StatusCode::OK)["scan_session_token"].clone();
    let confirm = json!({"gate_id": gate_id, "scan_session_token": token, "direction": "in"});
    s.call(Method::POST, "/api/v1/scan/confirm", Some(&agent), Some(confirm)).await.ok(StatusCode::OK);
    let mut inside = String::new();
    for _ in 0..80 {
        inside = browser.text("#admin-inside").await;
        if inside == "2" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(inside, "2", "the dashboard counted again");

    // Signing out revokes the sign-in's tokens on the server.
    let kept = browser.run("return JSON.parse(sessionStorage.getItem('ticketing.dashboard')).session;").await;
    let access = kept["access"].as_str().expect("an access token").to_owned();
    s.call(Method::GET, "/api/v1/me", Some(&access), None).await.ok(StatusCode::OK);
    browser.click(&browser.find("#admin-back").await).await;
    browser.click(&browser.find("#admin-signout").await).await;
    browser.find("#admin-email").await;
    let mut refused = StatusCode::OK;
    for _ in 0..50 {
        refused = s.call(Method::GET, "/api/v1/me", Some(&access), None).await.status;
        if refused == StatusCode::UNAUTHORIZED {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(refused, StatusCode::UNAUTHORIZED, "the access token was revoked");
    browser.quit().await;
    s.stop().await;
}
