//! `createSession()` and `connect()`: the Rust half of an asynchronous call.
//!
//! A [`Flow`] makes every decision and does every synchronous browser call: it opens, sends
//! and closes the tab, keeps the pending record, reads a delivered result and interprets the
//! proxy's answers. `js/driver.js` does the waiting (fetch, timers, the BroadcastChannel and
//! storage events, the abort signal) and hands each event to one of the flow's steps, which
//! answers with a [`Next`] or throws the error the promise rejects with.
//!
//! `connect()`, synchronously inside the click handler: validate, open the tab, make the state,
//! store the pending record. Then: create the session, send the tab to Terra, and wait for the
//! first of the result, the tab closing, the timeout and the abort signal.

use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use crate::error::{Error, ErrorCode};
use crate::options::{self, FlowOptions, Mode, SessionOptions, Verify};
use crate::redirect::{self, Outcome, Redirect};
use crate::state::{self, Pending};
use crate::web::js::{read_response, redirect_to_js, session_to_js, to_js_error};
use crate::web::tab::Tab;
use crate::web::{channel, storage};
use crate::wire;

#[wasm_bindgen(module = "/js/driver.js")]
extern "C" {
    /// `createSession()`'s waiting: send the request, resolve with the flow's result.
    fn ask(flow: Flow) -> Promise;
    /// `connect()`'s waiting: see the module docs.
    fn drive(
        flow: Flow,
        channel: &str,
        timeout_ms: u32,
        signal: Option<AbortSignal>,
        on_tab_closed: Option<Function>,
    ) -> Promise;
}

/// What the driver does after a step (`js/driver.js` knows these numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Next {
    /// Nothing: wait for the next event.
    Wait = 0,
    /// Send the flow's request ([`Flow::url`], [`Flow::body`]) and pass the answer to [`Flow::answer`].
    Send = 1,
    /// Resolve with [`Flow::result`].
    Done = 2,
    /// The tab reads closed after it left for Terra: call `onTabClosed`, keep waiting.
    TabClosed = 3,
}

/// The JavaScript-only parts of `connect()`'s options.
#[derive(Default)]
pub struct Hooks {
    /// `signal`: aborts the flow.
    pub signal: Option<AbortSignal>,
    /// `onTabClosed`: called once when the tab reads closed after it left for Terra.
    pub on_tab_closed: Option<Function>,
}

enum Stage {
    /// `createSession()`: the answer is the result.
    Session,
    /// `connect()`: the answer names the page to send the tab to.
    LoginPage,
    /// Waiting for the success or failure page to deliver the result.
    Waiting,
    /// Confirming this user id with the proxy.
    Verifying(Verify, String),
    /// Settled; every later event is ignored.
    Over,
}

/// One `createSession()` or `connect()` call, driven by `js/driver.js`.
#[wasm_bindgen(skip_typescript)]
pub struct Flow {
    session: SessionOptions,
    stage: Stage,
    /// `connect()`'s state; `None` for `createSession()`.
    state: Option<String>,
    /// `None` in redirect mode and for `createSession()`.
    tab: Option<Tab>,
    verify: Option<Verify>,
    reject_on_tab_close: bool,
    close_reported: bool,
    result: JsValue,
}

/// `createSession()`: one request to the proxy; resolves with `{ userId, authUrl }`.
pub fn create_session(session: SessionOptions) -> Promise {
    ask(Flow::new(session, Stage::Session, None, None))
}

/// `connect()`: the synchronous start (see the module docs), then the driver's waiting.
pub fn connect(session: SessionOptions, options: FlowOptions, hooks: Hooks) -> Promise {
    match start(session, &options, &hooks) {
        Ok(flow) => drive(flow, state::CHANNEL, options.timeout_ms, hooks.signal, hooks.on_tab_closed),
        Err(e) => Promise::reject(&to_js_error(e)),
    }
}

fn start(session: SessionOptions, options: &FlowOptions, hooks: &Hooks) -> Result<Flow, Error> {
    if hooks.signal.as_ref().is_some_and(AbortSignal::aborted) {
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
    let mut bytes = [0u8; 16];
    if window.crypto().and_then(|c| c.get_random_values_with_u8_array(&mut bytes)).is_err() {
        if let Some(tab) = &tab {
            tab.close();
        }
        return Err(Error::invalid("connect()", "needs crypto.getRandomValues"));
    }
    let state = state::encode_state(&bytes);
    let now = js_sys::Date::now() as u64;
    sweep_expired(now);
    let pending = Pending {
        resource: session.target.joined(),
        reference_id: session.reference_id.clone(),
        started_ms: now,
        expires_ms: now + u64::from(options.timeout_ms),
        opened_tab: tab.is_some(),
    };
    storage::set(&state::key(state::PENDING_PREFIX, &state), &pending.to_record());
    let mut flow = Flow::new(session, Stage::LoginPage, Some(state), tab);
    flow.verify = options.verify;
    flow.reject_on_tab_close = options.reject_on_tab_close;
    Ok(flow)
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

type Step = Result<u8, JsValue>;

impl Flow {
    fn new(session: SessionOptions, stage: Stage, state: Option<String>, tab: Option<Tab>) -> Flow {
        Flow {
            session,
            stage,
            state,
            tab,
            verify: None,
            reject_on_tab_close: false,
            close_reported: false,
            result: JsValue::UNDEFINED,
        }
    }

    /// Settles: forgets the state's storage, closes the tab when `close_tab`, and returns
    /// `error` for the driver to reject with.
    fn end(&mut self, error: JsValue, close_tab: bool) -> JsValue {
        self.stage = Stage::Over;
        if let Some(state) = &self.state {
            forget(state);
        }
        if let (true, Some(tab)) = (close_tab, &self.tab) {
            tab.close();
        }
        error
    }

    fn fail(&mut self, error: Error, close_tab: bool) -> Step {
        Err(self.end(to_js_error(error), close_tab))
    }

    fn done(&mut self, result: JsValue) -> Step {
        self.end(JsValue::UNDEFINED, false);
        self.result = result;
        Ok(Next::Done as u8)
    }

    /// A result for this flow's state arrived.
    fn arrived(&mut self, result: Redirect) -> Step {
        if !matches!(self.stage, Stage::LoginPage | Stage::Waiting) {
            return Ok(Next::Wait as u8);
        }
        let value = redirect_to_js(&result);
        match (result.outcome, self.verify) {
            (Outcome::Failure, _) => {
                let error =
                    to_js_error(Error::new(ErrorCode::AuthFailed, "the person came back through the failure URL"));
                let _ = Reflect::set(&error, &JsValue::from_str("result"), &value);
                Err(self.end(error, false))
            }
            (Outcome::Success, None) => self.done(value),
            (Outcome::Success, Some(how)) => match result.user_id.filter(|id| !id.is_empty()) {
                None => self.fail(Error::new(ErrorCode::NotVerified, "the redirect carried no user id"), false),
                Some(user_id) => {
                    self.result = value;
                    self.stage = Stage::Verifying(how, user_id);
                    Ok(Next::Send as u8)
                }
            },
        }
    }
}

#[wasm_bindgen]
impl Flow {
    /// The URL of the request to send now.
    #[wasm_bindgen(getter)]
    pub fn url(&self) -> String {
        match &self.stage {
            Stage::Verifying(how, user_id) => {
                let path = match how {
                    Verify::Proxy => "/connection",
                    // A long poll; the flow's timeout ends the wait.
                    Verify::Webhook => "/connection/webhook?wait_ms=20000",
                };
                wire::connection_endpoint(&self.session.proxy_url, path, user_id, self.session.reference_id.as_deref())
            }
            _ => wire::endpoint(&self.session),
        }
    }

    /// The JSON body of the request to send now; `None` for a GET.
    #[wasm_bindgen(getter)]
    pub fn body(&self) -> Option<String> {
        match self.stage {
            Stage::Verifying(..) => None,
            _ => Some(wire::request_body(&self.session, self.state.as_deref())),
        }
    }

    /// What the promise resolves with, once a step answered [`Next::Done`].
    #[wasm_bindgen(getter)]
    pub fn result(&self) -> JsValue {
        self.result.clone()
    }

    /// The proxy answered the request with `status` and the body `text`.
    pub fn answer(&mut self, status: u16, text: &str) -> Step {
        let fields = read_response(text);
        match &self.stage {
            Stage::Session => match wire::interpret(status, fields) {
                Ok(session) => self.done(session_to_js(&session)),
                Err(e) => self.fail(e, false),
            },
            Stage::LoginPage => {
                let page = match wire::interpret_login(&self.session.target, status, fields) {
                    Ok(page) => page,
                    Err(e) => return self.fail(e, true),
                };
                match &self.tab {
                    Some(tab) if tab.is_closed() => return self.fail(closed_on_our_page(), false),
                    Some(tab) => tab.navigate(&page),
                    None => {
                        if let Some(window) = crate::web::window() {
                            let _ = window.location().assign(&page);
                        }
                    }
                }
                self.stage = Stage::Waiting;
                Ok(Next::Wait as u8)
            }
            Stage::Verifying(how, user_id) => match (*how, wire::interpret_connection(status, user_id, fields)) {
                (_, Ok(())) => {
                    let result = self.result.clone();
                    let _ = Reflect::set(&result, &JsValue::from_str("verified"), &JsValue::TRUE);
                    self.done(result)
                }
                // Terra's signed event has not arrived yet: ask again.
                (Verify::Webhook, Err(e)) if e.code == ErrorCode::NotVerified => Ok(Next::Send as u8),
                (_, Err(e)) => self.fail(e, false),
            },
            Stage::Waiting | Stage::Over => Ok(Next::Wait as u8),
        }
    }

    /// A BroadcastChannel message: a result when it carries this flow's state.
    pub fn message(&mut self, data: JsValue) -> Step {
        let result = data.as_string().and_then(|m| redirect::from_query(&m));
        match (result, &self.state) {
            (Some(result), Some(state)) if result.state.as_ref() == Some(state) => {
                storage::remove(&state::key(state::RESULT_PREFIX, state));
                self.arrived(result)
            }
            _ => Ok(Next::Wait as u8),
        }
    }

    /// Every 500 ms and on each storage event: a result stored by the other tab, or the tab closing.
    pub fn tick(&mut self) -> Step {
        if let Some(result) = self.state.as_deref().and_then(channel::take_stored) {
            return self.arrived(result);
        }
        if !matches!(self.stage, Stage::LoginPage | Stage::Waiting) || !self.tab.as_ref().is_some_and(Tab::is_closed) {
            return Ok(Next::Wait as u8);
        }
        // Still creating the session: the tab shows our own page, so `closed` is the truth.
        if matches!(self.stage, Stage::LoginPage) {
            return self.fail(closed_on_our_page(), false);
        }
        if self.reject_on_tab_close {
            let error =
                Error::new(ErrorCode::PopupClosed, "the tab was closed (or reads closed) before the result arrived");
            return self.fail(error, false);
        }
        if self.close_reported {
            return Ok(Next::Wait as u8);
        }
        // A tab on a page with Cross-Origin-Opener-Policy reads closed while it is alive: report
        // it and keep waiting for the result, the timeout or an abort.
        self.close_reported = true;
        Ok(Next::TabClosed as u8)
    }

    /// The timeout, the abort signal or a failed request: settle with `error`. The tab is closed
    /// unless the result already came back through it.
    pub fn cancel(&mut self, error: JsValue) -> Step {
        let close_tab = !matches!(self.stage, Stage::Verifying(..));
        Err(self.end(error, close_tab))
    }
}
