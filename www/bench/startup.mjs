// Benchmark: start-up time in headless Chromium, from import() of the package to ready
// (terra-connect: its module instantiated; oidc-client-ts: the module evaluated), median of
// 20 cold page loads each, interleaved, in the same run. Both are bundled with esbuild the same way and
// served by the proxy binary from a temporary folder.
import { build } from 'esbuild';
import { mkdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT, startProxy, launchBrowser } from '../e2e/harness.mjs';

const LOADS = 20;
const dir = path.join(ROOT, 'target/bench-startup');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

async function bundle(source, resolveDir, out) {
  await build({
    stdin: { contents: source, resolveDir, loader: 'js' },
    bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022',
    outfile: path.join(dir, out), logLevel: 'silent',
  });
}
await bundle("export * from './index.js';", path.join(ROOT, 'pkg'), 'terra-connect.js');
copyFileSync(path.join(ROOT, 'pkg/terra_connect_bg.wasm'), path.join(dir, 'terra_connect_bg.wasm'));
await bundle("export { UserManager } from 'oidc-client-ts';", path.join(ROOT, 'www'), 'oidc-client-ts.js');
writeFileSync(path.join(dir, 'page.html'), `<!doctype html><meta charset=utf-8><script type=module>
const lib = new URLSearchParams(location.search).get('lib');
const t0 = performance.now();
const m = await import('./' + lib + '.js');
window.__startup = { ms: performance.now() - t0, exports: Object.keys(m).length };
</script>`);

const proxy = await startProxy({ TERRA_CONNECT_WWW_DIR: dir });
const browser = await launchBrowser();
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return (s[(s.length - 1) >> 1] + s[s.length >> 1]) / 2; };
const LIBS = ['terra-connect', 'oidc-client-ts'];
const times = Object.fromEntries(LIBS.map((lib) => [lib, []]));
const results = {};
try {
  // Interleaved (one load of each per round), so that the machine's drift during the run
  // weighs on both alike.
  for (let i = 0; i < LOADS; i++) {
    for (const lib of LIBS) {
      const context = await browser.newContext(); // cold: no HTTP or compiled-code cache
      const page = await context.newPage();
      await page.goto(`${proxy.url}/page.html?lib=${lib}`);
      const r = await page.waitForFunction(() => window.__startup).then((h) => h.jsonValue());
      if (!r.exports) throw new Error(`${lib} exported nothing`);
      times[lib].push(r.ms);
      await context.close();
    }
  }
  for (const lib of LIBS) {
    const t = times[lib];
    results[lib] = { median: median(t), min: Math.min(...t), max: Math.max(...t) };
  }
} finally {
  await browser.close();
  await proxy.stop();
}
console.log(`start-up, import() to ready, headless Chromium, ${LOADS} cold page loads each (ms):`);
console.log(`${'package'.padEnd(18)}${'median'.padStart(9)}${'min'.padStart(9)}${'max'.padStart(9)}`);
for (const [name, r] of Object.entries(results)) {
  console.log(`${name.padEnd(18)}${r.median.toFixed(2).padStart(9)}${r.min.toFixed(2).padStart(9)}${r.max.toFixed(2).padStart(9)}`);
}
console.log(`ratio terra-connect / oidc-client-ts (median): ${(results['terra-connect'].median / results['oidc-client-ts'].median).toFixed(2)}`);
