// The size budget: terra-connect's shipped size (gzip -9 of the .wasm plus gzip -9 of the
// bundled, minified JS, as bench/size.mjs measures it) must stay within 16 KiB.
// Exits 1 when over. Run bench/size.mjs first.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 16 * 1024;
const here = path.dirname(fileURLToPath(import.meta.url));
const { shipped } = JSON.parse(readFileSync(path.join(here, 'size.json'), 'utf8'));
const verdict = shipped <= BUDGET ? 'within' : 'OVER';
console.log(`size budget: shipped ${shipped} bytes gz, budget ${BUDGET} bytes: ${verdict} (${(shipped / BUDGET * 100).toFixed(0)}%)`);
process.exit(shipped <= BUDGET ? 0 : 1);
