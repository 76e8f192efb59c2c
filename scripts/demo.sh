#!/usr/bin/env bash
# Runs the demo: builds pkg/ and the proxy, then serves www/ and pkg/ with the proxy in sandbox
# mode (unless TERRA_DEV_ID and TERRA_API_KEY are set) at http://127.0.0.1:8787 (TERRA_CONNECT_ADDR).
source "$(dirname "$0")/lib.sh"
ensure_rust_tools
ensure_npm_packages
"$ROOT/scripts/build-pkg.sh"
say "building the proxy (release)"
cargo build --quiet --release -p terra-connect-proxy --bin terra-connect-proxy
say "open the URL below, pick a provider, press Connect (Ctrl-C stops)"
trap - EXIT
exec env TERRA_CONNECT_WWW_DIR="$ROOT/www" TERRA_CONNECT_PKG_DIR="$ROOT/pkg" target/release/terra-connect-proxy
