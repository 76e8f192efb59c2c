//! Delivering a result from the success/failure tab to the waiting `connect()`.
//!
//! Two paths, both keyed by state and both same-origin only: a `BroadcastChannel` message, and
//! a `localStorage` entry (seen through the `storage` event, and by `connect()`'s poll). Neither
//! needs `window.opener`, so delivery survives `Cross-Origin-Opener-Policy` and a cleared opener.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent, StorageEvent};

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

/// Listens for the result of one flow until dropped.
pub struct Listener {
    channel: Option<BroadcastChannel>,
    on_message: Closure<dyn FnMut(MessageEvent)>,
    on_storage: Closure<dyn FnMut(StorageEvent)>,
}

impl Listener {
    /// Calls `on_result` with each result for `state` (the flow ignores all but the first).
    pub fn new(state: String, on_result: impl Fn(Redirect) + Clone + 'static) -> Listener {
        let wanted = state.clone();
        let deliver = on_result.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let result = event.data().as_string().and_then(|m| redirect::from_query(&m));
            if let Some(result) = result.filter(|r| r.state.as_deref() == Some(wanted.as_str())) {
                storage::remove(&state::key(state::RESULT_PREFIX, &wanted));
                deliver(result);
            }
        });
        let key = state::key(state::RESULT_PREFIX, &state);
        let on_storage = Closure::<dyn FnMut(StorageEvent)>::new(move |event: StorageEvent| {
            if event.key().as_deref() == Some(key.as_str()) && event.new_value().is_some() {
                if let Some(result) = take_stored(&state) {
                    on_result(result);
                }
            }
        });
        let channel = BroadcastChannel::new(state::CHANNEL).ok();
        if let Some(channel) = &channel {
            channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        }
        if let Some(window) = web_sys::window() {
            let _ = window.add_event_listener_with_callback("storage", on_storage.as_ref().unchecked_ref());
        }
        Listener { channel, on_message, on_storage }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
        if let Some(window) = web_sys::window() {
            let _ = window.remove_event_listener_with_callback("storage", self.on_storage.as_ref().unchecked_ref());
        }
        let _ = &self.on_message;
    }
}
