#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs,
# builds, runs the Rust tests, then the end-to-end tests that drive a real
# oxistack with the stock openstack CLI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

ensure_cargo
# QEMU to boot the test image, genisoimage for config drives, ssh to log in.
ensure_packages qemu-system-x86 genisoimage openssh-client
venv=$(ensure_client_venv "$root")
export OXISTACK_TEST_IMAGE=$(ensure_test_image "$root")

cargo build --workspace --all-targets --locked
cargo test --workspace --locked

export OXISTACK_BIN="$root/target/debug/oxistack"
export PATH="$venv/bin:$PATH"
pytest -q -p no:cacheprovider tests/e2e "$@"
