// The e2e tests' app page. Query parameters choose connect()'s options:
//   resource, proxy (proxyUrl), mode, fallback, timeoutMs, reject (rejectOnTabClose=true),
//   auto=MS (call connect() from the page's own timer, with no user gesture),
//   double (each click on Connect calls connect() twice).
// Every event lands in <ol id="log"> as <li data-kind data-code data-user-id data-flow>.
import { connect } from '/pkg/index.js';

const q = new URLSearchParams(location.search);
const log = document.getElementById('log');
const controllers = [];

function record(kind, fields = {}) {
  const li = document.createElement('li');
  li.dataset.kind = kind;
  for (const [k, v] of Object.entries(fields)) li.dataset[k] = v ?? '';
  li.textContent = `${kind} ${JSON.stringify(fields)}`;
  log.append(li);
}

function start() {
  const flow = controllers.length;
  const controller = new AbortController();
  controllers.push(controller);
  const options = {
    proxyUrl: q.get('proxy') ?? '/api/terra',
    ...(q.has('providers')
      ? { providers: q.get('providers') ? q.get('providers').split(',') : [] }
      : { resource: q.get('resource') ?? 'FITBIT' }),
    referenceId: `flow-${flow}`,
    successUrl: new URL('/done.html', location.href).href,
    failureUrl: new URL('/failed.html', location.href).href,
    signal: controller.signal,
    onTabClosed: () => record('tab-closed', { flow }),
  };
  if (q.has('mode')) options.mode = q.get('mode');
  if (q.has('fallback')) options.fallback = q.get('fallback');
  if (q.has('timeoutMs')) options.timeoutMs = Number(q.get('timeoutMs'));
  if (q.has('reject')) options.rejectOnTabClose = true;
  if (q.has('verify')) options.verify = q.get('verify') === 'webhook' ? 'webhook' : true;
  connect(options).then(
    (r) => record('result', { flow, outcome: r.outcome, userId: r.userId, resource: r.resource, referenceId: r.referenceId, verified: String(r.verified === true) }),
    (e) => record('error', { flow, code: e.code, name: e.name, isError: String(e instanceof Error), userId: e.result?.userId, resource: e.result?.resource }),
  );
}

document.getElementById('connect').addEventListener('click', () => {
  start();
  if (q.has('double')) start();
});
document.getElementById('abort').addEventListener('click', () => controllers.at(-1)?.abort());
document.getElementById('connect').disabled = false;
if (q.has('auto')) setTimeout(start, Number(q.get('auto')));
document.body.dataset.ready = 'true';
