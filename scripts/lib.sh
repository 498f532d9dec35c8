# Shared by the project's scripts: installing what a fresh Debian/Ubuntu
# machine lacks. Sourced, not run.

# Installs Debian packages that are missing, updating the package lists once.
# With --no-recommends first, without the packages they recommend.
ensure_packages() {
    local options=()
    if [ "${1:-}" = --no-recommends ]; then
        options+=(--no-install-recommends)
        shift
    fi
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "Installing Debian packages: ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${options[@]}" "${missing[@]}" >/dev/null
}

# The Debian packages `oxistack up` drives on the host: QEMU and qemu-img
# for instances, genisoimage for config drives, iproute2, nftables and
# conntrack for the network data plane.
host_packages() {
    echo qemu-system-x86 qemu-utils genisoimage iproute2 nftables conntrack
}

# The Debian packages the dashboard's browser tests drive (tests/e2e/browser.py):
# Chromium, launched headless by the pinned Playwright, and a font for the
# screenshots. Meant for `ensure_packages --no-recommends`: what Chromium
# recommends (avahi, cups and printer tools, upower, udev, ...) is for a
# desktop, nearly a hundred packages that a headless browser does not use.
browser_packages() {
    echo chromium fonts-dejavu-core
}

# Prints a free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to $2 seconds for the cloud at URL $1 to answer.
wait_for_cloud() {
    for _ in $(seq $(( $2 * 10 ))); do
        curl -sf "$1/identity/v3" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "oxistack did not answer at $1 within $2 s" >&2
    return 1
}

# Makes sure cargo is on PATH (rustup installs it under ~/.cargo/bin).
ensure_cargo() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || {
        echo "cargo is required: install Rust with rustup (https://rustup.rs) first" >&2
        exit 1
    }
}

# Prints the path of a virtualenv holding the pinned OpenStack clients, and
# pytest and Playwright for the end-to-end tests, creating it if needed. It
# lives in the user's cache, keyed by the pins, so fresh clones reuse it and
# a change of pins builds a new one.
ensure_client_venv() {
    local root="$1"
    local requirements="$root/tests/e2e/requirements.txt" constraints="$root/tests/e2e/constraints.txt"
    local key
    key=$(cat "$requirements" "$constraints" | sha256sum | cut -c1-16)
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/oxistack/clients-$key"
    if [ ! -x "$venv/bin/openstack" ] || [ ! -x "$venv/bin/pytest" ] || [ ! -x "$venv/bin/playwright" ]; then
        echo "Installing the pinned OpenStack clients into $venv" >&2
        rm -rf "$venv"
        # Debian's own python3 needs python3-venv for this; others have it built in.
        python3 -m venv "$venv" >&2 || { rm -rf "$venv"; ensure_packages python3-venv; python3 -m venv "$venv" >&2; }
        "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements" -c "$constraints" >&2
    fi
    echo "$venv"
}

# Links the programs given as paths into a directory on PATH under their
# own names: /usr/local/bin for root, else ~/.local/bin (which the shell
# must have on PATH; said if it does not).
link_commands() {
    local bin=/usr/local/bin
    [ "$(id -u)" -ne 0 ] && bin="$HOME/.local/bin"
    mkdir -p "$bin"
    for program in "$@"; do
        ln -sfn "$program" "$bin/$(basename "$program")"
        echo "Linked $bin/$(basename "$program") -> $program" >&2
    done
    case ":$PATH:" in
    *":$bin:"*) ;;
    *) echo "Add $bin to your PATH to use these commands: export PATH=\"$bin:\$PATH\"" >&2 ;;
    esac
}

# Prints the path of oxistack's test image (images/cirros), building it if
# needed. It is cached in the user's cache keyed by the recipe's content,
# with its kernel beside it (cirros-KEY.vmlinuz, oxistack's KVM probe
# kernel where /boot has none).
ensure_test_image() {
    local root="$1"
    ensure_packages kmod cpio dosfstools mtools syslinux syslinux-common qemu-utils binutils
    local key
    key=$(cat "$root"/images/cirros/* | sha256sum | cut -c1-16)
    local image="${XDG_CACHE_HOME:-$HOME/.cache}/oxistack/images/cirros-$key.qcow2"
    if [ ! -s "$image" ] || [ ! -s "${image%.qcow2}.vmlinuz" ]; then
        mkdir -p "$(dirname "$image")"
        sh "$root/images/cirros/build.sh" "$image" >&2
    fi
    echo "$image"
}
