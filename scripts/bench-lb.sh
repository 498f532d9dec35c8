#!/usr/bin/env bash
# The load-balancer benchmark: oxistack's proxy side by side with haproxy
# (Debian's, the software an Octavia amphora runs, configured as Octavia's
# templates configure it), in ONE run on the same namespace topology: a
# client, the VIP, two HTTP members. wrk at 64 connections measures HTTP
# with keep-alive, HTTP with a new connection per request, and TCP; then a
# member change under load, counting failed requests. Both proxies run one
# thread (an amphora has one vCPU, and Octavia's template then leaves
# haproxy at one thread; oxistack runs one single-threaded proxy per load
# balancer) and are measured one after the other, never at once. Last, a
# cloud of its own (fake compute, the Linux data plane) times load
# balancers through the API: create -> ACTIVE, the cloud provider's
# one-call create, and a member added -> the first request it answers
# (scripts/bench_lb_api.py).
#
# Everything lives in namespaces this script creates (prefix oxlbt) and
# removes again, also when it fails; nothing in the host's own namespace
# is touched, and traffic only goes to addresses inside them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
ensure_cargo
ensure_packages haproxy wrk iproute2 curl
cargo build --release --locked --bin oxistack --bin oxistack-bench-backend
oxistack=$root/target/release/oxistack
backend=$root/target/release/oxistack-bench-backend
seconds=${BENCH_SECONDS:-10}

tag=oxlbt$$
ns_client=$tag-client ns_lb=$tag-lb ns_m1=$tag-m1 ns_m2=$tag-m2 ns_switch=$tag-sw
workdir=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$workdir/proxy/pid" ] && kill "$(cat "$workdir/proxy/pid")" 2>/dev/null || true
    [ -f "$workdir/cloud.toml" ] && "$oxistack" teardown --hard --config "$workdir/cloud.toml" >/dev/null 2>&1 || true
    for ns in $ns_client $ns_lb $ns_m1 $ns_m2 $ns_switch; do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$workdir"
}
trap cleanup EXIT

# One switch (a bridge in its own namespace) and four hosts on 10.99.0.0/24.
ip netns add $ns_switch
ip -n $ns_switch link add br0 type bridge
ip -n $ns_switch link set br0 up
ip -n $ns_switch link set lo up
plug() { # namespace address
    ip netns add "$1"
    ip -n $ns_switch link add "p$2" type veth peer name eth0 netns "$1"
    ip -n $ns_switch link set "p$2" master br0 up
    ip -n "$1" addr add "10.99.0.$2/24" dev eth0
    ip -n "$1" link set eth0 up
    ip -n "$1" link set lo up
}
plug $ns_client 1
plug $ns_lb 10
plug $ns_m1 21
plug $ns_m2 22
vip=10.99.0.10

ip netns exec $ns_m1 "$backend" 10.99.0.21:80 "member one" & pids+=($!)
ip netns exec $ns_m2 "$backend" 10.99.0.22:80 "member two" & pids+=($!)

# oxistack's proxy serves HTTP on :80 and TCP on :81, haproxy the same on
# :8080 and :8081; they run one at a time.
mkdir -p "$workdir/proxy"
write_proxy_config() { # members as "address weight" pairs
    python3 - "$workdir/proxy/config.json" "$@" <<'PY'
import json, sys
path, members = sys.argv[1], sys.argv[2:]
def pool(pid, protocol):
    return {"id": pid, "protocol": protocol, "algorithm": "ROUND_ROBIN", "session_persistence": None,
            "health_monitor": None,
            "members": [{"id": f"m{i}", "address": a, "protocol_port": 80, "weight": 1, "backup": False,
                         "monitor_address": None, "monitor_port": None} for i, a in enumerate(members)]}
def listener(lid, protocol, port, pool_id):
    return {"id": lid, "protocol": protocol, "protocol_port": port, "connection_limit": None,
            "timeouts": {"client_data_ms": 50000, "member_connect_ms": 5000, "member_data_ms": 50000, "tcp_inspect_ms": 0},
            "insert_headers": {"forwarded_for": False, "forwarded_port": False, "forwarded_proto": False},
            "allowed_cidrs": [], "default_pool_id": pool_id, "l7_policies": []}
lb = {"id": "bench", "vip_address": "10.99.0.10",
      "listeners": [listener("http", "HTTP", 80, "hp"), listener("tcp", "TCP", 81, "tp")],
      "pools": [pool("hp", "HTTP"), pool("tp", "TCP")]}
open(path + ".tmp", "w").write(json.dumps(lb))
import os; os.rename(path + ".tmp", path)
PY
}
write_proxy_config 10.99.0.21 10.99.0.22

# Octavia's template with its 50000 connections lowered to what the file
# descriptor limit here allows haproxy (it refuses to start otherwise);
# 64 connections are far below either.
cat > "$workdir/haproxy.cfg" <<CFG
global
    maxconn 4000
    nbthread 1
defaults
    no log
    retries 3
    option redispatch
    option splice-request
    option splice-response
    option http-keep-alive
frontend http
    maxconn 4000
    bind $vip:8080
    mode http
    default_backend http_pool
    timeout client 50000
frontend tcp
    maxconn 4000
    bind $vip:8081
    mode tcp
    default_backend tcp_pool
    timeout client 50000
backend http_pool
    mode http
    http-reuse safe
    balance roundrobin
    fullconn 4000
    option allbackups
    timeout connect 5000
    timeout server 50000
    server m1 10.99.0.21:80 weight 1
    server m2 10.99.0.22:80 weight 1
backend tcp_pool
    mode tcp
    balance roundrobin
    fullconn 4000
    option allbackups
    timeout connect 5000
    timeout server 50000
    server m1 10.99.0.21:80 weight 1
    server m2 10.99.0.22:80 weight 1
CFG

wait_http() { # url
    for _ in $(seq 100); do
        ip netns exec $ns_client curl -sf -m 1 -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "nothing answers at $1" >&2
    tail -n 20 "$workdir"/*.log "$workdir"/proxy/log >&2 2>/dev/null || true
    return 1
}

# wrk's summary as "req/s p50_ms p99_ms errors".
measure() { # url [wrk args...]
    local url=$1; shift
    ip netns exec $ns_client wrk -t 2 -c 64 -d "${seconds}s" --latency "$@" "$url" | awk '
        $1 == "Requests/sec:" {rps = $2}
        $1 == "50%" {p50 = $2}
        $1 == "99%" {p99 = $2}
        /Non-2xx|Socket errors/ {errors = errors $0 " "}
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        END {printf "%.0f %.2f %.2f %s\n", rps, ms(p50), ms(p99), (errors == "" ? "none" : errors)}'
}

declare -A result
run_modes() { # name http_port tcp_port
    result[$1,keepalive]=$(measure "http://$vip:$2/")
    result[$1,close]=$(measure "http://$vip:$2/" -H "Connection: close")
    result[$1,tcp]=$(measure "http://$vip:$3/")
}

# oxistack's proxy, as the cloud runs it: the same binary's `lb-proxy`.
ip netns exec $ns_lb true
"$oxistack" lb-proxy --namespace $ns_lb --dir "$workdir/proxy" > "$workdir/proxy/log" 2>&1 &
echo $! > "$workdir/proxy/pid"
wait_http "http://$vip:80/"
run_modes oxistack 80 81

# A member change under load: member two is removed and added back while
# wrk runs; every request must still succeed.
change_log=$workdir/change.out
( sleep 2; write_proxy_config 10.99.0.21; kill -HUP "$(cat "$workdir/proxy/pid")"
  sleep 2; write_proxy_config 10.99.0.21 10.99.0.22; kill -HUP "$(cat "$workdir/proxy/pid")" ) &
change_pid=$!
change=$(seconds=6 measure "http://$vip:80/")
wait $change_pid
# How long a member change takes to reach traffic: from the SIGHUP that
# follows the config write (what the data plane does) to the first answer
# from the new member.
write_proxy_config 10.99.0.21
kill -HUP "$(cat "$workdir/proxy/pid")"
sleep 0.5
follow=$(python3 - "$workdir/proxy/config.json" "$(cat "$workdir/proxy/pid")" "$ns_client" <<'PY'
import json, os, signal, subprocess, sys, time
path, pid, ns = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lb = json.load(open(path))
for pool in lb["pools"]:
    pool["members"].append({"id": "m9", "address": "10.99.0.22", "protocol_port": 80, "weight": 1, "backup": False,
                            "monitor_address": None, "monitor_port": None})
open(path + ".tmp", "w").write(json.dumps(lb)); os.rename(path + ".tmp", path)
started = time.monotonic()
os.kill(pid, signal.SIGHUP)
while True:
    out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "-m", "1", "http://10.99.0.10:80/"],
                         capture_output=True, text=True).stdout
    if "two" in out:
        break
print(f"{(time.monotonic() - started) * 1000:.0f}")
PY
)
kill "$(cat "$workdir/proxy/pid")"
rm -f "$workdir/proxy/pid"
sleep 0.5

# haproxy, the amphora's proxy, on the same topology.
ip netns exec $ns_lb haproxy -f "$workdir/haproxy.cfg" -db > "$workdir/haproxy.log" 2>&1 & pids+=($!)
wait_http "http://$vip:8080/"
run_modes haproxy 8080 8081

echo
echo "wrk -t 2 -c 64, ${seconds} s per mode; both proxies 1 thread; client, proxy and members share $(nproc) cores"
echo
echo "| mode                        | oxistack req/s | haproxy req/s | ratio | oxistack p99 ms | haproxy p99 ms | ratio (haproxy/oxistack) |"
echo "|-----------------------------|----------------|---------------|-------|-----------------|----------------|--------------------------|"
for mode in keepalive close tcp; do
    read -r o_rps o_p50 o_p99 o_err <<<"${result[oxistack,$mode]}"
    read -r h_rps h_p50 h_p99 h_err <<<"${result[haproxy,$mode]}"
    case $mode in
        keepalive) label="HTTP keep-alive" ;;
        close) label="HTTP, new connection each" ;;
        tcp) label="TCP (HTTP through L4)" ;;
    esac
    printf "| %-27s | %14s | %13s | %5s | %15s | %14s | %24s |\n" "$label" "$o_rps" "$h_rps" \
        "$(awk -v a="$o_rps" -v b="$h_rps" 'BEGIN {printf "%.2f", a / b}')" "$o_p99" "$h_p99" \
        "$(awk -v a="$o_p99" -v b="$h_p99" 'BEGIN {printf "%.2f", b / a}')"
    [ "$o_err" = none ] || echo "  oxistack errors ($mode): $o_err"
    [ "$h_err" = none ] || echo "  haproxy errors ($mode): $h_err"
done
read -r c_rps _ c_p99 c_err <<<"$change"
echo
echo "| oxistack proxy: configuration change                     | result |"
echo "|----------------------------------------------------------|--------|"
printf "| %-56s | %6s |\n" "member removed and added back under load: errors" "$c_err"
printf "| %-56s | %6s |\n" "  (req/s during the change)" "$c_rps"
printf "| %-56s | %6s |\n" "member added -> first request it answers (ms)" "$follow"

# The API on a real data plane: a cloud of its own.
port=$(free_port)
cat > "$workdir/cloud.toml" <<TOML
listen = "127.0.0.1:$port"
state_dir = "$workdir/state"
admin_password = "pw"
instance_prefix = "oxlbb"
[compute]
driver = "fake"
TOML
RUST_LOG=warn "$oxistack" up --config "$workdir/cloud.toml" > "$workdir/cloud.log" 2>&1 &
pids+=($!)
wait_for_cloud "http://127.0.0.1:$port" 30
python3 scripts/bench_lb_api.py --url "http://127.0.0.1:$port" --password pw --prefix oxlbb --backend "$backend"
