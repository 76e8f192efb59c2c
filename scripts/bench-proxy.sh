#!/usr/bin/env bash
# Load benchmark of the proxy (a benchmark, not a test): see proxy/examples/load.rs.
# Usage: scripts/bench-proxy.sh [CLIENTS] [REQUESTS]   (defaults 64 and 20000)
source "$(dirname "$0")/lib.sh"
cargo build --quiet --release -p terra-connect-proxy --bin terra-connect-proxy --example load
target/release/examples/load target/release/terra-connect-proxy "${1:-64}" "${2:-20000}"
