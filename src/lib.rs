//! # terra-connect
//!
//! Connect a person's wearable (Fitbit, Garmin, Oura, …) to a web app through
//! [Terra](https://tryterra.co), from the browser, without the API key ever reaching it.
//!
//! The browser asks a backend proxy (see the `terra-connect-proxy` crate, or any thin
//! forwarder that adds Terra's `dev-id` and `x-api-key` headers) for a login session,
//! opens Terra's `auth_url` in a new tab, and reads the success or failure URL that Terra
//! sends the person back to.
//!
//! The crate is built for `wasm32-unknown-unknown` and used from JavaScript:
//!
//! ```js
//! import { connect, parseRedirect } from 'terra-connect';
//! button.onclick = () => connect({ proxyUrl: '/api/terra', resource: 'FITBIT',
//!   successUrl: location.origin + '/done.html', failureUrl: location.origin + '/failed.html' });
//! // on done.html:
//! const { outcome, userId } = parseRedirect();
//! ```
//!
//! Layout: the pure modules ([`options`], [`wire`], [`redirect`], [`url`], [`error`]) hold
//! every decision and are tested natively; [`web`] is the thin `web-sys` layer; this file
//! holds only the `#[wasm_bindgen]` exports.

#![warn(missing_docs)]

pub mod error;
pub mod options;
pub mod redirect;
pub mod url;
pub mod web;
pub mod wire;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::Result;
use crate::options::SessionOptions;
use crate::web::js::{read_options, redirect_to_js, session_to_js, to_js_error};
use crate::web::{fetch, tab::Tab};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The stable `code` of a {@link TerraConnectError}. */
export type TerraConnectErrorCode =
  | "invalid_argument"
  | "network"
  | "proxy_error"
  | "invalid_response"
  | "popup_blocked";

/** Options of {@link createSession} and {@link connect}. */
export interface SessionOptions {
  /** Where the proxy is mounted: an absolute http(s) URL or a path such as "/api/terra". */
  proxyUrl: string;
  /** Terra's provider name, e.g. "FITBIT", "GARMIN", "OURA" (upper-cased for you). */
  resource: string;
  /** The app's own id for its user; Terra sends it back. */
  referenceId?: string;
  /** Absolute https URL (http only on localhost) Terra sends the person to on success. */
  successUrl?: string;
  /** Absolute https URL (http only on localhost) Terra sends the person to on failure. */
  failureUrl?: string;
  /** Language of Terra's pages, e.g. "en". */
  language?: string;
}

/** A Terra login session. */
export interface Session {
  /** Terra's id for the user, reserved before the person logs in. */
  userId: string;
  /** The provider's login page. */
  authUrl: string;
}

/** What a redirect URL says. Every field but `outcome` may be null. */
export interface RedirectResult {
  outcome: "success" | "failure";
  userId: string | null;
  resource: string | null;
  referenceId: string | null;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The JavaScript options object of `createSession` and `connect`.
    #[wasm_bindgen(typescript_type = "SessionOptions")]
    pub type JsSessionOptions;
}

fn validated(options: &JsSessionOptions) -> Result<SessionOptions> {
    read_options(options)?.validate()
}

fn reject(error: error::Error) -> js_sys::Promise {
    js_sys::Promise::reject(&to_js_error(error))
}

/// Asks the proxy for a Terra login session for one provider.
///
/// Resolves with `{ userId, authUrl }`; rejects with a `TerraConnectError`
/// (`invalid_argument` before any request, `network`, `proxy_error`, `invalid_response`).
#[wasm_bindgen(js_name = createSession, unchecked_return_type = "Promise<Session>")]
pub fn create_session(options: &JsSessionOptions) -> js_sys::Promise {
    let options = match validated(options) {
        Ok(options) => options,
        Err(e) => return reject(e),
    };
    future_to_promise(async move {
        fetch::create_session(&options)
            .await
            .map(|s| session_to_js(&s))
            .map_err(to_js_error)
    })
}

/// Opens a new tab at once (call it from a click handler), asks the proxy for a session and
/// sends the tab to Terra's login page.
///
/// The tab is opened synchronously, before the returned promise exists, so popup blockers
/// allow it. If the session cannot be created, the tab is closed and the promise rejects.
/// Resolves with `{ userId, authUrl }`.
#[wasm_bindgen(unchecked_return_type = "Promise<Session>")]
pub fn connect(options: &JsSessionOptions) -> js_sys::Promise {
    let options = match validated(options) {
        Ok(options) => options,
        Err(e) => return reject(e),
    };
    let tab = match Tab::open() {
        Ok(tab) => tab,
        Err(e) => return reject(e),
    };
    future_to_promise(async move {
        match fetch::create_session(&options).await {
            Ok(session) => {
                tab.navigate(&session.auth_url);
                Ok(session_to_js(&session))
            }
            Err(e) => {
                tab.close();
                Err(to_js_error(e))
            }
        }
    })
}

/// Parses the success or failure URL Terra sent the person back to (default:
/// `window.location.href`) into `{ outcome, userId, resource, referenceId }`.
///
/// The URL must carry the `tc_outcome` marker that `createSession`/`connect` add to the
/// redirect URLs; throws `invalid_argument` otherwise.
#[wasm_bindgen(js_name = parseRedirect, unchecked_return_type = "RedirectResult")]
pub fn parse_redirect(href: Option<String>) -> core::result::Result<JsValue, JsValue> {
    let href = match href {
        Some(href) => href,
        None => web_sys::window()
            .and_then(|w| w.location().href().ok())
            .unwrap_or_default(),
    };
    redirect::parse(&href)
        .map(|r| redirect_to_js(&r))
        .map_err(to_js_error)
}
