//! Each request's id and span: the id is `x-request-id` as a trusted proxy sent it, else one
//! drawn here (a client's own is not believed: it would let anyone make their requests' log
//! lines look like another's); it is returned in the response's `x-request-id`, and every log
//! line of the request carries it, with the route, the caller and the event once known.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Span;
use tracing::field::Empty;

use crate::state::Shared;

/// The header the id comes in and goes out with.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest id accepted from a proxy (longer ones are replaced).
const MAX_LENGTH: usize = 128;

/// Gives the request its id: a trusted proxy's, if it sent a sane one, else a fresh one.
pub async fn assign(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let trusted = peer.is_some_and(|ip| state.config.trusted_proxies.trusts(ip));
    let given = request.headers().get(&HEADER).filter(|id| trusted && sane(id)).cloned();
    let id = given.unwrap_or_else(|| {
        let mut bytes = [0u8; 16];
        state.rng.fill(&mut bytes);
        HeaderValue::from_str(&hex::encode(bytes)).unwrap_or(HeaderValue::from_static("unknown"))
    });
    request.headers_mut().insert(HEADER, id);
    next.run(request).await
}

/// Whether a proxy's id can stand in logs as it is: 1 to [`MAX_LENGTH`] visible ASCII characters.
fn sane(id: &HeaderValue) -> bool {
    (1..=MAX_LENGTH).contains(&id.len()) && id.as_bytes().iter().all(|b| b.is_ascii_graphic())
}

/// The request's span (the trace layer's): its method and id; its route (the template, never the
/// raw path, which can hold a magic link's token), caller and event are recorded as they become
/// known ([`route`], [`caller`], [`event`]).
pub fn span(request: &Request) -> Span {
    let id = request.headers().get(&HEADER).and_then(|id| id.to_str().ok()).unwrap_or("");
    tracing::info_span!(
        "request",
        method = %request.method(),
        request_id = id,
        route = Empty,
        caller = Empty,
        event = Empty,
    )
}

/// Records the route the request matched in its span.
pub fn route(route: &str) {
    Span::current().record("route", route);
}

/// Records who is calling in the request's span.
pub fn caller(user: impl std::fmt::Display) {
    Span::current().record("caller", tracing::field::display(user));
}

/// Records the event the request is about in its span.
pub fn event(event: impl std::fmt::Display) {
    Span::current().record("event", tracing::field::display(event));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_id_must_be_short_and_visible() {
        assert!(sane(&HeaderValue::from_static("edge-7f3a:42")));
        assert!(!sane(&HeaderValue::from_static("")));
        assert!(!sane(&HeaderValue::from_static("two words")));
        assert!(!sane(&HeaderValue::from_str(&"a".repeat(MAX_LENGTH + 1)).unwrap()));
    }
}
