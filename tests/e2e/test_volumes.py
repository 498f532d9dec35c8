"""Issue 9: Cinder-compatible volumes, hot-plugged into real instances.

One cloud for the whole module: two CirrOS guests c-1 and c-2 on kubenet
with floating IPs (the preamble of test_instances.py), then each volume
behaviour as its own test with the stock CLI, checked from inside the
guests over ssh. The tests run in file order; the last ones kill oxistack
during an attach and simulate a host reboot.
"""

import json
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import Cloud, real_host
from test_compute_network import KUBE, wait_for_servers
from test_instances import ATTACH, CREATE, PREPARATION, SETUP_KUBE_PROJECT, as_json, guest, wait_for_ssh

GIB = 1024 ** 3


class Guests:
    def __init__(self, cloud, fip1, fip2):
        self.cloud = cloud
        self.address = {"c-1": fip1, "c-2": fip2}

    def run(self, server, command, check=True):
        return guest(self.cloud, self.address[server], command, check=check)


@pytest.fixture(scope="module")
def guests():
    with tempfile.TemporaryDirectory(prefix="oxistack-e2e-volumes-") as directory:
        cloud = Cloud(Path(directory), host=real_host())
        try:
            cloud.start()
            cloud.sh(SETUP_KUBE_PROJECT)
            cloud.sh(PREPARATION, **KUBE)
            cloud.outside(CREATE)
            wait_for_servers(cloud, ["c-1", "c-2"], timeout=60, **KUBE)
            fip1 = cloud.outside("openstack floating ip create public -f value -c name").stdout.strip()
            fip2 = cloud.outside("openstack floating ip create public -f value -c name").stdout.strip()
            cloud.outside(ATTACH.format(fip1=fip1, fip2=fip2))
            wait_for_ssh(cloud, fip1, fip2)
            yield Guests(cloud, fip1, fip2)
        finally:
            cloud.stop()
            cloud.oxistack("teardown", "--hard", check=False)


def volume(cloud, name, **who):
    return as_json(cloud, "volume", "show", name, **(who or KUBE))


def wait_status(cloud, name, wanted, timeout=60, **who):
    deadline = time.monotonic() + timeout
    while True:
        shown = volume(cloud, name, **who)
        if shown["status"] == wanted:
            return shown
        assert shown["status"] != "error", shown
        assert time.monotonic() < deadline, f"volume {name} is {shown['status']}, not {wanted}"
        time.sleep(0.3)


def by_id(volume_id):
    """Where udev (here the image's mdev rule) puts a virtio disk: its
    serial is the volume id, of which virtio-blk keeps 20 characters."""
    return f"/dev/disk/by-id/virtio-{volume_id[:20]}"


def disk_size(guests, server, volume_id):
    return int(guests.run(server, f"sudo blockdev --getsize64 {by_id(volume_id)}").stdout.strip())


def wait_disk(guests, server, volume_id, present=True, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        found = guests.run(server, f"test -e {by_id(volume_id)}", check=False).returncode == 0
        if found == present:
            return
        assert time.monotonic() < deadline, f"{by_id(volume_id)} {'missing' if present else 'still there'} on {server}"
        time.sleep(0.5)


def test_a_volume_moves_between_servers_with_its_data(guests):
    cloud = guests.cloud
    cloud.openstack("volume", "create", "--size", "1", "v1", **KUBE)
    v1 = wait_status(cloud, "v1", "available")
    assert v1["size"] == 1 and v1["availability_zone"] == "nova"

    cloud.openstack("server", "add", "volume", "c-1", "v1", **KUBE)
    attached = wait_status(cloud, "v1", "in-use")
    server = as_json(cloud, "server", "show", "c-1", **KUBE)
    assert attached["attachments"][0]["server_id"] == server["id"]
    wait_disk(guests, "c-1", v1["id"])
    assert disk_size(guests, "c-1", v1["id"]) == GIB
    guests.run(
        "c-1",
        f"sudo mke2fs -q {by_id(v1['id'])} && sudo mkdir -p /mnt/v && sudo mount {by_id(v1['id'])} /mnt/v"
        " && echo kept-across-servers | sudo tee /mnt/v/file >/dev/null && sudo umount /mnt/v",
    )

    cloud.openstack("server", "remove", "volume", "c-1", "v1", **KUBE)
    wait_status(cloud, "v1", "available")
    wait_disk(guests, "c-1", v1["id"], present=False)

    cloud.openstack("server", "add", "volume", "c-2", "v1", **KUBE)
    wait_status(cloud, "v1", "in-use")
    wait_disk(guests, "c-2", v1["id"])
    read = guests.run("c-2", f"sudo mkdir -p /mnt/v && sudo mount {by_id(v1['id'])} /mnt/v && cat /mnt/v/file")
    assert read.stdout.strip() == "kept-across-servers"
    guests.run("c-2", "sudo umount /mnt/v")
    # The metadata service lists it under `devices`, where the CSI plugin
    # looks when no link names the disk.
    metadata = json.loads(guests.run(
        "c-2", "wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json").stdout)
    assert {"type": "disk", "bus": "virtio", "serial": v1["id"], "tags": []} in metadata["devices"], metadata
    # Nova lists it, with the device the guest sees.
    listed = json.loads(cloud.openstack(
        "--os-compute-api-version", "2.79", "server", "volume", "list", "c-2", "-f", "json", **KUBE).stdout)
    assert [a["Volume ID"] for a in listed] == [v1["id"]], listed
    assert listed[0]["Device"].startswith("/dev/vd"), listed


def test_refusals_change_nothing(guests):
    cloud = guests.cloud
    # v1 is attached to c-2: deleting it or attaching it again is refused.
    result = cloud.openstack("volume", "delete", "v1", check=False, **KUBE)
    assert result.returncode != 0 and "400" in result.stderr and "Invalid volume" in result.stderr, result.stderr
    result = cloud.openstack("server", "add", "volume", "c-1", "v1", check=False, **KUBE)
    assert result.returncode != 0 and "400" in result.stderr, result.stderr
    # Shrinking, and a size beyond the quota.
    result = cloud.openstack("volume", "set", "--size", "1", "v1", check=False, **KUBE)
    assert result.returncode != 0
    result = cloud.openstack("volume", "create", "--size", "5000", "huge", check=False, **KUBE)
    assert result.returncode != 0 and "413" in result.stderr, result.stderr
    # Another project's volume does not exist for it, by name or by id.
    result = cloud.openstack("volume", "show", "v1", check=False, user="demo", project="demo")
    assert result.returncode != 0 and "No volume" in result.stderr.replace("No Volume", "No volume"), result.stderr
    v1_id = volume(cloud, "v1")["id"]
    result = cloud.openstack("--debug", "volume", "show", v1_id, check=False, user="demo", project="demo")
    assert result.returncode != 0 and f'GET /volume/v3/volumes/{v1_id} HTTP/1.1" 404' in result.stderr, result.stderr[-2000:]
    v1 = wait_status(cloud, "v1", "in-use")
    assert v1["size"] == 1
    names = [v["Name"] for v in json.loads(cloud.openstack("volume", "list", "-f", "json", **KUBE).stdout)]
    assert "huge" not in names


def test_a_multiattach_volume_is_on_two_servers_at_once(guests):
    cloud = guests.cloud
    assert "multiattach" in cloud.openstack("volume", "type", "list", "-f", "value", "-c", "Name", **KUBE).stdout
    cloud.openstack("volume", "create", "--size", "1", "--type", "multiattach", "shared", **KUBE)
    shared = wait_status(cloud, "shared", "available")
    assert shared["multiattach"] is True
    for server in ("c-1", "c-2"):
        cloud.openstack("--os-compute-api-version", "2.60", "server", "add", "volume", server, "shared", **KUBE)
    shown = wait_status(cloud, "shared", "in-use")
    assert len(shown["attachments"]) == 2, shown["attachments"]
    guests.run("c-1", f"echo written-by-c-1 | sudo dd of={by_id(shared['id'])} bs=512 count=1 conv=sync,fsync 2>/dev/null")
    wait_disk(guests, "c-2", shared["id"])
    read = guests.run("c-2", f"sudo dd if={by_id(shared['id'])} bs=512 count=1 iflag=direct 2>/dev/null | head -c 14")
    assert read.stdout == "written-by-c-1", read.stdout
    for server in ("c-1", "c-2"):
        cloud.openstack("server", "remove", "volume", server, "shared", **KUBE)
    wait_status(cloud, "shared", "available")


def test_a_snapshot_and_a_volume_made_from_it(guests):
    cloud = guests.cloud
    # v1 is in use on c-2: a snapshot needs --force. (The stock client sends
    # it only when told a microversion below 3.66, from which Cinder needs
    # none; by default it sends 3.65 without it, which Cinder refuses.)
    result = cloud.openstack("volume", "snapshot", "create", "--volume", "v1", "s1", check=False, **KUBE)
    assert result.returncode != 0 and "status must be available" in result.stderr, result.stderr
    cloud.openstack("--os-volume-api-version", "3.65", "volume", "snapshot", "create", "--volume", "v1",
                    "--force", "s1", **KUBE)
    deadline = time.monotonic() + 60
    while as_json(cloud, "volume", "snapshot", "show", "s1", **KUBE)["status"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    cloud.openstack("volume", "create", "--snapshot", "s1", "--size", "1", "v2", **KUBE)
    v2 = wait_status(cloud, "v2", "available")
    # A prepared disk becomes an image (os-volume_upload_image).
    cloud.openstack("image", "create", "--volume", "v2", "--disk-format", "qcow2", "from-v2", **KUBE)
    deadline = time.monotonic() + 60
    while (image := as_json(cloud, "image", "show", "from-v2", **KUBE))["status"] != "active":
        assert image["status"] in ("queued", "saving") and time.monotonic() < deadline, image
        time.sleep(0.5)
    assert image["disk_format"] == "qcow2" and image["size"] > 0, image
    v2 = wait_status(cloud, "v2", "available")
    cloud.openstack("server", "add", "volume", "c-1", "v2", **KUBE)
    wait_disk(guests, "c-1", v2["id"])
    read = guests.run("c-1", f"sudo mkdir -p /mnt/w && sudo mount {by_id(v2['id'])} /mnt/w && cat /mnt/w/file")
    assert read.stdout.strip() == "kept-across-servers"
    guests.run("c-1", "sudo umount /mnt/w")
    # A volume with snapshots cannot go.
    result = cloud.openstack("volume", "delete", "v1", check=False, **KUBE)
    assert result.returncode != 0


def test_extend_while_attached(guests):
    cloud = guests.cloud
    v2 = volume(cloud, "v2")
    cloud.openstack("--os-volume-api-version", "3.42", "volume", "set", "--size", "2", "v2", **KUBE)
    deadline = time.monotonic() + 30
    while True:
        shown = volume(cloud, "v2")
        if shown["status"] == "in-use" and shown["size"] == 2:
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.3)
    deadline = time.monotonic() + 30
    while disk_size(guests, "c-1", v2["id"]) != 2 * GIB:
        assert time.monotonic() < deadline, "the guest does not see the new size"
        time.sleep(0.5)


def test_an_attached_volume_survives_stop_start_and_reboot(guests):
    cloud = guests.cloud
    v2 = volume(cloud, "v2")
    cloud.openstack("server", "stop", "c-1", **KUBE)
    wait_for_servers(cloud, ["c-1"], status="SHUTOFF", timeout=90, **KUBE)
    assert volume(cloud, "v2")["status"] == "in-use"
    cloud.openstack("server", "start", "c-1", **KUBE)
    wait_for_servers(cloud, ["c-1"], timeout=90, **KUBE)
    wait_for_ssh(cloud, guests.address["c-1"])
    wait_disk(guests, "c-1", v2["id"])
    assert disk_size(guests, "c-1", v2["id"]) == 2 * GIB
    cloud.openstack("server", "reboot", "--hard", "c-1", **KUBE)
    wait_for_servers(cloud, ["c-1"], timeout=90, **KUBE)
    wait_for_ssh(cloud, guests.address["c-1"])
    wait_disk(guests, "c-1", v2["id"])


def test_boot_from_volume(guests):
    cloud = guests.cloud
    cloud.openstack("server", "create", "--image", "cirros", "--boot-from-volume", "1", "--delete-on-termination",
                    "--flavor", "1", "--network", "kubenet", "b1", **KUBE)
    wait_for_servers(cloud, ["b1"], timeout=120, **KUBE)
    server = as_json(cloud, "server", "show", "b1", **KUBE)
    assert server["image"] in ("", "N/A (booted from volume)"), server["image"]
    attached = server["volumes_attached"]
    assert len(attached) == 1, attached
    root = volume(cloud, attached[0]["id"])
    assert root["status"] == "in-use" and root["bootable"] in (True, "true"), root
    # The guest booted from the volume: its first disk's serial is the volume id.
    deadline = time.monotonic() + 120
    while f"disk vda serial {root['id'][:20]}" not in cloud.openstack("console", "log", "show", "b1", **KUBE).stdout:
        assert time.monotonic() < deadline, "b1's console never showed its root volume"
        time.sleep(1)
    cloud.openstack("server", "delete", "--wait", "b1", **KUBE)
    # Deleted with the server, as --delete-on-termination asked.
    deadline = time.monotonic() + 30
    while cloud.openstack("volume", "show", root["id"], check=False, **KUBE).returncode == 0:
        assert time.monotonic() < deadline, "the root volume outlived its server"
        time.sleep(0.5)


def test_cinder_csi_plugin_flow(guests):
    """A PersistentVolume's life as the Cinder CSI plugin drives it
    (cinder_csi.py replays its requests): create, attach through Nova, the
    node finds the disk by its serial and mounts it, expand while in use
    (the file system grows in the guest), detach, delete."""
    import openstack

    from cinder_csi import csi_for, device_candidates, pick_device, request_log, volume_name

    cloud = guests.cloud
    conn = openstack.connect(
        auth_url=cloud.url + "/identity/v3", username="kube", password="pw", project_name="kube",
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
    )
    csi = csi_for(conn, fast=True)
    server_id = as_json(cloud, "server", "show", "c-1", **KUBE)["id"]
    name = volume_name()
    created = csi.create_volume(name, 1, wait_available=True)
    volume_id = created["id"]
    # The provisioner retries a create: the same volume comes back.
    assert csi.create_volume(name, 1)["created"] is False
    metadata = volume(cloud, volume_id)["properties"]
    assert metadata["cinder.csi.openstack.org/cluster"] == "kubernetes", metadata

    device = csi.publish(volume_id, server_id)
    assert device.startswith("/dev/vd"), device
    # NodeStage: the first candidate in /dev/disk/by-id, formatted, mounted.
    wait_disk(guests, "c-1", volume_id)
    listing = guests.run("c-1", "ls /dev/disk/by-id").stdout.split()
    path = pick_device(volume_id, listing)
    assert path == device_candidates(volume_id)[0], (path, listing)
    guests.run("c-1", f"sudo mke2fs -q {path} && sudo mkdir -p /mnt/pv && sudo mount {path} /mnt/pv"
                      " && echo pv-data | sudo tee /mnt/pv/data >/dev/null && sync")

    # ControllerExpandVolume while in use, then NodeExpandVolume's check:
    # the guest sees the new size.
    expanded = csi.expand(volume_id, 2)
    assert expanded["expanded"] and expanded["volume"]["status"] == "in-use", expanded
    deadline = time.monotonic() + 30
    while disk_size(guests, "c-1", volume_id) != 2 * GIB:
        assert time.monotonic() < deadline, "the guest does not see the expanded volume"
        time.sleep(0.5)
    assert guests.run("c-1", "cat /mnt/pv/data").stdout.strip() == "pv-data"
    guests.run("c-1", "sudo umount /mnt/pv")

    assert csi.unpublish(volume_id, server_id) == "detached", format_calls(request_log(conn))
    wait_disk(guests, "c-1", volume_id, present=False)
    assert csi.delete_volume(volume_id, wait_gone=True) == "deleted", format_calls(request_log(conn))
    # Deleting again is done already (a 404 counts as done).
    assert csi.delete_volume(volume_id) == "already-deleted"
    failed = [c for c in request_log(conn) if c.status >= 500]
    assert not failed, failed


def format_calls(calls):
    from cinder_csi import format_log

    return format_log(calls)


def test_kill_during_attach_and_a_host_reboot_keep_attachments_and_data(guests):
    cloud = guests.cloud
    cloud.openstack("volume", "create", "--size", "1", "v3", **KUBE)
    v3 = wait_status(cloud, "v3", "available")
    # kill -9 while an attach is under way.
    attach = threading.Thread(
        target=lambda: cloud.openstack("server", "add", "volume", "c-1", "v3", check=False, **KUBE))
    attach.start()
    deadline = time.monotonic() + 20
    while volume(cloud, "v3")["status"] == "available" and time.monotonic() < deadline:
        time.sleep(0.05)
    cloud.kill()
    attach.join()
    cloud.start()
    # The next start finishes what it had begun: the volume is attached, and
    # nothing is left attaching.
    wait_status(cloud, "v3", "in-use", timeout=60)
    wait_disk(guests, "c-1", v3["id"])

    # The simulated host reboot, clean (guests saved and resumed) and a
    # power loss (`teardown --hard`: guests boot again): every attachment
    # comes back inside the guests, and the data written before is there.
    v1, v2 = volume(cloud, "v1"), volume(cloud, "v2")
    for teardown in (["teardown"], ["teardown", "--hard"]):
        cloud.stop()
        cloud.oxistack(*teardown)
        cloud.start()
        wait_for_servers(cloud, ["c-1", "c-2"], timeout=120, **KUBE)
        wait_for_ssh(cloud, guests.address["c-1"], guests.address["c-2"])
        for server, vol in (("c-2", v1), ("c-1", v2), ("c-1", v3)):
            wait_disk(guests, server, vol["id"])
            assert volume(cloud, vol["id"])["status"] == "in-use"
        read = guests.run("c-2", f"sudo mkdir -p /mnt/v && sudo mount {by_id(v1['id'])} /mnt/v && cat /mnt/v/file")
        assert read.stdout.strip() == "kept-across-servers", teardown
        guests.run("c-2", "sudo umount /mnt/v")


def test_the_volume_cli_against_the_api(cloud):
    """The everyday `openstack volume ...` commands, on a cloud with the
    fake driver (its volumes keep no data): what DevStack's Cinder shows."""
    services = json.loads(cloud.openstack("volume", "service", "list", "-f", "json").stdout)
    assert {(s["Binary"], s["Status"], s["State"]) for s in services} == {
        ("cinder-scheduler", "enabled", "up"), ("cinder-volume", "enabled", "up")}, services
    types = {t["Name"]: t for t in json.loads(cloud.openstack("volume", "type", "list", "--long", "-f", "json").stdout)}
    assert {"__DEFAULT__", "lvmdriver-1", "multiattach"} <= set(types), types
    zones = cloud.openstack("availability", "zone", "list", "--volume", "-f", "value").stdout
    assert "nova available" in zones, zones

    cloud.sh("head -c 1048576 /dev/zero > disk.raw\n"
             "openstack image create --file disk.raw --disk-format raw --container-format bare disk")
    cloud.openstack("volume", "create", "--image", "disk", "--size", "1", "--property", "tier=gold", "boot")
    boot = wait_status(cloud, "boot", "available", user="admin", project="admin")
    assert boot["bootable"] in (True, "true") and boot["properties"] == {"tier": "gold"}, boot
    assert boot["volume_image_metadata"]["image_name"] == "disk", boot
    cloud.openstack("volume", "set", "--name", "renamed", "--description", "a disk", "boot")
    listed = json.loads(cloud.openstack("volume", "list", "--long", "-f", "json").stdout)
    assert [(v["Name"], v["Status"], v["Size"]) for v in listed] == [("renamed", "available", 1)], listed

    limits = {row["Name"]: row["Value"] for row in json.loads(
        cloud.openstack("limits", "show", "--absolute", "-f", "json").stdout)}
    assert limits["max_total_volumes"] == 10 and limits["total_volumes_used"] == 1, limits
    quota = json.loads(cloud.openstack("quota", "show", "--volume", "admin", "-f", "json").stdout)
    assert {"Resource": "gigabytes", "Limit": 1000} in quota, quota

    attachments = cloud.openstack("--os-volume-api-version", "3.27", "volume", "attachment", "list", "-f", "json")
    assert json.loads(attachments.stdout) == []
    assert json.loads(cloud.openstack("volume", "backup", "list", "-f", "json").stdout) == []
    cloud.openstack("volume", "delete", "renamed")
    assert json.loads(cloud.openstack("volume", "list", "-f", "json").stdout) == []
