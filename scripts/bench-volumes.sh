#!/usr/bin/env bash
# Benchmarks volumes (issue 9) and prints a table: volume create (10 GiB,
# sparse), attach to a running guest until the guest sees the disk, detach
# until it is gone, a snapshot of a 1 GiB volume holding 512 MiB of data,
# a volume from that snapshot, and dd throughput inside the guest (4 KiB
# direct I/O, sequential and random) on the volume beside the same test
# on the instance's own disk. Starts its own oxistack (release build) with
# a temporary state directory in sandbox mode, and tears everything down
# afterwards. The accelerator is detected as in production.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
ensure_cargo
ensure_packages $(host_packages) openssh-client
image=$(ensure_test_image "$root")
cargo build --release --locked --bin oxistack

workdir=$(mktemp -d)
config="$workdir/bench.toml"
cleanup() {
    [ -f "$config" ] && target/release/oxistack teardown --hard --config "$config" >/dev/null 2>&1 || true
    rm -rf "$workdir"
}
trap cleanup EXIT

port=$(free_port)
cat > "$config" <<TOML
listen = "127.0.0.1:$port"
state_dir = "$workdir/state"
admin_password = "pw"
[image]
cirros = "$image"
TOML
RUST_LOG=warn target/release/oxistack up --config "$config" > "$workdir/oxistack.log" 2>&1 &
wait_for_cloud "http://127.0.0.1:$port" 30
target/release/oxistack outside --config "$config" -- python3 scripts/bench_volumes.py \
    --url "http://127.0.0.1:$port" --password pw "$@"
