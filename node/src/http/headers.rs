//! Security headers on every response: what a browser may do with what the node sends.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The web UI is plain ES modules and one stylesheet, all served by the node, with no inline
/// `<script>`, `<style>` or `style="…"` (the e2e test
/// `the_web_ui_needs_nothing_the_content_security_policy_forbids` keeps it so): everything comes
/// from the node itself (`fetch`, the event stream and dynamic `import()` included). The one
/// exception is the page's empty `data:` favicon, so images may also be `data:` URLs. No
/// plugins, no `<base>`, no framing by any page, forms post only to the node.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Adds the security headers to a response: the [`CONTENT_SECURITY_POLICY`],
/// `X-Frame-Options: DENY` (framing, for browsers that predate `frame-ancestors`),
/// `X-Content-Type-Options: nosniff` (a file is what its Content-Type says) and
/// `Referrer-Policy: no-referrer` (links out of the UI do not leak record URLs).
pub async fn secure(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
