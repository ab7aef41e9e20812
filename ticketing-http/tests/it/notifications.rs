//! Notifications through HTTP against real servers: an SMTP server (Debian's `python3-aiosmtpd`,
//! started here on loopback by `tests/tools/smtp_sink.py`, writing each message it accepts to a
//! Maildir folder, read back with Python's own email parser) and SMS providers played by local
//! HTTP servers that keep every request.
//!
//! aiosmtpd is a real SMTP implementation (EHLO, MAIL, RCPT, DATA, reply codes) that a test can
//! start in a second and make answer `451`; a message it keeps is the bytes lettre sent, parsed
//! by a parser we did not write.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use crate::selling::{deliver, shop, stripe_completed};
use crate::support::{Backend, STRIPE_SECRET, TestServer, decode_pdf_qr};

/// The Python that has Debian's aiosmtpd.
const PYTHON: &str = "/usr/bin/python3";

fn tool(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tools").join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("an address").port()
}

/// An SMTP server on loopback, stopped on drop.
struct SmtpSink {
    port: u16,
    folder: PathBuf,
    child: Child,
}

impl SmtpSink {
    /// Starts one that answers the first `refuse` messages `451`.
    fn start(refuse: u32) -> Self {
        Self::start_on(free_port(), refuse)
    }

    /// Starts one on `port`.
    fn start_on(port: u16, refuse: u32) -> Self {
        let folder = std::env::temp_dir().join(format!("ticketing-smtp-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        let mut child = Command::new(PYTHON)
            .arg(tool("smtp_sink.py"))
            .args([port.to_string(), folder.display().to_string(), "--refuse".into(), refuse.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (the CI script installs python3-aiosmtpd)");
        let mut ready = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().expect("stdout")), &mut ready)
            .expect("the sink starts");
        assert_eq!(ready.trim(), "ready", "the SMTP sink did not start");
        Self { port, folder, child }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages kept so far, parsed.
    fn messages(&self) -> Vec<Value> {
        if !self.folder.join("new").exists() {
            return vec![];
        }
        let out = Command::new(PYTHON)
            .arg(tool("read_mail.py"))
            .arg(&self.folder)
            .arg(self.folder.join("attachments"))
            .output()
            .expect("python3 reads the Maildir");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    /// Waits until `n` messages are kept (20 s at most).
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{n} messages did not arrive: {:?}", self.messages());
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// A request an SMS provider got.
#[derive(Clone, Debug)]
struct Got {
    path: String,
    headers: HeaderMap,
    body: String,
}

/// An SMS provider on loopback: answers each request with the next status of its script (then
/// 200), and keeps every request.
#[derive(Clone)]
struct Provider {
    addr: std::net::SocketAddr,
    got: Arc<Mutex<Vec<Got>>>,
}

async fn provider(script: Vec<u16>) -> Provider {
    type Shared = (Arc<Mutex<Vec<Got>>>, Arc<Mutex<Vec<u16>>>);
    async fn answer(
        axum::extract::State((got, script)): axum::extract::State<Shared>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, String) {
        got.lock().expect("a lock").push(Got { path: uri.path().to_owned(), headers, body });
        let mut script = script.lock().expect("a lock");
        let status = if script.is_empty() { 200 } else { script.remove(0) };
        (StatusCode::from_u16(status).expect("a status"), r#"{"sid":"SM1","status":"queued"}"#.into())
    }
    let got: Arc<Mutex<Vec<Got>>> = Arc::default();
    let app = axum::Router::new()
        .fallback(axum::routing::post(answer))
        .with_state((got.clone(), Arc::new(Mutex::new(script))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    Provider { addr, got }
}

/// Places an order for Zoé (email and phone, English) and pays it with a Stripe delivery.
pub(crate) async fn paid_order(s: &TestServer, event: &str, ticket_type: &str, provider_event: &str) -> Value {
    let body = json!({
        "lines": [{"ticket_type_id": ticket_type, "quantity": 2}],
        "buyer": {"name": "Zoé Lefèvre", "email": "zoe@example.org", "phone": "+33612345678"}
    });
    let placed = s.call(Method::POST, &format!("/api/v1/public/events/{event}/orders"), None, Some(body)).await;
    let placed = placed.ok(StatusCode::CREATED).clone();
    let paid = deliver(
        &s.handle(),
        "stripe",
        Some(("Stripe-Signature", STRIPE_SECRET)),
        &stripe_completed(provider_event, &placed["order"]),
    )
    .await;
    assert_eq!(paid.ok(StatusCode::OK)["outcome"], "paid");
    placed
}

/// The event's notification log once `n` messages are settled (20 s at most).
async fn settled_log(s: &TestServer, event: &str, organizer: &str, n: usize) -> Vec<Value> {
    let mut log = vec![];
    for _ in 0..200 {
        let answer = s.call(Method::GET, &format!("/api/v1/events/{event}/notifications"), Some(organizer), None).await;
        log = answer.ok(StatusCode::OK).as_array().expect("a list").clone();
        if log.len() >= n && log.iter().all(|m| m["status"] != "retrying") {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the notifications did not settle: {log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paid_order_s_buyer_gets_an_email_with_the_tickets_and_a_text_retried_once() {
    let smtp = SmtpSink::start(0);
    let sms = provider(vec![503]).await;
    let (smtp_url, sms_url) = (smtp.url(), format!("http://{}/sms", sms.addr));
    let settings = [
        ("TICKETING_SMTP_URL", smtp_url.as_str()),
        ("TICKETING_MAIL_FROM", "Billetterie <billets@festival.test>"),
        ("TICKETING_SMS_PROVIDER", "webhook"),
        ("TICKETING_SMS_URL", sms_url.as_str()),
        ("TICKETING_SMS_TOKEN", "sms-token-123"),
        ("TICKETING_JOB_RETRY_SECS", "1"),
    ];
    let s = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite always runs");
    let shop = shop(&s, "mail", 10).await;
    let placed = paid_order(&s, &shop.event, &shop.ticket_type, "evt_mail").await;

    let messages = smtp.wait_for(1).await;
    assert_eq!(messages.len(), 1, "one email: {messages:?}");
    let mail = &messages[0];
    assert_eq!(mail["envelope_to"], "zoe@example.org");
    assert_eq!(mail["from"], "Billetterie <billets@festival.test>");
    assert!(mail["to"].as_str().is_some_and(|to| to.contains("zoe@example.org")), "{mail}");
    assert_eq!(mail["subject"], format!("Your tickets for {}", "mail"));
    let message_id = mail["message_id"].as_str().expect("a Message-ID");
    assert!(message_id.ends_with("@festival.test>"), "{message_id}");
    let (text, html) = (mail["text"].as_str().expect("a text part"), mail["html"].as_str().expect("an HTML part"));
    assert!(text.contains("Zoé Lefèvre") && text.contains("90.00 EUR"), "{text}");
    assert!(html.contains("Zoé Lefèvre") && html.contains("<a href="), "{html}");

    // Each attachment is a ticket's PDF whose QR is the ticket's; each ticket's link opens it.
    let order = s
        .call(
            Method::GET,
            &format!("/api/v1/public/orders/{}", placed["order_token"].as_str().expect("token")),
            None,
            None,
        )
        .await;
    let tickets = order.ok(StatusCode::OK)["tickets"].as_array().expect("tickets").clone();
    let attachments = mail["attachments"].as_array().expect("attachments");
    assert_eq!(attachments.len(), 2, "{attachments:?}");
    let mut decoded: Vec<String> = attachments
        .iter()
        .map(|a| {
            assert_eq!(a["type"], "application/pdf");
            decode_pdf_qr(&std::fs::read(a["path"].as_str().expect("a path")).expect("the PDF"))
        })
        .collect();
    let mut expected = vec![];
    for ticket in &tickets {
        let link = ticket["magic_link"]["token"].as_str().expect("a paid ticket's link");
        assert!(text.contains(&format!("/tickets/{link}")), "the email carries each link");
        let url =
            text.split_whitespace().find(|w| w.ends_with(&format!("/tickets/{link}"))).expect("the link as a URL");
        let path = url.split_once(&s.addr.to_string()).map(|(_, p)| p).expect("on this server");
        let page = s.raw(Method::GET, path, None, None).await;
        assert_eq!(page.status, StatusCode::OK, "the ticket's page opens");
        let opened = s.call(Method::GET, &format!("/api/v1/public{path}"), None, None).await;
        let page = opened.ok(StatusCode::OK);
        assert_eq!(
            (page["short_code"].as_str(), page["status"].as_str()),
            (ticket["short_code"].as_str(), Some("paid"))
        );
        expected.push(page["qr_payload"].as_str().expect("a payload").to_owned());
    }
    decoded.sort();
    expected.sort();
    assert_eq!(decoded, expected, "the PDFs' QR codes are the tickets'");

    // The text message: refused once (503), sent on the job's next attempt with the same id.
    let log = settled_log(&s, &shop.event, &shop.organizer, 2).await;
    let got = sms.got.lock().expect("a lock").clone();
    assert_eq!(got.len(), 2, "{got:?}");
    for request in &got {
        assert_eq!(request.path, "/sms");
        assert_eq!(request.headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer sms-token-123"));
        let body: Value = serde_json::from_str(&request.body).expect("JSON");
        assert_eq!(body["to"], "+33612345678");
        let text = body["text"].as_str().expect("a text");
        assert!(text.contains(placed["order_token"].as_str().expect("token")), "the order's link: {text}");
        assert!(ticketing_core::notification::sms_segments(text) <= 2, "{text}");
        assert_eq!(body["id"], serde_json::from_str::<Value>(&got[0].body).expect("JSON")["id"], "the same id");
    }
    let shown: Vec<(&str, &str, &str, u64)> = log
        .iter()
        .map(|m| {
            (
                m["channel"].as_str().unwrap_or_default(),
                m["recipient"].as_str().unwrap_or_default(),
                m["status"].as_str().unwrap_or_default(),
                m["attempts"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    assert!(shown.contains(&("email", "z***@example.org", "sent", 1)), "{shown:?}");
    assert!(shown.contains(&("sms", "+33*******78", "sent", 2)), "{shown:?}");
    assert!(log.iter().all(|m| m["kind"] == "payment_succeeded"));

    let metrics = s.call(Method::GET, "/metrics", None, None).await.text;
    for line in [
        r#"notifications_total{kind="payment_succeeded",channel="email",outcome="sent"} 1"#,
        r#"notifications_total{kind="payment_succeeded",channel="sms",outcome="retry"} 1"#,
        r#"notifications_total{kind="payment_succeeded",channel="sms",outcome="sent"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_smtp_server_delays_an_email_and_a_refused_text_is_final() {
    let smtp = SmtpSink::start(1);
    let twilio = provider(vec![400]).await;
    let (smtp_url, base) = (smtp.url(), format!("http://{}", twilio.addr));
    let settings = [
        ("TICKETING_SMTP_URL", smtp_url.as_str()),
        ("TICKETING_SMS_PROVIDER", "twilio"),
        ("TICKETING_SMS_URL", base.as_str()),
        ("TICKETING_SMS_ACCOUNT", "AC0123"),
        ("TICKETING_SMS_TOKEN", "twilio-token"),
        ("TICKETING_SMS_FROM", "+15005550006"),
        ("TICKETING_JOB_RETRY_SECS", "1"),
    ];
    let s = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite always runs");
    let shop = shop(&s, "busy", 10).await;
    paid_order(&s, &shop.event, &shop.ticket_type, "evt_busy").await;

    let log = settled_log(&s, &shop.event, &shop.organizer, 2).await;
    let email = log.iter().find(|m| m["channel"] == "email").expect("the email");
    assert_eq!((email["status"].as_str(), email["attempts"].as_u64()), (Some("sent"), Some(2)), "451, then kept");
    assert_eq!(smtp.messages().len(), 1, "kept once");
    let text = log.iter().find(|m| m["channel"] == "sms").expect("the text");
    assert_eq!((text["status"].as_str(), text["attempts"].as_u64()), (Some("failed"), Some(1)), "a 400 is final");
    assert!(text["last_error"].as_str().is_some_and(|e| e.starts_with("400")), "{text}");

    let got = twilio.got.lock().expect("a lock").clone();
    assert_eq!(got.len(), 1, "not retried: {got:?}");
    assert_eq!(got[0].path, "/2010-04-01/Accounts/AC0123/Messages.json");
    let basic = format!("Basic {}", base64_of("AC0123:twilio-token"));
    assert_eq!(got[0].headers.get("authorization").and_then(|v| v.to_str().ok()), Some(basic.as_str()));
    assert!(got[0].body.starts_with("To=%2B33612345678&From=%2B15005550006&Body="), "{}", got[0].body);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_smtp_server_leaves_the_email_queued_and_health_says_degraded() {
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let settings = [("TICKETING_SMTP_URL", url.as_str()), ("TICKETING_JOB_RETRY_SECS", "1")];
    let s = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite always runs");
    let health = s.call(Method::GET, "/health", None, None).await;
    assert_eq!(health.ok(StatusCode::OK)["email"]["status"], "up");
    let shop = shop(&s, "down", 10).await;
    paid_order(&s, &shop.event, &shop.ticket_type, "evt_down").await;

    // Nothing listens: the email is put off, the server is not down.
    let mut email = Value::Null;
    for _ in 0..200 {
        let log = s
            .call(Method::GET, &format!("/api/v1/events/{}/notifications", shop.event), Some(&shop.organizer), None)
            .await;
        if let Some(found) = log.ok(StatusCode::OK).as_array().expect("a list").iter().find(|m| m["channel"] == "email")
        {
            email = found.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(email["status"], "retrying", "{email}");
    let health = s.call(Method::GET, "/health", None, None).await;
    let health = health.ok(StatusCode::OK);
    assert_eq!(
        (health["status"].as_str(), health["email"]["status"].as_str()),
        (Some("ok"), Some("degraded")),
        "{health}"
    );
    assert_eq!(health["sms"]["status"], "not_configured");
    let text =
        s.call(Method::GET, &format!("/api/v1/events/{}/notifications", shop.event), Some(&shop.organizer), None).await;
    let text = text.ok(StatusCode::OK).as_array().expect("a list").iter().find(|m| m["channel"] == "sms").cloned();
    assert_eq!(text.expect("the text message")["status"], "skipped", "no SMS provider here");
    let queued = r#"queue_depth{kind="notify"} 1"#;
    let mut seen = false;
    for _ in 0..100 {
        seen = s.call(Method::GET, "/metrics", None, None).await.text.contains(queued);
        if seen {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen, "the email's job waits in the queue for its retry: {queued}");

    // The server comes back: the email goes out on a later attempt, once.
    let smtp = SmtpSink::start_on(port, 0);
    let messages = smtp.wait_for(1).await;
    let log = settled_log(&s, &shop.event, &shop.organizer, 2).await;
    let email = log.iter().find(|m| m["channel"] == "email").expect("the email");
    assert_eq!(email["status"], "sent");
    assert!(email["attempts"].as_u64().is_some_and(|n| n >= 2), "{email}");
    assert_eq!(messages.len(), 1);
    let health = s.call(Method::GET, "/health", None, None).await;
    assert_eq!(health.ok(StatusCode::OK)["email"]["status"], "up");
    // The gauge is counted every second: it shows the empty queue within a few.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = s.call(Method::GET, "/metrics", None, None).await.text;
        if metrics.contains(r#"queue_depth{kind="notify"} 0"#) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(metrics.contains(r#"queue_depth{kind="notify"} 0"#), "{metrics}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_inbox_gets_at_most_five_messages_a_minute() {
    let smtp = SmtpSink::start(0);
    let url = smtp.url();
    let s = TestServer::start_with(Backend::Sqlite, &[("TICKETING_SMTP_URL", url.as_str())]).await.expect("SQLite");
    let shop = shop(&s, "inbox", 10).await;
    let holders: Vec<Value> =
        (0..6).map(|i| json!({"name": format!("Guest {i}"), "email": "family@example.org"})).collect();
    let issued = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{}/tickets", shop.ticket_type),
            Some(&shop.organizer),
            Some(json!({"status": "paid", "holders": holders})),
        )
        .await;
    issued.ok(StatusCode::CREATED);
    let mut log = vec![];
    for _ in 0..200 {
        let answer = s
            .call(Method::GET, &format!("/api/v1/events/{}/notifications", shop.event), Some(&shop.organizer), None)
            .await;
        log = answer.ok(StatusCode::OK).as_array().expect("a list").clone();
        if log.len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = log.iter().filter(|m| m["status"] == "sent").count();
    let put_off: Vec<&Value> = log.iter().filter(|m| m["status"] == "retrying").collect();
    assert_eq!((sent, put_off.len()), (5, 1), "{log:?}");
    assert!(put_off[0]["last_error"].as_str().is_some_and(|e| e.contains("5 messages a minute")), "{:?}", put_off[0]);
    assert!(log.iter().all(|m| m["kind"] == "ticket_created" && m["recipient"] == "f***@example.org"));
    assert_eq!(smtp.wait_for(5).await.len(), 5);
    let health = s.call(Method::GET, "/health", None, None).await;
    assert_eq!(
        health.ok(StatusCode::OK)["email"]["status"],
        "up",
        "a message put off by the limit is not the channel's fault"
    );
    s.stop().await;
}

/// A flood of forged codes at a gate tells the event's organizer and the superadmin once per
/// window, by email, with the gate and the count; the audit trail has the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_codes_at_a_gate_alert_the_organisers_once_a_window() {
    let smtp = SmtpSink::start(0);
    let url = smtp.url();
    let s = TestServer::start_with(Backend::Sqlite, &[("TICKETING_SMTP_URL", url.as_str())]).await.expect("SQLite");
    let shop = shop(&s, "forged", 10).await;
    for n in 0..30 {
        let body = json!({"gate_id": shop.gate, "qr": format!("FORGED{n}")});
        let verdict = s.call(Method::POST, "/api/v1/scan/request", Some(&shop.agent), Some(body)).await;
        assert_eq!(verdict.ok(StatusCode::OK)["reason"], "bad_signature");
    }
    let log = settled_log(&s, &shop.event, &shop.organizer, 2).await;
    let mut told: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|m| {
            let field = |k: &str| m[k].as_str().unwrap_or_default();
            (field("kind"), field("recipient"), field("status"))
        })
        .collect();
    told.sort();
    assert_eq!(
        told,
        [("suspicious_activity", "a***@example.org", "sent"), ("suspicious_activity", "o***@example.org", "sent"),],
        "the superadmin and the organizer, once each: {log:?}"
    );
    let mut messages = smtp.wait_for(2).await;
    messages.sort_by_key(|m| m["envelope_to"].as_str().map(str::to_owned));
    let to: Vec<&str> = messages.iter().filter_map(|m| m["envelope_to"].as_str()).collect();
    assert_eq!(to, ["admin@example.org", "org-forged@example.org"]);
    for mail in &messages {
        assert_eq!(mail["subject"], "Suspicious scanning: forged");
        let text = mail["text"].as_str().expect("a text part");
        assert!(text.contains("5 forged or damaged QR codes at gate \"Nord\""), "{text}");
    }
    s.stop().await;
}

/// "Email me my tickets again": the holder's tickets go to the address they hold them under
/// (asked in another case), without their PDFs once the event says so; an unknown address gets
/// the same answer and nothing; a fourth request for one address in a window is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_gets_their_tickets_again_and_an_unknown_address_learns_nothing() {
    let smtp = SmtpSink::start(0);
    let url = smtp.url();
    let s = TestServer::start_with(Backend::Sqlite, &[("TICKETING_SMTP_URL", url.as_str())]).await.expect("SQLite");
    let shop = shop(&s, "resend", 10).await;
    let body = json!({"status": "paid", "holders": [{"name": "Zoé", "email": "zoe@example.org"}]});
    let path = format!("/api/v1/ticket-types/{}/tickets", shop.ticket_type);
    let issued = s.call(Method::POST, &path, Some(&shop.organizer), Some(body)).await;
    let ticket = issued.ok(StatusCode::CREATED)[0].clone();
    let first = smtp.wait_for(1).await;
    assert_eq!(first[0]["attachments"].as_array().map(Vec::len), Some(1), "issued: the PDF goes with it");

    // The event stops attaching PDFs.
    let event = s.call(Method::GET, &format!("/api/v1/events/{}", shop.event), Some(&shop.organizer), None).await;
    let mut body = event.ok(StatusCode::OK).clone();
    for key in ["id", "status"] {
        body.as_object_mut().expect("an object").remove(key);
    }
    body["email_pdfs"] = json!(false);
    let replaced =
        s.call(Method::PUT, &format!("/api/v1/events/{}", shop.event), Some(&shop.organizer), Some(body)).await;
    assert_eq!(replaced.ok(StatusCode::OK)["email_pdfs"], false);

    let resend = format!("/api/v1/public/events/{}/resend-tickets", shop.event);
    let known = s.call(Method::POST, &resend, None, Some(json!({"email": "ZOE@example.org"}))).await;
    let unknown = s.call(Method::POST, &resend, None, Some(json!({"email": "nobody@example.org"}))).await;
    assert_eq!(known.status, StatusCode::ACCEPTED);
    assert_eq!((unknown.status, &unknown.json), (known.status, &known.json), "the same answer either way");

    let messages = smtp.wait_for(2).await;
    let again = messages.iter().find(|m| m["subject"] == "Your tickets for resend").expect("the resent email");
    assert_eq!(again["envelope_to"], "zoe@example.org", "to the address the ticket holds");
    assert_eq!(again["attachments"].as_array().map(Vec::len), Some(0), "no PDF now: {again}");
    let text = again["text"].as_str().expect("a text part");
    assert!(text.contains(ticket["short_code"].as_str().expect("a code")), "{text}");
    let page_link = text.split_whitespace().any(|w| {
        w.rsplit_once("/tickets/")
            .is_some_and(|(before, token)| !before.ends_with("/public") && !token.is_empty() && !token.contains('/'))
    });
    assert!(page_link, "the ticket's page link: {text}");
    let log = settled_log(&s, &shop.event, &shop.organizer, 2).await;
    let kinds: Vec<&str> = log.iter().filter_map(|m| m["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "resend_tickets").count(), 1, "nothing for nobody@: {log:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.messages().len(), 2, "nothing went to the unknown address");

    for _ in 0..2 {
        let more = s.call(Method::POST, &resend, None, Some(json!({"email": "zoe@example.org"}))).await;
        assert_eq!(more.status, StatusCode::ACCEPTED);
    }
    let flood = s.call(Method::POST, &resend, None, Some(json!({"email": "zoe@example.org"}))).await;
    assert_eq!((flood.status, flood.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let bad = s.call(Method::POST, &resend, None, Some(json!({"email": "not an address"}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    s.stop().await;
}

/// An event's own `ticket_created` message: refused with the part at fault until it is right,
/// previewed, saved, sent instead of the built-in one (values escaped in its HTML part), listed,
/// and dropped (the built-in one is sent again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_s_own_template_is_checked_previewed_sent_and_dropped() {
    let smtp = SmtpSink::start(0);
    let url = smtp.url();
    let s = TestServer::start_with(Backend::Sqlite, &[("TICKETING_SMTP_URL", url.as_str())]).await.expect("SQLite");
    let shop = shop(&s, "own", 10).await;
    let org = Some(shop.organizer.as_str());
    let path = format!("/api/v1/events/{}/message-templates", shop.event);
    let own = json!({
        "kind": "ticket_created",
        "locale": "en",
        "subject": "{{ name }}, your pass for {{ event.title }}",
        "text": "Dear {{ name }}:{% for t in tickets %} {{ t.code }} {{ t.url }}{% endfor %}",
        "html": "<h1>{{ name }}</h1>{% for t in tickets %}<a href=\"{{ t.url }}\">{{ t.code }}</a>{% endfor %}",
        "sms": "{{ event.title }}:"
    });
    for (part, source, why) in [
        ("text", "Dear {{ name }} {{ order.total }}{% for t in tickets %}{% endfor %}", "unknown variable order.total"),
        ("html", "<h1>{{ name }}</h1>", "must show tickets"),
        ("subject", "{{ name ", "line 1"),
    ] {
        let mut body = own.clone();
        body[part] = json!(source);
        let refused = s.call(Method::POST, &path, org, Some(body)).await;
        assert_eq!((refused.status, refused.json["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some(part)));
        assert!(refused.json["detail"].as_str().is_some_and(|d| d.contains(why)), "{}", refused.text);
    }
    for kind in ["birthday", "payment_alert"] {
        let mut wrong_kind = own.clone();
        wrong_kind["kind"] = json!(kind);
        let refused = s.call(Method::POST, &path, org, Some(wrong_kind)).await;
        assert_eq!(refused.json["field"], "kind", "{kind}: {}", refused.text);
    }

    let preview = s.call(Method::POST, &format!("{path}/preview"), org, Some(own.clone())).await;
    let preview = preview.ok(StatusCode::OK);
    assert_eq!(preview["subject"], "Zoé Lefèvre, your pass for own", "the sample buyer at the event itself");
    let saved = s.call(Method::POST, &path, org, Some(own.clone())).await;
    assert_eq!(saved.ok(StatusCode::OK)["own"], true);
    let listed = s.call(Method::GET, &path, org, None).await;
    let listed = listed.ok(StatusCode::OK).as_array().expect("a list").clone();
    assert_eq!(listed.len(), 8, "the four kinds buyers and holders get, in two languages");
    let owned: Vec<(&str, &str)> = listed
        .iter()
        .filter(|t| t["own"] == true)
        .map(|t| (t["kind"].as_str().unwrap_or_default(), t["locale"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(owned, [("ticket_created", "en")]);

    let issue = |name: &str| json!({"status": "paid", "holders": [{"name": name, "email": "zoe@example.org"}]});
    let tickets = format!("/api/v1/ticket-types/{}/tickets", shop.ticket_type);
    let issued = s.call(Method::POST, &tickets, org, Some(issue("Zoé <Z>"))).await;
    let code = issued.ok(StatusCode::CREATED)[0]["short_code"].as_str().expect("a code").to_owned();
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail["subject"], "Zoé <Z>, your pass for own");
    assert!(mail["text"].as_str().is_some_and(|t| t.starts_with("Dear Zoé <Z>: ") && t.contains(&code)), "{mail}");
    assert!(mail["html"].as_str().is_some_and(|h| h.contains("<h1>Zoé &lt;Z&gt;</h1>")), "{mail}");

    let dropped = s.call(Method::DELETE, &format!("{path}/ticket_created/en"), org, None).await;
    assert_eq!(dropped.status, StatusCode::NO_CONTENT);
    let again = s.call(Method::DELETE, &format!("{path}/ticket_created/en"), org, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    s.call(Method::POST, &tickets, org, Some(issue("Zoé"))).await.ok(StatusCode::CREATED);
    let messages = smtp.wait_for(2).await;
    assert!(messages.iter().any(|m| m["subject"] == "Your ticket for own"), "the built-in one again: {messages:?}");
    s.stop().await;
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// The server as a process of its own on `dir`, sending mail to `smtp` with 8 notification
/// workers; killed with SIGKILL on drop.
struct Process(Child);

impl Process {
    fn start(dir: &Path, port: u16, smtp: &str) -> Self {
        let log = std::fs::File::create(dir.join(format!("server-{}.log", free_port()))).expect("a log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ticketing-server"))
            .env("TICKETING_DATA_DIR", dir.join("data"))
            .env("TICKETING_LISTEN", format!("127.0.0.1:{port}"))
            .env("TICKETING_SUPERADMIN_EMAIL", crate::support::ADMIN)
            .env("TICKETING_SUPERADMIN_PASSWORD", crate::support::ADMIN_PASSWORD)
            .env("TICKETING_SMTP_URL", smtp)
            .env("TICKETING_NOTIFY_WORKERS", "8")
            .env("TICKETING_JOB_LEASE_SECS", "5")
            .env("TICKETING_RATE_GENERATION", "1000000")
            .env("TICKETING_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the server binary");
        Self(child)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn healthy(h: &crate::support::Handle) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(h.addr).await.is_ok()
            && h.call(Method::GET, "/health", None, None).await.status == StatusCode::OK
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

fn kept(smtp: &SmtpSink) -> usize {
    std::fs::read_dir(smtp.folder.join("new")).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_ticket_emails_survive_a_killed_server_without_a_storm_of_duplicates() {
    const HOLDERS: usize = 2000;
    const IN_FLIGHT: usize = 8;
    let smtp = SmtpSink::start(0);
    let dir = std::env::temp_dir().join(format!("ticketing-kill-{}-{}", std::process::id(), free_port()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let port = free_port();
    let h = crate::support::Handle::to(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    let server = Process::start(&dir, port, &smtp.url());
    healthy(&h).await;
    let sign_in = "grant_type=password&username=admin%40example.org&password=the%20admin%27s%20long%20password";
    let token =
        h.raw(Method::POST, "/oauth/token", None, Some(("application/x-www-form-urlencoded", sign_in.into()))).await;
    let admin = token.ok(StatusCode::OK)["access_token"].as_str().expect("a token").to_owned();
    let event =
        h.call(Method::POST, "/api/v1/events", Some(&admin), Some(crate::support::event_body("kill", 5000))).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    h.call(Method::POST, &format!("/api/v1/events/{event}/status"), Some(&admin), Some(json!({"status": "published"})))
        .await
        .ok(StatusCode::OK);
    let body = crate::support::type_body("Entrée", 5000);
    let ticket_type =
        h.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), Some(&admin), Some(body)).await;
    let ticket_type = ticket_type.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    // One generation job with a holder list, asked to tell its holders (the opt-in).
    let holders: Vec<Value> = (0..HOLDERS)
        .map(|i| json!({"name": format!("Holder {i}"), "email": format!("holder-{i}@example.org")}))
        .collect();
    let generation = h
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{ticket_type}/generations"),
            Some(&admin),
            Some(json!({"count": HOLDERS, "status": "paid", "holders": holders, "notify": true})),
        )
        .await;
    generation.ok(StatusCode::ACCEPTED);

    // Killed mid-delivery, as a crash would: no shutdown, messages in flight. (Up to a minute:
    // the machine may be busy with other tests; the kill comes as soon as a fifth is kept.)
    for _ in 0..2400 {
        if kept(&smtp) >= HOLDERS / 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    drop(server);
    let at_kill = kept(&smtp);
    assert!((HOLDERS / 5..HOLDERS).contains(&at_kill), "killed mid-delivery: {at_kill} kept");

    let _server = Process::start(&dir, port, &smtp.url());
    healthy(&h).await;
    let token =
        h.raw(Method::POST, "/oauth/token", None, Some(("application/x-www-form-urlencoded", sign_in.into()))).await;
    let admin = token.ok(StatusCode::OK)["access_token"].as_str().expect("a token").to_owned();
    let mut done = 0;
    for _ in 0..1200 {
        let stats = h.call(Method::GET, "/api/v1/queue/stats", Some(&admin), None).await;
        done = stats.ok(StatusCode::OK)["kinds"]["notify"]["succeeded"].as_u64().unwrap_or(0);
        if done == HOLDERS as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(done, HOLDERS as u64, "every notification ended");

    let out =
        Command::new(PYTHON).arg(tool("read_mail.py")).arg(&smtp.folder).arg("-").output().expect("read the mail");
    let messages: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let mut by_holder: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for m in &messages {
        let to = m["envelope_to"].as_str().expect("a recipient").to_owned();
        by_holder.entry(to).or_default().push(m["message_id"].as_str().expect("a Message-ID").to_owned());
    }
    let missing: Vec<usize> =
        (0..HOLDERS).filter(|i| !by_holder.contains_key(&format!("holder-{i}@example.org"))).collect();
    assert!(missing.is_empty(), "every holder got their ticket: missing {missing:?}");
    let duplicates = messages.len() - HOLDERS;
    eprintln!("killed with {at_kill} of {HOLDERS} kept; {duplicates} sent twice");
    assert!(duplicates <= IN_FLIGHT, "at most the sends in flight were sent twice: {duplicates}");
    for (holder, ids) in &by_holder {
        assert!(ids.iter().all(|id| id == &ids[0]), "{holder}'s copies carry one Message-ID: {ids:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
