"""Issue 4 (part): the project's own test image boots under TCG, takes its
SSH key, hostname and user_data from a config drive, and offers SSH with
sudo, as CirrOS does. The QEMU here uses user-mode networking with a
loopback port forward; the cloud's own data plane comes with issue 4."""

import os
import shutil
import subprocess
import time

import pytest

from conftest import free_port

IMAGE = os.environ.get("OXISTACK_TEST_IMAGE")
READY = "login: cirros ready"


@pytest.mark.skipif(not IMAGE, reason="OXISTACK_TEST_IMAGE not set (scripts/test.sh builds it)")
def test_test_image_boots_and_takes_its_metadata(workdir):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / "key")], check=True)
    public_key = (workdir / "key.pub").read_text().strip()
    latest = workdir / "drive" / "openstack" / "latest"
    latest.mkdir(parents=True)
    (latest / "meta_data.json").write_text(
        '{"uuid": "0c4e7e63-5e0f-4b7a-9d0e-1d2f3a4b5c6d", "hostname": "probe.novalocal", '
        f'"name": "probe", "launch_index": 0, "public_keys": {{"kubekey": "{public_key}\\n"}}}}'
    )
    (latest / "user_data").write_text("#!/bin/sh\necho user-data-ran > /tmp/user-data-ran\n")
    subprocess.run(["genisoimage", "-quiet", "-R", "-J", "-V", "config-2", "-o", str(workdir / "config.iso"),
                    str(workdir / "drive")], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", IMAGE, "-F", "qcow2",
                    str(workdir / "disk.qcow2")], check=True)
    port = free_port()
    serial = workdir / "serial.log"
    qemu = subprocess.Popen(
        ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-smp", "1", "-nographic", "-monitor", "none",
         "-serial", f"file:{serial}",
         "-drive", f"file={workdir / 'disk.qcow2'},if=virtio",
         "-drive", f"file={workdir / 'config.iso'},if=virtio,format=raw,readonly=on",
         "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22",
         "-device", "virtio-net-pci,netdev=n0,mac=fa:16:3e:00:00:01,romfile="],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while READY not in (serial.read_text(errors="replace") if serial.exists() else ""):
            assert qemu.poll() is None, "QEMU exited"
            assert time.monotonic() < deadline, serial.read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        ssh = ["ssh", "-q", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
               "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
               "-i", str(workdir / "key"), "-p", str(port), "cirros@127.0.0.1"]
        result = None
        for _ in range(20):
            result = subprocess.run(ssh + ["sudo id -u; hostname; cat /tmp/user-data-ran"],
                                    capture_output=True, text=True, timeout=30)
            if result.returncode == 0:
                break
            time.sleep(1)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["0", "probe", "user-data-ran"]
    finally:
        qemu.kill()
        qemu.wait()
