//! `connect()`: one flow from click to result, as a small state machine.
//!
//! Synchronously (inside the click handler): validate, open the tab, make the state, store the
//! pending record. Then, asynchronously: create the session, send the tab to Terra, and wait
//! for the first of: the result (BroadcastChannel / storage), the tab closing, the timeout,
//! the abort signal. Whatever comes first settles the promise once and cleans up everything.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorCode};
use crate::options::{self, FlowOptions, Mode, SessionOptions, Verify};
use crate::redirect::{Outcome, Redirect};
use crate::state::{self, Pending};
use crate::web::channel::{self, Listener};
use crate::web::js::{redirect_to_js, to_js_error};
use crate::web::tab::Tab;
use crate::web::{fetch, storage};

/// How often the tab's `closed` and the stored result are checked, in milliseconds.
const POLL_MS: i32 = 500;

/// The JavaScript-only parts of `connect()`'s options.
#[derive(Default)]
pub struct Hooks {
    /// `signal`: aborts the flow.
    pub signal: Option<AbortSignal>,
    /// `onTabClosed`: called once when the tab reads closed after it left for Terra.
    pub on_tab_closed: Option<Function>,
}

struct Flow {
    state: String,
    /// With `verify`: how and where to confirm the user id, and for whom.
    verify_with: Option<(Verify, String, Option<String>)>,
    verifying: bool,
    /// `None` in redirect mode.
    tab: Option<Tab>,
    left_for_terra: bool,
    close_reported: bool,
    reject_on_tab_close: bool,
    settled: bool,
    resolve: Function,
    reject: Function,
    interval: Option<i32>,
    timer: Option<i32>,
    listener: Option<Listener>,
    signal: Option<AbortSignal>,
    on_tab_closed: Option<Function>,
    on_abort: Option<Closure<dyn FnMut()>>,
    callbacks: Vec<Closure<dyn FnMut()>>,
}

type Shared = Rc<RefCell<Flow>>;

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

fn random_state() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    web_sys::window()
        .and_then(|w| w.crypto().ok())
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes).ok())
        .ok_or_else(|| Error::new(ErrorCode::InvalidArgument, "this browser has no crypto.getRandomValues"))?;
    Ok(state::encode_state(&bytes))
}

/// Deletes pending records and undelivered results whose flows have expired.
fn sweep_expired(now: u64) {
    for key in storage::keys_with_prefix(state::PENDING_PREFIX) {
        let expired = storage::get(&key).and_then(|r| Pending::from_record(&r)).is_none_or(|p| p.is_expired(now));
        if expired {
            storage::remove(&key);
            storage::remove(&state::key(state::RESULT_PREFIX, &key[state::PENDING_PREFIX.len()..]));
        }
    }
}

fn reject_now(error: Error) -> Promise {
    Promise::reject(&to_js_error(error))
}

/// Starts a flow; see the module docs.
pub fn start(session: SessionOptions, options: FlowOptions, hooks: Hooks) -> Promise {
    if hooks.signal.as_ref().is_some_and(AbortSignal::aborted) {
        return reject_now(Error::new(ErrorCode::Aborted, "the signal was already aborted; nothing was opened"));
    }
    let Some(window) = web_sys::window() else {
        return reject_now(Error::new(ErrorCode::InvalidArgument, "connect() runs in a browser page"));
    };
    let origin = window.location().origin().unwrap_or_default();
    if let Err(e) = options::require_same_origin_redirects(&session, &origin) {
        return reject_now(e);
    }
    let tab = match options.mode {
        Mode::Redirect => None,
        Mode::Popup => match Tab::open() {
            Ok(tab) => Some(tab),
            Err(_) if options.fallback_redirect => None,
            Err(e) => return reject_now(e),
        },
    };
    let state = match random_state() {
        Ok(state) => state,
        Err(e) => {
            if let Some(tab) = &tab {
                tab.close();
            }
            return reject_now(e);
        }
    };
    let now = now_ms();
    sweep_expired(now);
    let pending = Pending {
        resource: session.target.joined(),
        reference_id: session.reference_id.clone(),
        started_ms: now,
        expires_ms: now + u64::from(options.timeout_ms),
        opened_tab: tab.is_some(),
    };
    storage::set(&state::key(state::PENDING_PREFIX, &state), &pending.to_record());

    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let Some((resolve, reject)) = settle else {
        return promise;
    };
    let shared: Shared = Rc::new(RefCell::new(Flow {
        state: state.clone(),
        verify_with: options.verify.map(|how| (how, session.proxy_url.clone(), session.reference_id.clone())),
        verifying: false,
        tab,
        left_for_terra: false,
        close_reported: false,
        reject_on_tab_close: options.reject_on_tab_close,
        settled: false,
        resolve,
        reject,
        interval: None,
        timer: None,
        listener: None,
        signal: hooks.signal,
        on_tab_closed: hooks.on_tab_closed,
        on_abort: None,
        callbacks: Vec::new(),
    }));
    install_watchers(&shared, &window, options.timeout_ms);
    wasm_bindgen_futures::spawn_local(create_and_navigate(shared, session, state));
    promise
}

fn callback(shared: &Shared, f: impl Fn(&Shared) + 'static) -> Closure<dyn FnMut()> {
    let shared = shared.clone();
    Closure::<dyn FnMut()>::new(move || f(&shared))
}

fn install_watchers(shared: &Shared, window: &web_sys::Window, timeout_ms: u32) {
    let popup = shared.borrow().tab.is_some();
    let on_timeout = callback(shared, |s| {
        finish(s, Err(Error::new(ErrorCode::Timeout, "no result arrived within timeoutMs")), true)
    });
    let timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(on_timeout.as_ref().unchecked_ref(), timeout_ms as i32)
        .ok();
    let mut callbacks = vec![on_timeout];
    let (mut interval, mut listener) = (None, None);
    if popup {
        let poll = callback(shared, poll);
        interval =
            window.set_interval_with_callback_and_timeout_and_arguments_0(poll.as_ref().unchecked_ref(), POLL_MS).ok();
        callbacks.push(poll);
        let weak = Rc::downgrade(shared);
        let state = shared.borrow().state.clone();
        listener = Some(Listener::new(state, move |result| {
            if let Some(s) = weak.upgrade() {
                on_result(&s, result);
            }
        }));
    }
    let signal = shared.borrow().signal.clone();
    let on_abort = signal.map(|signal| {
        let on_abort = callback(shared, |s| finish(s, Err(Error::new(ErrorCode::Aborted, "the signal aborted")), true));
        let _ = signal.add_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
        on_abort
    });
    let mut flow = shared.borrow_mut();
    flow.on_abort = on_abort;
    flow.timer = timer;
    flow.interval = interval;
    flow.listener = listener;
    flow.callbacks = callbacks;
}

async fn create_and_navigate(shared: Shared, session: SessionOptions, state: String) {
    let result = fetch::login_page(&session, &state).await;
    if shared.borrow().settled {
        return;
    }
    let login_page = match result {
        Ok(page) => page,
        Err(e) => return finish(&shared, Err(e), true),
    };
    let mut flow = shared.borrow_mut();
    match &flow.tab {
        Some(tab) if tab.is_closed() => {
            drop(flow);
            finish(&shared, Err(closed_on_our_page()), false);
        }
        Some(tab) => {
            tab.navigate(&login_page);
            flow.left_for_terra = true;
        }
        None => {
            drop(flow);
            if let Some(window) = web_sys::window() {
                let _ = window.location().assign(&login_page);
            }
        }
    }
}

fn closed_on_our_page() -> Error {
    Error::new(ErrorCode::PopupClosed, "the tab was closed before it reached Terra")
}

/// Every [`POLL_MS`]: a result stored by the other tab, or the tab closing.
fn poll(shared: &Shared) {
    let state = shared.borrow().state.clone();
    if let Some(result) = channel::take_stored(&state) {
        return on_result(shared, result);
    }
    let flow = shared.borrow();
    if flow.settled || flow.verifying || !flow.tab.as_ref().is_some_and(Tab::is_closed) {
        return;
    }
    if !flow.left_for_terra {
        drop(flow);
        return finish(shared, Err(closed_on_our_page()), false);
    }
    if flow.reject_on_tab_close {
        drop(flow);
        let error =
            Error::new(ErrorCode::PopupClosed, "the tab was closed (or reads closed) before the result arrived");
        return finish(shared, Err(error), false);
    }
    if flow.close_reported {
        return;
    }
    // A tab on a page with Cross-Origin-Opener-Policy reads closed while it is alive: report
    // it and keep listening until the result, the timeout or an abort.
    let report = flow.on_tab_closed.clone();
    drop(flow);
    shared.borrow_mut().close_reported = true;
    if let Some(report) = report {
        let _ = report.call0(&JsValue::UNDEFINED);
    }
}

fn on_result(shared: &Shared, result: Redirect) {
    let value = redirect_to_js(&result);
    let verify_with = {
        let mut flow = shared.borrow_mut();
        if flow.settled || flow.verifying {
            return;
        }
        let verify_with = flow.verify_with.clone().filter(|_| result.outcome == Outcome::Success);
        flow.verifying = verify_with.is_some();
        verify_with
    };
    match (result.outcome, verify_with) {
        (Outcome::Success, Some((how, proxy_url, reference_id))) => {
            let shared = shared.clone();
            wasm_bindgen_futures::spawn_local(async move {
                let user_id = result.user_id.as_deref().unwrap_or_default();
                let checked = match (user_id, how) {
                    ("", _) => Err(Error::new(ErrorCode::NotVerified, "the redirect carried no user id")),
                    (id, Verify::Proxy) => {
                        fetch::verify_connection(&proxy_url, "/connection", id, reference_id.as_deref()).await
                    }
                    // Long polls until Terra's signed event arrives; the flow's timeout ends the wait.
                    (id, Verify::Webhook) => loop {
                        let path = "/connection/webhook?wait_ms=20000";
                        match fetch::verify_connection(&proxy_url, path, id, reference_id.as_deref()).await {
                            Err(e) if e.code == ErrorCode::NotVerified && !shared.borrow().settled => continue,
                            other => break other,
                        }
                    },
                };
                let _ = js_sys::Reflect::set(&value, &JsValue::from_str("verified"), &JsValue::TRUE);
                finish(&shared, checked.map(|()| value), false);
            });
        }
        (Outcome::Success, None) => finish_with(shared, Ok(value), false),
        (Outcome::Failure, _) => {
            let error = to_js_error(Error::new(ErrorCode::AuthFailed, "the person came back through the failure URL"));
            let _ = js_sys::Reflect::set(&error, &JsValue::from_str("result"), &value);
            finish_with(shared, Err(error), false)
        }
    }
}

fn finish(shared: &Shared, outcome: Result<JsValue, Error>, close_tab: bool) {
    finish_with(shared, outcome.map_err(to_js_error), close_tab)
}

/// Settles the promise once and undoes everything the flow set up.
fn finish_with(shared: &Shared, outcome: Result<JsValue, JsValue>, close_tab: bool) {
    let mut flow = shared.borrow_mut();
    if flow.settled {
        return;
    }
    flow.settled = true;
    if let Some(window) = web_sys::window() {
        if let Some(id) = flow.timer.take() {
            window.clear_timeout_with_handle(id);
        }
        if let Some(id) = flow.interval.take() {
            window.clear_interval_with_handle(id);
        }
    }
    storage::remove(&state::key(state::PENDING_PREFIX, &flow.state));
    storage::remove(&state::key(state::RESULT_PREFIX, &flow.state));
    if close_tab {
        if let Some(tab) = &flow.tab {
            tab.close();
        }
    }
    let callbacks = std::mem::take(&mut flow.callbacks);
    let on_abort = flow.on_abort.take();
    if let (Some(signal), Some(on_abort)) = (&flow.signal, &on_abort) {
        let _ = signal.remove_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
    }
    let listener = flow.listener.take();
    let (resolve, reject) = (flow.resolve.clone(), flow.reject.clone());
    drop(flow);
    // The callback running now may be one of these: free them after it returns.
    wasm_bindgen_futures::spawn_local(async move {
        drop((callbacks, on_abort, listener));
    });
    let _ = match outcome {
        Ok(value) => resolve.call1(&JsValue::UNDEFINED, &value),
        Err(error) => reject.call1(&JsValue::UNDEFINED, &error),
    };
}
