//! Waiting for the first of several browser events: a `BroadcastChannel` message, a `storage`
//! event, the 500 ms poll, the timeout and the abort signal. Each listener pushes its event
//! into one inbox and wakes the waiting future; [`Watch`] removes every listener when dropped.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{AbortSignal, BroadcastChannel, MessageEvent, Window};

/// Something that happened while a flow waits.
pub enum Event {
    /// A `BroadcastChannel` message (its `data`).
    Message(JsValue),
    /// A `storage` event or the 500 ms poll: look at storage and at the tab.
    Tick,
    /// `timeoutMs` passed.
    Timeout,
    /// The signal fired.
    Abort,
}

#[derive(Default)]
struct Inbox {
    events: Vec<Event>,
    waker: Option<Waker>,
}

type Listener = Closure<dyn FnMut(JsValue)>;

fn listener(inbox: &Rc<RefCell<Inbox>>, make: fn(JsValue) -> Event) -> Listener {
    let inbox = inbox.clone();
    Closure::new(move |value: JsValue| {
        let mut inbox = inbox.borrow_mut();
        inbox.events.push(make(value));
        if let Some(waker) = inbox.waker.take() {
            waker.wake();
        }
    })
}

fn callback(listener: &Listener) -> &js_sys::Function {
    listener.as_ref().unchecked_ref()
}

/// The listeners and timers of one waiting flow.
pub struct Watch {
    inbox: Rc<RefCell<Inbox>>,
    window: Window,
    channel: Option<BroadcastChannel>,
    signal: Option<AbortSignal>,
    timer: i32,
    poll: i32,
    // Kept alive while registered; dropped after `drop` unregistered them.
    message: Listener,
    tick: Listener,
    _timeout: Listener,
    abort: Listener,
}

impl Watch {
    /// Starts listening on the channel `channel_name`, to `storage` events and to `signal`,
    /// polls every 500 ms and fires [`Event::Timeout`] after `timeout_ms`.
    pub fn start(window: &Window, channel_name: &str, timeout_ms: u32, signal: Option<AbortSignal>) -> Watch {
        let inbox = Rc::default();
        let message = listener(&inbox, |event| Event::Message(event.unchecked_into::<MessageEvent>().data()));
        let tick = listener(&inbox, |_| Event::Tick);
        let timeout = listener(&inbox, |_| Event::Timeout);
        let abort = listener(&inbox, |_| Event::Abort);
        let channel = BroadcastChannel::new(channel_name).ok();
        if let Some(channel) = &channel {
            channel.set_onmessage(Some(callback(&message)));
        }
        let _ = window.add_event_listener_with_callback("storage", callback(&tick));
        if let Some(signal) = &signal {
            let _ = signal.add_event_listener_with_callback("abort", callback(&abort));
        }
        let after = |f: &Listener, ms: u32| {
            window.set_timeout_with_callback_and_timeout_and_arguments_0(callback(f), ms as i32).unwrap_or(0)
        };
        let timer = after(&timeout, timeout_ms);
        let poll = window.set_interval_with_callback_and_timeout_and_arguments_0(callback(&tick), 500).unwrap_or(0);
        Watch { inbox, window: window.clone(), channel, signal, timer, poll, message, tick, _timeout: timeout, abort }
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Event> {
        let mut inbox = self.inbox.borrow_mut();
        if inbox.events.is_empty() {
            inbox.waker = Some(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(inbox.events.remove(0))
        }
    }

    /// The next event.
    pub async fn next(&self) -> Event {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// `future`'s output, or the next event if one comes first (`future` can be raced again).
    pub async fn race<F: Future>(&self, mut future: Pin<&mut F>) -> Result<F::Output, Event> {
        poll_fn(|cx| match future.as_mut().poll(cx) {
            Poll::Ready(output) => Poll::Ready(Ok(output)),
            Poll::Pending => self.poll_next(cx).map(Err),
        })
        .await
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.window.clear_timeout_with_handle(self.timer);
        self.window.clear_interval_with_handle(self.poll);
        let _ = self.window.remove_event_listener_with_callback("storage", callback(&self.tick));
        if let Some(signal) = &self.signal {
            let _ = signal.remove_event_listener_with_callback("abort", callback(&self.abort));
        }
        if let Some(channel) = &self.channel {
            channel.set_onmessage(None);
            channel.close();
        }
        let _ = &self.message;
    }
}
