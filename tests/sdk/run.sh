#!/usr/bin/env bash
# Terra's own Python SDK (terra-python 1.1.0, from PyPI) against the proxy binary in sandbox
# mode: the sandbox must be a Terra the SDK accepts, and the proxy must take the SDK's
# session calls unchanged. Builds the binary, makes a venv under the cargo target directory,
# runs tests/sdk/test_sandbox.py. Exits non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
SDK_VERSION="1.1.0"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

say "building the proxy binary (cargo build -p terra-connect-proxy)"
cargo build -q -p terra-connect-proxy --bin terra-connect-proxy
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export TERRA_CONNECT_PROXY_BIN="$target/debug/terra-connect-proxy"
[ -x "$TERRA_CONNECT_PROXY_BIN" ] || { echo "error: no binary at $TERRA_CONNECT_PROXY_BIN" >&2; exit 1; }

# The SDK in a venv of its own (or, where venv has no ensurepip, a pip --target directory).
env_dir="$target/terra-python-$SDK_VERSION"
python="$env_dir/venv/bin/python"
if [ ! -f "$env_dir/.installed" ]; then
  say "installing terra-python==$SDK_VERSION into $env_dir"
  rm -rf "$env_dir"
  mkdir -p "$env_dir"
  if python3 -m venv "$env_dir/venv" 2>/dev/null; then
    timeout 300 "$python" -m pip install -q --disable-pip-version-check "terra-python==$SDK_VERSION"
  else
    rm -rf "$env_dir/venv"
    timeout 300 python3 -m pip install -q --disable-pip-version-check --target "$env_dir/site" "terra-python==$SDK_VERSION"
  fi
  touch "$env_dir/.installed"
fi
if [ -x "$python" ]; then
  run=("$python")
else
  run=(env PYTHONPATH="$env_dir/site" python3)
fi

say "Terra's Python SDK (terra-python $SDK_VERSION) against the sandbox and the proxy"
timeout 300 "${run[@]}" tests/sdk/test_sandbox.py
