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
//! Layout: the pure modules ([`options`], [`wire`], [`manage`], [`redirect`], [`state`], [`url`], [`error`]) hold
//! every decision and are tested natively; [`web`] is the thin browser layer (gloo-net requests,
//! the async flow, serde-wasm-bindgen at the boundary); the facts the proxy shares live in the
//! `terra-connect-protocol` crate; this file holds only the `#[wasm_bindgen]` exports.
//!
//! Feature `allocator` (the npm build turns it on) makes the wasm module's global allocator the
//! small one README names; without it a crate that depends on this one keeps its own.

#![warn(missing_docs)]

pub mod error;
pub mod manage;
pub mod options;
pub mod redirect;
pub mod state;
pub mod url;
pub mod web;
pub mod wire;

use wasm_bindgen::prelude::*;

#[cfg(all(feature = "allocator", target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
// SAFETY: the module is built without atomics (the cfg above), so it runs on one thread only.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

use crate::manage::Call;
use crate::web::values::{read_complete, read_flow, read_manage, read_session, redirect_to_js, to_js_error};
pub use crate::web::values::{JsCompleteOptions, JsConnectOptions, JsManageOptions, JsSessionOptions};
use crate::web::{complete, flow};

#[wasm_bindgen(typescript_custom_section)]
const TS_SECTION: &'static str = TS_TYPES;

fn manage(options: &JsManageOptions, call: Call) -> js_sys::Promise {
    match read_manage(options, call).and_then(|(raw, signal)| Ok((raw.validate(call)?, signal))) {
        Ok((request, signal)) => web::manage::run(call, request, signal),
        Err(e) => reject(e),
    }
}

/// Lists the person's connected wearables: `GET {proxyUrl}/connections`, whose owner is the
/// proxy's reference-id hook or `referenceId`.
///
/// Resolves with `[{ userId, provider, referenceId, active, createdAt, lastWebhookUpdate,
/// scopes }]` (`[]` when none); rejects with `invalid_argument` before any request,
/// `network`, `proxy_error`, `invalid_response` or `aborted`.
#[wasm_bindgen(js_name = listConnections, unchecked_return_type = "Promise<Connection[]>")]
pub fn list_connections(
    #[wasm_bindgen(unchecked_param_type = "ListConnectionsOptions")] options: &JsManageOptions,
) -> js_sys::Promise {
    manage(options, Call::ListConnections)
}

/// Disconnects one wearable: `DELETE {proxyUrl}/connections/{userId}`; Terra revokes the
/// provider's access.
///
/// Resolves with `undefined`; rejects with `invalid_argument` (a `userId` that is not a Terra
/// user id) before any request, `network`, `proxy_error` (status 404 when the user is unknown
/// or not the owner's), `invalid_response` or `aborted`.
#[wasm_bindgen(unchecked_return_type = "Promise<void>")]
pub fn disconnect(
    #[wasm_bindgen(unchecked_param_type = "DisconnectOptions")] options: &JsManageOptions,
) -> js_sys::Promise {
    manage(options, Call::Disconnect)
}

/// Lists the providers sessions can be created for (the account's, as the proxy allows them):
/// `GET {proxyUrl}/providers`.
///
/// Resolves with `[{ resource, name, icon }]` in the proxy's order; rejects like
/// [`list_connections`].
#[wasm_bindgen(js_name = listProviders, unchecked_return_type = "Promise<Provider[]>")]
pub fn list_providers(
    #[wasm_bindgen(unchecked_param_type = "ListProvidersOptions")] options: &JsManageOptions,
) -> js_sys::Promise {
    manage(options, Call::ListProviders)
}

/// The TypeScript declarations of the options and results, as the npm package ships them in
/// `terra_connect.d.ts` (tests check them against the Rust readers and writers).
pub const TS_TYPES: &str = r#"
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
  | "not_verified"
  | "storage_unavailable"
  | "verify_unavailable";

/** A Terra provider name. Terra's names autocomplete; any other string is accepted too (Terra
 *  adds providers, and the proxy checks the name against the account's list). */
export type TerraProvider =
  | "FITBIT" | "GARMIN" | "OURA" | "WITHINGS" | "POLAR" | "SUUNTO" | "COROS" | "WAHOO"
  | "PELOTON" | "EIGHTSLEEP" | "DEXCOM" | "FREESTYLELIBRE" | "GOOGLE" | "GOOGLE_HEALTH"
  | "STRAVA" | (string & {});

/** Options of {@link createSession}. */
export interface SessionOptions {
  /** Where the proxy is mounted: an absolute http(s) URL or a path such as "/api/terra". */
  proxyUrl: string;
  /** Terra's provider name, e.g. "FITBIT", "GARMIN", "OURA" (upper-cased for you). */
  resource: TerraProvider;
  /** The app's own id for its user; Terra sends it back. */
  referenceId?: string;
  /** Absolute https URL (http only on localhost) Terra sends the person to on success. */
  successUrl?: string;
  /** Absolute https URL (http only on localhost) Terra sends the person to on failure. */
  failureUrl?: string;
  /** Language of Terra's pages, e.g. "en". */
  language?: string;
  /** createSession(): aborts the request ("aborted"). connect(): cancels the flow, rejects
   *  with "aborted" and closes the tab. */
  signal?: AbortSignal;
}

/** Options of {@link connect}: the session's, with both redirect URLs on the page's origin,
 *  and either one `resource` or the `providers` Terra's widget offers (`[]`: the providers
 *  enabled on the account's Terra dashboard). */
export type ConnectOptions = ConnectCommon &
  ({ providers: TerraProvider[]; resource?: undefined } | { resource: TerraProvider; providers?: undefined });

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
  /** Reject with "popup_closed" as soon as the tab reads closed, even after it left for
   *  Terra. Only for providers that send no Cross-Origin-Opener-Policy. */
  rejectOnTabClose?: boolean;
  /** Called once when the tab reads closed after it left for Terra (it may still be open,
   *  behind Cross-Origin-Opener-Policy); the flow keeps waiting. Offer "Cancel" / "Try again". */
  onTabClosed?: () => void;
  /** Confirm the user id before resolving. true or "proxy": the proxy asks Terra (GET {proxyUrl}/connection);
   *  "webhook": wait until the proxy has received Terra's signed auth event for it
   *  (GET {proxyUrl}/connection/webhook, long poll, until timeoutMs). The result then carries
   *  verified: true; an id the proxy does not confirm rejects with "not_verified". The proxy
   *  matches it to referenceId, or to its own reference-id hook. Popup mode. */
  verify?: boolean | "proxy" | "webhook";
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

/** What a redirect URL says. Every field but `outcome` and `details` may be null. */
export interface RedirectResult {
  outcome: "success" | "failure";
  userId: string | null;
  resource: string | null;
  referenceId: string | null;
  /** Every other query parameter Terra appended after terra-connect's marker (a failure
   *  `reason`, for one); the app's own parameters are not included. */
  details: Record<string, string>;
}

/** A finished connection, as connect() resolves with it. */
export interface ConnectResult extends RedirectResult {
  outcome: "success";
  /** Terra's id for the user: always there (a success redirect without one rejects). */
  userId: string;
  /** true when `verify: true` and the proxy confirmed the user id. */
  verified?: true;
}
/** Options of {@link listConnections}. */
export interface ListConnectionsOptions {
  /** Where the proxy is mounted, as for createSession(). */
  proxyUrl: string;
  /** Whose connections: the app's id for its user. A proxy with a reference-id hook decides
   *  that itself from the request (its sign-in), and this is not needed. */
  referenceId?: string;
  /** Aborts the request ("aborted"). */
  signal?: AbortSignal;
}

/** Options of {@link disconnect}. */
export interface DisconnectOptions {
  /** Where the proxy is mounted, as for createSession(). */
  proxyUrl: string;
  /** Terra's id for the user: a {@link Connection}'s `userId`. */
  userId: string;
  /** Whose connection it is, as for listConnections(). */
  referenceId?: string;
  /** Aborts the request ("aborted"); the proxy may still have disconnected it. */
  signal?: AbortSignal;
}

/** Options of {@link listProviders}. */
export interface ListProvidersOptions {
  /** Where the proxy is mounted, as for createSession(). */
  proxyUrl: string;
  /** Aborts the request ("aborted"). */
  signal?: AbortSignal;
}

/** A connected wearable, as {@link listConnections} lists it. */
export interface Connection {
  /** Terra's id for the user, what disconnect() takes. */
  userId: string;
  /** The provider, e.g. "FITBIT". */
  provider: TerraProvider;
  /** The app's id for its user. */
  referenceId: string | null;
  /** Terra holds a working authorisation (the proxy lists only active ones). */
  active: boolean;
  /** When it was connected (Terra's timestamp). */
  createdAt: string | null;
  /** When Terra last received data for it. */
  lastWebhookUpdate: string | null;
  /** The scopes the person granted, as Terra spells them. */
  scopes: string | null;
}

/** A provider sessions can be created for, as {@link listProviders} lists it. */
export interface Provider {
  /** Terra's name, what connect({ resource }) takes, e.g. "FITBIT". */
  resource: TerraProvider;
  /** Its display name, e.g. "Fitbit". */
  name: string;
  /** An absolute http(s) URL of its icon. */
  icon: string | null;
}
"#;

fn reject(error: error::Error) -> js_sys::Promise {
    js_sys::Promise::reject(&to_js_error(error))
}

/// Asks the proxy for a Terra login session for one provider.
///
/// Resolves with `{ userId, authUrl }`; rejects with a `TerraConnectError`
/// (`invalid_argument` before any request, `network`, `proxy_error`, `invalid_response`,
/// `aborted` when `signal` fires).
#[wasm_bindgen(js_name = createSession, unchecked_return_type = "Promise<Session>")]
pub fn create_session(options: &JsSessionOptions) -> js_sys::Promise {
    let parsed = read_session(options, false).and_then(|(raw, signal)| Ok((raw.validate()?, signal)));
    match parsed {
        Ok((options, signal)) => flow::create_session(options, signal),
        Err(e) => reject(e),
    }
}

/// Connects a wearable: opens a tab at once (call it from a click handler, before any
/// `await`), creates the session, sends the tab to Terra, and resolves with
/// `{ outcome: "success", userId, resource, referenceId, details }` when the success page
/// calls `completeRedirect()`.
///
/// Rejects with `invalid_argument`, `network`, `proxy_error`, `invalid_response`,
/// `popup_blocked`, `popup_closed`, `timeout`, `aborted`, `storage_unavailable` or
/// `auth_failed` (the failure URL; `error.result` holds what came back). In redirect mode the
/// page navigates away and the promise settles only on an error before that.
#[wasm_bindgen(unchecked_return_type = "Promise<ConnectResult>")]
pub fn connect(options: &JsConnectOptions) -> js_sys::Promise {
    let parsed = read_session(options.unchecked_ref(), true).and_then(|(raw, signal)| {
        let session = raw.validate()?;
        let (flow_raw, on_tab_closed) = read_flow(options)?;
        Ok((session, flow_raw.validate()?, signal, on_tab_closed))
    });
    match parsed {
        Ok((session, flow_options, signal, on_tab_closed)) => {
            flow::connect(session, flow_options, signal, on_tab_closed)
        }
        Err(e) => reject(e),
    }
}

/// Finishes a flow on the success or failure page: checks the state against the pending
/// record (`state_mismatch` for a missing, unknown, expired or reused one, and for a URL
/// without the `tc_outcome` marker; nothing is then delivered), delivers the result to the
/// waiting `connect()`, removes the Terra and state parameters from the address bar, closes
/// the tab `connect()` opened (unless `closeTab: false`), and returns
/// `{ outcome, userId, resource, referenceId, details }`.
#[wasm_bindgen(js_name = completeRedirect, unchecked_return_type = "RedirectResult")]
pub fn complete_redirect(options: Option<JsCompleteOptions>) -> core::result::Result<JsValue, JsValue> {
    let (href, close_tab) = read_complete(options.as_ref()).map_err(to_js_error)?;
    let is_current = href.is_none();
    let href = href.unwrap_or_else(current_href);
    complete::complete_once_per_page(href, is_current, close_tab)
}

fn current_href() -> String {
    crate::web::window().and_then(|w| w.location().href().ok()).unwrap_or_default()
}

/// Parses the success or failure URL Terra sent the person back to (default:
/// `window.location.href`) into `{ outcome, userId, resource, referenceId, details }`, without
/// checking state or delivering anything (`completeRedirect` does both).
///
/// The URL must carry the `tc_outcome` marker that `createSession`/`connect` add to the
/// redirect URLs; throws `invalid_argument` otherwise.
#[wasm_bindgen(js_name = parseRedirect, unchecked_return_type = "RedirectResult")]
pub fn parse_redirect(href: Option<String>) -> core::result::Result<JsValue, JsValue> {
    let href = href.unwrap_or_else(current_href);
    redirect::parse(&href).map(|r| redirect_to_js(&r, None)).map_err(to_js_error)
}

/// The TypeScript declarations and the Rust readers and writers must not drift: each test
/// compares one declared interface with what the Rust side reads or writes.
#[cfg(test)]
mod typescript_agrees {
    use super::*;
    use crate::web::values::{RedirectJs, SessionJs};
    use std::collections::BTreeSet;

    /// The property names of `export interface NAME … { … }` in the declarations.
    fn declared(name: &str) -> BTreeSet<String> {
        let at = TS_TYPES.find(&format!("export interface {name} ")).unwrap_or_else(|| panic!("no interface {name}"));
        let text = &TS_TYPES[at..];
        let body = &text[text.find('{').unwrap() + 1..text.find("\n}").unwrap()];
        body.lines()
            .map(str::trim)
            .filter(|line| !line.starts_with("/*") && !line.starts_with('*'))
            .filter_map(|line| line.split(['?', ':']).next())
            .filter(|name| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()))
            .map(str::to_owned)
            .collect()
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    fn serialized_keys(value: &impl serde::Serialize) -> BTreeSet<String> {
        match serde_json::to_value(value).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn option_readers_read_what_is_declared() {
        assert_eq!(declared("SessionOptions"), set(JsSessionOptions::KEYS));
        assert_eq!(declared("CompleteOptions"), set(JsCompleteOptions::KEYS));
        // ConnectOptions = ConnectCommon (SessionOptions without resource, and its own) & one of
        // `resource` or `providers`.
        assert!(TS_TYPES.contains("export interface ConnectCommon extends Omit<SessionOptions, \"resource\">"));
        // `resource` is the union's last member, so that tsc's error for neither names it.
        assert!(TS_TYPES.contains(
            "({ providers: TerraProvider[]; resource?: undefined } | { resource: TerraProvider; providers?: undefined })"
        ));
        let mut connect = declared("ConnectCommon");
        connect.extend(declared("SessionOptions"));
        connect.insert("providers".into());
        let mut read = set(JsSessionOptions::KEYS);
        read.extend(set(JsConnectOptions::KEYS));
        assert_eq!(connect, read);
    }

    #[test]
    fn results_have_the_declared_fields() {
        let redirect = redirect::parse("https://a/d?tc_outcome=success&user_id=u").unwrap();
        assert_eq!(serialized_keys(&RedirectJs::new(&redirect, None)), declared("RedirectResult"));
        let mut connect_result = declared("RedirectResult");
        connect_result.extend(declared("ConnectResult"));
        assert_eq!(serialized_keys(&RedirectJs::new(&redirect, Some(true))), connect_result);
        assert_eq!(serialized_keys(&SessionJs { user_id: "u", auth_url: "https://a/" }), declared("Session"));
    }

    #[test]
    fn error_codes_and_verify_values_are_the_declared_ones() {
        let union = &TS_TYPES[TS_TYPES.find("export type TerraConnectErrorCode =").unwrap()..];
        let union = &union[..union.find(';').unwrap()];
        let declared: Vec<&str> = union.split('"').skip(1).step_by(2).collect();
        let codes: Vec<&str> = error::ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(declared, codes);
        assert!(TS_TYPES.contains("verify?: boolean | \"proxy\" | \"webhook\";"));
        for (value, expected) in [("proxy", options::Verify::Proxy), ("webhook", options::Verify::Webhook)] {
            let raw = options::RawFlowOptions { verify: Some(value.into()), ..Default::default() };
            assert_eq!(raw.validate().unwrap().verify, Some(expected));
        }
    }

    #[test]
    fn management_calls_read_and_answer_what_is_declared() {
        let reads = |call: Call| {
            let mut keys: BTreeSet<String> = set(JsManageOptions::KEYS);
            keys.retain(|k| call.reads(k));
            keys
        };
        assert_eq!(declared("ListConnectionsOptions"), reads(Call::ListConnections));
        assert_eq!(declared("DisconnectOptions"), reads(Call::Disconnect));
        assert_eq!(declared("DisconnectOptions"), set(JsManageOptions::KEYS));
        assert_eq!(declared("ListProvidersOptions"), reads(Call::ListProviders));
        let js_names = |fields: &[manage::Field]| fields.iter().map(|f| f.js.to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(js_names(&manage::CONNECTION), declared("Connection"));
        assert_eq!(js_names(&manage::PROVIDER), declared("Provider"));
    }
}
