#!/usr/bin/env bash
# Benchmarks real instances and the network data plane (issue 4) and prints
# a table: server create to ACTIVE and to SSH-ready for the test image, the
# time a security group rule change takes to reach a running instance, and
# a reconcile of a converged host. Starts its own oxistack (release build)
# with a temporary state directory in sandbox mode, and tears everything
# down afterwards. The accelerator is detected as in production (TCG on a
# machine whose KVM does not run guests).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh
ensure_cargo
ensure_packages $(host_packages) openssh-client curl
image=$(ensure_test_image "$root")
cargo build --release --locked --bin oxistack

workdir=$(mktemp -d)
config="$workdir/bench.toml"
cleanup() {
    [ -f "$config" ] && target/release/oxistack teardown --config "$config" >/dev/null 2>&1 || true
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
RUST_LOG=warn,oxistack_qemu=info target/release/oxistack up --config "$config" > "$workdir/oxistack.log" 2>&1 &
wait_for_cloud "http://127.0.0.1:$port" 30
grep 'QEMU accelerator chosen' "$workdir/oxistack.log" | sed 's/.*accel=/QEMU accelerator: /' | head -n1 || true
target/release/oxistack outside --config "$config" -- python3 scripts/bench_instances.py \
    --url "http://127.0.0.1:$port" --password pw \
    --oxistack "$root/target/release/oxistack" --config "$config" "$@"
