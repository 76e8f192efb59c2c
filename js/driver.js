// The waiting half of createSession() and connect(). The Rust `Flow` (src/web/flow.rs) makes
// every decision and does every synchronous browser call (the tab, localStorage, the state);
// this module does only what needs the event loop: fetch, timers, the BroadcastChannel and
// storage events, the abort signal. It hands each event to the flow, which answers with what
// to do next or throws the error to reject with.
//
// Why here and not in Rust: wasm-bindgen futures and closures cost more bytes of wasm than
// this whole file, and every byte ships to every user (README, "Size").
import { TerraConnectError } from './error.js';

// What a flow step answers; the numbers of `Next` in src/web/flow.rs.
const SEND = 1;
const DONE = 2;
const TAB_CLOSED = 3;

const network = (message) => () => {
  throw new TerraConnectError('network', message);
};

/** Sends the flow's current request to the proxy; resolves with [status, body text]. */
function send(flow) {
  const body = flow.body;
  const init = body && { method: 'POST', body, headers: { 'content-type': 'application/json' } };
  return fetch(flow.url, init).then(
    (response) =>
      response
        .text()
        .then((text) => [response.status, text], network('the connection to the proxy broke while reading its answer')),
    network('could not reach the proxy (offline, refused, or blocked by CORS)'),
  );
}

/** createSession(): one request, one answer. */
export function ask(flow) {
  return send(flow)
    .then(([status, text]) => {
      flow.answer(status, text);
      return flow.result;
    })
    .finally(() => flow.free());
}

/**
 * connect(), once the tab is open: sends the session request, then waits for the first of the
 * result (on the BroadcastChannel `channelName`, a storage event, a poll every 500 ms), the tab
 * closing, the timeout and the abort signal. Settles once and removes every watcher.
 */
export function drive(flow, channelName, timeoutMs, signal, onTabClosed) {
  return new Promise((resolve, reject) => {
    let live = true;
    const channel = new BroadcastChannel(channelName);
    const stop = (error) => {
      live = false;
      clearTimeout(timer);
      clearInterval(poll);
      channel.close();
      removeEventListener('storage', tick);
      signal?.removeEventListener('abort', abort);
      if (error) reject(error);
      else resolve(flow.result);
      flow.free();
    };
    // Runs one step of the flow and does what it answers.
    const step = (run) => {
      if (!live) return;
      let next;
      try {
        next = run(flow);
      } catch (error) {
        return stop(error);
      }
      if (next === SEND) {
        send(flow).then(
          ([status, text]) => step((f) => f.answer(status, text)),
          (error) => step((f) => f.cancel(error)),
        );
      } else if (next === DONE) {
        stop();
      } else if (next === TAB_CLOSED && onTabClosed) {
        try {
          onTabClosed();
        } catch {
          // The app's callback failing must not stop the flow.
        }
      }
    };
    const tick = () => step((f) => f.tick());
    const abort = () => step((f) => f.cancel(new TerraConnectError('aborted', 'the signal aborted')));
    const timeout = () => step((f) => f.cancel(new TerraConnectError('timeout', 'no result arrived within timeoutMs')));
    const timer = setTimeout(timeout, timeoutMs);
    const poll = setInterval(tick, 500);
    channel.onmessage = (event) => step((f) => f.message(event.data));
    addEventListener('storage', tick);
    signal?.addEventListener('abort', abort);
    step(() => SEND);
  });
}
