//! The parsers of outside input that live in this crate, callable without a server, for the
//! fuzz targets in `fuzz/` (the `fuzzing` feature; not part of the embedding surface).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::extract::FromRequest as _;
use axum::http::{HeaderMap, HeaderValue, header};

use crate::auth::token::{TokenRequest, basic_credentials, lookup_text};
use crate::routes::jobs::holders_from_csv;

/// A holder read from a CSV list: name, email, phone.
pub type Holder = (String, Option<String>, Option<String>);

/// Reads a holder list as `POST /ticket-types/{id}/generations` reads `holders_csv`: the
/// holders, or the problem's field detail (which names the line at fault).
pub fn holders_csv(text: &str) -> Result<Vec<Holder>, String> {
    match holders_from_csv(text) {
        Ok(holders) => Ok(holders.into_iter().map(|h| (h.name, h.email, h.phone)).collect()),
        Err(e) => Err(e.detail().to_owned()),
    }
}

/// What a token request's reading gave.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenReading {
    /// The form was read: its grant type, whether the username can be looked up, and the
    /// Basic credentials when the header carried them.
    Read {
        /// The `grant_type` field.
        grant_type: String,
        /// Whether a `username` was given and holds no control character.
        username_usable: bool,
        /// The decoded Basic pair.
        basic: Option<(String, String)>,
    },
    /// The request was refused before any grant ran.
    Refused,
}

/// Reads a token request as `POST /oauth/token` does: the form-encoded `body` through the same
/// extractor, and `authorization` as the Authorization header.
pub fn token_request(body: &[u8], authorization: &[u8]) -> TokenReading {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert(header::AUTHORIZATION, value);
    }
    let Ok(basic) = basic_credentials(&headers) else { return TokenReading::Refused };
    let request = axum::http::Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(body.to_vec()));
    let Ok(request) = request else { return TokenReading::Refused };
    match ready(axum::Form::<TokenRequest>::from_request(request, &())) {
        Some(Ok(axum::Form(form))) => TokenReading::Read {
            username_usable: form.username.as_deref().and_then(lookup_text).is_some(),
            grant_type: form.grant_type,
            basic,
        },
        _ => TokenReading::Refused,
    }
}

/// The output of a future over an in-memory body, ready at its first poll.
fn ready<T>(future: impl Future<Output = T>) -> Option<T> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(done) => Some(done),
        Poll::Pending => None,
    }
}
