#!/usr/bin/env bash
# The package benchmarks (not tests): shipped size beside oidc-client-ts and auth0-spa-js,
# the size budget check, and start-up time in headless Chromium. Builds pkg/ first.
source "$(dirname "$0")/lib.sh"
ensure_chromium
"$ROOT/scripts/build-pkg.sh"
cargo build --quiet --release -p terra-connect-proxy --bin terra-connect-proxy
cd www
node bench/size.mjs
node bench/startup.mjs
node bench/check-size-budget.mjs
