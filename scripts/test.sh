#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs,
# builds, runs the Rust tests, then the end-to-end tests that drive a real
# oxistack with the stock openstack CLI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

ensure_cargo
# What the cloud itself needs (see host_packages), plus ssh, curl and nc
# to act as a user on the LAN in the end-to-end tests, busybox for the real
# DHCP client and wget the data-plane tests run in their namespaces, and
# systemd for systemd-analyze, which checks the unit `oxistack service
# install` writes; then the headless browser of the dashboard's tests.
ensure_packages $(host_packages) openssh-client curl netcat-openbsd iputils-ping busybox-static systemd
ensure_packages --no-recommends $(browser_packages)
venv=$(ensure_client_venv "$root")
export OXISTACK_TEST_IMAGE=$(ensure_test_image "$root")

cargo fmt --all --check
cargo build --workspace --all-targets --locked
# After the build, clippy only checks: it reuses the build's dependencies.
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

# The workspace build above made it; tempest.sh would otherwise build the
# binary alone, with other features unified, all over again.
export OXISTACK_BIN="$root/target/debug/oxistack"
scripts/tempest.sh

export PATH="$venv/bin:$PATH"
pytest -q -p no:cacheprovider --durations=20 tests/e2e "$@"
