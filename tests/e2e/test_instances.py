"""Issue 4: real instances on a real data plane, in sandbox mode.

The seed's load-balancer test begins with two CirrOS instances on kubenet
whose floating IPs are reached from the LAN: here the clients run on the
sandbox's LAN (`oxistack outside`), the instances are QEMU guests under TCG,
and everything between them is bridges, namespaces and nftables. The same
cloud then shows what survives `kill -9` of oxistack and a simulated host
reboot (`oxistack teardown` + `oxistack up`).
"""

import base64
import hashlib
import json
import os
import select
import shutil
import socket
import subprocess
import time
import urllib.parse

from conftest import OXISTACK, Cloud, real_host
from test_compute_network import KUBE, KUBENET, wait_for_servers

SETUP_KUBE_PROJECT = """
openstack project create kube
openstack user create kube --password pw
openstack role add --user kube --project kube member
"""

# The seed's preparation, cut to what the load-balancer test needs.
PREPARATION = KUBENET + """
openstack security group rule create kubesg --proto tcp --dst-port 22
openstack security group rule create kubesg --proto tcp --dst-port 80
ssh-keygen -q -f kubekey -P ""
openstack keypair create --public-key kubekey.pub kubekey
"""

# The seed's load-balancer preamble, verbatim from the issue except for
# "floating IP": the stock CLI's command is `server add floating ip`, and
# it does not match command names case-insensitively.
CREATE = "openstack server create --image cirros --network kubenet --flavor 1 --key-name kubekey --min 2 --max 2 c"
ATTACH = """
openstack server add security group c-1 kubesg
openstack server add security group c-2 kubesg
openstack server add floating ip c-1 {fip1}
openstack server add floating ip c-2 {fip2}
"""
# The responders run in the background on the guests; the local ssh only
# needs to start them (it would otherwise wait for their output forever).
RESPONDERS = """
timeout 15 ssh -i kubekey cirros@{fip1}  'while true; do echo -e "HTTP/1.0 200 OK\\r\\n\\r\\nWelcome to server 1" | sudo nc -l -p 80; done &' </dev/null >/dev/null
timeout 15 ssh -i kubekey cirros@{fip2}  'while true; do echo -e "HTTP/1.0 200 OK\\r\\n\\r\\nThis is server 2" | sudo nc -l -p 80; done &' </dev/null >/dev/null
"""


def as_json(cloud, *args, **who):
    return json.loads(cloud.openstack(*args, "-f", "json", **who).stdout)


def wait_for_ssh(cloud, *addresses, timeout=180):
    """Waits until every address answers ssh with the key."""
    deadline = time.monotonic() + timeout
    pending = list(addresses)
    while pending:
        address = pending[0]
        result = cloud.outside(f"ssh -i kubekey cirros@{address} true", check=False, timeout=30)
        if result.returncode == 0:
            pending.pop(0)
            continue
        assert time.monotonic() < deadline, f"no ssh to {address}: {result.stderr}"
        time.sleep(1)


def curl(cloud, address, timeout=3):
    result = cloud.outside(f"curl -s -m {timeout} http://{address}/", check=False)
    return result.stdout if result.returncode == 0 else None


def curl_until(cloud, address, expected, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        body = curl(cloud, address)
        if body is not None and expected in body:
            return body
        assert time.monotonic() < deadline, f"curl {address}: {body!r}"
        time.sleep(0.5)


def guest(cloud, address, command, check=True):
    """Runs `command` on the guest at floating IP `address` over ssh."""
    return cloud.outside(f"ssh -i kubekey cirros@{address} {json.dumps(command)}", check=check, timeout=60)


def qemu_pids(cloud):
    """The running QEMU process of each instance (zombies, whose command
    line is empty, are not running)."""
    pids = {}
    for pidfile in (cloud.state_dir / "instances").glob("*/qemu.pid"):
        pid = int(pidfile.read_text().strip())
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if str(pidfile).encode() in cmdline:
            pids[pidfile.parent.name] = pid
    return pids


def namespaces(cloud):
    prefix = cloud.oxistack_prefix()
    return [n for n in os.listdir("/run/netns") if n.startswith(prefix + "-")] if os.path.isdir("/run/netns") else []


def addresses(server):
    return sorted(server["Networks"]["kubenet"])


def reboot_brings_back(cloud, servers):
    """After a teardown nothing of the cloud runs on the host; `oxistack up`
    brings c-1 and c-2 back ACTIVE with the fixed and floating IPs they had."""
    assert qemu_pids(cloud) == {}
    assert namespaces(cloud) == []
    cloud.start()
    after = wait_for_servers(cloud, ["c-1", "c-2"], timeout=60, **KUBE)
    for name in ("c-1", "c-2"):
        assert addresses(after[name]) == addresses(servers[name]), (after[name], servers[name])


def test_seed_load_balancer_preamble_on_real_instances(real_cloud):
    cloud = real_cloud
    cloud.sh(SETUP_KUBE_PROJECT)
    assert as_json(cloud, "image", "show", "cirros")["visibility"] == "public"
    cloud.sh(PREPARATION, **KUBE)

    # The clients work from the LAN, as against a DevStack host.
    started = time.monotonic()
    cloud.outside(CREATE)
    servers = wait_for_servers(cloud, ["c-1", "c-2"], timeout=60, **KUBE)
    active_after = time.monotonic() - started
    fip1 = cloud.outside("openstack floating ip create public -f value -c name").stdout.strip()
    fip2 = cloud.outside("openstack floating ip create public -f value -c name").stdout.strip()
    cloud.outside(ATTACH.format(fip1=fip1, fip2=fip2))
    wait_for_ssh(cloud, fip1, fip2)
    print(f"ACTIVE after {active_after:.1f} s, SSH-ready after {time.monotonic() - started:.1f} s")
    # The live serial console of a booted guest (the seed's Horizon console tab).
    check_serial_console(cloud, "c-1", **KUBE)

    cloud.outside(RESPONDERS.format(fip1=fip1, fip2=fip2))
    assert "Welcome to server 1" in curl_until(cloud, fip1, "Welcome to server 1")
    assert "This is server 2" in curl_until(cloud, fip2, "This is server 2")

    # The guests got their names and keys from the config drive or metadata
    # service, and the console log shows the boot.
    assert guest(cloud, fip1, "hostname").stdout.strip() == "c-1"
    assert "login: cirros ready" in cloud.openstack("console", "log", "show", "c-1", **KUBE).stdout

    # Only the default group: port 80 (and ssh) are closed from outside;
    # kubesg opens them again, at once.
    cloud.openstack("server", "remove", "security", "group", "c-1", "kubesg", **KUBE)
    deadline = time.monotonic() + 5
    while curl(cloud, fip1, timeout=1) is not None:
        assert time.monotonic() < deadline, "port 80 still open with only the default group"
    assert curl(cloud, fip1) is None
    cloud.openstack("server", "add", "security", "group", "c-1", "kubesg", **KUBE)
    curl_until(cloud, fip1, "Welcome to server 1", timeout=10)

    # Instances reach the external network: one with a floating IP leaves
    # as that address, one without (demo's, on another project's network)
    # through its router's SNAT, as the router's external address.
    (cloud.workdir / "snat.sh").write_text(
        "#!/bin/sh\n(while true; do echo from-d1 | nc -w 2 172.24.4.1 8080; sleep 1; done) &\n"
    )
    demo = {"user": "demo", "project": "demo"}
    cloud.openstack("server", "create", "--image", "cirros", "--network", "private", "--flavor", "c1",
                    "--user-data", str(cloud.workdir / "snat.sh"), "d1", **demo)
    listen = "timeout 120 nc -l -n -v -p 8080 -q 1 </dev/null 2>&1 | head -c 2000"
    seen = cloud.outside(
        f"({listen}) & sleep 0.5\n"
        f"ssh -i kubekey cirros@{fip1} 'echo hello | nc -w 2 172.24.4.1 8080' || true\n"
        "wait",
        check=False,
    ).stdout
    assert f"Connection received on {fip1} " in seen, seen
    demo_router = as_json(cloud, "router", "show", "router1", **demo)
    demo_router_address = demo_router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    seen = cloud.outside(listen, check=False).stdout
    assert f"Connection received on {demo_router_address} " in seen, seen

    # Instances on two projects' networks cannot reach each other, while
    # instances on one network can.
    demo_server = wait_for_servers(cloud, ["d1"], timeout=60, **demo)["d1"]
    demo_address = demo_server["Networks"]["private"][0]
    c2_address = [a for a in addresses(servers["c-2"]) if a.startswith("172.16.")][0]
    assert guest(cloud, fip1, f"sudo ping -c 1 -W 2 {c2_address}", check=False).returncode == 0
    assert guest(cloud, fip1, f"sudo ping -c 2 -W 2 {demo_address}", check=False).returncode != 0

    # kill -9 of oxistack: the guests and their network keep working, and
    # the next start adopts the running VMs instead of booting them again.
    before = qemu_pids(cloud)
    assert len(before) == 3, before
    cloud.kill()
    assert "Welcome to server 1" in curl_until(cloud, fip1, "Welcome to server 1")
    cloud.start()
    servers = wait_for_servers(cloud, ["c-1", "c-2"], timeout=30, **KUBE)
    assert qemu_pids(cloud) == before
    assert "This is server 2" in curl_until(cloud, fip2, "This is server 2")
    cloud.oxistack("reconcile")

    # A simulated host reboot: every namespace, bridge, tap, nftables table
    # and QEMU process goes. As libvirt-guests does on a host shutdown, the
    # guests are suspended to disk first; `oxistack up` brings the servers
    # back ACTIVE with the same addresses and groups, and the guests carry
    # on where they were: both curls work with no manual step.
    cloud.teardown()
    reboot_brings_back(cloud, servers)
    curl_until(cloud, fip1, "Welcome to server 1")
    curl_until(cloud, fip2, "This is server 2")

    # A power loss (`teardown --hard`): the guests are killed and boot again
    # from their disks, with the same addresses, groups and keys; the
    # responders lived in their memory, so the seed's ssh lines start them
    # again.
    cloud.oxistack("teardown", "--hard")
    reboot_brings_back(cloud, servers)
    wait_for_ssh(cloud, fip1, fip2)
    assert curl(cloud, fip1) is None
    cloud.outside(RESPONDERS.format(fip1=fip1, fip2=fip2))
    curl_until(cloud, fip1, "Welcome to server 1")
    curl_until(cloud, fip2, "This is server 2")


class SerialWebSocket:
    """Just enough of a websocket client (RFC 6455) for the serial proxy:
    the handshake with websockify's `binary` subprotocol, masked binary
    frames out, unfragmented frames in."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url)
        assert parts.scheme == "ws", url
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: binary\r\n\r\n".encode()
        )
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            assert chunk, f"closed during the handshake: {self.buffer!r}"
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.decode().split("\r\n")
        assert status.startswith("HTTP/1.1 101"), head
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
        digest = hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        assert headers.get("sec-websocket-accept") == base64.b64encode(digest).decode(), head
        assert headers.get("sec-websocket-protocol") == "binary", head

    def send(self, payload):
        mask = os.urandom(4)
        assert len(payload) < 126
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x82, 0x80 | len(payload)]) + mask + masked)

    def receive(self, timeout):
        """The payload of the next data frame, or None if none came in time."""
        while True:
            frame = self._frame()
            if frame is not None:
                opcode, payload = frame
                assert opcode in (1, 2), f"the proxy closed the console (opcode {opcode})"
                return payload
            if not select.select([self.sock], [], [], timeout)[0]:
                return None
            chunk = self.sock.recv(65536)
            assert chunk, "the proxy hung up"
            self.buffer += chunk

    def _frame(self):
        if len(self.buffer) < 2:
            return None
        opcode, length, start = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
        if length == 126:
            length, start = int.from_bytes(self.buffer[2:4], "big"), 4
        elif length == 127:
            length, start = int.from_bytes(self.buffer[2:10], "big"), 10
        if len(self.buffer) < start + length:
            return None
        payload, self.buffer = self.buffer[start:start + length], self.buffer[start + length:]
        return opcode, payload

    def close(self):
        self.sock.close()


def check_serial_console(cloud, name, **who):
    """`openstack console url show --serial` answers the serial proxy's
    ws:// URL; through it, Enter brings the booted guest's getty prompt,
    which the console log then holds too."""
    console = as_json(cloud, "console", "url", "show", "--serial", name, **who)
    url = console["url"]
    prefix = f"ws://127.0.0.1:{cloud.port}/compute/serial-console?token="
    assert url.startswith(prefix) and len(url) > len(prefix) + 40, console
    assert console["type"] == "serial", console

    websocket = SerialWebSocket(url)
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"login: " not in seen:
            assert time.monotonic() < deadline, f"no login prompt: {seen[-2000:]!r}"
            websocket.send(b"\n")
            end = time.monotonic() + 3
            while (chunk := websocket.receive(max(0.0, end - time.monotonic()))) is not None:
                seen += chunk
    finally:
        websocket.close()
    log = cloud.openstack("console", "log", "show", name, **who).stdout
    assert "login:" in log, log[-2000:]


def test_bad_boots_fail_cleanly(real_cloud):
    cloud = real_cloud
    # Not bootable: an image with no boot sector ends in ERROR with a fault,
    # leaving no instance directory, QEMU process or tap behind. (The admin
    # boots on demo's network, as Nova lets an administrator.)
    (cloud.workdir / "blank.raw").write_bytes(bytes(1 << 20))
    cloud.sh(
        "openstack image create --file blank.raw --disk-format raw --public blank\n"
        "openstack server create --image blank --network private --flavor 1 broken\n"
    )
    server = wait_for_servers(cloud, ["broken"], status="ERROR", timeout=60)["broken"]
    fault = as_json(cloud, "server", "show", "broken")["fault"]
    assert "not bootable" in fault["message"], fault
    assert not (cloud.state_dir / "instances" / server["ID"]).exists()
    # A flavor smaller than the image's minimum is refused up front.
    cloud.sh("openstack image set --min-disk 30 cirros")
    result = cloud.openstack("server", "create", "--image", "cirros", "--network", "shared",
                             "--flavor", "1", "small", check=False)
    assert result.returncode != 0 and "too small" in result.stderr, result.stderr
    assert "small" not in cloud.openstack("server", "list", "-f", "value", "-c", "Name").stdout


def test_missing_host_tools_are_named_at_start(workdir):
    """With a host tool missing, `oxistack up` stops at once with a message
    naming the Debian package, and starts nothing."""
    tools = {
        "qemu-system-x86_64": "qemu-system-x86",
        "qemu-img": "qemu-utils",
        "genisoimage": "genisoimage",
        "ip": "iproute2",
        "nft": "nftables",
        "conntrack": "conntrack",
    }
    for missing, package in [("nft", "nftables"), ("qemu-system-x86_64", "qemu-system-x86")]:
        bin_dir = workdir / f"without-{missing}"
        bin_dir.mkdir()
        for tool in tools:
            if tool != missing:
                (bin_dir / tool).symlink_to(shutil.which(tool))
        (workdir / missing).mkdir()
        cloud = Cloud(workdir / missing, host=real_host())
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["PATH"] = str(bin_dir)
        result = subprocess.run([OXISTACK, "up", "--config", str(cloud.config)],
                                capture_output=True, text=True, env=env, timeout=60)
        assert result.returncode != 0
        assert package in result.stderr, result.stderr
        assert namespaces(cloud) == []


def test_two_clouds_side_by_side(workdir):
    """Clouds with different state directories share a host without
    clashing: each has its own namespaces (and inside them its own bridges,
    taps and nftables tables), its own LAN with the same default addresses,
    and tearing one down leaves the other alone."""
    clouds = []
    try:
        for name in ("a", "b"):
            (workdir / name).mkdir()
            cloud = Cloud(workdir / name, host=real_host())
            clouds.append(cloud)
            cloud.start()
        a, b = clouds
        assert a.oxistack_prefix() != b.oxistack_prefix()
        for cloud in clouds:
            deadline = time.monotonic() + 30
            while f"{cloud.oxistack_prefix()}-outside" not in namespaces(cloud):
                assert time.monotonic() < deadline, namespaces(cloud)
                time.sleep(0.2)
            # From each LAN, the API at the configured address is that cloud's.
            listed = cloud.outside("openstack network list -f value -c Name", user="admin", project="admin")
            assert "public" in listed.stdout.split()
            router = cloud.outside("openstack router show router1 -f value -c external_gateway_info",
                                   user="demo", project="demo").stdout
            assert "172.24.4." in router
        a.stop()
        a.teardown()
        assert namespaces(a) == []
        assert f"{b.oxistack_prefix()}-fabric" in namespaces(b)
        assert b.outside("openstack server list", user="admin", project="admin").returncode == 0
    finally:
        for cloud in clouds:
            cloud.stop()
            cloud.oxistack("teardown", "--hard", check=False)
