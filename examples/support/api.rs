//! What the load and fleet examples share: a small HTTP client for the server's API, and latency
//! reports.

#![allow(dead_code, reason = "each example uses a part of it")]

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::Value;

/// The HTTP client.
pub type Http = Client<HttpConnector, Full<Bytes>>;

/// One server's API.
pub struct Api {
    /// The client.
    pub http: Http,
    /// Where the server is (`http://host:port`).
    pub base: String,
}

impl Api {
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (u16, Value) {
        let mut request = Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let bytes = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                Bytes::from(bytes)
            }
            None => Bytes::new(),
        };
        let response =
            self.http.request(request.body(Full::new(bytes)).expect("a request")).await.expect("the server answers");
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.expect("a body").to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    pub async fn json(&self, method: Method, path: &str, token: &str, body: Value) -> Value {
        let (status, json) = self
            .send(method, path, Some(token), Some(("application/json", serde_json::to_vec(&body).expect("json"))))
            .await;
        assert!((200..300).contains(&status), "{path}: {status} {json}");
        json
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Value {
        let (status, json) = self.send(Method::GET, path, token, None).await;
        assert_eq!(status, 200, "{path}: {json}");
        json
    }

    /// A download's size, after checking it answered 200.
    pub async fn download(&self, path: &str, token: &str) -> usize {
        let request = Request::builder()
            .uri(format!("{}{path}", self.base))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Full::new(Bytes::new()))
            .expect("a request");
        let response = self.http.request(request).await.expect("the server answers");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        response.into_body().collect().await.expect("the whole body").to_bytes().len()
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let form = format!("grant_type=password&username={}&password={}", encode(email), encode(password));
        let (status, json) = self
            .send(Method::POST, "/oauth/token", None, Some(("application/x-www-form-urlencoded", form.into_bytes())))
            .await;
        assert_eq!(status, 200, "sign-in: {json}");
        json["access_token"].as_str().expect("a token").to_owned()
    }
}

/// `s` percent-encoded for a form.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The `p`th percentile of `sorted`.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Prints a rate with its p50 and p99 latency.
pub fn report(what: &str, mut latencies: Vec<Duration>, elapsed: Duration) {
    latencies.sort();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{what}: {} in {:.1} s = {rate:.0}/s, p50 {:.2} ms, p99 {:.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        percentile(&latencies, 50.0).as_secs_f64() * 1e3,
        percentile(&latencies, 99.0).as_secs_f64() * 1e3,
    );
}
