//! Reading off what a handler left of a request body before the connection is let go.
//!
//! A route refuses a body over its limit (413) as soon as the declared length says so, without
//! reading it. Closing a socket with unread data makes the kernel reset the connection, and a
//! client still sending — most HTTP libraries send the whole body before they read an answer —
//! then sees "broken pipe" instead of the 413 that says what the route takes. So every
//! request's body is wrapped: whatever the handler dropped unread is read off in the background,
//! up to [`DRAIN_BYTES_MAX`] and [`DRAIN_TIME_MAX`] (past those the connection is let go as
//! before, so a client cannot make the node read forever).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// Most bytes of a refused body read off after the answer.
pub const DRAIN_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Longest time spent reading off a refused body.
pub const DRAIN_TIME_MAX: Duration = Duration::from_secs(30);

/// Where a request body left unread ends up when its handler drops it.
type Leftover = Arc<Mutex<Option<Body>>>;

/// A request body that hands itself over to [`Leftover`] when dropped unfinished.
struct Tracked {
    inner: Option<Body>,
    leftover: Leftover,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.inner.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner
            .as_ref()
            .is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(body) = self.inner.take() {
            if !http_body::Body::is_end_stream(&body) {
                if let Ok(mut slot) = self.leftover.lock() {
                    *slot = Some(body);
                }
            }
        }
    }
}

/// Middleware: runs the request with a tracked body; what the handler left unread is read off
/// in the background while the answer goes out.
pub async fn read_off_leftover(req: Request, next: Next) -> Response {
    let leftover: Leftover = Arc::default();
    let (parts, body) = req.into_parts();
    let tracked = Tracked {
        inner: Some(body),
        leftover: leftover.clone(),
    };
    let response = next
        .run(Request::from_parts(parts, Body::new(tracked)))
        .await;
    let unread = leftover.lock().ok().and_then(|mut slot| slot.take());
    if let Some(body) = unread {
        tokio::spawn(async move {
            let mut stream = body.into_data_stream();
            let mut read = 0;
            let _ = tokio::time::timeout(DRAIN_TIME_MAX, async {
                while let Some(Ok(chunk)) = stream.next().await {
                    read += chunk.len();
                    if read > DRAIN_BYTES_MAX {
                        break;
                    }
                }
            })
            .await;
        });
    }
    response
}
