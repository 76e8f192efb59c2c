//! Every request to the proxy: gloo-net, with the caller's `AbortSignal` wired to it, and each
//! failure mapped to one error code here.

use gloo_net::http::Request;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorCode, Result};

/// Sends one request (a JSON `POST` of `body`, or a `GET` without one) and returns the status
/// and the body text. A failure is `aborted` when `signal` fired, `network` otherwise.
pub async fn send(url: String, body: Option<String>, signal: Option<AbortSignal>) -> Result<(u16, String)> {
    let failed = |what: &str| match signal.as_ref().is_some_and(AbortSignal::aborted) {
        true => Error::new(ErrorCode::Aborted, "the signal aborted the request"),
        false => Error::new(ErrorCode::Network, what),
    };
    let unreachable = "could not reach the proxy (offline, refused, or blocked by CORS)";
    let request = match body {
        Some(body) => {
            Request::post(&url).header("content-type", "application/json").abort_signal(signal.as_ref()).body(body)
        }
        None => Request::get(&url).abort_signal(signal.as_ref()).build(),
    };
    let response = request.map_err(|_| failed(unreachable))?.send().await.map_err(|_| failed(unreachable))?;
    let status = response.status();
    let text =
        response.text().await.map_err(|_| failed("the connection to the proxy broke while reading its answer"))?;
    Ok((status, text))
}
