// The demo app: one button that connects a wearable through the proxy at /api/terra.
import { connect } from '/pkg/index.js';

const form = document.getElementById('connect-form');
const button = document.getElementById('connect');
const status = document.getElementById('status');

function show(text, state) {
  status.textContent = text;
  status.dataset.state = state;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const resource = document.getElementById('provider').value;
  // connect() opens the tab synchronously, inside this handler, so popup blockers allow it.
  connect({
    proxyUrl: '/api/terra',
    resource,
    referenceId: 'demo-user-1',
    successUrl: new URL('/done.html', location.href).href,
    failureUrl: new URL('/failed.html', location.href).href,
  }).then(
    (session) => {
      status.dataset.userId = session.userId;
      show(`Terra session created for ${resource} (user ${session.userId}). Finish in the new tab.`, 'session');
    },
    (error) => show(`Could not connect (${error.code}): ${error.message}`, 'error'),
  );
  show('Connecting to Terra…', 'pending');
});

// The module is ready once the import above resolved: enable the button.
button.disabled = false;
show('Ready.', 'ready');
