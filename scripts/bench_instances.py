"""Benchmarks real instances and the data plane; run by bench-instances.sh.

Runs on the sandbox's LAN (inside `oxistack outside`), as a user would, and
talks to the APIs directly so that client start-up does not blur the
figures. Prints a table of:
  - server create -> ACTIVE, and -> SSH-ready through a floating IP;
  - a security group rule change -> the first connection it allows;
  - `oxistack reconcile` on a converged host with 50 more ports.
"""

import argparse
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench_api import Api, guest_network


def port_open(address, port, timeout=0.05):
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait(predicate, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(interval)
    return time.monotonic()


def ssh_ready(address, key):
    return subprocess.run(
        ["ssh", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "ConnectTimeout=1", "-o", "LogLevel=ERROR", f"cirros@{address}", "true"],
        stdin=subprocess.DEVNULL, capture_output=True).returncode == 0


def row(name, values, unit="ms"):
    scale = 1000 if unit == "ms" else 1
    values = [v * scale for v in values]
    print(f"| {name:<52} | {len(values):>3} | {statistics.median(values):>9.1f} | {max(values):>9.1f} | {unit:<4} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--oxistack", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--servers", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oxistack-bench-") as work:
        run(args, Path(work))


def run(args, work):
    api = Api(args.url, args.password)

    setup = guest_network(api, work)
    image, public, net, group = setup.image, setup.public, setup.network, setup.group
    ssh_rule, rule, key = setup.ssh_rule, setup.rule, setup.key

    to_active, to_ssh, addresses = [], [], []
    for index in range(args.servers):
        fip = api.network("POST", "/floatingips", {"floatingip": {"floating_network_id": public}})["floatingip"]
        started = time.monotonic()
        server = api.compute("POST", "/servers", {"server": {
            "name": f"bench-{index}", "imageRef": image, "flavorRef": "c1", "key_name": "bench",
            "networks": [{"uuid": net}], "security_groups": [{"name": "bench-ssh"}]}})["server"]["id"]
        active = wait(lambda: api.compute("GET", f"/servers/{server}")["server"]["status"] == "ACTIVE",
                      60, interval=0.02)
        port = api.network("GET", f"/ports?device_id={server}")["ports"][0]["id"]
        api.network("PUT", f"/floatingips/{fip['id']}", {"floatingip": {"port_id": port}})
        ready = wait(lambda: ssh_ready(fip["floating_ip_address"], str(key)), 180, interval=0.2)
        to_active.append(active - started)
        to_ssh.append(ready - started)
        addresses.append(fip["floating_ip_address"])

    # A rule change: from the API call that adds it to the first connection
    # it lets through (each attempt is a new connection, so conntrack
    # cannot carry an older one over).
    address = addresses[0]
    rule_latency = []
    for _ in range(5):
        api.network("DELETE", f"/security-group-rules/{rule}")
        wait(lambda: not port_open(address, 22, timeout=0.2), 10)
        started = time.monotonic()
        rule = api.network("POST", "/security-group-rules", ssh_rule)["security_group_rule"]["id"]
        rule_latency.append(wait(lambda: port_open(address, 22), 10, interval=0.005) - started)

    # 50 more instance ports (no VMs behind them): taps, leases and
    # security group chains for each; then reconcile the converged host.
    for index in range(50):
        api.network("POST", "/ports", {"port": {
            "network_id": net, "device_owner": "compute:nova", "device_id": str(uuid.uuid4()),
            "security_groups": [group], "name": f"bench-port-{index}"}})
    reconcile = []
    for attempt in range(11):
        output = subprocess.run([args.oxistack, "reconcile", "--config", args.config],
                                capture_output=True, text=True, check=True).stdout
        milliseconds = float(output.split("network ")[1].split(" ms")[0])
        if attempt:  # the first pass may still converge the new ports
            reconcile.append(milliseconds / 1000)

    print()
    print(f"| {'operation':<52} |   n |       p50 |       max | unit |")
    print(f"|{'-' * 54}|-----|-----------|-----------|------|")
    row("server create -> ACTIVE (cirros, TCG)", to_active, "s")
    row("server create -> SSH-ready via floating IP (TCG)", to_ssh, "s")
    row("security group rule added -> first connection", rule_latency)
    row(f"oxistack reconcile, converged, {50 + args.servers} instance ports", reconcile)


if __name__ == "__main__":
    main()
