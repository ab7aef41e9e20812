//! A ticket's whole life through HTTP: token → event → type → gates → generation job → progress
//! to done → magic link → PDF → the QR decoded from the PDF (Poppler and zbar) → scan request →
//! confirm in → confirm out → re-entry allowed or refused as the event says; and a race: one
//! ticket's sessions from two gates confirmed at once → exactly one entry.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{
    Backend, PASSWORD, PgProxy, PrivateRedis, TestServer, decode_pdf_qr, event_body, pdf_text, template_doc,
};

/// One event, published, with `reentry`; a type of 2 entries; two gates with an agent each.
struct Venue {
    organizer: String,
    agents: [String; 2],
    gates: [String; 2],
    event: String,
    ticket_type: String,
}

async fn venue(s: &TestServer, reentry: bool) -> Venue {
    let admin = s.admin().await;
    let suffix = if reentry { "re" } else { "once" };
    s.user(&admin, &format!("org-{suffix}@example.org"), "organizer").await;
    let agent_ids = [
        s.user(&admin, &format!("north-{suffix}@example.org"), "agent").await,
        s.user(&admin, &format!("south-{suffix}@example.org"), "agent").await,
    ];
    let organizer = s.token(&format!("org-{suffix}@example.org"), PASSWORD).await;
    let agents = [
        s.token(&format!("north-{suffix}@example.org"), PASSWORD).await,
        s.token(&format!("south-{suffix}@example.org"), PASSWORD).await,
    ];
    let mut body = event_body("Nuits de Fourvière", 500);
    body["allow_reentry"] = json!(reentry);
    // Doors are open now: the event runs from an hour ago for a day.
    body["starts_at"] = json!((chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    body["ends_at"] = json!((chrono::Utc::now() + chrono::Duration::hours(23)).to_rfc3339());
    let org = Some(organizer.as_str());
    let event = s.call(Method::POST, "/api/v1/events", org, Some(body)).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let published = s
        .call(Method::POST, &format!("/api/v1/events/{event}/status"), org, Some(json!({"status": "published"})))
        .await;
    published.ok(StatusCode::OK);
    let t = s
        .call(
            Method::POST,
            &format!("/api/v1/events/{event}/ticket-types"),
            org,
            Some(json!({"name": "Pass", "price_minor": 3900, "currency": "EUR", "quota": 100, "usage_limit": 2})),
        )
        .await;
    let ticket_type = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let mut gates = Vec::new();
    for (name, agent) in [("North", &agent_ids[0]), ("South", &agent_ids[1])] {
        let g = s
            .call(
                Method::POST,
                &format!("/api/v1/events/{event}/gates"),
                org,
                Some(json!({"name": name, "agents": [agent]})),
            )
            .await;
        gates.push(g.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned());
    }
    let gates = [gates[0].clone(), gates[1].clone()];
    Venue { organizer, agents, gates, event, ticket_type }
}

async fn request(s: &TestServer, agent: &str, gate: &str, credential: Value) -> Value {
    let mut body = credential;
    body["gate_id"] = json!(gate);
    let answer = s.call(Method::POST, "/api/v1/scan/request", Some(agent), Some(body)).await;
    answer.ok(StatusCode::OK).clone()
}

async fn confirm(s: &TestServer, agent: &str, gate: &str, token: &str, direction: &str) -> Value {
    let body = json!({"gate_id": gate, "scan_session_token": token, "direction": direction});
    let answer = s.call(Method::POST, "/api/v1/scan/confirm", Some(agent), Some(body)).await;
    answer.ok(StatusCode::OK).clone()
}

/// Requests then confirms `direction` at the North gate; the confirmation.
async fn pass(s: &TestServer, v: &Venue, qr: &str, direction: &str) -> Value {
    let verdict = request(s, &v.agents[0], &v.gates[0], json!({"qr": qr})).await;
    assert_eq!(verdict["reason"], "ok", "{verdict}");
    let token = verdict["scan_session_token"].as_str().expect("a session");
    confirm(s, &v.agents[0], &v.gates[0], token, direction).await
}

async fn a_ticket_lives_through_http(s: &TestServer, reentry: bool) {
    let v = venue(s, reentry).await;
    let org = Some(v.organizer.as_str());

    // A template of the event's own, and a generation job with a holder list drawn with it.
    let mut doc = template_doc("Journey");
    doc["elements"]
        .as_array_mut()
        .expect("elements")
        .push(json!({"type": "text", "x": 20, "y": 140, "width": 100, "text": "Journey edition", "size": 8}));
    let template = s.call(Method::POST, &format!("/api/v1/events/{}/templates", v.event), org, Some(doc)).await;
    let template = template.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    // As a spreadsheet saves it: a byte-order mark, and the columns in its own order.
    let holders_csv: String = std::iter::once("\u{feff}email,name".to_owned())
        .chain((0..20).map(|i| format!(",Guest {i}")))
        .collect::<Vec<_>>()
        .join("\n");
    let job = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{}/generations", v.ticket_type),
            org,
            Some(json!({"count": 20, "status": "paid", "holders_csv": holders_csv, "template_id": template})),
        )
        .await;
    let job = job.ok(StatusCode::ACCEPTED)["id"].as_str().expect("id").to_owned();
    let mut status = String::new();
    for _ in 0..300 {
        let j = s.call(Method::GET, &format!("/api/v1/jobs/{job}"), org, None).await;
        status = j.json["status"].as_str().expect("status").to_owned();
        if status == "succeeded" {
            assert_eq!((j.json["done"].as_u64(), j.json["total"].as_u64()), (Some(20), Some(20)));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "succeeded", "the workers ran the job");
    let tickets = s.call(Method::GET, &format!("/api/v1/events/{}/tickets?status=paid", v.event), org, None).await;
    let tickets = tickets.ok(StatusCode::OK).as_array().expect("tickets").clone();
    assert_eq!(tickets.len(), 20);
    let codes: std::collections::BTreeSet<&str> =
        tickets.iter().map(|t| t["short_code"].as_str().expect("code")).collect();
    assert_eq!(codes.len(), 20, "distinct codes");

    let names: std::collections::BTreeSet<&str> =
        tickets.iter().map(|t| t["holder_name"].as_str().expect("a holder")).collect();
    assert_eq!(names.len(), 20, "one ticket per holder of the list");

    // Each generated ticket came with its magic link: the page, the PDF (drawn with the job's
    // template), and the QR read back from the PDF.
    let ticket = tickets[0]["id"].as_str().expect("id");
    let detail = s.call(Method::GET, &format!("/api/v1/tickets/{ticket}"), org, None).await;
    let detail = detail.ok(StatusCode::OK).clone();
    let token = detail["magic_link"]["token"].as_str().expect("the generated link").to_owned();
    let page = s.call(Method::GET, &format!("/api/v1/public/tickets/{token}"), None, None).await;
    let page = page.ok(StatusCode::OK).clone();
    assert_eq!((page["status"].as_str(), page["entries_allowed"].as_u64()), (Some("paid"), Some(2)));
    assert_eq!(page["qr_payload"], detail["qr_payload"]);
    let pdf = s.call(Method::GET, &format!("/api/v1/public/tickets/{token}/pdf"), None, None).await;
    assert_eq!((pdf.status, pdf.headers["content-type"].to_str().expect("ascii")), (StatusCode::OK, "application/pdf"));
    let pdf_bytes = s.raw_bytes(Method::GET, &format!("/api/v1/public/tickets/{token}/pdf"), None).await;
    let qr = decode_pdf_qr(&pdf_bytes);
    assert_eq!(qr, page["qr_payload"].as_str().expect("payload"), "the PDF carries the signed QR text");
    assert!(pdf_text(&pdf_bytes).contains("Journey edition"), "drawn with the job's template");
    let qr_png = s.raw_bytes(Method::GET, &format!("/api/v1/tickets/{ticket}/qr?format=png"), org).await;
    assert!(qr_png.starts_with(b"\x89PNG"), "the organiser's QR-only download");

    // In, out, and in again as the event says.
    let entered = pass(s, &v, &qr, "in").await;
    assert_eq!(
        (entered["reason"].as_str(), entered["status"].as_str(), entered["entries_used"].as_u64()),
        (Some("ok"), Some("inside"), Some(1))
    );
    let inside = request(s, &v.agents[0], &v.gates[0], json!({"qr": qr})).await;
    assert_eq!(inside["allowed"], json!(["out"]), "{inside}");
    let left = pass(s, &v, &qr, "out").await;
    assert_eq!((left["reason"].as_str(), left["status"].as_str()), (Some("ok"), Some("outside")));
    let again = request(s, &v.agents[0], &v.gates[0], json!({"qr": qr})).await;
    if reentry {
        assert_eq!(again["reason"], "ok", "{again}");
        let back =
            confirm(s, &v.agents[0], &v.gates[0], again["scan_session_token"].as_str().expect("token"), "in").await;
        assert_eq!((back["status"].as_str(), back["entries_used"].as_u64()), (Some("inside"), Some(2)));
    } else {
        assert_eq!(
            (again["reason"].as_str(), again["scan_session_token"].as_str()),
            (Some("reentry_not_allowed"), None)
        );
    }

    // A session works once, for its agent and gate only.
    let code = tickets[1]["short_code"].as_str().expect("code");
    let verdict = request(s, &v.agents[0], &v.gates[0], json!({"short_code": code})).await;
    let session = verdict["scan_session_token"].as_str().expect("token").to_owned();
    let elsewhere = confirm(s, &v.agents[1], &v.gates[1], &session, "in").await;
    assert_eq!(elsewhere["reason"], "session_mismatch", "{elsewhere}");
    let used = confirm(s, &v.agents[0], &v.gates[0], &session, "in").await;
    assert_eq!(used["reason"], "ok");
    let twice = confirm(s, &v.agents[0], &v.gates[0], &session, "in").await;
    assert_eq!(twice["reason"], "session_used");

    // The race: sessions for one ticket opened at both gates, confirmed all at once.
    let racer = tickets[2]["short_code"].as_str().expect("code");
    let mut sessions = Vec::new();
    for _ in 0..3 {
        for i in 0..2 {
            let verdict = request(s, &v.agents[i], &v.gates[i], json!({"short_code": racer})).await;
            sessions.push((i, verdict["scan_session_token"].as_str().expect("token").to_owned()));
        }
    }
    let confirmations = sessions
        .into_iter()
        .map(|(i, token)| {
            let (agent, gate) = (v.agents[i].clone(), v.gates[i].clone());
            Box::pin(async move { confirm(s, &agent, &gate, &token, "in").await })
        })
        .collect();
    let results = join_vec(confirmations).await;
    let admitted = results.iter().filter(|r| r["reason"] == "ok").count();
    assert_eq!(admitted, 1, "exactly one entry: {results:?}");
    assert!(results.iter().all(|r| r["reason"] == "ok" || r["reason"] == "already_inside"), "{results:?}");
    let racer_id = tickets[2]["id"].as_str().expect("id");
    let after = s.call(Method::GET, &format!("/api/v1/tickets/{racer_id}"), org, None).await;
    assert_eq!((after.json["status"].as_str(), after.json["entries_used"].as_u64()), (Some("inside"), Some(1)));

    // Suspicious patterns land in the audit trail: the racer's ticket was presented at both
    // gates within seconds, and five forged codes at one gate.
    for _ in 0..5 {
        let forged = request(s, &v.agents[1], &v.gates[1], json!({"qr": "TK1.forged"})).await;
        assert_eq!(forged["reason"], "bad_signature", "{forged}");
    }
    let audit = s.call(Method::GET, &format!("/api/v1/audit?event_id={}", v.event), org, None).await;
    let actions: Vec<String> = audit
        .ok(StatusCode::OK)
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_owned())
        .collect();
    assert!(actions.iter().any(|a| a == "suspicious.two_gates"), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| *a == "suspicious.bad_signatures").count(), 1, "{actions:?}");

    // The dashboard counts what happened.
    let board =
        s.call(Method::GET, &format!("/api/v1/events/{}/dashboard?bucket_minutes=60", v.event), org, None).await;
    let board = board.ok(StatusCode::OK).clone();
    let entries = if reentry { 4 } else { 3 };
    let inside = if reentry { 3 } else { 2 };
    assert_eq!((board["inside"].as_u64(), board["by_status"]["paid"].as_u64()), (Some(inside), Some(17)), "{board}");
    let gate_entries: u64 =
        board["gates"].as_array().expect("gates").iter().map(|g| g["entries"].as_u64().expect("n")).sum();
    let flow_entries: u64 =
        board["flow"].as_array().expect("flow").iter().map(|f| f["entries"].as_u64().expect("n")).sum();
    assert_eq!((gate_entries, flow_entries), (entries, entries), "{board}");
    assert_eq!(board["types"][0]["sold"].as_u64(), Some(20), "twenty paid: {board}");
    assert_eq!(board["types"][0]["revenue_minor"].as_u64(), Some(0), "generated by staff, not sold: {board}");
    assert!(board["refusals"]["session_mismatch"].as_u64() >= Some(1), "{board}");
    assert_eq!(board["refusals"]["bad_signature"].as_u64(), Some(5), "{board}");
    let metrics = s.call(Method::GET, "/metrics", None, None).await;
    assert!(metrics.text.contains("tickets_generated_total{status=\"succeeded\"} 20"), "{}", metrics.text);

    // Each agent reads only their gate's log; a revoked link answers 404 like an unknown one.
    let north = s.call(Method::GET, "/api/v1/scan/logs", Some(&v.agents[0]), None).await;
    let north = north.ok(StatusCode::OK).as_array().expect("lines").clone();
    assert!(!north.is_empty() && north.iter().all(|l| l["gate_id"] == v.gates[0].as_str()));
    // The scanner's gate picker: an agent's own gate; both for the event's organizer.
    let mine = s.call(Method::GET, "/api/v1/scan/gates", Some(&v.agents[0]), None).await;
    let mine = mine.ok(StatusCode::OK).as_array().expect("gates").clone();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!((mine[0]["id"].as_str(), mine[0]["name"].as_str()), (Some(v.gates[0].as_str()), Some("North")));
    assert_eq!(mine[0]["event_title"], "Nuits de Fourvière");
    let all = s.call(Method::GET, "/api/v1/scan/gates", org, None).await;
    let names: Vec<&str> =
        all.ok(StatusCode::OK).as_array().expect("gates").iter().filter_map(|g| g["name"].as_str()).collect();
    assert_eq!(names, ["North", "South"]);
    let admin = s.admin().await;
    let stranger = format!("stranger-{reentry}@example.org");
    s.user(&admin, &stranger, "organizer").await;
    let theirs = s.call(Method::GET, "/api/v1/scan/gates", Some(&s.token(&stranger, PASSWORD).await), None).await;
    assert_eq!(theirs.ok(StatusCode::OK), &json!([]), "another organizer's events' gates are not theirs");
    let relinked = s.call(Method::POST, &format!("/api/v1/tickets/{ticket}/magic-link"), org, Some(json!({}))).await;
    assert_eq!(relinked.status, StatusCode::CREATED);
    let old = s.call(Method::GET, &format!("/api/v1/public/tickets/{token}"), None, None).await;
    let unknown = s.call(Method::GET, &format!("/api/v1/public/tickets/{}", "A".repeat(32)), None, None).await;
    assert_eq!((old.status, old.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert_eq!(
        (old.status, old.json["detail"].clone()),
        (unknown.status, unknown.json["detail"].clone()),
        "told apart by nothing"
    );

    // Exports: every participant, and a name that a spreadsheet would run stays text.
    let sly = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{}/tickets", v.ticket_type),
            org,
            Some(json!({"holders": [{"name": "=HYPERLINK(\"http://evil\",\"x\")"}], "status": "paid"})),
        )
        .await;
    sly.ok(StatusCode::CREATED);
    let participants = s.call(Method::GET, &format!("/api/v1/events/{}/participants.csv", v.event), org, None).await;
    assert_eq!(participants.status, StatusCode::OK);
    assert!(participants.headers["content-type"].to_str().expect("ascii").starts_with("text/csv"));
    assert_eq!(participants.headers["cache-control"], "private, no-store", "personal data stays out of caches");
    let rows: Vec<&str> = participants.text.lines().collect();
    assert_eq!(rows.len(), 1 + 21, "a header and a row per ticket");
    assert!(tickets.iter().all(|t| participants.text.contains(t["short_code"].as_str().expect("code"))));
    assert!(participants.text.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""), "{}", participants.text);
    // The export gives each ticket's live link: the re-issued one, not the revoked one.
    let fresh = relinked.json["path"].as_str().expect("path");
    assert!(participants.text.contains(fresh) && !participants.text.contains(&token), "{}", participants.text);
    let linked = rows.iter().skip(1).filter(|r| r.contains("/api/v1/public/tickets/")).count();
    assert_eq!(linked, 21, "every ticket has its link");
    let scans = s.call(Method::GET, &format!("/api/v1/events/{}/scans.csv", v.event), org, None).await;
    assert!(scans.text.starts_with("at,gate,agent_id,ticket_id,stage"), "{}", scans.text);
    assert!(scans.text.contains(",North,") && scans.text.contains(",South,"), "gates by name");
}

/// Polls `futures` together (their requests are in flight at once, and the server runs them on
/// its threads); their outputs in order.
async fn join_vec<F: Future<Output = Value> + Unpin>(mut futures: Vec<F>) -> Vec<Value> {
    let mut done: Vec<Option<Value>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in futures.iter_mut().zip(done.iter_mut()) {
            if slot.is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    done.into_iter().map(|v| v.unwrap_or(Value::Null)).collect()
}

async fn with_reentry(s: &TestServer) {
    a_ticket_lives_through_http(s, true).await;
}

async fn without_reentry(s: &TestServer) {
    a_ticket_lives_through_http(s, false).await;
}

crate::on_both_backends!(journey_with_reentry, &[], with_reentry);
crate::on_both_backends!(journey_without_reentry, &[], without_reentry);

/// A paid ticket of the venue's type with a scan session open at the first gate: its short code,
/// its id and the session's token.
async fn paid_ticket_in_session(s: &TestServer, v: &Venue) -> (String, String, String) {
    let issued = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{}/tickets", v.ticket_type),
            Some(&v.organizer),
            Some(json!({"status": "paid"})),
        )
        .await;
    let ticket = issued.ok(StatusCode::CREATED)[0].clone();
    let code = ticket["short_code"].as_str().expect("code").to_owned();
    let verdict = request(s, &v.agents[0], &v.gates[0], json!({"short_code": code})).await;
    let session = verdict["scan_session_token"].as_str().expect("a session").to_owned();
    (code, ticket["id"].as_str().expect("id").to_owned(), session)
}

/// Both scan steps answer 503 `unavailable` at the first gate.
async fn both_steps_unavailable(s: &TestServer, v: &Venue, code: &str, session: &str) {
    let confirm = json!({"gate_id": v.gates[0], "scan_session_token": session, "direction": "in"});
    let request = json!({"gate_id": v.gates[0], "short_code": code});
    for (path, body) in [("/api/v1/scan/confirm", confirm), ("/api/v1/scan/request", request)] {
        let down = s.call(Method::POST, path, Some(&v.agents[0]), Some(body)).await;
        assert_eq!(
            (down.status, down.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "{path}: {}",
            down.text
        );
    }
}

/// Scanning fails closed: with Redis gone, the gate gets a clear 503 and nobody is admitted;
/// when it is back, the ticket is scanned again and enters once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_fails_closed_while_redis_is_down() {
    let Some(redis) = PrivateRedis::start() else { return };
    let url = redis.url();
    let Some(s) = TestServer::start_with(Backend::PgRedis, &[("TICKETING_REDIS_URL", &url)]).await else { return };
    let v = venue(&s, true).await;
    let org = Some(v.organizer.as_str());
    let (code, id, session) = paid_ticket_in_session(&s, &v).await;
    let (code, id) = (code.as_str(), id.as_str());

    let redis = redis.stop();
    both_steps_unavailable(&s, &v, code, &session).await;
    let unchanged = s.call(Method::GET, &format!("/api/v1/tickets/{id}"), org, None).await;
    assert_eq!(
        (unchanged.json["status"].as_str(), unchanged.json["entries_used"].as_u64()),
        (Some("paid"), Some(0)),
        "nobody admitted"
    );

    let _redis = redis.restart();
    let lost = confirm(&s, &v.agents[0], &v.gates[0], &session, "in").await;
    assert_eq!(lost["ok"], false, "the session went with Redis: {lost}");
    let mut verdict = json!(null);
    for _ in 0..50 {
        let body = json!({"gate_id": v.gates[0], "short_code": code});
        let answer = s.call(Method::POST, "/api/v1/scan/request", Some(&v.agents[0]), Some(body)).await;
        if answer.status == StatusCode::OK {
            verdict = answer.json;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(verdict["reason"], "ok", "scanning again once Redis is back: {verdict}");
    let entered =
        confirm(&s, &v.agents[0], &v.gates[0], verdict["scan_session_token"].as_str().expect("token"), "in").await;
    assert_eq!((entered["status"].as_str(), entered["entries_used"].as_u64()), (Some("inside"), Some(1)), "one entry");
    s.stop().await;
}

/// Scanning with the database cut off (a proxy in front of the real Postgres closes every
/// connection): the gate gets 503 `unavailable` for requests and confirmations and nobody is
/// admitted; once the line is back the ticket enters exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanning_fails_closed_while_the_database_is_down() {
    let Some(proxy) = PgProxy::start().await else { return };
    let url = proxy.url();
    let Some(s) = TestServer::start_with(Backend::PgRedis, &[("TICKETING_DATABASE_URL", &url)]).await else { return };
    let v = venue(&s, true).await;
    let org = Some(v.organizer.as_str());
    let (code, id, session) = paid_ticket_in_session(&s, &v).await;
    let (code, id) = (code.as_str(), id.as_str());

    proxy.cut();
    both_steps_unavailable(&s, &v, code, &session).await;
    let health = s.call(Method::GET, "/health", None, None).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE, "{}", health.text);
    // Not ready (a load balancer sends elsewhere), still alive (no restart would help).
    let ready = s.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!((ready.status, ready.json["status"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("not_ready")));
    assert_eq!(ready.json["database"]["status"], "down", "{}", ready.text);
    let live = s.call(Method::GET, "/health/live", None, None).await;
    assert_eq!((live.status, live.json["status"].as_str()), (StatusCode::OK, Some("alive")));

    proxy.restore();
    let mut unchanged = json!(null);
    for _ in 0..100 {
        let answer = s.call(Method::GET, &format!("/api/v1/tickets/{id}"), org, None).await;
        if answer.status == StatusCode::OK {
            unchanged = answer.json;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        (unchanged["status"].as_str(), unchanged["entries_used"].as_u64()),
        (Some("paid"), Some(0)),
        "nobody was admitted while the database was away"
    );
    // The old session may or may not have been spent by the failed confirmation; either way a
    // fresh scan admits the ticket, once.
    let _ = confirm(&s, &v.agents[0], &v.gates[0], &session, "in").await;
    let now = s.call(Method::GET, &format!("/api/v1/tickets/{id}"), org, None).await;
    if now.json["status"] != "inside" {
        let fresh = request(&s, &v.agents[0], &v.gates[0], json!({"short_code": code})).await;
        let token = fresh["scan_session_token"].as_str().expect("a session once the database is back");
        let entered = confirm(&s, &v.agents[0], &v.gates[0], token, "in").await;
        assert_eq!(entered["reason"], "ok", "{entered}");
    }
    let again = request(&s, &v.agents[0], &v.gates[0], json!({"short_code": code})).await;
    assert_eq!(again["allowed"], json!(["out"]), "inside, once: {again}");
    let after = s.call(Method::GET, &format!("/api/v1/tickets/{id}"), org, None).await;
    assert_eq!((after.json["status"].as_str(), after.json["entries_used"].as_u64()), (Some("inside"), Some(1)));
    s.stop().await;
}
