//! Every request to the proxy: gloo-net, with the caller's `AbortSignal` wired to it, and each
//! failure mapped to one error code here. Errors name the request they come from.

use gloo_net::http::Request;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorCode, Result};

/// Sends one request (a JSON `POST` of `body`, or a `GET` without one) and returns the status
/// and the body text. A failure is `aborted` when `signal` fired, `network` otherwise (its
/// message names the request).
pub async fn send(url: &str, body: Option<String>, signal: Option<AbortSignal>) -> Result<(u16, String)> {
    let post = body.is_some();
    let failed = |what: &str| match signal.as_ref().is_some_and(AbortSignal::aborted) {
        true => Error::new(ErrorCode::Aborted, "the signal aborted the request"),
        false => {
            let mut message = String::from(what);
            message.push_str(": ");
            push_request(&mut message, post, url);
            Error::new(ErrorCode::Network, message)
        }
    };
    let unreachable = "could not reach the proxy (offline, refused, or blocked by CORS)";
    let request = match body {
        Some(body) => {
            Request::post(url).header("content-type", "application/json").abort_signal(signal.as_ref()).body(body)
        }
        None => Request::get(url).abort_signal(signal.as_ref()).build(),
    };
    let response = request.map_err(|_| failed(unreachable))?.send().await.map_err(|_| failed(unreachable))?;
    let status = response.status();
    let text =
        response.text().await.map_err(|_| failed("the connection to the proxy broke while reading its answer"))?;
    Ok((status, text))
}

/// `error` from interpreting the answer to `url`: `proxy_error`, `invalid_response` and
/// `verify_unavailable` get the request and the status appended, e.g.
/// `… (POST http://127.0.0.1:8787/api/terra/auth/authenticateUser answered 403)`.
pub fn named(mut error: Error, post: bool, url: &str, status: u16) -> Error {
    if matches!(error.code, ErrorCode::ProxyError | ErrorCode::InvalidResponse | ErrorCode::VerifyUnavailable) {
        error.message.push_str(" (");
        push_request(&mut error.message, post, url);
        error.message.push_str(" answered ");
        crate::state::push_u64(&mut error.message, u64::from(status));
        error.message.push(')');
    }
    error
}

/// Appends `POST url` or `GET url`, a path made absolute with the page's origin.
fn push_request(out: &mut String, post: bool, url: &str) {
    out.push_str(if post { "POST " } else { "GET " });
    if url.starts_with('/') {
        if let Some(origin) = crate::web::window().and_then(|w| w.location().origin().ok()) {
            out.push_str(&origin);
        }
    }
    out.push_str(url);
}
