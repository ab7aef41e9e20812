//! The webhook sender: posts each delivery over HTTPS (plain HTTP only to loopback, when the
//! settings allow it), connecting only to addresses the [`UrlPolicy`] allows: a host name is
//! resolved here and its addresses filtered before the connection, so a name that points (or is
//! re-pointed) at a private address is refused, not followed. Redirects are not followed.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::http::{Method, Request, Uri, header};
use http_body_util::{BodyExt as _, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use ticketing_core::hook::{Answer, HookSender, UrlPolicy};

use crate::outbound::{TIMEOUT, excerpt};

/// The most of an endpoint's answer that is read, in bytes.
const ANSWER_MAX: usize = 4096;

/// A resolver that keeps only the addresses the policy allows.
#[derive(Clone, Copy)]
struct Checked(UrlPolicy);

type Resolving = Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, std::io::Error>> + Send>>;

impl tower::Service<Name> for Checked {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.0;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(std::io::Error::other(format!(
                    "{} resolves to no address an endpoint may have (private, loopback or link-local)",
                    name.as_str()
                )));
            }
            Ok(allowed.into_iter())
        })
    }
}

/// Posts webhook deliveries.
pub struct ServerHooks {
    policy: UrlPolicy,
    client: Client<HttpsConnector<HttpConnector<Checked>>, Full<Bytes>>,
}

impl ServerHooks {
    /// A sender reaching only what `policy` allows.
    pub fn new(policy: UrlPolicy) -> Self {
        let mut http = HttpConnector::new_with_resolver(Checked(policy));
        http.enforce_http(false);
        http.set_connect_timeout(Some(TIMEOUT));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self { policy, client: Client::builder(TokioExecutor::new()).build(https) }
    }
}

#[async_trait::async_trait]
impl HookSender for ServerHooks {
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Answer {
        let Ok(uri) = url.parse::<Uri>() else { return Answer::Refused(format!("not a URL: {url}")) };
        // A literal address is not resolved: it is checked here (it was when it was saved, and
        // the settings may have changed since).
        let literal = uri.host().and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok());
        if literal.is_some_and(|ip| !self.policy.allows(ip)) {
            return Answer::Refused("the endpoint's address is private, loopback or link-local".into());
        }
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, concat!("ticketing-webhooks/", env!("CARGO_PKG_VERSION")));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let Ok(request) = request.body(Full::new(Bytes::from(body.to_owned()))) else {
            return Answer::Refused("the request could not be built".into());
        };
        let sent = tokio::time::timeout(TIMEOUT, async {
            let response = self.client.request(request).await.map_err(|e| format!("{e:?}"))?;
            let status = response.status();
            // Only the start of an answer is ever shown: a large one is not read.
            let body = http_body_util::Limited::new(response.into_body(), ANSWER_MAX)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Ok::<_, String>((status, body))
        })
        .await;
        match sent {
            Err(_) => Answer::Retry(format!("no answer within {} s", TIMEOUT.as_secs())),
            Ok(Err(e)) => Answer::Retry(e),
            Ok(Ok((status, _))) if status.is_success() => Answer::Delivered,
            Ok(Ok((status, body))) => {
                let why = format!("HTTP {}: {}", status.as_u16(), excerpt(&body));
                if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
                    Answer::Retry(why)
                } else {
                    Answer::Refused(why)
                }
            }
        }
    }
}
