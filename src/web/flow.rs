//! `createSession()` and `connect()`: Rust async on wasm-bindgen-futures.
//!
//! `connect()`, synchronously inside the click handler: validate, open the tab, make the state,
//! store the pending record, start listening ([`Watch`]). Only then does the exported function
//! hand the rest to `future_to_promise`, whose first poll runs in a later microtask, after the
//! tab exists. The rest: create the session (racing the request against the tab closing, the
//! timeout and the abort signal), send the tab to Terra, wait for the first of the result, the
//! timeout and the abort signal, and optionally confirm the user id with the proxy.

use std::pin::pin;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorCode};
use crate::options::{self, FlowOptions, Mode, SessionOptions, Verify};
use crate::redirect::{self, Outcome, Redirect};
use crate::state::{self, Pending};
use crate::web::tab::Tab;
use crate::web::values::{auth_failed, read_answer, redirect_to_js, session_to_js, to_js_error};
use crate::web::wait::{Event, Watch};
use crate::web::{channel, proxy, storage};
use crate::wire::{self, Method};

/// `createSession()`: one request to the proxy; resolves with `{ userId, authUrl }`.
pub fn create_session(session: SessionOptions, signal: Option<AbortSignal>) -> Promise {
    let body = wire::request_body(&session, None);
    proxy::promise(Method::Post, wire::endpoint(&session), Some(body), signal, |status, text| {
        wire::interpret(status, read_answer(text)).map(|s| session_to_js(&s))
    })
}

/// `connect()`: the synchronous start (see the module docs), then the waiting.
pub fn connect(
    session: SessionOptions,
    options: FlowOptions,
    signal: Option<AbortSignal>,
    on_tab_closed: Option<Function>,
) -> Promise {
    match start(session, &options, signal, on_tab_closed) {
        Ok(flow) => future_to_promise(flow.run()),
        Err(e) => Promise::reject(&to_js_error(e)),
    }
}

/// One `connect()` call after its synchronous start.
struct Flow {
    session: SessionOptions,
    state: String,
    /// `None` in redirect mode.
    tab: Option<Tab>,
    verify: Option<Verify>,
    reject_on_tab_close: bool,
    on_tab_closed: Option<Function>,
    signal: Option<AbortSignal>,
    watch: Watch,
    /// The tab was sent to Terra: from now on, `closed` is not trusted (COOP).
    left: bool,
    close_reported: bool,
}

/// How a flow ends when it does not resolve.
enum End {
    /// Reject with the error; close the tab when the flag says so.
    Fail(Error, bool),
    /// The person came back through the failure URL.
    AuthFailed(Redirect),
}

fn start(
    session: SessionOptions,
    options: &FlowOptions,
    signal: Option<AbortSignal>,
    on_tab_closed: Option<Function>,
) -> Result<Flow, Error> {
    if signal.as_ref().is_some_and(AbortSignal::aborted) {
        return Err(Error::new(ErrorCode::Aborted, "the signal was already aborted; nothing was opened"));
    }
    let window = crate::web::window().ok_or_else(|| Error::invalid("connect()", "runs in a browser page"))?;
    options::require_same_origin_redirects(&session, &window.location().origin().unwrap_or_default())?;
    let tab = match options.mode {
        Mode::Redirect => None,
        Mode::Popup => match Tab::open(&window) {
            Ok(tab) => Some(tab),
            Err(_) if options.fallback_redirect => None,
            Err(e) => return Err(e),
        },
    };
    let close_tab = |error: Error| {
        if let Some(tab) = &tab {
            tab.close();
        }
        error
    };
    let mut bytes = [0u8; 16];
    if window.crypto().and_then(|c| c.get_random_values_with_u8_array(&mut bytes)).is_err() {
        return Err(close_tab(Error::invalid("connect()", "needs crypto.getRandomValues")));
    }
    let state = state::encode_state(&bytes);
    let now = js_sys::Date::now() as u64;
    sweep_expired(now);
    let pending = Pending {
        resource: session.target.label(),
        reference_id: session.reference_id.clone(),
        started_ms: now,
        expires_ms: now + u64::from(options.timeout_ms),
        opened_tab: tab.is_some(),
    };
    if !storage::set(&state::key(state::PENDING_PREFIX, &state), &pending.to_record()) {
        return Err(close_tab(Error::new(
            ErrorCode::StorageUnavailable,
            "localStorage refused the pending record (disabled, full, or a private mode), so the result could not \
             be received; nothing was sent",
        )));
    }
    let watch = Watch::start(&window, state::CHANNEL, options.timeout_ms, signal.clone());
    Ok(Flow {
        session,
        state,
        tab,
        verify: options.verify,
        reject_on_tab_close: options.reject_on_tab_close,
        on_tab_closed,
        signal,
        watch,
        left: false,
        close_reported: false,
    })
}

/// Deletes pending records and undelivered results whose flows have expired.
fn sweep_expired(now: u64) {
    for key in storage::keys_with_prefix(state::PENDING_PREFIX) {
        let expired = storage::get(&key).and_then(|r| Pending::from_record(&r)).is_none_or(|p| p.is_expired(now));
        if expired {
            forget(&key[state::PENDING_PREFIX.len()..]);
        }
    }
}

/// Removes the pending record and any undelivered result of `state`.
fn forget(state: &str) {
    storage::remove(&state::key(state::PENDING_PREFIX, state));
    storage::remove(&state::key(state::RESULT_PREFIX, state));
}

fn closed_on_our_page() -> Error {
    Error::new(ErrorCode::PopupClosed, "the tab was closed before it reached Terra")
}

fn cancelled(event: &Event, close_tab: bool) -> Option<End> {
    match event {
        Event::Abort => Some(End::Fail(Error::new(ErrorCode::Aborted, "the signal aborted"), close_tab)),
        Event::Timeout => {
            Some(End::Fail(Error::new(ErrorCode::Timeout, "no result arrived within timeoutMs"), close_tab))
        }
        _ => None,
    }
}

impl Flow {
    /// Runs the flow to its end, then forgets its state (the [`Watch`] goes with `self`).
    async fn run(mut self) -> Result<JsValue, JsValue> {
        let end = self.drive().await;
        forget(&self.state);
        match end {
            Ok(value) => Ok(value),
            Err(End::AuthFailed(result)) => Err(auth_failed(&result)),
            Err(End::Fail(error, close_tab)) => {
                if let (true, Some(tab)) = (close_tab, &self.tab) {
                    tab.close();
                }
                Err(to_js_error(error))
            }
        }
    }

    async fn drive(&mut self) -> Result<JsValue, End> {
        let result = match self.login().await? {
            Some(result) => result,
            None => loop {
                let event = self.watch.next().await;
                if let Some(result) = self.on_event(event)? {
                    break result;
                }
            },
        };
        self.finish(result).await
    }

    /// Creates the session and sends the tab (or, in redirect mode, this page) to Terra. A
    /// result that arrives meanwhile is returned.
    async fn login(&mut self) -> Result<Option<Redirect>, End> {
        let body = wire::request_body(&self.session, Some(&self.state));
        let url = wire::endpoint(&self.session);
        let mut request = pin!(proxy::send(Method::Post, &url, Some(body), self.signal.clone()));
        let (status, text) = loop {
            match self.watch.race(request.as_mut()).await {
                Ok(answer) => break answer.map_err(|e| End::Fail(e, true))?,
                Err(event) => {
                    if let Some(result) = self.on_event(event)? {
                        return Ok(Some(result));
                    }
                }
            }
        };
        let page = wire::interpret_login(&self.session.target, status, read_answer(&text))
            .map_err(|e| End::Fail(proxy::named(e, Method::Post, &url, status), true))?;
        match &self.tab {
            Some(tab) if tab.is_closed() => return Err(End::Fail(closed_on_our_page(), false)),
            Some(tab) => tab.navigate(&page),
            None => {
                if let Some(window) = crate::web::window() {
                    let _ = window.location().assign(&page);
                }
            }
        }
        self.left = true;
        Ok(None)
    }

    /// One event while the flow waits for its result.
    fn on_event(&mut self, event: Event) -> Result<Option<Redirect>, End> {
        if let Some(end) = cancelled(&event, true) {
            return Err(end);
        }
        if let Event::Message(data) = event {
            let result = data.as_string().and_then(|m| redirect::from_query(&m));
            let ours = result.filter(|r| r.state.as_deref() == Some(self.state.as_str()));
            if ours.is_some() {
                storage::remove(&state::key(state::RESULT_PREFIX, &self.state));
            }
            return Ok(ours);
        }
        if let Some(result) = channel::take_stored(&self.state) {
            return Ok(Some(result));
        }
        if !self.tab.as_ref().is_some_and(Tab::is_closed) {
            return Ok(None);
        }
        // Still creating the session: the tab shows our own page, so `closed` is the truth.
        if !self.left {
            return Err(End::Fail(closed_on_our_page(), false));
        }
        if self.reject_on_tab_close {
            let error =
                Error::new(ErrorCode::PopupClosed, "the tab was closed (or reads closed) before the result arrived");
            return Err(End::Fail(error, false));
        }
        // A tab on a page with Cross-Origin-Opener-Policy reads closed while it is alive:
        // report it once and keep waiting for the result, the timeout or an abort.
        if !self.close_reported {
            self.close_reported = true;
            if let Some(callback) = self.on_tab_closed.clone() {
                // In a task of its own: the app's callback may call anything, and its failing
                // must not stop the flow.
                crate::web::later(move || {
                    let _ = callback.call0(&JsValue::UNDEFINED);
                });
            }
        }
        Ok(None)
    }

    /// The result came back: resolve, reject with `auth_failed`, or confirm with the proxy first.
    async fn finish(&mut self, result: Redirect) -> Result<JsValue, End> {
        if result.outcome == Outcome::Failure {
            return Err(End::AuthFailed(result));
        }
        // A success always names the user (ConnectResult.userId is a string): Terra's
        // authenticateUser redirect does; only SDK-only providers picked in the widget do not.
        let Some(user_id) = result.user_id.as_deref().filter(|id| !id.is_empty()) else {
            let message = "the success redirect carried no user_id (SDK-only providers connect through Terra's SDK)";
            return Err(End::Fail(Error::new(ErrorCode::InvalidResponse, message), false));
        };
        let Some(how) = self.verify else {
            return Ok(redirect_to_js(&result, None));
        };
        loop {
            let reference_id = self.session.reference_id.as_deref();
            let url = wire::verification_endpoint(&self.session.proxy_url, how, user_id, reference_id);
            let mut request = pin!(proxy::send(Method::Get, &url, None, self.signal.clone()));
            let answer = loop {
                match self.watch.race(request.as_mut()).await {
                    Ok(answer) => break answer,
                    // The result came back through the tab, which closes itself: leave it.
                    Err(event) => {
                        if let Some(end) = cancelled(&event, false) {
                            return Err(end);
                        }
                    }
                }
            };
            let (status, text) = answer.map_err(|e| End::Fail(e, false))?;
            match wire::interpret_connection(status, user_id, read_answer(&text)) {
                Ok(()) => return Ok(redirect_to_js(&result, Some(true))),
                // Terra's signed event has not arrived yet: ask again.
                Err(e) if how == Verify::Webhook && e.code == ErrorCode::NotVerified => {}
                Err(e) => return Err(End::Fail(proxy::named(e, Method::Get, &url, status), false)),
            }
        }
    }
}
