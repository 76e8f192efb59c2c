#!/usr/bin/env bash
# Benchmark of several instances on one Redis (a benchmark, not a test): see
# proxy/examples/bench_redis.rs. Usage: scripts/bench-redis.sh [ROUNDS] [REQUESTS]
# (defaults 300 webhook -> long-poll rounds and 2000 session requests per proxy).
source "$(dirname "$0")/lib.sh"
ensure_redis
cargo build --quiet --release -p terra-connect-proxy --bin terra-connect-proxy --example bench_redis
target/release/examples/bench_redis target/release/terra-connect-proxy "${1:-300}" "${2:-2000}"
