//! The browser glue: the only modules that touch `web-sys`. Each is a thin typed layer over
//! one browser facility; the decisions live in the pure modules. [`proxy`] sends every request
//! (gloo-net), [`flow`] is the async `connect()`, [`wait`] the one place that waits for events,
//! [`values`] the boundary with JavaScript (typed getters in, serde-wasm-bindgen out).

pub mod channel;
pub mod complete;
pub mod flow;
pub mod proxy;
pub mod storage;
pub mod tab;
pub mod values;
pub mod wait;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_namespace = globalThis, js_name = window)]
    static WINDOW: JsValue;
}

/// The page's `window`, or `None` outside a page (a worker, Node).
///
/// Read straight from `globalThis.window`: `web_sys::window()` first looks up the global
/// object four ways, which costs bytes in both the wasm and the JavaScript glue.
pub fn window() -> Option<web_sys::Window> {
    WINDOW.with(|w| w.dyn_ref::<web_sys::Window>().cloned())
}
