//! Behind a reverse proxy: the per-address limits count the client the trusted proxy names, and
//! nobody else's forwarding headers.

use axum::body::Bytes;
use axum::http::{Request, StatusCode, header};
use http_body_util::Full;

use crate::support::{Backend, TestServer};

/// A failed sign-in (a new username each time, so only the address limit counts) from
/// `forwarded_for` as the peer says; its status.
async fn sign_in_from(s: &TestServer, forwarded_for: &str, attempt: usize) -> StatusCode {
    let body = format!("grant_type=password&username=nobody{attempt}%40example.org&password=wrong-password");
    let request = Request::post(format!("http://{}/oauth/token", s.addr))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", forwarded_for)
        .body(Full::new(Bytes::from(body)))
        .expect("a request");
    s.send(request).await.status
}

/// Two sign-in attempts a window per address: behind a trusted proxy each client has its own two;
/// from an untrusted peer the header is ignored and every "client" shares the peer's.
#[tokio::test]
async fn the_limits_count_the_client_a_trusted_proxy_names() {
    let limit = [("TICKETING_RATE_TOKEN", "2")];
    let trusted = [("TICKETING_RATE_TOKEN", "2"), ("TICKETING_TRUSTED_PROXIES", "127.0.0.0/8, ::1")];

    let s = TestServer::start_with(Backend::Sqlite, &trusted).await.expect("SQLite needs no server");
    let first: Vec<StatusCode> = [
        sign_in_from(&s, "198.51.100.1", 0).await,
        sign_in_from(&s, "198.51.100.1", 1).await,
        sign_in_from(&s, "198.51.100.1", 2).await,
    ]
    .to_vec();
    assert_eq!(first, [StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST, StatusCode::TOO_MANY_REQUESTS]);
    // Another client behind the same proxy, and a client's own header kept at the left.
    assert_eq!(sign_in_from(&s, "198.51.100.2", 3).await, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in_from(&s, "198.51.100.1, 198.51.100.3", 4).await, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in_from(&s, "203.0.113.9, 198.51.100.1", 5).await, StatusCode::TOO_MANY_REQUESTS);
    s.stop().await;

    let s = TestServer::start_with(Backend::Sqlite, &limit).await.expect("SQLite needs no server");
    assert_eq!(sign_in_from(&s, "198.51.100.1", 0).await, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in_from(&s, "198.51.100.2", 1).await, StatusCode::BAD_REQUEST);
    assert_eq!(sign_in_from(&s, "198.51.100.3", 2).await, StatusCode::TOO_MANY_REQUESTS, "the header is not believed");
    s.stop().await;
}
