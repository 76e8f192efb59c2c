// Test harness: the real proxy binary (sandbox mode) serving www/ and pkg/, and the browser
// engines of engines.mjs (Debian's Chromium and Firefox ESR). Everything runs on 127.0.0.1.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS } from './engines.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PROXY_BIN = process.env.TERRA_CONNECT_PROXY_BIN ?? path.join(ROOT, 'target/release/terra-connect-proxy');

/** Starts the proxy binary; resolves with { url, logs(), stop() }. */
export async function startProxy(env = {}) {
  const child = spawn(PROXY_BIN, [], {
    env: {
      PATH: process.env.PATH,
      TERRA_CONNECT_ADDR: '127.0.0.1:0',
      TERRA_CONNECT_WWW_DIR: path.join(ROOT, 'www'),
      TERRA_CONNECT_PKG_DIR: path.join(ROOT, 'pkg'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  child.stderr.on('data', (d) => { logs += d; });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`proxy exited with ${code}: ${logs}`)));
  });
  return {
    url,
    logs: () => logs,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
    },
  };
}

export { ENGINES } from './engines.mjs';

/** Debian's Chromium as a plain playwright-core Browser (for www/bench/startup.mjs). */
export function launchBrowser() {
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS });
}

/** Collects the `user_id`s of requests to `path` in `context` (what the redirect carried). */
export function userIdsVisiting(context, path) {
  const ids = [];
  context.onRequest((href) => {
    const url = new URL(href);
    if (url.pathname === path && url.searchParams.has('user_id')) ids.push(url.searchParams.get('user_id'));
  });
  return ids;
}

/** Starts `proxy/examples/fault_proxy` (a deliberately broken proxy); resolves with { url, stop() }. */
export async function startFaultProxy() {
  const bin = process.env.TERRA_CONNECT_FAULT_BIN ?? path.join(ROOT, 'target/release/examples/fault_proxy');
  const child = spawn(bin, ['127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[0-9.:]+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`fault proxy exited with ${code}`)));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
