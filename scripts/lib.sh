# Shared helpers for the project scripts (sourced, not run).
# Every tool the scripts use is installed here when missing, and skipped when present.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$ROOT/www/node_modules/.bin:$PATH"
# The browsers are Debian's: no npm package may download one of its own (puppeteer's would).
export PUPPETEER_SKIP_DOWNLOAD=1

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# The wasm-bindgen version pinned in Cargo.lock; wasm-bindgen-cli must equal it exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

ensure_rust_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "installing the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  [ -f Cargo.lock ] || cargo generate-lockfile
  local want; want="$(wasm_bindgen_version)"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "installing wasm-bindgen-cli $want (matches Cargo.lock; takes a few minutes once)"
    cargo install wasm-bindgen-cli --version "$want" --locked \
      || cargo install wasm-bindgen-cli --version "$want"
  fi
}

# The nightly toolchain with rust-src and the wasm32 target: the shipped module is built with
# -Zbuild-std and panic=immediate-abort (about a fifth smaller; see README, "Size").
ensure_nightly() {
  if ! rustup toolchain list | grep -q '^nightly'; then
    say "installing the nightly toolchain (minimal)"
    rustup toolchain install nightly --profile minimal
  fi
  if ! rustup component list --toolchain nightly --installed | grep -q '^rust-src'; then
    say "installing rust-src for nightly"
    rustup component add rust-src --toolchain nightly
  fi
  if ! rustup target list --toolchain nightly --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown --toolchain nightly
  fi
}

# npm packages of www/ (playwright-core, binaryen's wasm-opt 132, esbuild, ...), from package-lock.json.
ensure_npm_packages() {
  local stamp=www/node_modules/.terra-connect-lock
  if [ ! -f "$stamp" ] || ! cmp -s www/package-lock.json "$stamp"; then
    say "installing npm packages (npm ci)"
    (cd www && npm ci --no-audit --no-fund)
    cp www/package-lock.json "$stamp"
  fi
}

# Installs the Debian packages of the commands that are missing; arguments: COMMAND PACKAGE
# pairs. `type -P` looks only at PATH: `kill` is also a shell builtin, while the tests run
# /bin/kill.
ensure_debian_commands() {
  local missing=()
  while [ "$#" -ge 2 ]; do
    type -P "$1" >/dev/null || missing+=("$2")
    shift 2
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]} (Debian)"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Debian's chromium and chromium-driver, for the browser tests.
ensure_chromium() {
  ensure_debian_commands chromium chromium chromedriver chromium-driver
  export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
  export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
}

# Debian's redis-server, for the Redis store's tests (they start their own on a free port).
ensure_redis() {
  ensure_debian_commands redis-server redis-server
}

# Debian's Firefox ESR, the second browser engine of the browser tests (puppeteer-core drives
# it for the e2e cases; it never downloads a browser of its own).
ensure_firefox() {
  ensure_debian_commands firefox-esr firefox-esr
  export FIREFOX="${FIREFOX:-$(command -v firefox-esr)}"
}

# geckodriver from crates.io (into ~/.cargo/bin), for the wasm tests in Firefox.
ensure_geckodriver() {
  if ! type -P geckodriver >/dev/null; then
    say "installing geckodriver (cargo install; takes a few minutes once)"
    cargo install geckodriver --locked
  fi
  export GECKODRIVER_BIN="${GECKODRIVER_BIN:-$(type -P geckodriver)}"
}

# Tools the scripts and tests call: python3 (build-pkg.sh, free_port), openssl (the webhook
# test vector), procps (kill for the graceful-shutdown test, pkill for test.sh).
ensure_test_tools() {
  ensure_debian_commands python3 python3 openssl openssl kill procps pkill procps
}

# python3 with venv (ensurepip) and pip, for Terra's Python SDK in tests/sdk/run.sh (Debian
# splits them out of python3).
ensure_python_venv() {
  ensure_debian_commands python3 python3
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null || ! python3 -m pip --version >/dev/null 2>&1; then
    say "installing python3-venv and python3-pip (Debian)"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv python3-pip >/dev/null
  fi
}

# A free loopback TCP port.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Starts a program in the background that prints "... listening on http://ADDR" as its first
# stdout line; sets REPLY to that URL. The process is stopped when the calling script exits.
BACKGROUND_PIDS=()
cleanup_background() { for pid in "${BACKGROUND_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup_background EXIT
start_listening() {
  local log="$1"; shift
  local out; out="$(mktemp)"
  "$@" >"$out" 2>"$log" &
  BACKGROUND_PIDS+=("$!")
  for _ in $(seq 1 100); do
    if grep -q 'listening on http://' "$out"; then
      REPLY="$(grep -o 'http://[0-9.:]*' "$out" | head -n1)"
      return 0
    fi
    sleep 0.1
  done
  echo "error: $* did not start; its log:" >&2
  cat "$log" >&2
  return 1
}
