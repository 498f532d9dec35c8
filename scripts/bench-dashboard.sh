#!/usr/bin/env bash
# Benchmarks the dashboard (issue 10) and prints a table: time to first
# byte, whole document and full browser load of the instances page and the
# network topology page with 100 instances on 20 networks. Starts its own
# oxistack (release build, fake compute driver and data plane) with a
# temporary state directory, and removes it afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
ensure_cargo
ensure_packages --no-recommends $(browser_packages)
venv=$(ensure_client_venv "$root")
cargo build --release --locked --bin oxistack

workdir=$(mktemp -d)
cleanup() {
    [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$workdir"
}
trap cleanup EXIT

port=$(free_port)
cat > "$workdir/bench.toml" <<TOML
listen = "127.0.0.1:$port"
state_dir = "$workdir/state"
admin_password = "pw"
[compute]
driver = "fake"
[network]
dataplane = "fake"
TOML
RUST_LOG=warn target/release/oxistack up --config "$workdir/bench.toml" > "$workdir/oxistack.log" 2>&1 &
pid=$!
wait_for_cloud "http://127.0.0.1:$port" 30
"$venv/bin/python" scripts/bench_dashboard.py --url "http://127.0.0.1:$port" --password pw "$@"
