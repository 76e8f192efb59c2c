//! Delivering a result from the success/failure tab to the waiting `connect()`.
//!
//! Two paths, both keyed by state and both same-origin only: a `BroadcastChannel` message, and
//! a `localStorage` entry (seen through the `storage` event, and by `connect()`'s poll). The
//! listening is [`crate::web::wait`]'s; reading what arrived is [`crate::web::flow`]'s. Neither
//! needs `window.opener`, so delivery survives `Cross-Origin-Opener-Policy` and a cleared opener.

use wasm_bindgen::JsValue;
use web_sys::BroadcastChannel;

use crate::redirect::{self, Redirect};
use crate::state;
use crate::web::storage;

/// Sends `result` (which carries its state) to the `connect()` waiting for it.
pub fn deliver(result: &Redirect) {
    let Some(state) = result.state.as_deref() else {
        return;
    };
    let message = redirect::to_query(result);
    storage::set(&state::key(state::RESULT_PREFIX, state), &message);
    if let Ok(channel) = BroadcastChannel::new(state::CHANNEL) {
        let _ = channel.post_message(&JsValue::from_str(&message));
        channel.close();
    }
}

/// Takes a result for `state` that arrived through storage, if any.
pub fn take_stored(state: &str) -> Option<Redirect> {
    let key = state::key(state::RESULT_PREFIX, state);
    let message = storage::get(&key)?;
    storage::remove(&key);
    redirect::from_query(&message).filter(|r| r.state.as_deref() == Some(state))
}
