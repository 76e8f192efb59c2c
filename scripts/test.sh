#!/usr/bin/env bash
# Runs every test: native (cargo test), wasm in headless Chromium and Firefox
# (wasm-bindgen-test), and end to end in both (www/e2e: playwright-core + Debian's Chromium,
# puppeteer-core + Debian's Firefox ESR). Installs whatever is missing first.
source "$(dirname "$0")/lib.sh"
ensure_rust_tools
ensure_npm_packages
ensure_chromium
ensure_firefox
ensure_geckodriver
ensure_redis
ensure_test_tools

say "native tests (cargo test --workspace)"
cargo test --workspace

say "Terra's Python SDK against the sandbox and the proxy (tests/sdk/run.sh)"
ensure_python_venv
bash tests/sdk/run.sh

"$ROOT/scripts/build-pkg.sh"
say "size budget (www/bench/size.mjs, check-size-budget.mjs: over 44 KiB fails the tests)"
(cd www && node bench/size.mjs && node bench/check-size-budget.mjs)
say "building the proxy binary and the fault proxy (release)"
cargo build --release -p terra-connect-proxy --bin terra-connect-proxy --example fault_proxy

logs="$(mktemp -d)"
runner_port="$(free_port)"
start_listening "$logs/proxy.log" env TERRA_CONNECT_ADDR=127.0.0.1:0 \
  TERRA_CONNECT_CORS_ORIGINS="http://127.0.0.1:$runner_port" target/release/terra-connect-proxy
export TERRA_CONNECT_TEST_PROXY="$REPLY"
start_listening "$logs/faults.log" target/release/examples/fault_proxy 127.0.0.1:0
export TERRA_CONNECT_TEST_FAULTS="$REPLY"
export TERRA_CONNECT_TEST_CLOSED="$(free_port)"
export WASM_BINDGEN_TEST_ADDRESS="127.0.0.1:$runner_port"
# A browser suite that compiles to nothing (a cfg typo, no run_in_browser) must fail the run.
expected="$(cat tests/*.rs | grep -c '#\[wasm_bindgen_test\]')"

# run_wasm_suite BROWSER ENV...: the wasm suite in headless BROWSER (as wasm-bindgen-test-runner
# names it: Chrome, Firefox), with ENV (env(1) arguments) choosing its WebDriver. The runner
# takes the first of GECKODRIVER, CHROMEDRIVER set, so each run unsets the other.
# wasm-bindgen-test-runner leaves the browser its driver started running after it exits
# (seen here: one more browser per run, piling up and slowing the benchmarks). So the suite
# runs in a session of its own, and whatever is left of that session is ended afterwards.
run_wasm_suite() {
  local browser="$1"; shift
  local out="$logs/wasm-$browser.txt"
  say "wasm tests in headless $browser"
  setsid env "$@" cargo test --target wasm32-unknown-unknown -p terra-connect > "$out" 2>&1 &
  local session=$! status=0
  wait "$session" || status=$?
  pkill -s "$session" 2>/dev/null || true
  cat "$out"
  if [ "$status" != 0 ]; then
    echo "error: the wasm tests failed in $browser (exit $status)" >&2
    exit "$status"
  fi
  grep -q "Running headless tests in $browser" "$out" || { echo "error: the wasm tests did not run in $browser" >&2; exit 1; }
  local ran
  ran="$(grep -o 'test result: ok\. [0-9]* passed' "$out" | awk '{s += $4} END {print s + 0}')"
  if [ "$ran" != "$expected" ]; then
    echo "error: $ran browser tests ran in $browser, but tests/ declares $expected #[wasm_bindgen_test]s" >&2
    exit 1
  fi
  say "browser (wasm-bindgen-test) tests in $browser: $ran passed of $expected declared"
}
run_wasm_suite Chrome -u GECKODRIVER CHROMEDRIVER="$CHROMEDRIVER"
run_wasm_suite Firefox -u CHROMEDRIVER GECKODRIVER="$GECKODRIVER_BIN"

say "end-to-end tests (www/e2e: Chromium via Playwright, Firefox via Puppeteer)"
(cd www && env -u TERRA_CONNECT_E2E_ENGINES node --test --test-concurrency=1 \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination="$logs/e2e.xml" e2e/)
# Every case of an engine's describe() runs in every engine, none skipped: a case that does not
# hold in one engine fails, it is not left out.
python3 - "$logs/e2e.xml" chromium firefox <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
engines = sys.argv[2:]
cases = {e: [] for e in engines}
shared = 0
def walk(node, engine):
    global shared
    for child in node:
        if child.tag == "testsuite":
            walk(child, child.get("name") if child.get("name") in engines else engine)
        elif child.tag == "testcase":
            if child.find("skipped") is not None or child.find("todo") is not None:
                sys.exit(f"error: e2e case {child.get('name')!r} ({engine or 'no engine'}) was skipped")
            if engine:
                cases[engine].append(child.get("name"))
            else:
                shared += 1
walk(root, None)
names = [sorted(c) for c in cases.values()]
if not names[0] or any(n != names[0] for n in names):
    for e, c in cases.items():
        print(f"{e}: {sorted(c)}", file=sys.stderr)
    sys.exit("error: the engines did not run the same e2e cases")
counts = ", ".join(f"{e} {len(c)}" for e, c in cases.items())
print(f"\033[1m==> end-to-end cases per engine: {counts} passed (and {shared} engine-independent)\033[0m", file=sys.stderr)
PY
