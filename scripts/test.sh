#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what it needs,
# builds, runs the Rust tests, then the end-to-end tests that drive a real
# oxistack with the stock openstack CLI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

ensure_cargo
venv=$(ensure_client_venv "$root")

cargo build --workspace --all-targets --locked
cargo test --workspace --locked

export OXISTACK_BIN="$root/target/debug/oxistack"
export PATH="$venv/bin:$PATH"
pytest -q -p no:cacheprovider tests/e2e "$@"
