//! `completeRedirect()`: the success/failure page's half of the flow.

use std::cell::RefCell;

use crate::error::{Error, ErrorCode, Result};
use crate::redirect::{self, Redirect};
use crate::state;
use crate::web::values::{redirect_to_js, to_js_error};
use crate::web::{channel, storage};
use wasm_bindgen::JsValue;

/// The last completion of this page load: the URL it completed, the address it left in the
/// address bar (when it cleaned it), and what it answered, as JavaScript values.
struct Completed {
    href: String,
    cleaned: Option<String>,
    answer: core::result::Result<JsValue, JsValue>,
}

thread_local! {
    static LAST: RefCell<Option<Completed>> = const { RefCell::new(None) };
}

/// `completeRedirect()`: [`complete`], remembered for the page load. Called again for the same
/// URL (or, once the address bar was cleaned, for the cleaned one) it returns the same result
/// object or throws the same error object instead of finding its state used: React's
/// StrictMode runs effects twice in development, and a re-render may call it again. A reload
/// starts a new page load, where the state is used (`state_mismatch`).
pub fn complete_once_per_page(
    href: String,
    is_current_location: bool,
    close_tab: bool,
) -> core::result::Result<JsValue, JsValue> {
    let again = LAST.with_borrow(|last| {
        last.as_ref().filter(|c| c.href == href || c.cleaned.as_ref() == Some(&href)).map(|c| c.answer.clone())
    });
    if let Some(answer) = again {
        return answer;
    }
    let result = complete(&href, is_current_location, close_tab);
    let cleaned = (is_current_location && result.is_ok()).then(|| redirect::strip(&href));
    let answer = result.map(|r| redirect_to_js(&r, None)).map_err(to_js_error);
    LAST.with_borrow_mut(|last| *last = Some(Completed { href, cleaned, answer: answer.clone() }));
    answer
}

/// Checks the state of `href`, consumes the pending record, delivers the result to the waiting
/// `connect()` (popup mode), cleans the address bar when `href` is the current location, and
/// closes the tab when `connect()` opened it and `close_tab` allows.
///
/// A URL without the `tc_outcome` marker is `state_mismatch` too: it cannot be a redirect of a
/// flow `connect()` started (a relative `href` stays `invalid_argument`).
fn complete(href: &str, is_current_location: bool, close_tab: bool) -> Result<Redirect> {
    if crate::url::split_absolute(href).is_none() {
        return Err(Error::invalid("href", "must be an absolute URL"));
    }
    let result = redirect::parse(href).map_err(|_| {
        Error::new(
            ErrorCode::StateMismatch,
            "the URL has no tc_outcome marker, so no connect() started it: nothing was delivered",
        )
    })?;
    let key = result.state.as_deref().map(|s| state::key(state::PENDING_PREFIX, s));
    let record = key.as_deref().and_then(storage::get);
    let accepted = state::accept(&result, record.as_deref(), js_sys::Date::now() as u64);
    // Used, expired or unreadable: the record is gone either way, so a replay finds nothing.
    if let (Some(key), Some(_)) = (&key, &record) {
        storage::remove(key);
    }
    let pending = accepted?;
    if pending.opened_tab {
        channel::deliver(&result);
    }
    let window = crate::web::window();
    if is_current_location {
        if let Some(history) = window.as_ref().and_then(|w| w.history().ok()) {
            let _ = history.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&redirect::strip(href)));
        }
    }
    if pending.opened_tab && close_tab {
        if let Some(window) = &window {
            let _ = window.close();
        }
    }
    Ok(result)
}
