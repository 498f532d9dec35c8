#!/usr/bin/env bash
# Benchmarks the identity and image APIs over loopback and prints a table:
# token issuance, token validation, and authenticated reads at 1 and 64
# connections. Starts its own oxistack (release build) on a free port with
# a temporary state directory, and removes both afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
ensure_cargo
ensure_packages curl
cargo build --release --locked --bin oxistack --bin oxistack-bench

workdir=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$workdir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$workdir/bench.toml" <<TOML
listen = "127.0.0.1:$port"
state_dir = "$workdir/state"
admin_password = "pw"
TOML
# Per-request logging is for operators, not for the measurement.
RUST_LOG=warn target/release/oxistack up --config "$workdir/bench.toml" > "$workdir/oxistack.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/identity/v3" >/dev/null 2>&1 && break
    sleep 0.1
done
target/release/oxistack-bench --url "http://127.0.0.1:$port" --password pw "$@"
