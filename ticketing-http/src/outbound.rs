//! Requests this server sends to other services (payment providers' refund APIs, SMS
//! providers): one HTTPS client (rustls on ring, Mozilla's roots compiled in; plain HTTP for a
//! local stand-in), a time limit, and form encoding.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long a service has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTPS (or plain HTTP) client.
#[derive(Clone)]
pub struct Outbound(Client<HttpsConnector<HttpConnector>, Full<Bytes>>);

impl Default for Outbound {
    fn default() -> Self {
        let https =
            hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots().https_or_http().enable_http1().build();
        Self(Client::builder(TokioExecutor::new()).build(https))
    }
}

impl Outbound {
    /// Sends `request`: the answer's status and body, or why there is none (no connection, no
    /// answer within [`TIMEOUT`]), which is always worth another try.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<(StatusCode, Vec<u8>), String> {
        tokio::time::timeout(TIMEOUT, async {
            let response = self.0.request(request).await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response.into_body().collect().await.map_err(|e| e.to_string())?;
            Ok((status, body.to_bytes().to_vec()))
        })
        .await
        .map_err(|_| format!("no answer within {} s", TIMEOUT.as_secs()))?
    }
}

/// `value` percent-encoded for a form.
pub fn form(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The start of an answer's body, for an error message.
pub fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn forms_encode_everything_but_unreserved_characters() {
        assert_eq!(super::form("pi_3Q&x=y"), "pi_3Q%26x%3Dy");
        assert_eq!(super::form("+33 6 é"), "%2B33%206%20%C3%A9");
    }
}
