#!/usr/bin/env bash
# Runs OpenStack's own API conformance suite, Tempest, as DevStack's gate
# does: against a private oxistack (fake compute driver, volume backend and
# data plane, a free loopback port, a temporary state directory), with the
# five API suites of the services oxistack serves. Prints a table of passed /
# failed / skipped per suite and keeps the run in target/tempest/
# (stestr.log, results.subunit, failures.txt with every traceback,
# tempest.log, oxistack.log).
#
#   scripts/tempest.sh                              the five API suites
#   scripts/tempest.sh tempest.api.compute.flavors  only tests matching these regexes
#   OXISTACK_TEMPEST_DIR=DIR scripts/tempest.sh     keep the run in DIR instead
#
# tests/tempest/exclude.txt lists the tests never run, each with its
# reason; tests/tempest/known-failures.txt is the ratchet: the run fails
# if a test not on it fails, or if Tempest ran nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. scripts/lib.sh

TEMPEST_VERSION=47.0.0
suites=(tempest.api.identity tempest.api.image tempest.api.compute tempest.api.network tempest.api.volume)
[ $# -gt 0 ] && suites=("$@")
out="${OXISTACK_TEMPEST_DIR:-$root/target/tempest}"

ensure_cargo
ensure_packages qemu-utils curl
venv=$(ensure_client_venv "$root")
if [ "$("$venv/bin/tempest" --version 2>/dev/null)" != "tempest $TEMPEST_VERSION" ]; then
    echo "Installing tempest $TEMPEST_VERSION into $venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "tempest==$TEMPEST_VERSION" \
        -c tests/e2e/constraints.txt -c tests/tempest/constraints.txt >&2
fi
if [ -z "${OXISTACK_BIN:-}" ]; then
    cargo build -p oxistack --locked
    OXISTACK_BIN="$root/target/debug/oxistack"
fi

# One run at a time: runs share the machine's cores and, by default, $out.
mkdir -p "$root/target"
exec 9>"$root/target/tempest.lock"
flock -n 9 || { echo "Waiting for another scripts/tempest.sh run to finish" >&2; flock 9; }

work=$(mktemp -d)
oxistack_pid=""
stop_cloud() {
    if [ -n "$oxistack_pid" ] && kill -0 "$oxistack_pid" 2>/dev/null; then
        kill -TERM "$oxistack_pid"
        for _ in $(seq 150); do kill -0 "$oxistack_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$oxistack_pid" 2>/dev/null || true
        wait "$oxistack_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap stop_cloud EXIT
# A signal exits through the EXIT trap too.
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$out"
mkdir -p "$out"
port=$(free_port)
url="http://127.0.0.1:$port"
# A fresh password per run: it is only in the temporary directory.
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
# The image `cirros` that oxistack registers at start: a small empty
# qcow2 is enough, the fake driver boots nothing.
qemu-img create -q -f qcow2 "$work/cirros.qcow2" 64M
cat >"$work/oxistack.toml" <<EOF
listen = "127.0.0.1:$port"
state_dir = "$work/state"
admin_password = "$password"
[compute]
driver = "fake"
[network]
dataplane = "fake"
[image]
cirros = "$work/cirros.qcow2"
EOF
# The cloud and the clients see no OpenStack settings of the caller's.
clean_env=(env $(compgen -e | sed -n 's/^OS_/-u OS_/p'))
# (Without the lock: a cloud outliving this script must not hold it.)
"${clean_env[@]}" "$OXISTACK_BIN" up --config "$work/oxistack.toml" >"$out/oxistack.log" 2>&1 9>&- &
oxistack_pid=$!
wait_for_cloud "$url" 60 || { tail -20 "$out/oxistack.log" >&2; exit 1; }

admin() {
    "${clean_env[@]}" OXISTACK_CONFIG="$work/oxistack.toml" bash -c \
        'source <("$0" openrc admin admin) && "$@"' "$OXISTACK_BIN" "$@"
}
public_network=$(admin "$venv/bin/openstack" network show public -f value -c id)
image=$(admin "$venv/bin/openstack" image show cirros -f value -c id)
# A second image, so the tests that filter servers by image run.
image_alt=$(admin "$venv/bin/openstack" image create --public --disk-format qcow2 --container-format bare \
    --file "$work/cirros.qcow2" cirros-alt -f value -c id)
# Tempest runs the microversioned tests up to the newest oxistack serves.
max_microversion=$(curl -sf "$url/compute/v2.1/" | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"]["version"])')

mkdir -p "$work/etc" "$work/locks"
cat >"$work/etc/tempest.conf" <<EOF
[DEFAULT]
log_dir = $out
log_file = tempest.log
use_stderr = False

[oslo_concurrency]
lock_path = $work/locks

[auth]
admin_username = admin
admin_password = $password
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = True
create_isolated_networks = True

[identity]
uri_v3 = $url/identity/v3
auth_version = v3
region = RegionOne

[identity-feature-enabled]
api_v2 = False

[service_available]
glance = True
nova = True
neutron = True
cinder = True
swift = False

[compute]
image_ref = $image
image_ref_alt = $image_alt
flavor_ref = 42
flavor_ref_alt = 84
min_microversion = 2.1
max_microversion = $max_microversion
build_timeout = 60
build_interval = 1

# Tempest's defaults, less what oxistack has no notion of yet: one fake
# host, no resize, images of servers, suspend, shelve, rescue,
# migration or consoles.
[compute-feature-enabled]
volume_multiattach = True
resize = False
snapshot = False
suspend = False
shelve = False
shelve_migrate = False
rescue = False
stable_rescue = False
cold_migration = False
live_migration = False
vnc_console = False
spice_console = False
serial_console = False

[volume]
catalog_type = block-storage
min_microversion = 3.0
max_microversion = 3.71
# The fake volume backend answers in milliseconds: a test waiting for a
# status oxistack never reaches (its scheduler does not fail volumes, it
# has no user messages) gives up sooner.
build_timeout = 15
build_interval = 1
volume_size = 1
volume_type_multiattach = multiattach
storage_protocol = file
vendor_name = Open Source

# oxistack's Cinder has no backups, volume groups, transfers, manage or
# revert; snapshots, clones and extending attached volumes it has.
[volume-feature-enabled]
backup = False
snapshot = True
clone = True
manage_snapshot = False
manage_volume = False
extend_attached_volume = True
volume_revert = False
cluster_active_active = False

[image]
build_timeout = 60
build_interval = 1

# oxistack's Glance stores image data as given, like Glance before 2024.2:
# Tempest may upload placeholder data.
[image-feature-enabled]
image_format_enforcement = False

[network]
public_network_id = $public_network
floating_network_name = public
project_network_cidr = 10.100.0.0/16
project_network_mask_bits = 28
build_timeout = 60
build_interval = 1

[network-feature-enabled]
ipv6 = False
ipv6_subnet_attributes = False

# The fake driver's instances run nothing to log in to.
[validation]
run_validation = False
EOF

site_packages=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cat >"$out/.stestr.conf" <<EOF
[DEFAULT]
test_path=$site_packages/tempest/test_discover
top_dir=$site_packages
group_regex=([^\.]*\.)*
EOF
echo "Running Tempest $TEMPEST_VERSION (${suites[*]}) against $url; output in $out" >&2
# A test that hangs fails after OS_TEST_TIMEOUT seconds instead of stalling
# the run; OS_LOG_CAPTURE puts each failed test's requests beside its traceback.
(cd "$out" && "${clean_env[@]}" TEMPEST_CONFIG_DIR="$work/etc" TEMPEST_CONFIG=tempest.conf OS_TEST_TIMEOUT=300 OS_LOG_CAPTURE=1 \
    "$venv/bin/stestr" run --concurrency 2 --exclude-list "$root/tests/tempest/exclude.txt" "${suites[@]}" \
    >"$out/stestr.log" 2>&1) || true
(cd "$out" && "$venv/bin/stestr" last --subunit >"$out/results.subunit" 2>>"$out/stestr.log") || true
"$venv/bin/python" tests/tempest/report.py "$out/results.subunit" tests/tempest/known-failures.txt "$out"
