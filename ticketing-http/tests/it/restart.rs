//! A generation job survives a server restart: the server stops while its worker is mid-job (the
//! worker is dropped as in a crash), another server starts on the same data, and once the dead
//! worker's lease lapses the job resumes from its last committed chunk and finishes with exactly
//! the tickets asked for.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{Backend, PASSWORD, TestServer, event_body};

const TOTAL: u64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_job_survives_a_restart() {
    // The default lease (15 s): a job whose worker died is resumed within about that; one whose
    // server stopped gracefully was handed back, and is resumed at the next claim.
    let settings = [("TICKETING_WORKERS", "1")];
    let s = TestServer::start_with(Backend::Sqlite, &settings).await.expect("SQLite needs no server");
    let admin = s.admin().await;
    s.user(&admin, "bulk@example.org", "organizer").await;
    let organizer = s.token("bulk@example.org", PASSWORD).await;
    let org = Some(organizer.as_str());
    let event = s.call(Method::POST, "/api/v1/events", org, Some(event_body("Stade", 100_000))).await;
    let event = event.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let body = json!({"name": "Tribune", "price_minor": 1500, "currency": "EUR", "quota": 100_000, "usage_limit": 1});
    let t = s.call(Method::POST, &format!("/api/v1/events/{event}/ticket-types"), org, Some(body)).await;
    let ticket_type = t.ok(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();
    let job = s
        .call(
            Method::POST,
            &format!("/api/v1/ticket-types/{ticket_type}/generations"),
            org,
            Some(json!({"count": TOTAL})),
        )
        .await;
    let job = job.ok(StatusCode::ACCEPTED)["id"].as_str().expect("id").to_owned();

    // Stop the server once the job has committed some chunks and not all.
    let mut seen = json!(null);
    for _ in 0..3000 {
        seen = s.call(Method::GET, &format!("/api/v1/jobs/{job}"), org, None).await.json;
        if seen["done"].as_u64().is_some_and(|done| done > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let s = s.restart(&settings).await;
    let restarted = std::time::Instant::now();
    let organizer = s.token("bulk@example.org", PASSWORD).await;
    let org = Some(organizer.as_str());
    let orphan = s.call(Method::GET, &format!("/api/v1/jobs/{job}"), org, None).await;
    let orphan = orphan.ok(StatusCode::OK).clone();
    assert_eq!(orphan["status"], "running", "stopped mid-run: {orphan} (before the stop: {seen})");
    let halfway = orphan["done"].as_u64().expect("done");
    assert!(halfway > 0 && halfway < TOTAL, "stopped mid-job: {orphan}");

    let mut done = json!(null);
    let mut resumed_after = None;
    for _ in 0..1200 {
        done = s.call(Method::GET, &format!("/api/v1/jobs/{job}"), org, None).await.json;
        if resumed_after.is_none() && done["done"].as_u64().is_some_and(|d| d > halfway) {
            resumed_after = Some(restarted.elapsed());
        }
        if done["status"] == "succeeded" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resumed_after = resumed_after.expect("the job was resumed");
    assert!(
        resumed_after < Duration::from_secs(5),
        "handed back at the stop, not left to its 15 s lease: resumed {resumed_after:?} after the restart"
    );
    assert_eq!((done["status"].as_str(), done["done"].as_u64()), (Some("succeeded"), Some(TOTAL)), "{done}");
    assert_eq!(done["attempts"].as_u64(), Some(1), "handed back with its attempt given back: {done}");
    let board = s.call(Method::GET, &format!("/api/v1/events/{event}/dashboard"), org, None).await;
    assert_eq!(board.ok(StatusCode::OK)["by_status"]["issued"].as_u64(), Some(TOTAL), "no duplicates, no gaps");
    s.stop().await;
}
