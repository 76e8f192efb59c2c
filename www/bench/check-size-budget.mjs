// The size budget: terra-connect's shipped size (gzip -9 of the .wasm plus gzip -9 of the
// bundled, minified JS entry, as bench/size.mjs measures it and writes to bench/size.json)
// must stay within 44 KiB. Exits 1 when over; scripts/test.sh runs it, so over budget fails
// the tests. Run bench/size.mjs first.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 44 * 1024; // 45 056 bytes
const here = path.dirname(fileURLToPath(import.meta.url));
const { shipped } = JSON.parse(readFileSync(path.join(here, 'size.json'), 'utf8'));
const within = Number.isInteger(shipped) && shipped > 0 && shipped <= BUDGET;
console.log(`size budget: shipped ${shipped} bytes gz, budget ${BUDGET} bytes: ${within ? 'within' : 'OVER'} (${(shipped / BUDGET * 100).toFixed(0)}%)`);
process.exit(within ? 0 : 1);
