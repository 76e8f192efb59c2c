#!/usr/bin/env bash
# Builds pkg/, the npm package `terra-connect`: the optimised wasm, wasm-bindgen's ES module
# glue (--target web), a small entry (index.js) that instantiates the module before it
# exports anything, exact TypeScript types, package.json and the README for app developers
# (js/README.md; the repository's README.md is for contributors).
source "$(dirname "$0")/lib.sh"
ensure_rust_tools
ensure_nightly
ensure_npm_packages
ensure_debian_commands python3 python3

say "building the wasm module (nightly, -Zbuild-std, panic=immediate-abort, profile wasm-release, feature allocator)"
# Reproducible: no path of this machine may reach the .wasm. Panic locations are dropped
# (-Zlocation-detail=none) and any other path rustc embeds is remapped: the checkout, the cargo
# home (registry sources) and the toolchain (std's sources, built here by -Zbuild-std).
# www/e2e/reproducible.test.mjs builds twice in different folders and HOMEs and compares.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
sysroot="$(rustc +nightly --print sysroot)"
export RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none \
  --remap-path-prefix=$ROOT=/terra-connect --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$sysroot=/rust"
# Its own target dir: the std built here must not mix with the stable builds of the tests.
cargo +nightly build --quiet --locked --target wasm32-unknown-unknown --profile wasm-release -p terra-connect \
  --features allocator -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size --target-dir target/pkg
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name terra_connect \
  target/pkg/wasm32-unknown-unknown/wasm-release/terra_connect.wasm
# binaryen 132 from npm (Debian's wasm-opt 108 breaks wasm-bindgen 0.2.130 output in Chromium);
# the custom sections browsers ignore (producers, target features) are dropped on the way.
wasm-opt -Oz --strip-producers --strip-target-features pkg/terra_connect_bg.wasm -o pkg/terra_connect_bg.wasm
if [ ! -s pkg/terra_connect_bg.wasm.d.ts ] || ! grep -q 'export const memory' pkg/terra_connect_bg.wasm.d.ts; then
  echo "error: pkg/terra_connect_bg.wasm.d.ts does not declare the module's exports" >&2
  exit 1
fi

snippet="$(cd pkg && ls snippets/*/js/error.js)"
version="$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="terra-connect"))')"
sed "s#__ERROR_MODULE__#./$snippet#" js/index.js > pkg/index.js
# The entry for dev servers (package.json "development" condition): the same module with the
# wasm inlined, because a dev server that pre-bundles dependencies (Vite) moves the JS away
# from the .wasm file that new URL(..., import.meta.url) points to.
python3 - "$snippet" <<'PY'
import base64, sys
wasm = base64.b64encode(open("pkg/terra_connect_bg.wasm", "rb").read()).decode()
src = open("js/index.dev.js").read().replace("__ERROR_MODULE__", "./" + sys.argv[1]).replace("__WASM_BASE64__", wasm)
open("pkg/index.dev.js", "w").write(src)
PY
cp js/index.d.ts pkg/index.d.ts
cp js/README.md pkg/README.md
cp LICENSE pkg/
rm -f pkg/.gitignore
python3 - "$version" <<'PY'
import json, sys
package = {
    "name": "terra-connect",
    "version": sys.argv[1],
    "description": "Connect wearables through Terra from the browser: a tiny WebAssembly client for Terra's manual connection flow.",
    "license": "MIT",
    "repository": {"type": "git", "url": "https://github.com/terra-connect/terra-connect"},
    "type": "module",
    "main": "./index.js",
    "types": "./index.d.ts",
    "exports": {
        ".": {
            "types": "./index.d.ts",
            "development": "./index.dev.js",
            "default": "./index.js",
        },
        "./package.json": "./package.json",
    },
    "sideEffects": ["./index.js", "./index.dev.js"],
    "files": ["index.js", "index.dev.js", "index.d.ts", "terra_connect.js", "terra_connect.d.ts",
              "terra_connect_bg.wasm", "terra_connect_bg.wasm.d.ts", "snippets/", "README.md", "LICENSE"],
    "keywords": ["terra", "wearables", "fitbit", "garmin", "oura", "wasm"],
}
json.dump(package, open("pkg/package.json", "w"), indent=2)
PY
say "pkg/ built: $(wc -c < pkg/terra_connect_bg.wasm) bytes of wasm ($(gzip -9c pkg/terra_connect_bg.wasm | wc -c) gzipped)"
