#!/usr/bin/env bash
# Builds pkg/, the npm package `terra-connect`: the optimised wasm, wasm-bindgen's ES module
# glue (--target web), a small entry (index.js) that instantiates the module before it
# exports anything, exact TypeScript types, package.json and the README.
source "$(dirname "$0")/lib.sh"
ensure_rust_tools
ensure_npm_packages

say "building the wasm module (profile wasm-release)"
cargo build --quiet --target wasm32-unknown-unknown --profile wasm-release -p terra-connect
rm -rf pkg
wasm-bindgen --target web --out-dir pkg --out-name terra_connect \
  target/wasm32-unknown-unknown/wasm-release/terra_connect.wasm
# binaryen 132 from npm (Debian's wasm-opt 108 breaks wasm-bindgen 0.2.130 output in Chromium).
wasm-opt -Oz pkg/terra_connect_bg.wasm -o pkg/terra_connect_bg.wasm

snippet="$(cd pkg && ls snippets/*/js/error.js)"
version="$(cargo metadata --no-deps --format-version 1 | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]=="terra-connect"))')"
sed "s#__ERROR_MODULE__#./$snippet#" js/index.js > pkg/index.js
cp js/index.d.ts pkg/index.d.ts
cp README.md LICENSE pkg/
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
    "exports": {".": {"types": "./index.d.ts", "default": "./index.js"}, "./package.json": "./package.json"},
    "sideEffects": ["./index.js"],
    "files": ["index.js", "index.d.ts", "terra_connect.js", "terra_connect.d.ts",
              "terra_connect_bg.wasm", "terra_connect_bg.wasm.d.ts", "snippets/", "README.md", "LICENSE"],
    "keywords": ["terra", "wearables", "fitbit", "garmin", "oura", "wasm"],
}
json.dump(package, open("pkg/package.json", "w"), indent=2)
PY
say "pkg/ built: $(wc -c < pkg/terra_connect_bg.wasm) bytes of wasm ($(gzip -9c pkg/terra_connect_bg.wasm | wc -c) gzipped)"
