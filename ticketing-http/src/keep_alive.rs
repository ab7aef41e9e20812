//! Kept-alive connections survive an early refusal.
//!
//! A request refused before its body is read (401 for a bad token, 415 for a wrong content
//! type…) leaves the body unread on the connection. Dropped, it makes hyper close the connection
//! after the answer, without saying so, and the client's next request on it fails with a broken
//! pipe. Scanner apps and load balancers reuse connections, so [`keep_alive`] takes back a body
//! the handler left unread and reads the rest of it (at most [`DRAIN_MAX`] bytes, waiting at
//! most [`DRAIN_WAIT`]); the connection then carries the next request. A body it cannot drain
//! (too large, or not sent yet) gets `Connection: close` on the answer, so the client knows.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Body as _, Frame, SizeHint};

/// The most of an unread body read to keep its connection.
pub const DRAIN_MAX: usize = 64 * 1024;
/// How long the rest of an unread body is waited for.
pub const DRAIN_WAIT: Duration = Duration::from_millis(250);

/// Where a body left unread is put back when its handler drops it.
type Leftover = Arc<Mutex<Option<Body>>>;

/// A request body that, dropped before its end, hands itself back.
struct Tracked {
    inner: Option<Body>,
    leftover: Leftover,
    /// Read to its end, or failed: nothing to drain.
    finished: bool,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let Some(inner) = self.inner.as_mut() else { return Poll::Ready(None) };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.finished = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take()
            && !self.finished
            && !http_body::Body::is_end_stream(&inner)
        {
            *self.leftover.lock().unwrap_or_else(|e| e.into_inner()) = Some(inner);
        }
    }
}

/// The middleware: drains what the handler left of the body, or closes the connection openly.
pub async fn keep_alive(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if http_body::Body::is_end_stream(&body) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let expects_continue =
        parts.headers.get(header::EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    let leftover = Leftover::default();
    let tracked = Tracked { inner: Some(body), leftover: leftover.clone(), finished: false };
    let mut response = next.run(Request::from_parts(parts, Body::new(tracked))).await;
    let left = leftover.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(body) = left {
        // A client waiting for `100 Continue` is not asked for a body that is refused anyway,
        // and a body announced larger than the drain allows is not read at all.
        let drained = !expects_continue
            && body.size_hint().lower() <= DRAIN_MAX as u64
            && tokio::time::timeout(DRAIN_WAIT, drain(body)).await.unwrap_or(false);
        if !drained {
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
    response
}

/// Reads `body` to its end; `false` past [`DRAIN_MAX`] bytes or on an error.
async fn drain(mut body: Body) -> bool {
    let mut read = 0;
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => return true,
            Some(Ok(frame)) => {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > DRAIN_MAX {
                    return false;
                }
            }
            Some(Err(_)) => return false,
        }
    }
}
