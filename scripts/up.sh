#!/usr/bin/env bash
# Sets up and runs the cloud on a fresh machine: installs what it needs,
# builds oxistack in release mode, puts `oxistack` and the pinned
# `openstack` client (python-openstackclient with the Octavia plugin, in a
# virtualenv) on PATH, and runs `oxistack up` in the foreground.
# Arguments are passed to `oxistack up` (e.g. --config local.toml).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

ensure_cargo
ensure_packages $(host_packages)
# The public image `cirros` the cloud registers on its first start.
export OXISTACK_CIRROS_IMAGE=${OXISTACK_CIRROS_IMAGE:-$(ensure_test_image "$root")}
venv=$(ensure_client_venv "$root")
cargo build --release --locked --bin oxistack
link_commands "$root/target/release/oxistack" "$venv/bin/openstack"
exec "$root/target/release/oxistack" up "$@"
