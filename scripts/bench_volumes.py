"""Benchmarks volumes on a real guest; run by bench-volumes.sh.

Runs on the sandbox's LAN (inside `oxistack outside`) and talks to the
APIs directly, so that client start-up does not blur the figures. The
guest is reached over ssh through a floating IP; "the guest sees the disk"
is its /dev/disk/by-id link appearing (the test image's mdev rule, as
udev makes it on a distribution).
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_api import Api, guest_network

GIB = 1024 ** 3


def wait(predicate, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        time.sleep(interval)
    return time.monotonic()


class Guest:
    def __init__(self, address, key):
        self.address, self.key = address, key

    def run(self, command, check=True):
        result = subprocess.run(
            ["ssh", "-i", self.key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
             "-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-o", "LogLevel=ERROR",
             f"cirros@{self.address}", command],
            stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if check and result.returncode != 0:
            raise SystemExit(f"guest: {command}: {result.stderr}")
        return result


def row(name, values, unit="ms"):
    scale = 1000 if unit == "ms" else 1
    values = [v * scale for v in values]
    print(f"| {name:<58} | {len(values):>3} | {statistics.median(values):>9.1f} | "
          f"{max(values):>9.1f} | {unit:<5} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--creates", type=int, default=20)
    parser.add_argument("--attaches", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oxistack-bench-") as work:
        run(args, Path(work))


def volume_api(api, method, path, body=None):
    return api.call(method, "/volume/v3" + path, body)


def volume_status(api, volume):
    return volume_api(api, "GET", f"/volumes/{volume}")["volume"]["status"]


def run(args, work):
    api = Api(args.url, args.password)
    setup = guest_network(api, work)
    image, public, net, key = setup.image, setup.public, setup.network, setup.key

    # Volume create, 10 GiB: POST -> available.
    creates = []
    for index in range(args.creates):
        started = time.monotonic()
        volume = volume_api(api, "POST", "/volumes", {"volume": {"size": 10, "name": f"bench-{index}"}})["volume"]["id"]
        creates.append(wait(lambda: volume_status(api, volume) == "available", 30, interval=0.002) - started)
        volume_api(api, "DELETE", f"/volumes/{volume}")

    fip = api.network("POST", "/floatingips", {"floatingip": {"floating_network_id": public}})["floatingip"]
    server = api.compute("POST", "/servers", {"server": {
        "name": "bench", "imageRef": image, "flavorRef": "c1", "key_name": "bench",
        "networks": [{"uuid": net}], "security_groups": [{"name": "bench-ssh"}]}})["server"]["id"]
    wait(lambda: api.compute("GET", f"/servers/{server}")["server"]["status"] == "ACTIVE", 120, 0.1)
    port = api.network("GET", f"/ports?device_id={server}")["ports"][0]["id"]
    api.network("PUT", f"/floatingips/{fip['id']}", {"floatingip": {"port_id": port}})
    guest = Guest(fip["floating_ip_address"], str(key))
    wait(lambda: guest.run("true", check=False).returncode == 0, 240, interval=0.5)

    # Attach until the guest's link exists; detach until it is gone. The
    # guest is asked over one ssh per probe, which puts ~0.1 s of ssh into
    # every figure (measured below and subtracted).
    probe = []
    for _ in range(5):
        started = time.monotonic()
        guest.run("true")
        probe.append(time.monotonic() - started)
    ssh_cost = statistics.median(probe)
    volume = volume_api(api, "POST", "/volumes", {"volume": {"size": 1, "name": "bench-attach"}})["volume"]["id"]
    wait(lambda: volume_status(api, volume) == "available", 30)
    link = f"/dev/disk/by-id/virtio-{volume[:20]}"
    attaches, detaches = [], []
    for _ in range(args.attaches):
        started = time.monotonic()
        api.compute("POST", f"/servers/{server}/os-volume_attachments", {"volumeAttachment": {"volumeId": volume}})
        seen = wait(lambda: guest.run(f"test -e {link}", check=False).returncode == 0, 60, interval=0)
        attaches.append(seen - started - ssh_cost / 2)
        started = time.monotonic()
        api.compute("DELETE", f"/servers/{server}/os-volume_attachments/{volume}")
        gone = wait(lambda: guest.run(f"test -e {link}", check=False).returncode != 0, 60, interval=0)
        detaches.append(gone - started - ssh_cost / 2)
        wait(lambda: volume_status(api, volume) == "available", 30)

    # 512 MiB of data on a 1 GiB volume, then a snapshot and a volume from it.
    api.compute("POST", f"/servers/{server}/os-volume_attachments", {"volumeAttachment": {"volumeId": volume}})
    wait(lambda: guest.run(f"test -e {link}", check=False).returncode == 0, 60, interval=0.1)
    guest.run(f"sudo dd if=/dev/urandom of={link} bs=1M count=512 conv=fsync 2>/dev/null")
    # Throughput on the volume and on the instance's own disk (vda, past
    # the boot partition), 4 KiB direct I/O.
    throughput = {}
    for name, device, offset in (("volume", link, 0), ("root disk", "/dev/vda", 256)):
        for kind, command in (
            ("sequential write", f"sudo dd if=/dev/zero of={device} bs=4k count=8192 seek={offset * 256} oflag=direct conv=notrunc"),
            ("sequential read", f"sudo dd if={device} of=/dev/null bs=4k count=8192 skip={offset * 256} iflag=direct"),
        ):
            started = time.monotonic()
            guest.run(command + " 2>/dev/null")
            throughput[(kind, name)] = 32 / (time.monotonic() - started - ssh_cost)
        # Random 4 KiB: 1,000 reads at offsets the guest's shell picks.
        script = (f"i=0; while [ $i -lt 1000 ]; do dd if={device} of=/dev/null bs=4k count=1 "
                  f"skip=$(( {offset * 256} + ($RANDOM * 32768 + $RANDOM) % 65536 )) iflag=direct 2>/dev/null; "
                  "i=$((i+1)); done")
        started = time.monotonic()
        guest.run(f"sudo sh -c '{script}'")
        throughput[("random read (1,000 x 4 KiB, IOPS)", name)] = 1000 / (time.monotonic() - started - ssh_cost)
    api.compute("DELETE", f"/servers/{server}/os-volume_attachments/{volume}")
    wait(lambda: volume_status(api, volume) == "available", 30)

    snapshots, clones = [], []
    for index in range(5):
        started = time.monotonic()
        snapshot = volume_api(api, "POST", "/snapshots", {"snapshot": {"volume_id": volume, "name": f"s{index}"}})["snapshot"]["id"]
        wait(lambda: volume_api(api, "GET", f"/snapshots/{snapshot}")["snapshot"]["status"] == "available", 30, 0.002)
        snapshots.append(time.monotonic() - started)
        started = time.monotonic()
        clone = volume_api(api, "POST", "/volumes", {"volume": {"size": 1, "snapshot_id": snapshot}})["volume"]["id"]
        wait(lambda: volume_status(api, clone) == "available", 30, 0.002)
        clones.append(time.monotonic() - started)

    print()
    print(f"| {'operation':<58} |   n |       p50 |       max | unit  |")
    print(f"|{'-' * 60}|-----|-----------|-----------|-------|")
    row("volume create 10 GiB -> available", creates)
    p99 = statistics.quantiles(creates, n=100)[98]
    print(f"| {'  (p99 of the creates)':<58} |     | {p99 * 1000:>9.1f} |           | ms    |")
    row("attach -> guest sees /dev/disk/by-id (TCG)", attaches)
    row("detach -> the link is gone in the guest (TCG)", detaches)
    row("snapshot of 1 GiB holding 512 MiB -> available", snapshots)
    row("volume from that snapshot -> available", clones)
    print()
    print(f"| {'inside the guest (TCG), 4 KiB direct I/O':<46} | {'volume':>10} | {'root disk':>10} | unit  |")
    print(f"|{'-' * 48}|------------|------------|-------|")
    for kind in ("sequential write", "sequential read"):
        print(f"| {kind:<46} | {throughput[(kind, 'volume')]:>10.1f} | {throughput[(kind, 'root disk')]:>10.1f} | MiB/s |")
    kind = "random read (1,000 x 4 KiB, IOPS)"
    print(f"| {kind:<46} | {throughput[(kind, 'volume')]:>10.0f} | {throughput[(kind, 'root disk')]:>10.0f} | IOPS  |")


if __name__ == "__main__":
    main()
