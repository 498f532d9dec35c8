"""A real oxistack for end-to-end tests, driven with the stock openstack CLI.

Each test gets its own cloud: a free loopback port, a temporary state
directory, and the binary from OXISTACK_BIN. Everything it creates is
removed afterwards, also when the test fails.
"""

import hashlib
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OXISTACK = os.environ.get("OXISTACK_BIN", str(REPO / "target" / "debug" / "oxistack"))
# DevStack's local.conf in the seed sets every password to "pw".
PASSWORD = "pw"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env():
    """The test runner's environment without any OpenStack settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("OS_")}


# API-only tests run on the fake drivers: no VM, no kernel object.
FAKE_HOST = '[compute]\ndriver = "fake"\n[network]\ndataplane = "fake"\n'


def real_host():
    """QEMU under TCG (every test must pass without KVM) and the Linux data
    plane in sandbox mode, with the project's test image as `cirros`."""
    image = os.environ.get("OXISTACK_TEST_IMAGE")
    assert image, "OXISTACK_TEST_IMAGE is not set: scripts/test.sh builds the test image and sets it"
    return (
        '[compute]\ndriver = "qemu"\naccel = "tcg"\n'
        '[network]\ndataplane = "linux"\n'
        f'[image]\ncirros = "{image}"\n'
    )


class Cloud:
    def __init__(self, workdir: Path, config_text=None, host=FAKE_HOST):
        self.workdir = workdir
        self.port = free_port()
        self.state_dir = workdir / "state"
        self.config = workdir / "oxistack.toml"
        self.log_path = workdir / "oxistack.log"
        if config_text is None:
            config_text = f'admin_password = "{PASSWORD}"\n'
        self.config.write_text(
            f'listen = "127.0.0.1:{self.port}"\nstate_dir = "{self.state_dir}"\n' + config_text + host
        )
        self.process = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout=60, env=None):
        """Starts `oxistack up --config FILE`, with `env` added to a clean environment."""
        assert self.process is None or self.process.poll() is not None
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(
            [OXISTACK, "up", "--config", str(self.config)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env={**clean_env(), **(env or {})},
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"oxistack exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/identity/v3", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"oxistack did not answer within {timeout}s:\n{self.log()}")

    def kill(self, sig=signal.SIGKILL):
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=30)
        return self.process.returncode

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self):
        return self.log_path.read_text() if self.log_path.exists() else ""

    def sh(self, script, user="admin", project="admin", check=True, env=None, timeout=180):
        """Runs `script` in bash after `source <(oxistack openrc USER PROJECT)`."""
        full_env = clean_env()
        full_env["OXISTACK_CONFIG"] = str(self.config)
        full_env.update(env or {})
        preamble = f"set -euo pipefail\nsource <({shlex.quote(OXISTACK)} openrc {shlex.quote(user)} {shlex.quote(project)})\n"
        result = subprocess.run(
            ["bash", "-c", preamble + script],
            capture_output=True,
            text=True,
            env=full_env,
            cwd=self.workdir,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"command failed ({result.returncode}): {script}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def openstack(self, *args, user="admin", project="admin", check=True, env=None):
        """Runs the openstack CLI as USER on PROJECT and returns its result."""
        return self.sh("openstack " + " ".join(shlex.quote(a) for a in args), user, project, check, env)

    def oxistack(self, *args, check=True, timeout=120):
        """Runs an `oxistack` subcommand on this cloud's configuration."""
        result = subprocess.run(
            [OXISTACK, *args, "--config", str(self.config)],
            capture_output=True, text=True, env=clean_env(), timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"oxistack {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result

    def outside(self, script, user="kube", project="kube", check=True, timeout=180):
        """Runs `script` in bash on the sandbox's LAN (`oxistack outside`), as
        a person on the LAN would, with USER's credentials."""
        full_env = clean_env()
        full_env["OXISTACK_CONFIG"] = str(self.config)
        full_env["PATH"] = f"{self.lan_tools()}:{full_env['PATH']}"
        preamble = f"set -euo pipefail\nsource <({shlex.quote(OXISTACK)} openrc {shlex.quote(user)} {shlex.quote(project)})\n"
        result = subprocess.run(
            [OXISTACK, "outside", "--", "bash", "-c", preamble + script],
            capture_output=True, text=True, env=full_env, cwd=self.workdir, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"command failed ({result.returncode}): {script}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def lan_tools(self):
        """A directory with an `ssh` that never prompts: fresh VMs have fresh
        host keys and nobody is there to answer."""
        tools = self.workdir / "lan-tools"
        ssh = tools / "ssh"
        if not ssh.exists():
            tools.mkdir(exist_ok=True)
            ssh.write_text(
                "#!/bin/sh\nexec /usr/bin/ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                "-o BatchMode=yes -o ConnectTimeout=5 -o LogLevel=ERROR \"$@\"\n"
            )
            ssh.chmod(0o755)
        return tools

    def oxistack_prefix(self):
        """The instance prefix oxistack derives from the state directory."""
        return "ox" + hashlib.sha256(str(self.state_dir).encode()).hexdigest()[:6]

    def teardown(self):
        """The simulated host reboot: every kernel object and process of this
        cloud goes, its state stays."""
        return self.oxistack("teardown")


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="oxistack-e2e-") as directory:
        yield Path(directory)


@pytest.fixture
def cloud(workdir):
    cloud = Cloud(workdir)
    try:
        cloud.start()
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def real_cloud(workdir):
    """A cloud with real VMs and networks; whatever happens, its namespaces,
    QEMU processes and files are gone afterwards."""
    cloud = Cloud(workdir, host=real_host())
    try:
        cloud.start()
        yield cloud
    finally:
        cloud.stop()
        cloud.oxistack("teardown", "--hard", check=False)


# The seed's kube project, as its preparation makes it (kubenet, kubesubnet,
# kuberouter with the public gateway, kubesg) and a public `cirros` image,
# on the fake drivers: the dashboard's tests are about the pages, the data
# plane has its own suites. kube's default project is kube, so a sign-in
# without a project lands there.
KUBE_PROJECT = """
openstack project create kube
openstack user create kube --password pw --project kube
openstack role add --user kube --project kube member
head -c 65536 /dev/urandom > cirros.img
openstack image create --public --disk-format raw --file cirros.img cirros
"""


@pytest.fixture(scope="session")
def kube_cloud(tmp_path_factory):
    """One fresh oxistack (fake drivers) with the kube project seeded,
    shared by the dashboard's test modules (each names its objects apart);
    removed at the end whatever happened."""
    from test_compute_network import KUBE, KUBENET

    cloud = Cloud(tmp_path_factory.mktemp("dashboard-cloud"))
    try:
        cloud.start()
        cloud.sh(KUBE_PROJECT)
        cloud.sh(KUBENET, **KUBE)
        yield cloud
    finally:
        cloud.stop()
