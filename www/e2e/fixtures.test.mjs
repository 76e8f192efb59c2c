// The npm package as users get it: `npm pack` of pkg/, installed as a tarball into each fixture
// app (www/fixtures/), which has no wasm-specific configuration. Each runs the sandbox
// connection end to end in each browser engine (engines.mjs: headless Chromium and Firefox):
// a plain page with an import map, Vite (build and dev server), webpack 5 (default config).
// A strict TypeScript consumer must compile.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startProxy, ENGINES } from './harness.mjs';

const BIN = path.join(ROOT, 'www/node_modules/.bin');
const WORK = path.join(ROOT, 'target/fixtures');
let tarball;

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
}

/** A fresh copy of fixture `name` with the shared app and the packed package installed
 *  (once per run: the engines share it). */
const prepared = new Map();
function prepare(name) {
  if (!prepared.has(name)) prepared.set(name, freshCopy(name));
  return prepared.get(name);
}

function freshCopy(name) {
  const dir = path.join(WORK, name);
  rmSync(dir, { recursive: true, force: true });
  cpSync(path.join(ROOT, 'www/fixtures', name), dir, { recursive: true });
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  cpSync(path.join(ROOT, 'www/fixtures/app.js'), path.join(dir, 'src/index.js'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `fixture-${name}`, private: true, type: 'module' }));
  run('npm', ['install', '--no-save', '--no-package-lock', '--no-audit', '--no-fund', tarball], dir);
  return dir;
}

before(async () => {
  mkdirSync(path.join(WORK, 'npm'), { recursive: true });
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', path.join(WORK, 'npm')], path.join(ROOT, 'pkg')));
  tarball = path.join(WORK, 'npm', packed[0].filename);
});

/** Opens `url` in `browser`, clicks Connect, allows in the sandbox tab; returns the connected user id. */
async function connectThrough(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const failures = [];
  page.onPageError((message) => failures.push(message));
  await page.goto(url);
  await page.waitFor('#connect:not([disabled])', { timeout: 15000 }).catch(() => {
    throw new Error(`the app did not start: ${failures.join('; ')}`);
  });
  const tab = await page.clickForPopup('#connect');
  await tab.waitForURL(/\/consent\//);
  await tab.click('#allow');
  await page.waitFor('#out[data-state="connected"]');
  const userId = await page.attr('#out', 'data-user-id');
  await context.close();
  assert.match(userId, /^[0-9a-f-]{36}$/);
  assert.deepEqual(failures, []);
  return userId;
}

test('npm pack ships the wasm, the JS, the .d.ts and the README, and nothing else', () => {
  const listed = JSON.parse(run('npm', ['pack', '--dry-run', '--json'], path.join(ROOT, 'pkg')))[0].files.map((f) => f.path);
  for (const file of ['index.js', 'index.dev.js', 'index.d.ts', 'terra_connect.js', 'terra_connect.d.ts', 'terra_connect_bg.wasm', 'README.md', 'LICENSE', 'package.json']) {
    assert.ok(listed.includes(file), `${file} is in the tarball`);
  }
  assert.ok(listed.some((f) => f.startsWith('snippets/') && f.endsWith('/error.js')));
  assert.deepEqual(listed.filter((f) => !/^(index|terra_connect|README|LICENSE|package|snippets\/)/.test(f)), []);
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'pkg/package.json'), 'utf8'));
  const cargo = readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8');
  assert.equal(manifest.version, /\[workspace\.package\][^[]*?version = "([^"]+)"/.exec(cargo)[1]);
  assert.equal(manifest.type, 'module');
  assert.equal(manifest.exports['.'].types, './index.d.ts');
});

/** The fixtures whose build ran (once per run: the engines share the output). */
const built = new Set();

for (const engine of ENGINES) describe(engine.name, () => {
  let browser;

  before(async () => {
    browser = await engine.launch();
  });

  after(async () => {
    await browser?.close();
  });

  /** Serves `dir` with the proxy (sandbox mode) and connects through its index.html. */
  async function serveAndConnect(dir) {
    const proxy = await startProxy({ TERRA_CONNECT_WWW_DIR: dir });
    try {
      await connectThrough(browser, `${proxy.url}/index.html`);
    } finally {
      await proxy.stop();
    }
  }

  test('a plain <script type="module"> page, no bundler', async () => {
    await serveAndConnect(prepare('plain'));
  });

  test('Vite: the output of vite build', async () => {
    const dir = prepare('vite');
    if (!built.has('vite')) {
      run(path.join(BIN, 'vite'), ['build', '--logLevel', 'warn'], dir);
      built.add('vite');
    }
    await serveAndConnect(path.join(dir, 'dist'));
  });

  test('Vite: the dev server (pre-bundled dependencies)', async () => {
    const dir = prepare('vite');
    const port = 20000 + Math.floor(Math.random() * 20000);
    const origin = `http://127.0.0.1:${port}`;
    const proxy = await startProxy({ TERRA_CONNECT_CORS_ORIGINS: origin });
    const vite = spawn(path.join(BIN, 'vite'), ['--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise((resolve, reject) => {
        let out = '';
        vite.stdout.on('data', (d) => { out += d; if (out.includes(String(port))) resolve(); });
        vite.on('exit', (code) => reject(new Error(`vite exited with ${code}: ${out}`)));
      });
      await connectThrough(browser, `${origin}/?proxy=${encodeURIComponent(`${proxy.url}/api/terra`)}`);
    } finally {
      vite.kill('SIGTERM');
      await proxy.stop();
    }
  });

  test('webpack 5 with its default configuration', async () => {
    const dir = prepare('webpack');
    if (!built.has('webpack')) {
      run(path.join(BIN, 'webpack'), [], dir);
      built.add('webpack');
    }
    await serveAndConnect(dir);
  });
});

test('TypeScript: a strict consumer compiles, and wrong usage does not', () => {
  const dir = prepare('typescript');
  const args = ['--noEmit', '--strict', '--target', 'es2022', '--module', 'esnext', '--moduleResolution', 'bundler',
    '--lib', 'es2022,dom', '--skipLibCheck', 'false', 'consumer.ts'];
  try {
    run(path.join(BIN, 'tsc'), args, dir);
  } catch (e) {
    assert.fail(`tsc --strict failed:\n${e.stdout}${e.stderr}`);
  }
  // The same file without the @ts-expect-error lines' directives must fail: they really are errors.
  const source = readFileSync(path.join(dir, 'consumer.ts'), 'utf8');
  writeFileSync(path.join(dir, 'wrong.ts'), source.replaceAll('// @ts-expect-error', '// was expected:'));
  let failed = '';
  try {
    run(path.join(BIN, 'tsc'), args.slice(0, -1).concat('wrong.ts'), dir);
  } catch (e) {
    failed = e.stdout;
  }
  assert.equal((failed.match(/error TS/g) ?? []).length, 12, failed);
  const declarations = ['index.d.ts', 'terra_connect.d.ts'].map((f) => readFileSync(path.join(ROOT, 'pkg', f), 'utf8')).join('\n');
  const publicPart = declarations.split('export type InitInput')[0];
  assert.doesNotMatch(publicPart, /:\s*any\b/, 'no any on the public API');
});
