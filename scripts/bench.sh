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
ensure_packages curl wrk
cargo build --release --locked --bin oxistack --bin oxistack-bench

workdir=$(mktemp -d)
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    rm -rf "$workdir"
}
trap cleanup EXIT

port=$(free_port)
cat > "$workdir/bench.toml" <<TOML
listen = "127.0.0.1:$port"
state_dir = "$workdir/state"
admin_password = "pw"
# API benchmarks: instances are records, networks make no kernel objects.
[compute]
driver = "fake"
[network]
dataplane = "fake"
TOML
# Per-request logging is for operators, not for the measurement.
RUST_LOG=warn target/release/oxistack up --config "$workdir/bench.toml" > "$workdir/oxistack.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port"
wait_for_cloud "$url" 10
target/release/oxistack-bench --url "$url" --password pw "$@"

# The same reads at 64 connections from wrk, a load generator lighter than
# ours, so that less of the two cores goes to the client.
token=$(curl -si "$url/identity/v3/auth/tokens?nocatalog" -H 'content-type: application/json' \
    -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"pw"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
    | awk 'tolower($1) == "x-subject-token:" {print $2}' | tr -d '\r')
echo
echo "| wrk, 64 connections, 5 s                     |     req/s |   p50 ms |   p99 ms |"
echo "|----------------------------------------------|-----------|----------|----------|"
for path in /identity/v3/projects /image/v2/images; do
    wrk -t1 -c64 -d5s --latency -H "x-auth-token: $token" "$url$path" | awk -v path="GET $path" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
        END { printf "| %-44s | %9.0f | %8.2f | %8.2f |\n", path, rps, p50, p99 }'
done
