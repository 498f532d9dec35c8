"""Issue 2: a new user's first steps with the stock openstack CLI, the
seed's identity preparation verbatim, images, and durability across kill -9."""

import json
import os
import signal
import stat
import subprocess
import time

from conftest import OXISTACK, Cloud, clean_env


def value(cloud, *args, **kwargs):
    return cloud.openstack(*args, "-f", "value", **kwargs).stdout.strip()


def test_new_user_flow_survives_kill_9(cloud):
    # As admin: a token and the catalog.
    token = json.loads(cloud.openstack("token", "issue", "-f", "json").stdout)
    assert token["project_id"] and token["user_id"] and token["expires"]
    catalog = cloud.openstack("catalog", "list", "-f", "json").stdout
    names = {entry["Name"] for entry in json.loads(catalog)}
    assert {"keystone", "glance"} <= names
    assert f"http://127.0.0.1:{cloud.port}/identity" in catalog

    # The seed's identity steps, verbatim.
    cloud.sh(
        "openstack project create kube\n"
        "openstack user create kube --password pw\n"
        "openstack role add --user kube --project kube member\n"
        "openstack role add --user kube --project kube load-balancer_member\n"
    )
    assignments = json.loads(cloud.openstack("role", "assignment", "list", "--names", "-f", "json").stdout)
    kube_roles = sorted(a["Role"] for a in assignments if a["User"] == "kube@Default")
    assert kube_roles == ["load-balancer_member", "member"]
    assert all(a["Project"] == "kube@Default" for a in assignments if a["User"] == "kube@Default")

    # As kube: a token, then the seed's image upload.
    kube_token = json.loads(cloud.openstack("token", "issue", "-f", "json", user="kube", project="kube").stdout)
    assert kube_token["user_id"] != token["user_id"]
    image_bytes = os.urandom(3 * 1024 * 1024 + 17)
    (cloud.workdir / "centos7.qcow2").write_bytes(image_bytes)
    created = json.loads(
        cloud.openstack(
            "image", "create", "--file", "centos7.qcow2", "--disk-format", "qcow2", "--public", "centos7",
            "-f", "json", user="kube", project="kube",
        ).stdout
    )
    assert created["status"] == "active"
    assert created["visibility"] == "public"
    listed = value(cloud, "image", "list", "-c", "Name", "-c", "Status", user="kube", project="kube")
    assert "centos7 active" in listed
    shown = json.loads(cloud.openstack("image", "show", "centos7", "-f", "json", user="kube", project="kube").stdout)
    assert shown["size"] == len(image_bytes)
    assert shown["disk_format"] == "qcow2"
    cloud.openstack("image", "save", "--file", "saved.img", "centos7", user="kube", project="kube")
    assert (cloud.workdir / "saved.img").read_bytes() == image_bytes

    # As demo: sees the public image, cannot delete it.
    assert "centos7" in value(cloud, "image", "list", "-c", "Name", user="demo", project="demo")
    refused = cloud.openstack("image", "delete", "centos7", user="demo", project="demo", check=False)
    assert refused.returncode != 0
    # kube is no admin: cannot list users.
    refused = cloud.openstack("user", "list", user="kube", project="kube", check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr or "not authorized" in refused.stderr.lower(), refused.stderr
    # A wrong password gets an authentication error from the CLI.
    refused = cloud.openstack("token", "issue", user="kube", project="kube", check=False, env={"OS_PASSWORD": "wrong"})
    assert refused.returncode != 0
    assert "authentication" in refused.stderr.lower() and "401" in refused.stderr, refused.stderr

    # kill -9, start again on the same state directory: everything is there.
    assert cloud.kill(signal.SIGKILL) == -signal.SIGKILL
    cloud.start()
    assert value(cloud, "project", "show", "kube", "-c", "name") == "kube"
    assert value(cloud, "user", "show", "kube", "-c", "name") == "kube"
    assert "centos7 active" in value(cloud, "image", "list", "-c", "Name", "-c", "Status", user="kube", project="kube")
    cloud.openstack("image", "save", "--file", "again.img", "centos7", user="demo", project="demo")
    assert (cloud.workdir / "again.img").read_bytes() == image_bytes
    assignments = json.loads(cloud.openstack("role", "assignment", "list", "--names", "-f", "json").stdout)
    assert sorted(a["Role"] for a in assignments if a["User"] == "kube@Default") == ["load-balancer_member", "member"]
    cloud.openstack("token", "issue", user="kube", project="kube")


def test_password_change_and_application_credentials(cloud):
    cloud.sh(
        "openstack project create kube\n"
        "openstack user create kube --password pw\n"
        "openstack role add --user kube --project kube member\n"
    )
    cloud.openstack("user", "password", "set", "--original-password", "pw", "--password", "new-pw", user="kube", project="kube")
    assert cloud.openstack("token", "issue", user="kube", project="kube", check=False).returncode != 0
    cloud.openstack("token", "issue", user="kube", project="kube", env={"OS_PASSWORD": "new-pw"})

    credential = json.loads(
        cloud.openstack("application", "credential", "create", "ccm", "-f", "json",
                        user="kube", project="kube", env={"OS_PASSWORD": "new-pw"}).stdout
    )
    # Authenticate the way the Kubernetes cloud provider does: with the credential only.
    env = clean_env()
    env.update({
        "OS_AUTH_TYPE": "v3applicationcredential",
        "OS_AUTH_URL": f"{cloud.url}/identity",
        "OS_APPLICATION_CREDENTIAL_ID": credential["ID"],
        "OS_APPLICATION_CREDENTIAL_SECRET": credential["Secret"],
        "OS_IDENTITY_API_VERSION": "3",
    })
    issued = subprocess.run(["openstack", "token", "issue", "-f", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["project_id"] == value(cloud, "project", "show", "kube", "-c", "id")


def test_generated_password_is_printed_once_and_kept_private(workdir):
    cloud = Cloud(workdir, config_text="")
    try:
        cloud.start()
        log = cloud.log()
        password_file = cloud.state_dir / "admin-password"
        password = password_file.read_text().strip()
        assert len(password) >= 16
        assert password in log
        assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
        clouds_yaml = cloud.state_dir / "clouds.yaml"
        assert stat.S_IMODE(clouds_yaml.stat().st_mode) == 0o600
        # openrc and clouds.yaml both carry working credentials.
        cloud.openstack("token", "issue")
        env = clean_env()
        env.update({"OS_CLIENT_CONFIG_FILE": str(clouds_yaml), "OS_CLOUD": "demo"})
        issued = subprocess.run(["openstack", "token", "issue", "-f", "value", "-c", "project_id"],
                                capture_output=True, text=True, env=env, timeout=120)
        assert issued.returncode == 0, issued.stderr

        # SIGTERM is a clean shutdown; the next start does not print the password again.
        assert cloud.kill(signal.SIGTERM) == 0
        cloud.log_path.unlink()
        cloud.start()
        assert password not in cloud.log()
        assert password_file.read_text().strip() == password
    finally:
        cloud.stop()


def test_invalid_config_starts_nothing(workdir):
    state = workdir / "state"
    bad = workdir / "bad.toml"
    bad.write_text(f'state_dir = "{state}"\nlisten = "127.0.0.1:1"\nadmin_pasword = "typo"\n')
    result = subprocess.run([OXISTACK, "up", "--config", str(bad)], capture_output=True, text=True, env=clean_env(), timeout=30)
    assert result.returncode != 0
    assert "admin_pasword" in result.stderr
    assert not state.exists()


def test_openrc_matches_devstack(cloud):
    env = clean_env()
    env["OXISTACK_CONFIG"] = str(cloud.config)
    exports = subprocess.run([OXISTACK, "openrc", "kube", "kube"], capture_output=True, text=True, env=env, check=True).stdout
    for line in [
        f"export OS_AUTH_URL='http://127.0.0.1:{cloud.port}/identity'",
        "export OS_USERNAME='kube'",
        "export OS_PROJECT_NAME='kube'",
        "export OS_USER_DOMAIN_ID=default",
        "export OS_PROJECT_DOMAIN_ID=default",
        "export OS_REGION_NAME='RegionOne'",
        "export OS_IDENTITY_API_VERSION=3",
        "export OS_INTERFACE=public",
        "export OS_PASSWORD='pw'",
    ]:
        assert line in exports.splitlines(), exports
    env["OS_PASSWORD"] = "already-set"
    exports = subprocess.run([OXISTACK, "openrc", "kube", "kube"], capture_output=True, text=True, env=env, check=True).stdout
    assert "OS_PASSWORD" not in exports


def peak_rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_two_gib_image_upload_keeps_memory_flat(cloud):
    import hashlib

    size = 2 * 1024**3
    path = cloud.workdir / "big.img"
    with open(path, "wb") as f:
        f.truncate(size)  # sparse: the bytes are zeros, the disk stays empty
    before = peak_rss_kib(cloud.process.pid)
    created = json.loads(
        cloud.openstack("image", "create", "--file", "big.img", "--disk-format", "raw", "big", "-f", "json").stdout
    )
    grown_mib = (peak_rss_kib(cloud.process.pid) - before) / 1024
    assert created["status"] == "active"
    assert created["size"] == size
    digest = hashlib.sha512()
    chunk = bytes(16 * 1024 * 1024)
    for _ in range(size // len(chunk)):
        digest.update(chunk)
    # The CLI puts Glance's multihash among the image's properties.
    shown = cloud.openstack("image", "show", "big", "-f", "json").stdout
    assert digest.hexdigest() in shown
    # Streamed to disk: the server's peak memory barely moves for 2 GiB.
    assert grown_mib < 64, f"oxistack's peak RSS grew by {grown_mib:.0f} MiB during a 2 GiB upload"
