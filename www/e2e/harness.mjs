// Test harness: the real proxy binary (sandbox mode) serving www/ and pkg/, and Debian's
// Chromium driven by playwright-core. Everything runs on 127.0.0.1.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

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

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Launches Debian's Chromium. `popupBlocking: true` keeps Chromium's popup blocker on. */
export async function launchBrowser({ popupBlocking = false } = {}) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    ignoreDefaultArgs: popupBlocking ? ['--disable-popup-blocking'] : [],
  });
}
