// The developer-experience tests' app page (dx.test.mjs). Query parameters:
//   entry=dev   load the development entry (/pkg/index.dev.js) instead of /pkg/index.js
//   options=J   JSON merged over the default connect() options; a null value drops the option
// Connect calls connect() with them; each outcome lands in <ol id="log"> as
// <li data-kind="result|error" data-code data-message data-status data-user-id>. The module is
// window.tc, and console.warn calls are collected in window.warnings.
window.warnings = [];
const warn = console.warn.bind(console);
console.warn = (...args) => {
  window.warnings.push(args.map(String).join(' '));
  warn(...args);
};

const q = new URLSearchParams(location.search);
const tc = await import(q.get('entry') === 'dev' ? '/pkg/index.dev.js' : '/pkg/index.js');
window.tc = tc;
const log = document.getElementById('log');

function record(kind, fields) {
  const li = document.createElement('li');
  li.dataset.kind = kind;
  for (const [k, v] of Object.entries(fields)) li.dataset[k] = v ?? '';
  li.textContent = `${kind} ${JSON.stringify(fields)}`;
  log.append(li);
}

function options() {
  const merged = {
    proxyUrl: '/api/terra',
    resource: 'FITBIT',
    successUrl: new URL('/done.html', location.href).href,
    failureUrl: new URL('/failed.html', location.href).href,
    ...JSON.parse(q.get('options') ?? '{}'),
  };
  for (const [k, v] of Object.entries(merged)) if (v === null) delete merged[k];
  return merged;
}

document.getElementById('connect').addEventListener('click', () => {
  tc.connect(options()).then(
    (r) => record('result', { outcome: r.outcome, userId: r.userId, resource: r.resource, verified: String(r.verified === true) }),
    (e) => record('error', { code: e.code, message: e.message, status: e.status === undefined ? '' : String(e.status) }),
  );
});
document.getElementById('connect').disabled = false;
document.body.dataset.ready = 'true';
