#!/usr/bin/env python3
"""Gives the shipped module's imports and exports one- or two-letter names and rewrites
wasm-bindgen's glue (and its two .d.ts files) to match.

wasm-bindgen names every import `__wbg_<name>_<16 hex digits>`; those hashes appear twice,
in the .wasm and in the glue, and gzip cannot compress them: about 1.8 KB of the shipped
size. binaryen's --minify-imports-and-exports renames both and prints the mapping, which this
script applies to the JavaScript. It fails when the glue does not hold each import exactly
once, so a wasm-bindgen upgrade that changes the glue's shape stops the build instead of
shipping a module whose imports do not resolve.

usage: minify-wasm-names.py PKG_DIR   (after wasm-opt; needs binaryen's wasm-opt on PATH)
"""
import json
import re
import subprocess
import sys

pkg = sys.argv[1]
wasm = f"{pkg}/terra_connect_bg.wasm"
printed = subprocess.run(
    ["wasm-opt", wasm, "--minify-imports-and-exports-and-modules", "-o", wasm],
    check=True, capture_output=True, text=True,
).stdout
mapping = json.loads(printed[printed.index("{"):])
modules = {module for module, _old, _new in mapping["imports"]}
if len(modules) != 1:
    sys.exit(f"minify-wasm-names: expected the imports of one module (wasm-bindgen's glue), got {modules}")
(module,) = modules
# The module's new name, as the renamed .wasm spells it.
listing = subprocess.run(["wasm-dis", wasm], check=True, capture_output=True, text=True).stdout
new_module = re.search(r'\(import "([^"]+)"', listing).group(1)

glue_path = f"{pkg}/terra_connect.js"
glue = open(glue_path).read()
for _module, old, new in mapping["imports"]:
    # Each import is one key of the imports object: `old: function(...)`.
    glue, count = re.subn(r"(?<![\w$])" + re.escape(old) + r"(?=\s*:)", new, glue)
    if count != 1:
        sys.exit(f"minify-wasm-names: import {old} is a key {count} times in the glue, expected once")
exports = {old: new for old, new in mapping["exports"]}
for old, new in exports.items():
    glue = re.sub(r"\bwasm\." + re.escape(old) + r"\b", "wasm." + new, glue)
left = sorted(set(re.findall(r"\bwasm\.(\w+)", glue)) - set(exports.values()))
if left:
    sys.exit(f"minify-wasm-names: the glue still uses unmapped exports {left}")
# The imports object is keyed by the module name.
glue, count = re.subn(re.escape(json.dumps(module)) + r"(?=\s*:)", json.dumps(new_module), glue)
if count != 1:
    sys.exit(f"minify-wasm-names: module {module} is a key {count} times in the glue, expected once")
open(glue_path, "w").write(glue)

# The declarations of the raw exports name them too: all of terra_connect_bg.wasm.d.ts, and
# the InitOutput interface of terra_connect.d.ts (whose other declarations are the public API,
# some with the same names as the raw exports: connect, createSession, ...).
def rename_exports(text):
    for old, new in exports.items():
        text = re.sub(r"(?<![\w$])" + re.escape(old) + r"(?=\s*:)", new, text)
    return text


raw_path = f"{pkg}/terra_connect_bg.wasm.d.ts"
open(raw_path, "w").write(rename_exports(open(raw_path).read()))
types_path = f"{pkg}/terra_connect.d.ts"
types = open(types_path).read()
block = re.search(r"export interface InitOutput \{.*?\n\}", types, re.S)
if not block:
    sys.exit("minify-wasm-names: no InitOutput interface in terra_connect.d.ts")
open(types_path, "w").write(types[: block.start()] + rename_exports(block.group(0)) + types[block.end():])
print(f"minify-wasm-names: {len(mapping['imports'])} imports and {len(exports)} exports renamed")
