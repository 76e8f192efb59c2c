// The shipped build is reproducible: the same commit, built in another folder under another
// HOME (so another cargo home path), gives byte-identical package files, and the .wasm holds
// no path of the machine that built it. Compares a fresh build in a temporary copy with the
// pkg/ that scripts/build-pkg.sh built in the checkout (scripts/test.sh builds it first).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './harness.mjs';

const SHIPPED = ['terra_connect_bg.wasm', 'terra_connect.js', 'terra_connect.d.ts', 'terra_connect_bg.wasm.d.ts', 'index.js', 'index.d.ts'];
const REAL_HOME = os.homedir();
const CARGO_HOME = process.env.CARGO_HOME ?? path.join(REAL_HOME, '.cargo');
const RUSTUP_HOME = process.env.RUSTUP_HOME ?? path.join(REAL_HOME, '.rustup');

test('two builds in different folders and HOMEs give the same bytes, with no machine path', { timeout: 20 * 60_000 }, () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'terra-connect-repro-'));
  try {
    // The checkout's files (tracked and new, not ignored), in a folder with another name.
    const tree = path.join(work, 'elsewhere', 'checkout');
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0').filter((f) => f && existsSync(path.join(ROOT, f)));
    for (const f of files) {
      mkdirSync(path.dirname(path.join(tree, f)), { recursive: true });
      cpSync(path.join(ROOT, f), path.join(tree, f));
    }
    // The npm tools and the crates already downloaded, reached through another HOME: the cargo
    // home's path (which registry sources are compiled from) differs from the checkout's build.
    symlinkSync(path.join(ROOT, 'www/node_modules'), path.join(tree, 'www/node_modules'));
    const home = path.join(work, 'another-home');
    mkdirSync(path.join(home, '.cargo'), { recursive: true });
    for (const entry of ['bin', 'registry', 'git']) {
      if (existsSync(path.join(CARGO_HOME, entry))) symlinkSync(path.join(CARGO_HOME, entry), path.join(home, '.cargo', entry));
    }
    execFileSync(path.join(tree, 'scripts/build-pkg.sh'), [], {
      cwd: tree,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HOME: home, CARGO_HOME: path.join(home, '.cargo'), RUSTUP_HOME, CARGO_NET_OFFLINE: 'true' },
    });
    for (const name of SHIPPED) {
      const ours = readFileSync(path.join(ROOT, 'pkg', name));
      const theirs = readFileSync(path.join(tree, 'pkg', name));
      assert.ok(ours.equals(theirs), `pkg/${name} differs between the two builds`);
    }
    const wasm = readFileSync(path.join(ROOT, 'pkg/terra_connect_bg.wasm')).toString('latin1');
    for (const machinePath of [ROOT, REAL_HOME, CARGO_HOME, RUSTUP_HOME, work, '/home/', '/root/', '.cargo/registry']) {
      assert.ok(!wasm.includes(machinePath), `the .wasm contains ${machinePath}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
