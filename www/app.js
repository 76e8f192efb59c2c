// The demo app: one button that connects a wearable through the proxy at /api/terra.
import { connect } from '/pkg/index.js';

const form = document.getElementById('connect-form');
const button = document.getElementById('connect');
const cancel = document.getElementById('cancel');
const status = document.getElementById('status');
let controller = null;

function show(text, state, userId = '') {
  status.textContent = text;
  status.dataset.state = state;
  status.dataset.userId = userId;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const resource = document.getElementById('provider').value;
  controller = new AbortController();
  // connect() opens the tab synchronously, inside this handler, so popup blockers allow it.
  connect({
    proxyUrl: '/api/terra',
    resource,
    referenceId: 'demo-user-1',
    successUrl: new URL('/done.html', location.href).href,
    failureUrl: new URL('/failed.html', location.href).href,
    signal: controller.signal,
    // Resolve only once the proxy has received Terra's signed auth event for this user.
    verify: document.getElementById('webhook').checked ? 'webhook' : false,
    onTabClosed: () => show('The login tab looks closed. Still waiting: finish there, or cancel.', 'waiting'),
  }).then(
    (r) => show(`Connected ${r.resource}: user ${r.userId}${r.verified ? ' (confirmed by Terra\'s signed webhook)' : ''}.`, 'connected', r.userId),
    (error) => show(`Not connected (${error.code}): ${error.message}`, 'error'),
  ).finally(() => { cancel.hidden = true; });
  cancel.hidden = false;
  show(`Connecting to ${resource}… finish in the new tab.`, 'pending');
});

cancel.addEventListener('click', () => controller?.abort());

// The module is ready once the import above resolved: enable the button.
button.disabled = false;
show('Ready.', 'ready');
