//! Conversions between JavaScript values and the crate's plain Rust types.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{Error, ErrorCode, Result};
use crate::options::{RawFlowOptions, RawOptions};
use crate::redirect::Redirect;
use crate::web::flow::Hooks;
use crate::wire::{ResponseFields, Session};

#[wasm_bindgen(module = "/js/error.js")]
extern "C" {
    /// The JavaScript `TerraConnectError` class (an `Error` subclass with `code` and `status`).
    #[wasm_bindgen(js_name = TerraConnectError)]
    pub type TerraConnectError;

    #[wasm_bindgen(constructor, js_class = TerraConnectError)]
    fn new(code: &str, message: &str, status: Option<u16>) -> TerraConnectError;
}

/// The JavaScript error for `error`.
pub fn to_js_error(error: Error) -> JsValue {
    TerraConnectError::new(error.code.as_str(), &error.message, error.status).into()
}

/// Reads the fields of one options object, keeping the first problem instead of returning
/// at it: one drop path for everything read so far, rather than one per `?`, keeps the wasm
/// small. The caller gets the same first problem either way.
struct Reader<'a> {
    object: &'a JsValue,
    problem: Option<Error>,
}

impl Reader<'_> {
    fn read<T>(&mut self, key: &str, problem: &str, cast: fn(&JsValue) -> Option<T>) -> Option<T> {
        typed_option(self.object, key, problem, cast).unwrap_or_else(|e| {
            self.problem.get_or_insert(e);
            None
        })
    }

    fn text(&mut self, key: &str) -> Option<String> {
        self.read(key, "must be a string", JsValue::as_string)
    }

    fn finish<T>(self, value: T) -> Result<T> {
        self.problem.map_or(Ok(value), Err)
    }
}

/// Reads an options object: each known key absent, `undefined`, `null` or a string.
pub fn read_options(value: &JsValue) -> Result<RawOptions> {
    if !value.is_object() {
        return Err(Error::new(ErrorCode::InvalidArgument, "options must be an object"));
    }
    let mut r = Reader { object: value, problem: None };
    let raw = RawOptions {
        proxy_url: r.text("proxyUrl"),
        resource: r.text("resource"),
        providers: r.read("providers", "must be an array of provider names", |v| {
            let array = v.dyn_ref::<js_sys::Array>()?;
            array.iter().map(|p| p.as_string()).collect()
        }),
        reference_id: r.text("referenceId"),
        success_url: r.text("successUrl"),
        failure_url: r.text("failureUrl"),
        language: r.text("language"),
    };
    r.finish(raw)
}

/// Reads `connect()`'s own options: `mode`, `fallback`, `timeoutMs`, `rejectOnTabClose`,
/// `signal` (an `AbortSignal`) and `onTabClosed` (a function).
pub fn read_flow_options(value: &JsValue) -> Result<(RawFlowOptions, Hooks)> {
    let mut r = Reader { object: value, problem: None };
    let raw = RawFlowOptions {
        mode: r.text("mode"),
        fallback: r.text("fallback"),
        timeout_ms: r.read("timeoutMs", "must be a number", JsValue::as_f64),
        reject_on_tab_close: r.read("rejectOnTabClose", "must be a boolean", JsValue::as_bool),
        verify: r
            .read("verify", "must be true, false or \"webhook\"", |v| match v.as_bool() {
                Some(true) => Some(Some("proxy".to_owned())),
                Some(false) => Some(None),
                None => v.as_string().map(Some),
            })
            .flatten(),
    };
    let hooks = Hooks {
        signal: r.read("signal", "must be an AbortSignal", |v| v.dyn_ref().cloned()),
        on_tab_closed: r.read("onTabClosed", "must be a function", |v| v.dyn_ref().cloned()),
    };
    r.finish((raw, hooks))
}

/// Reads `completeRedirect()`'s options: `href` (a string) and `closeTab` (a boolean).
pub fn read_complete_options(value: &JsValue) -> Result<(Option<String>, bool)> {
    if value.is_undefined() || value.is_null() {
        return Ok((None, true));
    }
    if !value.is_object() {
        return Err(Error::new(ErrorCode::InvalidArgument, "options must be an object"));
    }
    let href = string_option(value, "href")?;
    let close_tab = typed_option(value, "closeTab", "must be a boolean", JsValue::as_bool)?;
    Ok((href, close_tab.unwrap_or(true)))
}

/// The option `key` of `object`; `None` when absent, `undefined` or `null`.
// One shared, never-inlined reader: each inlined copy of this costs bytes of wasm.
#[inline(never)]
fn field(object: &JsValue, key: &str) -> Option<JsValue> {
    let value = Reflect::get(object, &JsValue::from_str(key)).ok()?;
    (!value.is_undefined() && !value.is_null()).then_some(value)
}

/// The option `key` of `object` read by `cast`; a value `cast` cannot read is an
/// `invalid_argument` error saying `problem`.
fn typed_option<T>(object: &JsValue, key: &str, problem: &str, cast: fn(&JsValue) -> Option<T>) -> Result<Option<T>> {
    match field(object, key) {
        None => Ok(None),
        Some(value) => cast(&value).map(Some).ok_or_else(|| Error::invalid(key, problem)),
    }
}

#[inline(never)]
fn string_option(object: &JsValue, key: &str) -> Result<Option<String>> {
    typed_option(object, key, "must be a string", JsValue::as_string)
}

/// The string fields of a parsed JSON body, or `None` when it is not a JSON object.
pub fn read_response(text: &str) -> Option<ResponseFields> {
    let value = js_sys::JSON::parse(text).ok().filter(|v| v.is_object() && !js_sys::Array::is_array(v))?;
    let get = |key: &str| Reflect::get(&value, &JsValue::from_str(key)).ok().and_then(|v| v.as_string());
    Some(ResponseFields {
        user_id: get("user_id"),
        auth_url: get("auth_url"),
        message: get("message"),
        code: get("code"),
        title: get("title"),
        detail: get("detail"),
        url: get("url"),
    })
}

fn object(fields: &[(&str, JsValue)]) -> JsValue {
    let out = Object::new();
    for (key, value) in fields {
        // Setting a data property on a fresh plain object cannot fail.
        let _ = Reflect::set(&out, &JsValue::from_str(key), value);
    }
    out.into()
}

fn nullable(value: &Option<String>) -> JsValue {
    value.as_deref().map_or(JsValue::NULL, JsValue::from_str)
}

/// `{ userId, authUrl }`.
pub fn session_to_js(session: &Session) -> JsValue {
    object(&[("userId", JsValue::from_str(&session.user_id)), ("authUrl", JsValue::from_str(&session.auth_url))])
}

/// `{ outcome, userId, resource, referenceId }` with `null` for what is absent.
pub fn redirect_to_js(redirect: &Redirect) -> JsValue {
    object(&[
        ("outcome", JsValue::from_str(redirect.outcome.as_str())),
        ("userId", nullable(&redirect.user_id)),
        ("resource", nullable(&redirect.resource)),
        ("referenceId", nullable(&redirect.reference_id)),
    ])
}
