//! The browser glue: the only modules that touch `web-sys`. Each is a thin typed layer over
//! one browser facility; the decisions live in the pure modules. [`proxy`] sends every request
//! (gloo-net), [`flow`] is the async `connect()`, [`manage`] the connection-management calls, [`wait`] the one place that waits for events,
//! [`values`] the boundary with JavaScript (typed getters in, serde-wasm-bindgen out).

pub mod channel;
pub mod complete;
pub mod flow;
pub mod manage;
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

/// Runs `f` in a microtask of its own, after the futures executor's current run.
///
/// For browser calls made while a `connect()` flow is being polled: Firefox may run a
/// microtask checkpoint synchronously inside some of them (closing a tab, seen here), which
/// re-enters wasm-bindgen-futures' queue from inside its own run and leaves it stuck, so no
/// promise of this page's wasm would settle again. Inside a microtask that nested checkpoint
/// does not happen. (A microtask, not `setTimeout`: Firefox delays timers of background pages,
/// and the app's page is in the background while the tab is open.) The app's `onTabClosed`
/// callback runs this way too, since it may call anything.
pub fn later(f: impl FnOnce() + 'static) {
    let task = Closure::once_into_js(f);
    if let Some(window) = window() {
        window.queue_microtask(task.unchecked_ref());
    }
}
