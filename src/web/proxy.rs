//! Every request to the proxy: gloo-net, with the caller's `AbortSignal` wired to it, and each
//! failure mapped to one error code here. Errors name the request they come from.

use gloo_net::http::Request;
use js_sys::Promise;
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorCode, Result};
use crate::wire::Method;

/// Sends one request (a JSON `POST` of `body`; a `GET` or `DELETE` without one) and returns
/// the status and the body text. A failure is `aborted` when `signal` fired, `network`
/// otherwise (its message names the request).
pub async fn send(
    method: Method,
    url: &str,
    body: Option<String>,
    signal: Option<AbortSignal>,
) -> Result<(u16, String)> {
    let failed = |what: &str| match signal.as_ref().is_some_and(AbortSignal::aborted) {
        true => Error::new(ErrorCode::Aborted, "the signal aborted the request"),
        false => {
            let mut message = String::from(what);
            message.push_str(": ");
            push_request(&mut message, method, url);
            Error::new(ErrorCode::Network, message)
        }
    };
    let unreachable = "could not reach the proxy (offline, refused, or blocked by CORS)";
    let request = match (method, body) {
        (_, Some(body)) => {
            Request::post(url).header("content-type", "application/json").abort_signal(signal.as_ref()).body(body)
        }
        (Method::Delete, None) => Request::delete(url).abort_signal(signal.as_ref()).build(),
        (_, None) => Request::get(url).abort_signal(signal.as_ref()).build(),
    };
    let response = request.map_err(|_| failed(unreachable))?.send().await.map_err(|_| failed(unreachable))?;
    let status = response.status();
    let text =
        response.text().await.map_err(|_| failed("the connection to the proxy broke while reading its answer"))?;
    Ok((status, text))
}

/// What a one-request call makes of the proxy's answer (status, body text).
pub type Reader = fn(u16, &str) -> Result<JsValue>;

/// A one-request call (`createSession()`, `listConnections()`, …): sends the request and
/// settles the promise with what `read` makes of the answer; every error names the request.
/// One future for all of them, so the wasm holds its state machine once.
pub fn promise(
    method: Method,
    url: String,
    body: Option<String>,
    signal: Option<AbortSignal>,
    read: Reader,
) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        let to_js = crate::web::values::to_js_error;
        let (status, text) = send(method, &url, body, signal).await.map_err(to_js)?;
        read(status, &text).map_err(|e| to_js(named(e, method, &url, status)))
    })
}

/// `error` from interpreting the answer to `url`: `proxy_error`, `invalid_response` and
/// `verify_unavailable` get the request and the status appended, e.g.
/// `… (POST http://127.0.0.1:8787/api/terra/auth/authenticateUser answered 403)`.
pub fn named(mut error: Error, method: Method, url: &str, status: u16) -> Error {
    if matches!(error.code, ErrorCode::ProxyError | ErrorCode::InvalidResponse | ErrorCode::VerifyUnavailable) {
        error.message.push_str(" (");
        push_request(&mut error.message, method, url);
        error.message.push_str(" answered ");
        crate::state::push_u64(&mut error.message, u64::from(status));
        error.message.push(')');
    }
    error
}

/// Appends `METHOD url`, a path made absolute with the page's origin.
fn push_request(out: &mut String, method: Method, url: &str) {
    out.push_str(method.as_str());
    out.push(' ');
    if url.starts_with('/') {
        if let Some(origin) = crate::web::window().and_then(|w| w.location().origin().ok()) {
            out.push_str(&origin);
        }
    }
    out.push_str(url);
}
