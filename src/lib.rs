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
//! import { connect, completeRedirect } from 'terra-connect';
//! button.onclick = () => connect({ proxyUrl: '/api/terra', resource: 'FITBIT',
//!   successUrl: location.origin + '/done.html', failureUrl: location.origin + '/failed.html' })
//!   .then(({ userId }) => show(userId), (error) => show(error.code));
//! // on done.html and failed.html: check the state, hand the result over, close the tab
//! completeRedirect();
//! ```
//!
//! README.md has the whole story: the flow, the options, the error codes, the proxy contract.
//!
//! Layout: the pure modules ([`options`], [`wire`], [`redirect`], [`state`], [`url`], [`error`]) hold
//! every decision and are tested natively; [`web`] is the thin, synchronous `web-sys` layer
//! (`js/driver.js` does the waiting: fetch, timers, listeners); `alloc` (wasm only) is the module's small
//! allocator; this file holds only the `#[wasm_bindgen]` exports.

#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
pub mod alloc;
pub mod error;
pub mod options;
pub mod redirect;
pub mod state;
pub mod url;
pub mod web;
pub mod wire;

use wasm_bindgen::prelude::*;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: alloc::SizeClasses = alloc::SizeClasses::new();

use crate::error::Result;
use crate::options::{SessionOptions, Target};
use crate::web::js::{read_complete_options, read_flow_options, read_options, redirect_to_js, to_js_error};
use crate::web::{complete, flow};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The stable `code` of a {@link TerraConnectError}: a closed set (see README, "Error codes"). */
export type TerraConnectErrorCode =
  | "invalid_argument"
  | "network"
  | "proxy_error"
  | "invalid_response"
  | "popup_blocked"
  | "popup_closed"
  | "timeout"
  | "aborted"
  | "auth_failed"
  | "state_mismatch"
  | "not_verified";

/** Options of {@link createSession}. */
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

/** Options of {@link connect}: the session's, with both redirect URLs on the page's origin,
 *  and either one `resource` or the `providers` Terra's widget offers. */
export type ConnectOptions = ConnectCommon &
  ({ resource: string; providers?: undefined } | { providers: string[]; resource?: undefined });

/** The options {@link connect} takes whatever it connects. */
export interface ConnectCommon extends Omit<SessionOptions, "resource"> {
  /** Required: a page of this origin that calls completeRedirect(). */
  successUrl: string;
  /** Required: a page of this origin that calls completeRedirect(). */
  failureUrl: string;
  /** "popup" (default): a new tab; "redirect": the current tab goes to Terra and comes back. */
  mode?: "popup" | "redirect";
  /** "redirect": when the browser blocks the tab, use redirect mode instead of rejecting. */
  fallback?: "redirect" | "none";
  /** How long to wait for the person, in ms (default 600000, at most 86400000). */
  timeoutMs?: number;
  /** Cancels the flow: rejects with "aborted" and closes the tab. */
  signal?: AbortSignal;
  /** Reject with "popup_closed" as soon as the tab reads closed, even after it left for
   *  Terra. Only for providers that send no Cross-Origin-Opener-Policy. */
  rejectOnTabClose?: boolean;
  /** Called once when the tab reads closed after it left for Terra (it may still be open,
   *  behind Cross-Origin-Opener-Policy); the flow keeps waiting. Offer "Cancel" / "Try again". */
  onTabClosed?: () => void;
  /** Confirm the user id before resolving. true: the proxy asks Terra (GET {proxyUrl}/connection);
   *  "webhook": wait until the proxy has received Terra's signed auth event for it
   *  (GET {proxyUrl}/connection/webhook, long poll, until timeoutMs). The result then carries
   *  verified: true; an id the proxy does not confirm rejects with "not_verified". The proxy
   *  matches it to referenceId, or to its own reference-id hook. Popup mode. */
  verify?: boolean | "webhook";
}

/** Options of {@link completeRedirect}. */
export interface CompleteOptions {
  /** The URL to complete (default: window.location.href; then the address bar is cleaned). */
  href?: string;
  /** Close the tab when connect() opened it (default true). */
  closeTab?: boolean;
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

/** A finished connection, as connect() resolves with it. */
export interface ConnectResult extends RedirectResult {
  outcome: "success";
  /** true when `verify: true` and the proxy confirmed the user id. */
  verified?: true;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// The JavaScript options object of `createSession`.
    #[wasm_bindgen(typescript_type = "SessionOptions")]
    pub type JsSessionOptions;

    /// The JavaScript options object of `connect`.
    #[wasm_bindgen(typescript_type = "ConnectOptions")]
    pub type JsConnectOptions;

    /// The JavaScript options object of `completeRedirect`.
    #[wasm_bindgen(typescript_type = "CompleteOptions")]
    pub type JsCompleteOptions;
}

fn validated(options: &JsValue) -> Result<SessionOptions> {
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
        Ok(options) if matches!(options.target, Target::Provider(_)) => options,
        Ok(_) => {
            return reject(error::Error::invalid("providers", "is for connect(): createSession takes one resource"))
        }
        Err(e) => return reject(e),
    };
    flow::create_session(options)
}

/// Connects a wearable: opens a tab at once (call it from a click handler, before any
/// `await`), creates the session, sends the tab to Terra, and resolves with
/// `{ outcome: "success", userId, resource, referenceId }` when the success page calls
/// `completeRedirect()`.
///
/// Rejects with `invalid_argument`, `network`, `proxy_error`, `invalid_response`,
/// `popup_blocked`, `popup_closed`, `timeout`, `aborted` or `auth_failed` (the failure URL;
/// `error.result` holds what came back). In redirect mode the page navigates away and the
/// promise settles only on an error before that.
#[wasm_bindgen(unchecked_return_type = "Promise<ConnectResult>")]
pub fn connect(options: &JsConnectOptions) -> js_sys::Promise {
    let parsed = validated(options).and_then(|session| {
        let (raw, hooks) = read_flow_options(options)?;
        Ok((session, raw.validate()?, hooks))
    });
    match parsed {
        Ok((session, flow_options, hooks)) => flow::connect(session, flow_options, hooks),
        Err(e) => reject(e),
    }
}

/// Finishes a flow on the success or failure page: checks the state against the pending
/// record (`state_mismatch` for a missing, unknown, expired or reused one; nothing is then
/// delivered), delivers the result to the waiting `connect()`, removes the Terra and state
/// parameters from the address bar, closes the tab `connect()` opened (unless
/// `closeTab: false`), and returns `{ outcome, userId, resource, referenceId }`.
#[wasm_bindgen(js_name = completeRedirect, unchecked_return_type = "RedirectResult")]
pub fn complete_redirect(options: Option<JsCompleteOptions>) -> core::result::Result<JsValue, JsValue> {
    let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
    let (href, close_tab) = read_complete_options(&options).map_err(to_js_error)?;
    let is_current = href.is_none();
    let href = href.unwrap_or_else(current_href);
    complete::complete(&href, is_current, close_tab).map(|r| redirect_to_js(&r)).map_err(to_js_error)
}

fn current_href() -> String {
    crate::web::window().and_then(|w| w.location().href().ok()).unwrap_or_default()
}

/// Parses the success or failure URL Terra sent the person back to (default:
/// `window.location.href`) into `{ outcome, userId, resource, referenceId }`, without
/// checking state or delivering anything (`completeRedirect` does both).
///
/// The URL must carry the `tc_outcome` marker that `createSession`/`connect` add to the
/// redirect URLs; throws `invalid_argument` otherwise.
#[wasm_bindgen(js_name = parseRedirect, unchecked_return_type = "RedirectResult")]
pub fn parse_redirect(href: Option<String>) -> core::result::Result<JsValue, JsValue> {
    let href = href.unwrap_or_else(current_href);
    redirect::parse(&href).map(|r| redirect_to_js(&r)).map_err(to_js_error)
}
