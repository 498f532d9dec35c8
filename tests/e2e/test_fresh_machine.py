"""Issue 11: the README's commands work as a new user types them. The
start-up summary's lines log in to the cloud that printed them, whatever
its config file and overrides; `oxistack service install` writes a unit
systemd accepts, whose commands start and stop that same cloud, and
`service uninstall` removes it."""

import json
import shlex
import shutil
import stat
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import OXISTACK, Cloud, clean_env, free_port

# The environment systemd gives a service, and a user's shell starts from:
# nothing of the test runner's OXISTACK_* settings.
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def user_env(path):
    env = {k: v for k, v in clean_env().items() if not k.startswith("OXISTACK_")}
    env["PATH"] = path
    return env


def summary_commands(log):
    """The indented lines under the summary's "To use it from a shell"."""
    lines = log.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("To use it from a shell"))
    commands = []
    for line in lines[start + 1:]:
        if line.startswith("    "):
            commands.append(line.strip())
        elif commands:
            break
    return commands


@pytest.mark.parametrize("oxistack_on_path", [True, False])
def test_the_summary_prints_lines_that_log_in(workdir, oxistack_on_path):
    # The openstack CLI comes from the runner's PATH (scripts/test.sh puts
    # the pinned client there, as scripts/up.sh links it into /usr/local/bin).
    openstack = shutil.which("openstack")
    assert openstack, "no openstack command on PATH"
    tools = workdir / "bin"
    tools.mkdir()
    (tools / "openstack").symlink_to(openstack)
    if oxistack_on_path:
        (tools / "oxistack").symlink_to(Path(OXISTACK).resolve())
    path = f"{tools}:{SYSTEM_PATH}"
    cloud = Cloud(workdir)
    # Overrides on top of the config file: the printed lines must carry both.
    cloud.port = free_port()
    cloud.url = f"http://127.0.0.1:{cloud.port}"
    overrides = {"OXISTACK_LISTEN": f"127.0.0.1:{cloud.port}", "OXISTACK_STATE_DIR": str(workdir / "env-state")}
    try:
        cloud.start(env={**user_env(path), **overrides})
        commands = summary_commands(cloud.log())
        assert len(commands) == 2, cloud.log()
        program = "oxistack" if oxistack_on_path else shlex.quote(OXISTACK)
        assert commands[0] == (
            f"source <(OXISTACK_LISTEN=127.0.0.1:{cloud.port} OXISTACK_STATE_DIR={workdir / 'env-state'} "
            f"{program} openrc --config {cloud.config} admin admin)"
        ), commands
        assert commands[1] == "openstack server list"
        assert "no `openstack` command on PATH" not in cloud.log()
        # Typed in a new shell elsewhere, with none of the cloud's settings.
        result = subprocess.run(
            ["bash", "-c", "set -euo pipefail\n" + "\n".join(commands) + '\necho "auth=$OS_AUTH_URL"'],
            capture_output=True, text=True, env=user_env(path), cwd="/", timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert f"auth=http://127.0.0.1:{cloud.port}/identity" in result.stdout.splitlines()
    finally:
        cloud.stop()


def test_the_summary_says_when_there_is_no_openstack_command(workdir):
    path = "/usr/sbin:/usr/bin:/sbin:/bin"
    if shutil.which("openstack", path=path):
        pytest.skip("this host has an openstack command outside /usr/local")
    cloud = Cloud(workdir)
    try:
        cloud.start(env=user_env(path))
        assert "no `openstack` command on PATH: scripts/up.sh installs" in cloud.log()
    finally:
        cloud.stop()


def unit_settings(text):
    """KEY -> [values] of a unit file (the subset the written unit uses)."""
    settings = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key, []).append(value)
    return settings


def unit_words(value):
    """A unit value split into words as systemd does, specifiers undone."""
    return [word.replace("%%", "%").replace("$$", "$") for word in shlex.split(value)]


def env_file_assignments(text):
    """NAME="value" lines as systemd reads an EnvironmentFile: in double
    quotes, a backslash before one of \\ " ` $ stands for that character."""
    assignments = []
    for line in text.splitlines():
        name, quoted = line.split("=", 1)
        assert quoted.startswith('"') and quoted.endswith('"'), line
        value, escaped = "", False
        for c in quoted[1:-1]:
            if c == "\\" and not escaped:
                escaped = True
                continue
            value += c
            escaped = False
        assignments.append(f"{name}={value}")
    return assignments


def unit_environment(settings):
    env = user_env(SYSTEM_PATH)
    assignments = [word for value in settings.get("Environment", []) for word in unit_words(value)]
    for file in settings.get("EnvironmentFile", []):
        assignments += env_file_assignments(Path(file).read_text())
    for assignment in assignments:
        name, value = assignment.split("=", 1)
        env[name] = value
    return env


def issue_token(url, password):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    request = urllib.request.Request(url + "/identity/v3/auth/tokens", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.status


def wait_for(url, process, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ExecStart exited with {process.returncode}:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url + "/identity/v3", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.1)
    raise AssertionError(f"the unit's cloud did not answer within {timeout}s:\n{log.read_text()}")


def oxistack_service(*args, env):
    result = subprocess.run([OXISTACK, "service", *args], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_service_install_writes_a_unit_that_runs_this_cloud_and_uninstall_removes_it(workdir):
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: scripts/test.sh installs the package systemd"
    cloud = Cloud(workdir)  # a config file; never started itself
    units = workdir / "units"
    port = free_port()
    env = user_env(SYSTEM_PATH)
    env.update({"OXISTACK_LISTEN": f"127.0.0.1:{port}", "OXISTACK_ADMIN_PASSWORD": "from-the-env $x"})
    out = oxistack_service("install", "--config", str(cloud.config), "--unit-dir", str(units), env=env)
    unit = units / "oxistack.service"
    assert f"wrote {unit}" in out
    # Never the host's systemd: a unit outside its directory is not enabled.
    assert "not enabled" in out, out
    if not Path("/run/systemd/system").is_dir():
        assert "systemd is not running on this host" in out, out
    text = unit.read_text()
    assert "from-the-env" not in text, text
    password_file = cloud.state_dir / "service.env"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600

    verified = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "oxistack.service" not in verified.stderr, verified.stderr

    settings = unit_settings(text)
    assert settings["Restart"] == ["on-failure"]
    start, stop = unit_words(settings["ExecStart"][0]), unit_words(settings["ExecStop"][0])
    assert start[1] == "up" and stop[1] == "teardown", text
    log = workdir / "unit.log"
    process = subprocess.Popen(start, stdout=open(log, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               env=unit_environment(settings), cwd="/", start_new_session=True)
    try:
        # The same configuration: the config file, the overridden address, the password from the env.
        wait_for(f"http://127.0.0.1:{port}", process, log)
        assert issue_token(f"http://127.0.0.1:{port}", "from-the-env $x") == 201, log.read_text()
        # After a crash systemd runs ExecStop too, with the result: the
        # teardown then leaves everything for the restart to adopt.
        after_crash = subprocess.run(stop, capture_output=True, text=True, cwd="/", timeout=120,
                                     env={**unit_environment(settings), "SERVICE_RESULT": "signal"})
        assert after_crash.returncode == 0 and "keep running" in after_crash.stdout, after_crash.stdout
        assert process.poll() is None, log.read_text()
        stopped = subprocess.run(stop, capture_output=True, text=True, env=unit_environment(settings), cwd="/",
                                 timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert "stopped the cloud process" in stopped.stdout, stopped.stdout
        assert process.wait(timeout=30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    out = oxistack_service("uninstall", env={**user_env(SYSTEM_PATH), "OXISTACK_UNIT_DIR": str(units)})
    assert f"removed {unit}" in out
    assert not unit.exists() and not password_file.exists()
    assert "nothing to remove" in oxistack_service("uninstall", "--unit-dir", str(units), env=user_env(SYSTEM_PATH))
