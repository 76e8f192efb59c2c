// Issue 15, "Nothing to guess": what a new app developer meets first. The READMEs' dev-server
// snippets run as written (port aside) against the real proxy binary; the README's React
// components run under Vite's dev server in <StrictMode>; completeRedirect() called twice in one
// page load, and after a reload; verify that cannot succeed fails at once; errors that name the
// values; the development entry's warning about unknown options. Headless Chromium, loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { ROOT, startProxy, startFaultProxy, launchBrowser, sleep } from './harness.mjs';

const WWW_MODULES = path.join(ROOT, 'www/node_modules');
const BIN = path.join(WWW_MODULES, '.bin');
const WORK = path.join(ROOT, 'target/dx');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const PKG_README = readFileSync(path.join(ROOT, 'js/README.md'), 'utf8');
const REACT = path.join(ROOT, 'www/fixtures/react');

let proxy;
let browser;
let react; // the React fixture under Vite's dev server, once started: { url, stop }

before(async () => {
  proxy = await startProxy();
  browser = await launchBrowser();
});

after(async () => {
  await react?.stop();
  await browser?.close();
  await proxy?.stop();
});

/** Every fenced block of `lang` in `markdown`, as written. */
function blocks(markdown, lang) {
  return [...markdown.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

/** The one ```js block of `markdown` whose first line is `first`. */
function snippet(markdown, first) {
  const found = blocks(markdown, 'js').filter((b) => b.startsWith(first));
  assert.equal(found.length, 1, `exactly one block starts with ${first}`);
  return found[0];
}

/** The binary's port in `url` (http://127.0.0.1:P). */
const portOf = (url) => new URL(url).port;

/** Spawns a dev server (`args` after the binary), resolves once it printed `ready`; returns stop(). */
async function devServer(bin, args, cwd, ready) {
  const child = spawn(bin, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
  let out = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path.basename(bin)} did not start within 60 s: ${out}`)), 60_000);
    const seen = (d) => {
      out += d;
      if (ready.test(out)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${path.basename(bin)} exited with ${code}: ${out}`)); });
  });
  return async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  };
}

const freePort = () => 20000 + Math.floor(Math.random() * 20000);

/** POSTs a session request for FITBIT through `base` (a dev server); returns [status, body]. */
async function sessionThrough(base, origin) {
  const response = await fetch(`${base}/api/terra/auth/authenticateUser?resource=FITBIT`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ reference_id: 'dx', auth_success_redirect_url: `${origin}/done?tc_outcome=success` }),
  });
  return [response.status, await response.json()];
}

test('README: the Vite server.proxy snippet (both READMEs, the React fixture\'s config) forwards /api/terra to the binary', async () => {
  const vite = snippet(README, '// vite.config.js');
  assert.equal(snippet(PKG_README, '// vite.config.js'), vite, 'js/README.md shows the same snippet');
  assert.equal(readFileSync(path.join(REACT, 'vite.config.js'), 'utf8'), vite, 'the React fixture uses it');
  assert.match(vite, /'\/api\/terra': 'http:\/\/127\.0\.0\.1:8787'/);
  const dir = path.join(WORK, 'vite-snippet');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  symlinkSync(path.join(WWW_MODULES, 'vite'), path.join(dir, 'node_modules/vite'));
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(path.join(dir, 'vite.config.js'), vite.replace('8787', portOf(proxy.url)));
  const port = freePort();
  const stop = await devServer(path.join(BIN, 'vite'), ['--host', '127.0.0.1', '--port', String(port), '--strictPort'], dir, new RegExp(String(port)));
  try {
    const [status, body] = await sessionThrough(`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.match(body.user_id, /^[0-9a-f-]{36}$/);
    assert.ok(body.auth_url.startsWith('http://127.0.0.1:'), 'a sandbox consent page');
  } finally {
    await stop();
  }
});

test('README: the webpack-dev-server snippet (both READMEs) forwards /api/terra to the binary', async () => {
  const webpack = snippet(README, '// webpack.config.js');
  assert.equal(snippet(PKG_README, '// webpack.config.js'), webpack, 'js/README.md shows the same snippet');
  const dir = path.join(WORK, 'webpack-snippet');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}');
  writeFileSync(path.join(dir, 'src/index.js'), '');
  writeFileSync(path.join(dir, 'webpack.config.js'), webpack.replace('8787', portOf(proxy.url)));
  const port = freePort();
  const stop = await devServer(path.join(BIN, 'webpack'), ['serve', '--mode', 'development', '--host', '127.0.0.1', '--port', String(port)], dir, /compiled/);
  try {
    const [status, body] = await sessionThrough(`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.match(body.user_id, /^[0-9a-f-]{36}$/);
  } finally {
    await stop();
  }
});

test('README: the React components in both READMEs are the fixture\'s files, as written', () => {
  for (const file of ['ConnectButton.jsx', 'TerraReturn.jsx']) {
    const source = readFileSync(path.join(REACT, 'src', file), 'utf8');
    assert.ok(blocks(README, 'jsx').includes(source), `README.md shows ${file}`);
    assert.ok(blocks(PKG_README, 'jsx').includes(source), `js/README.md shows ${file}`);
  }
});

// ---- The React fixture under the Vite dev server (StrictMode runs effects twice) ----

const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
let tarball;

/** `npm pack` of pkg/, once; the tarball's path. */
function packed() {
  if (!tarball) {
    mkdirSync(path.join(WORK, 'npm'), { recursive: true });
    const out = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', path.join(WORK, 'npm')], path.join(ROOT, 'pkg')));
    tarball = path.join(WORK, 'npm', out[0].filename);
  }
  return tarball;
}

/** A fresh copy of `source` in target/dx/`name` with the packed package installed. */
function install(source, name) {
  const dir = path.join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(source, dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `fixture-${name}`, private: true, type: 'module' }));
  run('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', packed()], dir);
  return dir;
}

/** The React fixture with the packed package installed, under `vite` (dev server) once. */
async function reactApp() {
  if (react) return react;
  const dir = install(REACT, 'react');
  // React and Vite from www/'s lock file (npm ci), as an app's own dependencies.
  for (const name of ['react', 'react-dom', 'scheduler', 'vite']) {
    symlinkSync(path.join(WWW_MODULES, name), path.join(dir, 'node_modules', name));
  }
  writeFileSync(path.join(dir, 'vite.config.js'), readFileSync(path.join(REACT, 'vite.config.js'), 'utf8').replace('8787', portOf(proxy.url)));
  const port = freePort();
  const stop = await devServer(path.join(BIN, 'vite'), ['--host', '127.0.0.1', '--port', String(port), '--strictPort'], dir, new RegExp(String(port)));
  react = { url: `http://127.0.0.1:${port}`, stop };
  return react;
}

/** A fresh context on the React app's page `query`, with page errors collected. */
async function reactPage(query = '') {
  const { url } = await reactApp();
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/${query}`);
  await page.waitForSelector('button', { timeout: 30_000 });
  return { context, page, errors };
}

const UUID = '[0-9a-f-]{36}';

test('React (StrictMode, Vite dev server): popup mode, Allow: the button shows the connected user', async () => {
  const { context, page, errors } = await reactPage('?provider=OURA');
  const popup = page.waitForEvent('popup');
  await page.click('button');
  const tab = await popup;
  await tab.waitForURL(/\/consent\//);
  await tab.click('#allow');
  await page.waitForFunction(() => document.querySelector('output').textContent.startsWith('Connected'));
  assert.match(await page.textContent('output'), new RegExp(`^Connected OURA: ${UUID}$`));
  assert.deepEqual(errors, []);
  await context.close();
});

test('React (StrictMode, Vite dev server): redirect mode, Allow then Deny, then a reload', async () => {
  const { context, page, errors } = await reactPage('?provider=WAHOO&mode=redirect');
  await page.click('button');
  await page.waitForURL(/\/consent\//);
  await page.click('#allow');
  await page.waitForURL(/\/terra\/done/);
  const status = page.locator('p[role="status"]');
  await page.waitForFunction(() => document.querySelector('p[role="status"]')?.textContent !== 'Finishing…');
  assert.match(await status.textContent(), new RegExp(`^Connected WAHOO: ${UUID}$`), 'StrictMode\'s second effect sees the same result');
  // A reload: the state is used up.
  await page.reload();
  await page.waitForFunction(() => document.querySelector('p[role="status"]')?.textContent !== 'Finishing…');
  assert.match(await status.textContent(), /^This link cannot be used \(state_mismatch\)/);

  await page.goto(`${react.url}/?provider=POLAR&mode=redirect`);
  await page.click('button');
  await page.waitForURL(/\/consent\//);
  await page.click('#deny');
  await page.waitForURL(/\/terra\/failed/);
  await page.waitForFunction(() => document.querySelector('p[role="status"]')?.textContent !== 'Finishing…');
  assert.equal(await status.textContent(), 'Not connected to POLAR', 'the failure page returns, it does not throw');
  assert.deepEqual(errors, []);
  await context.close();
});

// ---- completeRedirect() twice in one page load, and after a reload (the dx page) ----

async function dxPage(query = '', server = proxy) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.url}/e2e/dx.html${query}`);
  await page.waitForSelector('body[data-ready="true"]');
  return { context, page };
}

const opts = (o) => `?options=${encodeURIComponent(JSON.stringify(o))}`;

async function entry(page, kind) {
  const li = await page.waitForSelector(`#log li[data-kind="${kind}"]`);
  return li.evaluate((el) => ({ ...el.dataset }));
}

/** Calls completeRedirect(options) in `page` again; returns its result or its error's code and message. */
function completeAgain(page, options) {
  return page.evaluate(async (o) => {
    const { completeRedirect } = await import('/pkg/index.js');
    try {
      return { result: { ...completeRedirect(o) } };
    } catch (e) {
      return { error: { code: e.code, message: e.message } };
    }
  }, options);
}

test('completeRedirect() again in the same page load: the same result; after a reload: state_mismatch', async () => {
  const { context, page } = await dxPage(opts({ mode: 'redirect', resource: 'COROS', referenceId: 'dx-1' }));
  await page.click('#connect');
  await page.waitForURL(/\/consent\//);
  await page.click('#allow');
  await page.waitForURL(/\/done\.html/);
  const shown = await page.waitForSelector('#result[data-outcome="success"]');
  const userId = await shown.getAttribute('data-user-id');
  await page.waitForFunction(() => location.search === '');
  const again = await completeAgain(page, undefined);
  assert.ok(again.result, JSON.stringify(again));
  const { details, ...fields } = again.result;
  assert.deepEqual(fields, { outcome: 'success', userId, resource: 'COROS', referenceId: 'dx-1' });
  assert.ok(details === undefined || Object.keys(details).length === 0, JSON.stringify(details));
  assert.deepEqual(await completeAgain(page, undefined), again, 'and a third time');
  await page.reload();
  const reloaded = await page.waitForSelector('#result[data-outcome="error"]');
  assert.equal(await reloaded.getAttribute('data-code'), 'state_mismatch');
  await context.close();
});

test('completeRedirect() on the failure page returns outcome "failure", twice', async () => {
  const { context, page } = await dxPage(opts({ mode: 'redirect', resource: 'SUUNTO' }));
  await page.click('#connect');
  await page.waitForURL(/\/consent\//);
  await page.click('#deny');
  await page.waitForURL(/\/failed\.html/);
  await page.waitForSelector('#result[data-outcome="failure"]');
  const again = await completeAgain(page, undefined);
  assert.equal(again.result?.outcome, 'failure', JSON.stringify(again));
  assert.equal(again.result.resource, 'SUUNTO');
  await context.close();
});

test('completeRedirect() that threw throws the same error when called again', async () => {
  const { context, page } = await dxPage();
  await page.goto(`${proxy.url}/done.html?tc_outcome=success&tc_state=0123456789abcdef0123456789abcdef&user_id=u&resource=OURA`);
  const shown = await page.waitForSelector('#result[data-outcome="error"]');
  assert.equal(await shown.getAttribute('data-code'), 'state_mismatch');
  const first = await page.textContent('#result');
  const again = await completeAgain(page, undefined);
  assert.equal(again.error?.code, 'state_mismatch', JSON.stringify(again));
  assert.ok(first.endsWith(`${again.error.message}`), `${first} / ${again.error.message}`);
  await context.close();
});

// ---- verify that cannot succeed fails at once ----

for (const verify of [true, 'webhook']) {
  test(`verify: ${JSON.stringify(verify)} with the binary and no referenceId rejects at once, saying what is missing`, async () => {
    const { context, page } = await dxPage(opts({ verify, timeoutMs: 600_000, resource: 'OURA' }));
    const popup = page.waitForEvent('popup');
    await page.click('#connect');
    const tab = await popup;
    await tab.waitForURL(/\/consent\//);
    await tab.click('#allow');
    // Far below timeoutMs: the answer comes from the proxy's first reply.
    const li = await page.waitForSelector('#log li[data-kind="error"]', { timeout: 10_000 });
    const error = await li.evaluate((el) => ({ ...el.dataset }));
    assert.equal(error.code, 'verify_unavailable', JSON.stringify(error));
    assert.match(error.message, /referenceId/);
    assert.match(error.message, /reference-id hook/);
    await context.close();
  });
}

test('the binary without a webhook secret answers /connection/webhook with 503 webhooks_not_configured, saying what to set', async () => {
  const terra = await startProxy({ TERRA_DEV_ID: 'dev', TERRA_API_KEY: 'key', TERRA_API_BASE: 'http://127.0.0.1:9/api/v2' });
  try {
    const response = await fetch(`${terra.url}/api/terra/connection/webhook?user_id=u-1&reference_id=r`);
    assert.equal(response.status, 503);
    const body = await response.json();
    assert.equal(body.code, 'webhooks_not_configured');
    assert.match(body.message, /TERRA_WEBHOOK_SECRET|signing secret/);
  } finally {
    await terra.stop();
  }
});

// ---- errors that name the values ----

test('network names the URL it tried; proxy_error names the URL and the status', async () => {
  const faults = await startFaultProxy();
  try {
    let { context, page } = await dxPage(opts({ proxyUrl: `${faults.url}/terra-400` }));
    await page.click('#connect');
    let error = await entry(page, 'error');
    assert.equal(error.code, 'proxy_error');
    assert.equal(error.status, '400');
    assert.ok(error.message.includes(`${faults.url}/terra-400/auth/authenticateUser`), error.message);
    assert.match(error.message, /400/);
    assert.match(error.message, /language is not supported/, 'the server\'s message is kept');
    await context.close();

    faults.stop();
    await sleep(200);
    ({ context, page } = await dxPage(opts({ proxyUrl: `${faults.url}/x` })));
    await page.click('#connect');
    error = await entry(page, 'error');
    assert.equal(error.code, 'network');
    assert.ok(error.message.includes(`${faults.url}/x/auth/authenticateUser`), error.message);
    await context.close();
  } finally {
    faults.stop();
  }
});

test('an origin mismatch names both origins', async () => {
  const other = proxy.url.replace('127.0.0.1', 'localhost');
  const { context, page } = await dxPage(opts({ successUrl: `${other}/done.html` }));
  await page.click('#connect');
  const error = await entry(page, 'error');
  assert.equal(error.code, 'invalid_argument');
  assert.ok(error.message.includes(other), error.message);
  assert.ok(error.message.includes(proxy.url), error.message);
  await context.close();
});

test('a refused provider names the allowed ones', async () => {
  const narrow = await startProxy({ TERRA_CONNECT_ALLOWED_RESOURCES: 'OURA,POLAR' });
  try {
    const { context, page } = await dxPage(opts({ resource: 'FITBIT' }), narrow);
    await page.click('#connect');
    const error = await entry(page, 'error');
    assert.equal(error.code, 'proxy_error');
    assert.equal(error.status, '403');
    assert.match(error.message, /FITBIT/);
    assert.match(error.message, /OURA/);
    assert.match(error.message, /POLAR/);
    await context.close();
  } finally {
    await narrow.stop();
  }
});

// ---- the development entry warns about unknown options; the production entry does not ----

test('the development entry warns about an unknown option with a "did you mean"; the production entry stays silent', async () => {
  const call = (page) => page.evaluate(async () => {
    const signal = AbortSignal.abort();
    const options = { proxyUrl: '/api/terra', resource: 'FITBIT', successUrl: `${location.origin}/done.html`, failureUrl: `${location.origin}/failed.html`, timeout: 5, signal };
    const code = await window.tc.connect(options).catch((e) => e.code);
    return { code, warnings: window.warnings };
  });
  let { context, page } = await dxPage('?entry=dev');
  let { code, warnings } = await call(page);
  assert.equal(code, 'aborted');
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /"timeout"/);
  assert.match(warnings[0], /did you mean "timeoutMs"/);
  await context.close();

  // Every option the declarations name is known to the check (they cannot drift apart).
  const declarations = readFileSync(path.join(ROOT, 'pkg/terra_connect.d.ts'), 'utf8');
  const declared = (name) => {
    const body = declarations.slice(declarations.indexOf(`export interface ${name} `));
    return [...body.slice(body.indexOf('{') + 1, body.indexOf('\n}')).matchAll(/^\s+(\w+)\??:/gm)].map((m) => m[1]);
  };
  const keys = {
    createSession: declared('SessionOptions'),
    connect: [...declared('SessionOptions'), ...declared('ConnectCommon'), 'providers'],
    completeRedirect: declared('CompleteOptions'),
    listConnections: declared('ListConnectionsOptions'),
    disconnect: declared('DisconnectOptions'),
    listProviders: declared('ListProvidersOptions'),
  };
  assert.ok(keys.connect.includes('timeoutMs') && keys.completeRedirect.includes('closeTab'), JSON.stringify(keys));
  assert.ok(keys.disconnect.includes('userId') && keys.listProviders.length === 2, JSON.stringify(keys));
  ({ context, page } = await dxPage('?entry=dev'));
  warnings = await page.evaluate(async (keys) => {
    const every = (names) => Object.fromEntries(names.map((k) => [k, k === 'signal' ? AbortSignal.abort() : undefined]));
    await window.tc.createSession(every(keys.createSession)).catch(() => {});
    await window.tc.connect(every(keys.connect)).catch(() => {});
    try { window.tc.completeRedirect(every(keys.completeRedirect)); } catch {}
    for (const fn of ['listConnections', 'disconnect', 'listProviders']) await window.tc[fn](every(keys[fn])).catch(() => {});
    // …and an unknown one is reported for these calls too.
    await window.tc.disconnect({ proxyUrl: '/api/terra', userID: 'u-1', signal: AbortSignal.abort() }).catch(() => {});
    return window.warnings;
  }, keys);
  assert.equal(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0], /disconnect\(\) ignores the unknown option "userID" \(did you mean "userId"\?\)/);
  await context.close();

  ({ context, page } = await dxPage());
  ({ code, warnings } = await call(page));
  assert.equal(code, 'aborted');
  assert.deepEqual(warnings, []);
  await context.close();
});

// ---- types that carry what is known (item 7): the strict fixture's cases, read by tsc's own API ----

test('types: provider names autocomplete; a call with neither resource nor providers is an error naming resource', async () => {
  const { default: ts } = await import(path.join(WWW_MODULES, 'typescript/lib/typescript.js'));
  const dir = install(path.join(ROOT, 'www/fixtures/typescript'), 'typescript');
  const file = path.join(dir, 'consumer.ts');
  // The fixture's @ts-expect-error lines turned back into plain lines: the errors they expect.
  const source = readFileSync(file, 'utf8').replaceAll('// @ts-expect-error', '// was expected:');
  writeFileSync(file, source);
  const options = {
    strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler, lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  };
  const host = {
    getScriptFileNames: () => [file],
    getScriptVersion: () => '1',
    getScriptSnapshot: (f) => (ts.sys.fileExists(f) ? ts.ScriptSnapshot.fromString(ts.sys.readFile(f)) : undefined),
    getCurrentDirectory: () => dir,
    getCompilationSettings: () => options,
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  const service = ts.createLanguageService(host, ts.createDocumentRegistry());

  // `resource: '` in the fixture's `complete-provider` line: the completions offer Terra's names.
  const marker = source.indexOf("resource: '", source.indexOf('complete-provider')) + "resource: '".length;
  const names = service.getCompletionsAtPosition(file, marker, {})?.entries.map((e) => e.name) ?? [];
  for (const name of ['FITBIT', 'GARMIN', 'OURA', 'GOOGLE_HEALTH']) assert.ok(names.includes(name), `${name} in ${names}`);

  // The `neither` case's error names resource.
  const line = source.split('\n').findIndex((l) => l.includes('neither resource nor providers'));
  const errors = service.getSemanticDiagnostics(file).filter((d) => ts.getLineAndCharacterOfPosition(d.file, d.start).line === line + 1);
  assert.equal(errors.length, 1, 'one error on the line after the marker');
  assert.match(ts.flattenDiagnosticMessageText(errors[0].messageText, '\n'), /'resource' is missing/);
});

test('the package ships js/README.md (for app developers) as its README', () => {
  const listed = JSON.parse(run('npm', ['pack', '--dry-run', '--json'], path.join(ROOT, 'pkg')))[0].files.map((f) => f.path);
  assert.ok(listed.includes('README.md'));
  assert.equal(readFileSync(path.join(ROOT, 'pkg/README.md'), 'utf8'), PKG_README);
  for (const section of ['## The proxy', '## Local development', '## React', '## API', '## Error codes', '## Troubleshooting', '## The sandbox']) {
    assert.ok(PKG_README.includes(`\n${section}\n`), section);
  }
  assert.match(PKG_README, /outcome: "failure"/);
});
