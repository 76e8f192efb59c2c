// The demo app: pick a provider (the proxy's list, GET /api/terra/providers), connect it
// through the proxy at /api/terra, and list or disconnect the wearables connected so far.
import { connect, disconnect, listConnections, listProviders } from '/pkg/index.js';

const proxyUrl = '/api/terra';
// Who the person is in your app: Terra files each connection under this reference id. Here it
// comes from `?user=`, so two tabs can be two people.
const referenceId = new URLSearchParams(location.search).get('user') || 'demo-user-1';

const form = document.getElementById('connect-form');
const button = document.getElementById('connect');
const cancel = document.getElementById('cancel');
const status = document.getElementById('status');
const picker = document.getElementById('providers');
const list = document.getElementById('connection-list');
const empty = document.getElementById('no-connections');
const listError = document.getElementById('connections-error');
document.getElementById('reference-id').textContent = referenceId;
let controller = null;

function show(text, state, userId = '') {
  status.textContent = text;
  status.dataset.state = state;
  status.dataset.userId = userId;
}

function element(tag, props = {}, ...children) {
  const el = Object.assign(document.createElement(tag), props);
  el.append(...children);
  return el;
}

// ---- The provider picker: one radio button per provider the proxy allows ----

const names = new Map(); // resource → display name, for the list below

async function loadProviders() {
  try {
    const providers = await listProviders({ proxyUrl });
    picker.replaceChildren(...providers.map(({ resource, name, icon }, i) => element('label', {},
      element('input', { type: 'radio', name: 'provider', value: resource, checked: i === 0 }),
      ...(icon ? [element('img', { src: icon, alt: '', width: 24, height: 24 })] : []),
      name)));
    for (const { resource, name } of providers) names.set(resource, name);
    picker.dataset.state = 'ready';
    button.disabled = providers.length === 0;
  } catch (error) {
    picker.textContent = `No providers (${error.code}): ${error.message}`;
    picker.dataset.state = 'error';
  }
}

// ---- Connected wearables: what Terra has under this reference id, each with Disconnect ----

let refreshing = null;

async function refreshConnections() {
  refreshing?.abort(); // only the newest answer is shown
  const mine = (refreshing = new AbortController());
  list.dataset.state = 'loading';
  try {
    const connections = await listConnections({ proxyUrl, referenceId, signal: mine.signal });
    await providersLoaded; // for the display names
    if (mine !== refreshing) return; // a newer refresh shows its own answer
    list.replaceChildren(...connections.map(connectionItem));
    empty.hidden = connections.length > 0;
    listError.hidden = true;
    list.dataset.state = 'ready';
  } catch (error) {
    if (mine !== refreshing) return; // aborted by a newer refresh
    listError.textContent = `Could not list the connections (${error.code}): ${error.message}`;
    listError.hidden = false;
    list.dataset.state = 'error';
  }
}

function connectionItem({ userId, provider }) {
  const disconnectButton = element('button', { type: 'button', className: 'disconnect', textContent: 'Disconnect' });
  disconnectButton.addEventListener('click', async () => {
    disconnectButton.disabled = true;
    show(`Disconnecting ${provider}: user ${userId}…`, 'pending', userId);
    try {
      // Terra revokes the provider's access and sends the proxy a signed `deauth` webhook.
      await disconnect({ proxyUrl, userId, referenceId });
      show(`Disconnected ${provider}: user ${userId}.`, 'disconnected', userId);
    } catch (error) {
      show(`Not disconnected (${error.code}): ${error.message}`, 'error', userId);
    }
    refreshConnections();
  });
  const item = element('li', {}, element('strong', { textContent: names.get(provider) ?? provider }), ' ',
    element('code', { textContent: userId }), ' ', disconnectButton);
  item.dataset.userId = userId;
  item.dataset.provider = provider;
  return item;
}

// ---- Connect ----

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const resource = new FormData(form).get('provider');
  controller = new AbortController();
  // connect() opens the tab synchronously, inside this handler, so popup blockers allow it.
  connect({
    proxyUrl,
    resource,
    referenceId,
    successUrl: new URL('/done.html', location.href).href,
    failureUrl: new URL('/failed.html', location.href).href,
    signal: controller.signal,
    // Resolve only once the proxy has received Terra's signed auth event for this user.
    verify: document.getElementById('webhook').checked ? 'webhook' : false,
    onTabClosed: () => show('The login tab looks closed. Still waiting: finish there, or cancel.', 'waiting'),
  }).then(
    (r) => {
      show(`Connected ${r.resource}: user ${r.userId}${r.verified ? ' (confirmed by Terra\'s signed webhook)' : ''}.`, 'connected', r.userId);
      refreshConnections();
    },
    (error) => show(`Not connected (${error.code}): ${error.message}`, 'error'),
  ).finally(() => { cancel.hidden = true; });
  cancel.hidden = false;
  show(`Connecting to ${resource}… finish in the new tab.`, 'pending');
});

cancel.addEventListener('click', () => controller?.abort());

// The module is ready once the import above resolved; Connect is enabled once the providers are in.
show('Ready.', 'ready');
const providersLoaded = loadProviders();
refreshConnections();
