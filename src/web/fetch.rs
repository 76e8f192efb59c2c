//! POST the session request to the proxy and read its answer.

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, RequestInit, Response};

use crate::error::{Error, ErrorCode, Result};
use crate::options::SessionOptions;
use crate::wire::{self, Session};

fn network(message: &str) -> Error {
    Error::new(ErrorCode::Network, message)
}

/// Sends one request to the proxy; returns the status and the body text.
async fn send(method: &str, url: &str, json_body: Option<&str>) -> Result<(u16, String)> {
    let window = web_sys::window().ok_or_else(|| network("no window: terra-connect runs in a browser page"))?;
    let init = RequestInit::new();
    init.set_method(method);
    if let Some(body) = json_body {
        init.set_body(&JsValue::from_str(body));
        let headers = Headers::new().map_err(|_| network("could not build request headers"))?;
        let _ = headers.set("content-type", "application/json");
        init.set_headers(&headers);
    }
    let unreachable = "could not reach the proxy (offline, refused, or blocked by CORS)";
    let response =
        JsFuture::from(window.fetch_with_str_and_init(url, &init)).await.map_err(|_| network(unreachable))?;
    let response: Response = response.dyn_into().map_err(|_| network(unreachable))?;
    let text = match response.text() {
        Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()),
        Err(_) => None,
    }
    .ok_or_else(|| network("the connection to the proxy broke while reading its answer"))?;
    Ok((response.status(), text))
}

/// Asks the proxy for a Terra login session.
pub async fn create_session(options: &SessionOptions, state: Option<&str>) -> Result<Session> {
    let (status, text) = send("POST", &wire::endpoint(options), Some(&wire::request_body(options, state))).await?;
    wire::interpret(status, super::js::read_response(&text))
}

/// Asks the proxy for `connect()`'s login page (a session, or a widget session) with `state`
/// on the redirect URLs; returns the page to open.
pub async fn login_page(options: &SessionOptions, state: &str) -> Result<String> {
    let (status, text) =
        send("POST", &wire::endpoint(options), Some(&wire::request_body(options, Some(state)))).await?;
    wire::interpret_login(&options.target, status, super::js::read_response(&text))
}

/// Asks the proxy to confirm that `user_id` is connected for this user.
///
/// `path` is `/connection` (the proxy asks Terra) or `/connection/webhook?wait_ms=…` (the proxy
/// waits for Terra's signed `auth` event).
pub async fn verify_connection(proxy_url: &str, path: &str, user_id: &str, reference_id: Option<&str>) -> Result<()> {
    let (status, text) = send("GET", &wire::connection_endpoint(proxy_url, path, user_id, reference_id), None).await?;
    wire::interpret_connection(status, user_id, super::js::read_response(&text))
}
