// terra-connect's entry for dev servers (the "development" export condition): index.js with the
// WebAssembly module inlined, so it loads wherever the dev server moves this file (Vite
// pre-bundles dependencies into .vite/deps, away from the .wasm file), and with a check that
// warns about unknown option keys (index.js stays lean: it has no such check).
import init, * as wasm from './terra_connect.js';

const WASM = '__WASM_BASE64__';
await init({ module_or_path: Uint8Array.from(atob(WASM), (c) => c.charCodeAt(0)) });

// Development only: warn about option keys the call does not know (a misspelled or guessed
// name is otherwise ignored), with the closest known name. Not in the production entry.
const SESSION = ['proxyUrl', 'resource', 'referenceId', 'successUrl', 'failureUrl', 'language', 'signal'];
const KNOWN = {
  createSession: SESSION,
  connect: [...SESSION, 'providers', 'mode', 'fallback', 'timeoutMs', 'rejectOnTabClose', 'onTabClosed', 'verify'],
  completeRedirect: ['href', 'closeTab'],
  listConnections: ['proxyUrl', 'referenceId', 'signal'],
  disconnect: ['proxyUrl', 'userId', 'referenceId', 'signal'],
  listProviders: ['proxyUrl', 'signal'],
};

/** Levenshtein distance of `a` and `b`. */
function distance(a, b) {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(above + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The known name `key` most likely meant, or undefined. */
function closest(key, known) {
  const wanted = key.toLowerCase();
  let best;
  let bestScore = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const name of known) {
    const lower = name.toLowerCase();
    const score = lower === wanted ? 0 : lower.startsWith(wanted) || wanted.startsWith(lower) ? 1 : distance(wanted, lower);
    if (score < bestScore) [best, bestScore] = [name, score];
  }
  return best;
}

function warnUnknown(fn, options) {
  if (options === null || typeof options !== 'object') return;
  for (const key of Object.keys(options)) {
    if (KNOWN[fn].includes(key)) continue;
    const near = closest(key, KNOWN[fn]);
    const hint = near ? ` (did you mean "${near}"?)` : '';
    console.warn(`terra-connect: ${fn}() ignores the unknown option "${key}"${hint}. This check runs in the development entry only.`);
  }
}

/** createSession(), after the development check of its options. */
export function createSession(options) {
  warnUnknown('createSession', options);
  return wasm.createSession(options);
}

/** connect(), after the development check of its options (synchronous: the tab still opens
 *  inside the click). */
export function connect(options) {
  warnUnknown('connect', options);
  return wasm.connect(options);
}

/** completeRedirect(), after the development check of its options. */
export function completeRedirect(options) {
  warnUnknown('completeRedirect', options);
  return wasm.completeRedirect(options);
}

/** listConnections(), after the development check of its options. */
export function listConnections(options) {
  warnUnknown('listConnections', options);
  return wasm.listConnections(options);
}

/** disconnect(), after the development check of its options. */
export function disconnect(options) {
  warnUnknown('disconnect', options);
  return wasm.disconnect(options);
}

/** listProviders(), after the development check of its options. */
export function listProviders(options) {
  warnUnknown('listProviders', options);
  return wasm.listProviders(options);
}

export { parseRedirect } from './terra_connect.js';
export { TerraConnectError } from '__ERROR_MODULE__';
