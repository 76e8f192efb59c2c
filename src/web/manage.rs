//! `listConnections()`, `disconnect()` and `listProviders()`: one request each, through
//! [`proxy::promise`], and the answer read with the pure [`crate::manage`] checks.

use js_sys::Promise;
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use crate::error::Result;
use crate::manage::{self, Call, Field, ManageRequest};
use crate::web::proxy;
use crate::web::values::{answer_fields, parse_answer, read_entries};
use crate::wire;

/// Sends `request` and resolves with what `call` makes of the answer: the connections, the
/// providers, or `undefined` once a disconnect succeeded.
pub fn run(call: Call, request: ManageRequest, signal: Option<AbortSignal>) -> Promise {
    let read: proxy::Reader = match call {
        Call::ListConnections => |status, text| list(status, text, "connections", &manage::CONNECTION),
        Call::ListProviders => |status, text| list(status, text, "providers", &manage::PROVIDER),
        // A disconnect answers 204 with no body; any 2xx is a success.
        Call::Disconnect => |status, text| match status {
            200..=299 => Ok(JsValue::UNDEFINED),
            _ => wire::successful(status, parse_answer(text).as_ref().map(answer_fields)).map(|_| JsValue::UNDEFINED),
        },
    };
    proxy::promise(request.method, request.url, None, signal, read)
}

/// The answer's array `name`, its entries re-keyed by `fields`.
fn list(status: u16, text: &str, name: &str, fields: &[Field]) -> Result<JsValue> {
    let answer = parse_answer(text);
    wire::successful(status, answer.as_ref().map(answer_fields))?;
    // successful() refuses a 2xx that is not a JSON object, so `answer` is there.
    let entries = answer.and_then(|a| read_entries(js_sys::Reflect::get(&a, &JsValue::from_str(name)).ok()?, fields));
    entries.map(JsValue::from).ok_or_else(|| manage::malformed(name))
}
