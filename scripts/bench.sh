#!/usr/bin/env bash
# Benchmarks the APIs over loopback and prints tables: first every
# authenticated list of a default-sized page side by side with the HTTP
# stack's own limit (the unauthenticated version document), as ratios;
# then token issuance, token validation, and authenticated reads at 1 and
# 64 connections. Starts its own oxistack (release build) on a free port
# with a temporary state directory, and removes both afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
ensure_cargo
ensure_packages curl wrk hey
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
token=$(curl -si "$url/identity/v3/auth/tokens?nocatalog" -H 'content-type: application/json' \
    -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"pw"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
    | awk 'tolower($1) == "x-subject-token:" {print $2}' | tr -d '\r')

# Lists of a default-sized page on the freshly bootstrapped cloud
# (DevStack's projects, flavors, networks...), each measured with hey at 16
# connections for 5 s, beside the unauthenticated version document, which
# no service work stands behind: the ratio says how much of the HTTP
# stack's own speed a list keeps. The target is at least 0.5.
hey_rps() {
    hey -z 5s -c 16 "$@" | awk '$1 == "Requests/sec:" {printf "%.0f", $2}'
}
limit=$(hey_rps "$url/identity/v3")
echo
echo "| hey -c 16, 5 s each                           |     req/s | ratio to the stack's limit |"
echo "|-----------------------------------------------|-----------|----------------------------|"
printf "| %-45s | %9s | %26s |\n" "GET /identity/v3 (unauthenticated: the limit)" "$limit" "1.00"
for path in /identity/v3/projects /identity/v3/users /image/v2/images \
    /compute/v2.1/flavors /compute/v2.1/flavors/detail /compute/v2.1/servers/detail \
    /compute/v2.1/os-keypairs /networking/v2.0/networks /networking/v2.0/subnets \
    /networking/v2.0/ports /networking/v2.0/routers /networking/v2.0/security-groups; do
    rps=$(hey_rps -H "X-Auth-Token: $token" "$url$path")
    awk -v path="GET $path" -v rps="$rps" -v limit="$limit" 'BEGIN {
        ratio = rps / limit
        printf "| %-45s | %9d | %21.2f %s |\n", path, rps, ratio, (ratio >= 0.5 ? " met" : "MISS") }'
done

target/release/oxistack-bench --url "$url" --password pw "$@"

# The same reads at 64 connections from wrk, a load generator lighter than
# ours, so that less of the two cores goes to the client.
echo
echo "| wrk, 64 connections, 5 s                     |     req/s |   p50 ms |   p99 ms |"
echo "|----------------------------------------------|-----------|----------|----------|"
for path in /identity/v3/projects /image/v2/images; do
    wrk -t1 -c64 -d5s --latency -H "x-auth-token: $token" "$url$path" | awk -v path="GET $path" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; return v * 1000 }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) } $1 == "Requests/sec:" { rps = $2 }
        END { printf "| %-44s | %9.0f | %8.2f | %8.2f |\n", path, rps, p50, p99 }'
done
