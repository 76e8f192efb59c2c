#!/usr/bin/env bash
# Runs every test: native (cargo test), wasm in headless Chromium (wasm-bindgen-test), and
# end to end (Playwright + Debian's Chromium). Installs whatever is missing first.
source "$(dirname "$0")/lib.sh"
ensure_rust_tools
ensure_npm_packages
ensure_chromium
ensure_test_tools

say "native tests (cargo test --workspace)"
cargo test --workspace

"$ROOT/scripts/build-pkg.sh"
say "size budget (www/bench/size.mjs, check-size-budget.mjs: over 44 KiB fails the tests)"
(cd www && node bench/size.mjs && node bench/check-size-budget.mjs)
say "building the proxy binary and the fault proxy (release)"
cargo build --release -p terra-connect-proxy --bin terra-connect-proxy --example fault_proxy

say "wasm tests in headless Chromium"
logs="$(mktemp -d)"
runner_port="$(free_port)"
start_listening "$logs/proxy.log" env TERRA_CONNECT_ADDR=127.0.0.1:0 \
  TERRA_CONNECT_CORS_ORIGINS="http://127.0.0.1:$runner_port" target/release/terra-connect-proxy
export TERRA_CONNECT_TEST_PROXY="$REPLY"
start_listening "$logs/faults.log" target/release/examples/fault_proxy 127.0.0.1:0
export TERRA_CONNECT_TEST_FAULTS="$REPLY"
export TERRA_CONNECT_TEST_CLOSED="$(free_port)"
export WASM_BINDGEN_TEST_ADDRESS="127.0.0.1:$runner_port"
# wasm-bindgen-test-runner leaves the Chromium its chromedriver started running after it exits
# (seen here: one more browser per run, piling up and slowing the benchmarks). So the suite
# runs in a session of its own, and whatever is left of that session is ended afterwards.
setsid cargo test --target wasm32-unknown-unknown -p terra-connect > "$logs/wasm.txt" 2>&1 &
wasm_session=$!
wasm_status=0
wait "$wasm_session" || wasm_status=$?
pkill -s "$wasm_session" 2>/dev/null || true
cat "$logs/wasm.txt"
if [ "$wasm_status" != 0 ]; then
  echo "error: the wasm tests failed (exit $wasm_status)" >&2
  exit "$wasm_status"
fi
# A browser suite that compiles to nothing (a cfg typo, no run_in_browser) must fail the run.
expected="$(cat tests/*.rs | grep -c '#\[wasm_bindgen_test\]')"
ran="$(grep -o 'test result: ok\. [0-9]* passed' "$logs/wasm.txt" | awk '{s += $4} END {print s + 0}')"
grep -q 'Running headless tests in Chrome' "$logs/wasm.txt" || { echo "error: the wasm tests did not run in Chrome" >&2; exit 1; }
if [ "$ran" != "$expected" ]; then
  echo "error: $ran browser tests ran, but tests/ declares $expected #[wasm_bindgen_test]s" >&2
  exit 1
fi
say "browser (wasm-bindgen-test) tests: $ran passed of $expected declared"

say "end-to-end tests (Playwright, Chromium)"
(cd www && node --test --test-concurrency=1 e2e/)
