// Benchmark: the shipped size of terra-connect beside two JavaScript auth libraries, measured
// the same way in the same run: each bundled and minified with esbuild (wasm left external),
// then gzip -9; for terra-connect plus gzip -9 of its .wasm.
// Prints a table and writes www/bench/size.json for scripts/check-size-budget.mjs.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const gz = (bytes) => gzipSync(bytes, { level: 9 }).length;

async function bundled(source, resolveDir) {
  const result = await build({
    stdin: { contents: source, resolveDir, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0].contents;
}

const www = path.join(ROOT, 'www');
const ours = await bundled(
  "export { connect, completeRedirect, createSession, parseRedirect, TerraConnectError } from './index.js';",
  path.join(ROOT, 'pkg'),
);
const wasm = readFileSync(path.join(ROOT, 'pkg/terra_connect_bg.wasm'));
const oidc = await bundled("export { UserManager } from 'oidc-client-ts';", www);
const auth0 = await bundled("export { createAuth0Client } from '@auth0/auth0-spa-js';", www);

const rows = [
  { name: 'terra-connect (js + wasm)', js: gz(ours), wasm: gz(wasm) },
  { name: 'oidc-client-ts (UserManager)', js: gz(oidc), wasm: 0 },
  { name: '@auth0/auth0-spa-js (createAuth0Client)', js: gz(auth0), wasm: 0 },
];
for (const r of rows) r.total = r.js + r.wasm;
const ourTotal = rows[0].total;
console.log('shipped size, gzip -9 (bytes):');
console.log(`${'package'.padEnd(42)}${'js'.padStart(8)}${'wasm'.padStart(8)}${'total'.padStart(8)}  ratio (terra-connect / this)`);
for (const r of rows) {
  const ratio = (ourTotal / r.total).toFixed(2);
  console.log(`${r.name.padEnd(42)}${String(r.js).padStart(8)}${String(r.wasm).padStart(8)}${String(r.total).padStart(8)}  ${ratio}`);
}
writeFileSync(path.join(ROOT, 'www/bench/size.json'), JSON.stringify({ shipped: ourTotal, rows }, null, 2));
