//! `completeRedirect()`: the success/failure page's half of the flow.

use crate::error::{Error, ErrorCode, Result};
use crate::redirect::{self, Redirect};
use crate::state;
use crate::web::{channel, storage};

/// Checks the state of `href`, consumes the pending record, delivers the result to the waiting
/// `connect()` (popup mode), cleans the address bar when `href` is the current location, and
/// closes the tab when `connect()` opened it and `close_tab` allows.
///
/// A URL without the `tc_outcome` marker is `state_mismatch` too: it cannot be a redirect of a
/// flow `connect()` started (a relative `href` stays `invalid_argument`).
pub fn complete(href: &str, is_current_location: bool, close_tab: bool) -> Result<Redirect> {
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
