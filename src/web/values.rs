//! The boundary with JavaScript, in both directions.
//!
//! In: the options objects and the proxy's JSON answers are read through wasm-bindgen's
//! imported JS types, one structural getter per property (no string-keyed `Reflect` lookups).
//! Every getter returns the raw `JsValue`, so that a value of the wrong type is an
//! `invalid_argument` naming the option rather than a silent coercion (`"100"` is not a
//! `timeoutMs`); the pure modules then validate the values. Each type's `KEYS` lists what its
//! getters read, and a test checks them against the TypeScript declarations.
//!
//! Out: every value handed to JavaScript (sessions, results, `error.result`, `details`) is
//! serialised by serde-wasm-bindgen with one `Serializer::json_compatible()`: `null` for an
//! absent value, plain objects for maps.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorCode, Result};
use crate::manage::{self, Call, Check, Field, RawManageOptions};
use crate::options::{RawFlowOptions, RawOptions};
use crate::redirect::Redirect;
use crate::wire::{ResponseFields, Session};

/// Declares an imported JS object type with one getter per property (each returning the raw
/// `JsValue`) and `KEYS`, the property names, from one list.
macro_rules! js_object {
    ($(#[$meta:meta])* $name:ident as $ts:tt { $($field:ident => $js:ident),* $(,)? }) => {
        #[wasm_bindgen]
        extern "C" {
            $(#[$meta])*
            #[wasm_bindgen(typescript_type = $ts)]
            pub type $name;
            $(
                #[doc = concat!("`", stringify!($js), "`, as given.")]
                #[wasm_bindgen(method, getter, js_name = $js)]
                pub fn $field(this: &$name) -> JsValue;
            )*
        }
        impl $name {
            /// The property names the getters read.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($js)),*];
        }
    };
}

js_object! {
    /// The options object of `createSession` (and the session part of `connect`'s).
    JsSessionOptions as "SessionOptions" {
        proxy_url => proxyUrl,
        resource => resource,
        reference_id => referenceId,
        success_url => successUrl,
        failure_url => failureUrl,
        language => language,
        signal => signal,
    }
}

js_object! {
    /// The options object of `connect`: [`JsSessionOptions`]' properties and these.
    JsConnectOptions as "ConnectOptions" {
        providers => providers,
        mode => mode,
        fallback => fallback,
        timeout_ms => timeoutMs,
        reject_on_tab_close => rejectOnTabClose,
        on_tab_closed => onTabClosed,
        verify => verify,
    }
}

js_object! {
    /// The options object of `completeRedirect`.
    JsCompleteOptions as "CompleteOptions" {
        href => href,
        close_tab => closeTab,
    }
}

js_object! {
    /// The options object of `listConnections`, `disconnect` and `listProviders` (each reads
    /// the properties [`Call::reads`] names).
    JsManageOptions as "never" {
        proxy_url => proxyUrl,
        reference_id => referenceId,
        user_id => userId,
        signal => signal,
    }
}

js_object! {
    /// A JSON answer of the proxy, as `JSON.parse` gives it.
    Answer as "never" {
        user_id => user_id,
        auth_url => auth_url,
        message => message,
        code => code,
        title => title,
        detail => detail,
        url => url,
    }
}

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    /// The JavaScript `TerraConnectError` class (an `Error` subclass with `code`, `status`, `result`).
    #[wasm_bindgen(js_name = TerraConnectError)]
    pub type TerraConnectError;

    #[wasm_bindgen(constructor, js_class = TerraConnectError)]
    fn new(code: &str, message: &str, status: Option<u16>, result: JsValue) -> TerraConnectError;
}

/// The JavaScript error for `error`.
pub fn to_js_error(error: Error) -> JsValue {
    TerraConnectError::new(error.code.as_str(), &error.message, error.status, JsValue::UNDEFINED).into()
}

/// The `auth_failed` error, with `result` as `error.result`.
pub fn auth_failed(result: &Redirect) -> JsValue {
    let message = "the person came back through the failure URL";
    TerraConnectError::new(ErrorCode::AuthFailed.as_str(), message, None, redirect_to_js(result, None)).into()
}

/// Reads the fields of options objects, keeping the first problem instead of returning at it
/// (one drop path for everything read so far keeps the wasm small; the caller gets the same
/// first problem either way).
#[derive(Default)]
struct Reader {
    problem: Option<Error>,
}

impl Reader {
    fn read<T>(&mut self, value: JsValue, key: &str, problem: &str, cast: fn(&JsValue) -> Option<T>) -> Option<T> {
        if value.is_undefined() || value.is_null() {
            return None;
        }
        let read = cast(&value);
        if read.is_none() {
            self.problem.get_or_insert_with(|| Error::invalid(key, problem));
        }
        read
    }

    fn text(&mut self, value: JsValue, key: &str) -> Option<String> {
        self.read(value, key, "must be a string", JsValue::as_string)
    }

    fn finish<T>(self, value: T) -> Result<T> {
        self.problem.map_or(Ok(value), Err)
    }
}

fn object(value: &JsValue) -> Result<()> {
    if value.is_object() {
        Ok(())
    } else {
        Err(Error::new(ErrorCode::InvalidArgument, "options must be an object"))
    }
}

/// Reads the session options and `signal`; `providers` too when `with_providers` (connect).
pub fn read_session(options: &JsSessionOptions, with_providers: bool) -> Result<(RawOptions, Option<AbortSignal>)> {
    object(options)?;
    let mut r = Reader::default();
    let providers = match with_providers {
        true => options.unchecked_ref::<JsConnectOptions>().providers(),
        false => JsValue::UNDEFINED,
    };
    let raw = RawOptions {
        proxy_url: r.text(options.proxy_url(), "proxyUrl"),
        resource: r.text(options.resource(), "resource"),
        providers: r.read(providers, "providers", "must be an array of provider names", |v| {
            v.dyn_ref::<js_sys::Array>()?.iter().map(|p| p.as_string()).collect()
        }),
        reference_id: r.text(options.reference_id(), "referenceId"),
        success_url: r.text(options.success_url(), "successUrl"),
        failure_url: r.text(options.failure_url(), "failureUrl"),
        language: r.text(options.language(), "language"),
    };
    let signal = r.read(options.signal(), "signal", "must be an AbortSignal", |v| v.dyn_ref().cloned());
    r.finish((raw, signal))
}

/// Reads `connect()`'s own options: `mode`, `fallback`, `timeoutMs`, `rejectOnTabClose`,
/// `verify`, and `onTabClosed` (a function).
pub fn read_flow(options: &JsConnectOptions) -> Result<(RawFlowOptions, Option<js_sys::Function>)> {
    let mut r = Reader::default();
    let raw = RawFlowOptions {
        mode: r.text(options.mode(), "mode"),
        fallback: r.text(options.fallback(), "fallback"),
        timeout_ms: r.read(options.timeout_ms(), "timeoutMs", "must be a number", JsValue::as_f64),
        reject_on_tab_close: r.read(
            options.reject_on_tab_close(),
            "rejectOnTabClose",
            "must be a boolean",
            JsValue::as_bool,
        ),
        verify: r
            .read(options.verify(), "verify", crate::options::VERIFY_VALUES, |v| match v.as_bool() {
                Some(true) => Some(Some("proxy".to_owned())),
                Some(false) => Some(None),
                None => v.as_string().map(Some),
            })
            .flatten(),
    };
    let on_tab_closed = r.read(options.on_tab_closed(), "onTabClosed", "must be a function", |v| v.dyn_ref().cloned());
    r.finish((raw, on_tab_closed))
}

/// Reads `completeRedirect()`'s options: `href` (a string) and `closeTab` (a boolean, default true).
pub fn read_complete(options: Option<&JsCompleteOptions>) -> Result<(Option<String>, bool)> {
    let Some(options) = options else { return Ok((None, true)) };
    object(options)?;
    let mut r = Reader::default();
    let href = r.text(options.href(), "href");
    let close_tab = r.read(options.close_tab(), "closeTab", "must be a boolean", JsValue::as_bool);
    r.finish((href, close_tab.unwrap_or(true)))
}

/// Reads the options of `call`: `proxyUrl`, `signal`, and `referenceId` and `userId` where the
/// call takes them (another call's option is left unread, as any unknown property).
pub fn read_manage(options: &JsManageOptions, call: Call) -> Result<(RawManageOptions, Option<AbortSignal>)> {
    object(options)?;
    let mut r = Reader::default();
    let mut text = |value: JsValue, key| if call.reads(key) { r.text(value, key) } else { None };
    let raw = RawManageOptions {
        proxy_url: text(options.proxy_url(), "proxyUrl"),
        reference_id: text(options.reference_id(), "referenceId"),
        user_id: text(options.user_id(), "userId"),
    };
    let signal = r.read(options.signal(), "signal", "must be an AbortSignal", |v| v.dyn_ref().cloned());
    r.finish((raw, signal))
}

/// The answer, or `None` when `text` is not a JSON object.
pub fn parse_answer(text: &str) -> Option<Answer> {
    let value = js_sys::JSON::parse(text).ok().filter(|v| v.is_object() && !js_sys::Array::is_array(v))?;
    Some(value.unchecked_into())
}

/// The string fields of a JSON answer, or `None` when `text` is not a JSON object.
pub fn read_answer(text: &str) -> Option<ResponseFields> {
    parse_answer(text).map(|answer| answer_fields(&answer))
}

/// The entries of an answer's array, each re-keyed by `fields` ([`manage::CONNECTION`] or
/// [`manage::PROVIDER`]) after [`manage::check`]: `None` when `list` is not an array of
/// objects or an entry breaks the proxy contract.
///
/// The values are JavaScript values from `JSON.parse` that are moved to a new object under
/// their JavaScript names; only the checks read them into Rust (they never are Rust values, so
/// serde-wasm-bindgen, which hands Rust values over, has no part here).
pub fn read_entries(list: JsValue, fields: &[Field]) -> Option<js_sys::Array> {
    use js_sys::Reflect;
    let list = list.dyn_into::<js_sys::Array>().ok()?;
    let out = js_sys::Array::new();
    for value in list.iter() {
        if !value.is_object() {
            return None;
        }
        let entry = js_sys::Object::new();
        let mut first = JsValue::NULL;
        for field in fields {
            let raw = Reflect::get(&value, &JsValue::from_str(field.wire)).unwrap_or(JsValue::UNDEFINED);
            let checked = match manage::check(field.kind, raw.as_string().as_deref(), raw.as_bool()) {
                Check::Keep => raw,
                Check::Null => JsValue::NULL,
                Check::Flag(flag) => JsValue::from_bool(flag),
                Check::First => first.clone(),
                Check::Refuse => return None,
            };
            if first.is_null() {
                first = checked.clone();
            }
            Reflect::set(&entry, &JsValue::from_str(field.js), &checked).ok()?;
        }
        out.push(&entry);
    }
    Some(out)
}

/// The string fields the error and session readers use.
pub fn answer_fields(answer: &Answer) -> ResponseFields {
    ResponseFields {
        user_id: answer.user_id().as_string(),
        auth_url: answer.auth_url().as_string(),
        message: answer.message().as_string(),
        code: answer.code().as_string(),
        title: answer.title().as_string(),
        detail: answer.detail().as_string(),
        url: answer.url().as_string(),
    }
}

/// The one serializer: `null` for `None`, plain objects for maps and structs.
pub fn to_js<T: Serialize>(value: &T) -> JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::UNDEFINED)
}

// The two results are serialised as maps, not structs: serde-wasm-bindgen turns struct field
// names into JS strings through a cache (a hash map) that costs 1.3 KB gzipped in the shipped
// module, and a map's keys are plain strings. JavaScript sees the same plain objects.

/// `Session` as JavaScript sees it.
pub struct SessionJs<'a> {
    /// `userId`.
    pub user_id: &'a str,
    /// `authUrl`.
    pub auth_url: &'a str,
}

/// `RedirectResult` / `ConnectResult` as JavaScript sees them.
pub struct RedirectJs<'a> {
    /// `"success"` or `"failure"`.
    pub outcome: &'static str,
    /// `userId`, `null` when absent.
    pub user_id: Option<&'a str>,
    /// `resource`, `null` when absent.
    pub resource: Option<&'a str>,
    /// `referenceId`, `null` when absent.
    pub reference_id: Option<&'a str>,
    /// Every other parameter Terra appended, as a string map.
    pub details: Details<'a>,
    /// `verified: true` once the proxy confirmed the user id; absent otherwise.
    pub verified: Option<bool>,
}

impl Serialize for SessionJs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("userId", self.user_id)?;
        map.serialize_entry("authUrl", self.auth_url)?;
        map.end()
    }
}

impl Serialize for RedirectJs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("outcome", self.outcome)?;
        map.serialize_entry("userId", &self.user_id)?;
        map.serialize_entry("resource", &self.resource)?;
        map.serialize_entry("referenceId", &self.reference_id)?;
        map.serialize_entry("details", &self.details)?;
        if let Some(verified) = self.verified {
            map.serialize_entry("verified", &verified)?;
        }
        map.end()
    }
}

/// A redirect's `details`, serialised as a map (a plain object).
pub struct Details<'a>(pub &'a [(String, String)]);

impl Serialize for Details<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> core::result::Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

impl<'a> RedirectJs<'a> {
    /// The view of `redirect`, with `verified` when given.
    pub fn new(redirect: &'a Redirect, verified: Option<bool>) -> Self {
        RedirectJs {
            outcome: redirect.outcome.as_str(),
            user_id: redirect.user_id.as_deref(),
            resource: redirect.resource.as_deref(),
            reference_id: redirect.reference_id.as_deref(),
            details: Details(&redirect.details),
            verified,
        }
    }
}

/// `{ userId, authUrl }`.
pub fn session_to_js(session: &Session) -> JsValue {
    to_js(&SessionJs { user_id: &session.user_id, auth_url: &session.auth_url })
}

/// `{ outcome, userId, resource, referenceId, details }` (+ `verified`), `null` for what is absent.
pub fn redirect_to_js(redirect: &Redirect, verified: Option<bool>) -> JsValue {
    to_js(&RedirectJs::new(redirect, verified))
}
