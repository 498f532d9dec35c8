"""Issue 8: Octavia-compatible load balancers on real instances.

One cloud for the whole module: the seed's two CirrOS responders on
kubenet (the preamble of test_instances.py), then the seed's load-balancer
section verbatim from the LAN, and each further behaviour as its own test
on the same load balancer. The tests run in file order; the last ones
kill oxistack, simulate a host reboot and delete everything.
"""

import json
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import OXISTACK, Cloud, clean_env, real_host
from test_compute_network import KUBE
from test_instances import (
    ATTACH,
    CREATE,
    PREPARATION,
    RESPONDERS,
    SETUP_KUBE_PROJECT,
    as_json,
    curl,
    curl_until,
    guest,
    wait_for_ssh,
)
from test_compute_network import wait_for_servers

# The seed's section, verbatim but for the fixed IPs, which the test hands
# in, and the wait for ACTIVE, which the seed does by hand.
SEED_LOAD_BALANCER = """
openstack loadbalancer create --name testlb --vip-subnet-id kubesubnet
until [ "$(openstack loadbalancer show testlb -c provisioning_status -f value)" = ACTIVE ]; do sleep 0.2; done
openstack loadbalancer listener create --protocol HTTP --protocol-port 80 --name testlistener testlb
openstack loadbalancer pool create --lb-algorithm ROUND_ROBIN --listener testlistener --protocol HTTP --name testpool
openstack loadbalancer member create --subnet-id kubesubnet --address $FIXED_IP_1 --protocol-port 80 testpool
openstack loadbalancer member create --subnet-id kubesubnet --address $FIXED_IP_2 --protocol-port 80 testpool
LB_ID=$(openstack loadbalancer show testlb -c id -f value)
PORT_ID=$(openstack port list --device-id lb-$LB_ID -c ID -f value)
FLOATINGIP_ID=$(openstack floating ip create public -c id -f value)
openstack floating ip set --port $PORT_ID $FLOATINGIP_ID
openstack floating ip show $FLOATINGIP_ID -c floating_ip_address -f value
"""

SERVER_1 = "Welcome to server 1"
SERVER_2 = "This is server 2"

# A web server on a guest's port 8000.
WEB_SERVER = "mkdir -p /tmp/www && echo server {number} > /tmp/www/index.html && sudo httpd -p 8000 -h /tmp/www"

# A responder on c-1's port 81 that keeps every request it got.
RECORDING_RESPONDER = (
    "(while true; do echo -e \"HTTP/1.0 200 OK\\r\\n\\r\\nrecorded\" | sudo nc -l -p 81 >> /tmp/requests; done)"
    " </dev/null >/dev/null 2>&1 &"
)


class Seeded:
    def __init__(self, cloud, fip1, fip2, fixed1, fixed2):
        self.cloud = cloud
        self.fip1, self.fip2 = fip1, fip2
        self.fixed1, self.fixed2 = fixed1, fixed2
        self.lb_fip = None


def fixed_address(server):
    return [a for a in server["Networks"]["kubenet"] if a.startswith("172.16.")][0]


@pytest.fixture(scope="module")
def seeded():
    with tempfile.TemporaryDirectory(prefix="oxistack-e2e-lb-") as directory:
        cloud = Cloud(Path(directory), host=real_host())
        try:
            cloud.start()
            cloud.sh(SETUP_KUBE_PROJECT)
            cloud.sh(PREPARATION, **KUBE)
            cloud.outside(CREATE)
            servers = wait_for_servers(cloud, ["c-1", "c-2"], timeout=60, **KUBE)
            fip1 = cloud.outside("openstack floating ip create public -f value -c name").stdout.strip()
            fip2 = cloud.outside("openstack floating ip create public -f value -c name").stdout.strip()
            cloud.outside(ATTACH.format(fip1=fip1, fip2=fip2))
            wait_for_ssh(cloud, fip1, fip2)
            cloud.outside(RESPONDERS.format(fip1=fip1, fip2=fip2))
            curl_until(cloud, fip1, SERVER_1)
            curl_until(cloud, fip2, SERVER_2)
            yield Seeded(cloud, fip1, fip2, fixed_address(servers["c-1"]), fixed_address(servers["c-2"]))
        finally:
            cloud.stop()
            cloud.oxistack("teardown", "--hard", check=False)


def bodies(cloud, address, count, port=80, pause=0.3):
    """What `count` requests to ADDRESS:PORT answered, from the LAN, a
    moment apart: the responders are `nc` loops that take a while under
    TCG to listen again after each answer, and a request meanwhile would
    be retried on the other member."""
    script = (
        f"for i in $(seq {count}); do curl -s -m 5 http://{address}:{port}/ || echo FAILED; echo; sleep {pause}; done"
    )
    return [line for line in cloud.outside(script).stdout.splitlines() if line.strip()]


def load_balancer(cloud, name="testlb"):
    return as_json(cloud, "loadbalancer", "show", name, **KUBE)


def wait_active(cloud, name="testlb", timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        lb = load_balancer(cloud, name)
        if lb["provisioning_status"] == "ACTIVE":
            return lb
        assert time.monotonic() < deadline, lb
        time.sleep(0.2)


def lb_namespaces(cloud):
    prefix = cloud.oxistack_prefix() + "-lb-"
    return [n for n in os.listdir("/run/netns") if n.startswith(prefix)] if os.path.isdir("/run/netns") else []


def proxy_processes(cloud):
    """The running proxy processes of this cloud, by their command lines."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if b"lb-proxy" in cmdline and any(str(cloud.state_dir).encode() in arg for arg in cmdline):
            found.append(int(pid))
    return found


def test_seed_load_balancer_section(seeded):
    cloud = seeded.cloud
    started = time.monotonic()
    result = cloud.outside(
        f"FIXED_IP_1={seeded.fixed1}\nFIXED_IP_2={seeded.fixed2}\n" + SEED_LOAD_BALANCER, timeout=300
    )
    print(f"the seed's section took {time.monotonic() - started:.1f} s")
    seeded.lb_fip = result.stdout.strip().splitlines()[-1]
    lb = wait_active(cloud)
    assert lb["vip_port_id"] and lb["vip_address"].startswith("172.16.0."), lb
    assert lb["operating_status"] in ("ONLINE", "NO_MONITOR"), lb

    # From outside, through the router's NAT: the two responders in turn.
    curl_until(cloud, seeded.lb_fip, "server")
    answers = bodies(cloud, seeded.lb_fip, 6)
    assert len(answers) == 6 and "FAILED" not in answers, answers
    assert {SERVER_1, SERVER_2} <= set(answers), answers
    assert all(a != b for a, b in zip(answers, answers[1:])), f"not alternating: {answers}"

    # Instances on the tenant network reach the VIP directly.
    assert "server" in guest(cloud, seeded.fip1, f"wget -q -O - http://{lb['vip_address']}/").stdout

    # The VIP port belongs to the load balancer: Neutron refuses to delete it.
    refused = cloud.openstack("port", "delete", lb["vip_port_id"], check=False, **KUBE)
    assert refused.returncode != 0


def test_another_project_cannot_see_the_load_balancer(seeded):
    cloud = seeded.cloud
    demo = {"user": "demo", "project": "demo"}
    shown = cloud.openstack("loadbalancer", "show", "testlb", check=False, **demo)
    assert shown.returncode != 0
    assert as_json(cloud, "loadbalancer", "list", **demo) == []


def test_a_change_while_pending_update_gets_409(seeded):
    """As Octavia: while a change is under way (PENDING_UPDATE) the load
    balancer refuses another with 409 and keeps what it had. The API is
    called directly: the CLI starts too slowly to catch the window."""
    cloud = seeded.cloud
    token = cloud.openstack("token", "issue", "-f", "value", "-c", "id", **KUBE).stdout.strip()
    lb = load_balancer(cloud)

    def call(method, path, body):
        request = urllib.request.Request(
            f"{cloud.url}/load-balancer/v2/lbaas{path}", json.dumps(body).encode(),
            {"x-auth-token": token, "content-type": "application/json"}, method=method)
        try:
            with urllib.request.urlopen(request) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    status, created = call("POST", "/listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 9999, "name": "pending"}})
    assert status == 201, created
    status, refused = call("PUT", f"/loadbalancers/{lb['id']}", {"loadbalancer": {"description": "changed"}})
    assert status == 409 and "PENDING_UPDATE" in refused["faultstring"], refused
    wait_active(cloud)
    assert load_balancer(cloud)["description"] == lb["description"]
    cloud.openstack("loadbalancer", "listener", "delete", "pending", **KUBE)
    wait_active(cloud)


def start_web_servers(seeded):
    """busybox httpd on port 8000 of both guests, answering "server N".
    The seed's responders are nc loops that serve one connection at a time
    and take a while under TCG to listen again: a health monitor's checks
    and a load would find them busy by themselves. These serve the
    listener on port 82 (pool webpool) that the health-monitor and kill -9
    tests use."""
    cloud = seeded.cloud
    cloud.openstack("security", "group", "rule", "create", "kubesg", "--proto", "tcp", "--dst-port", "8000", **KUBE)
    for fip, number in ((seeded.fip1, 1), (seeded.fip2, 2)):
        guest(cloud, fip, WEB_SERVER.format(number=number))
    cloud.openstack("loadbalancer", "listener", "create", "--protocol", "HTTP", "--protocol-port", "82",
                    "--name", "weblistener", "testlb", **KUBE)
    wait_active(cloud)
    cloud.openstack("loadbalancer", "pool", "create", "--lb-algorithm", "ROUND_ROBIN", "--listener",
                    "weblistener", "--protocol", "HTTP", "--name", "webpool", **KUBE)
    wait_active(cloud)
    for address in (seeded.fixed1, seeded.fixed2):
        cloud.openstack("loadbalancer", "member", "create", "--subnet-id", "kubesubnet", "--address", address,
                        "--protocol-port", "8000", "webpool", **KUBE)
        wait_active(cloud)
    assert {"server 1", "server 2"} <= set(bodies(cloud, seeded.lb_fip, 4, port=82))


def test_health_monitor_takes_a_member_out_and_back(seeded):
    cloud = seeded.cloud
    start_web_servers(seeded)
    cloud.openstack(
        "loadbalancer", "healthmonitor", "create", "--name", "webhm", "--delay", "1", "--timeout", "1",
        "--max-retries", "1", "--max-retries-down", "2", "--type", "HTTP", "--url-path", "/", "webpool",
        **KUBE,
    )
    wait_active(cloud)

    def member_status(address):
        members = as_json(cloud, "loadbalancer", "member", "list", "webpool", **KUBE)
        return [m["operating_status"] for m in members if m["address"] == address][0]

    def wait_member(address, status, timeout):
        deadline = time.monotonic() + timeout
        while member_status(address) != status:
            assert time.monotonic() < deadline, f"{address} never became {status}"
            time.sleep(0.5)

    wait_member(seeded.fixed2, "ONLINE", 15)
    # Server 2's web server stops: its member is taken out within delay x
    # max_retries_down (plus the time the status takes to be read), and
    # every request goes to server 1. Octavia reports a member failing its
    # checks as ERROR (its OFFLINE means administratively down).
    guest(cloud, seeded.fip2, "sudo killall httpd")
    wait_member(seeded.fixed2, "ERROR", 2 * 1 + 8)
    assert set(bodies(cloud, seeded.lb_fip, 6, port=82, pause=0.1)) == {"server 1"}
    assert load_balancer(cloud)["operating_status"] == "DEGRADED"

    # It comes back: ONLINE again, and traffic returns to it.
    guest(cloud, seeded.fip2, WEB_SERVER.format(number=2))
    wait_member(seeded.fixed2, "ONLINE", 15)
    assert {"server 1", "server 2"} <= set(bodies(cloud, seeded.lb_fip, 6, port=82, pause=0.1))
    assert load_balancer(cloud)["operating_status"] == "ONLINE"


def test_tcp_listener(seeded):
    cloud = seeded.cloud
    cloud.openstack("loadbalancer", "listener", "create", "--protocol", "TCP", "--protocol-port", "8080",
                    "--name", "tcplistener", "testlb", **KUBE)
    wait_active(cloud)
    cloud.openstack("loadbalancer", "pool", "create", "--lb-algorithm", "ROUND_ROBIN", "--listener",
                    "tcplistener", "--protocol", "TCP", "--name", "tcppool", **KUBE)
    wait_active(cloud)
    for address in (seeded.fixed1, seeded.fixed2):
        cloud.openstack("loadbalancer", "member", "create", "--subnet-id", "kubesubnet", "--address", address,
                        "--protocol-port", "80", "tcppool", **KUBE)
        wait_active(cloud)
    answers = bodies(cloud, seeded.lb_fip, 6, port=8080)
    assert {SERVER_1, SERVER_2} <= set(answers), answers


def test_source_ip_keeps_one_client_on_one_member(seeded):
    cloud = seeded.cloud
    cloud.openstack("loadbalancer", "pool", "set", "--lb-algorithm", "SOURCE_IP", "tcppool", **KUBE)
    wait_active(cloud)
    # A second apart: a member whose nc loop has not started listening
    # again would refuse, and the request would go to the other member.
    answers = bodies(cloud, seeded.lb_fip, 6, port=8080, pause=1)
    assert len(set(answers)) == 1 and "FAILED" not in answers, answers


def test_x_forwarded_for_reaches_the_member(seeded):
    cloud = seeded.cloud
    guest(cloud, seeded.fip1, RECORDING_RESPONDER)
    cloud.openstack("security", "group", "rule", "create", "kubesg", "--proto", "tcp", "--dst-port", "81", **KUBE)
    cloud.openstack("loadbalancer", "listener", "create", "--protocol", "HTTP", "--protocol-port", "81",
                    "--insert-headers", "X-Forwarded-For=true", "--name", "xfflistener", "testlb", **KUBE)
    wait_active(cloud)
    cloud.openstack("loadbalancer", "pool", "create", "--lb-algorithm", "ROUND_ROBIN", "--listener",
                    "xfflistener", "--protocol", "HTTP", "--name", "xffpool", **KUBE)
    wait_active(cloud)
    cloud.openstack("loadbalancer", "member", "create", "--subnet-id", "kubesubnet", "--address", seeded.fixed1,
                    "--protocol-port", "81", "xffpool", **KUBE)
    wait_active(cloud)
    assert bodies(cloud, seeded.lb_fip, 1, port=81) == ["recorded"]
    request = guest(cloud, seeded.fip1, "cat /tmp/requests").stdout
    # The client is the LAN's machine, 172.24.4.1; the floating IP's NAT
    # keeps its address.
    assert "x-forwarded-for: 172.24.4.1" in request.lower(), request


def node_responders(node):
    """Two NodePorts on a node, as kube-proxy would serve a Service's
    ports 80 and 443 there: each answers which node and port it is."""
    return " ".join(
        f"(while true; do echo -e \"HTTP/1.0 200 OK\\r\\n\\r\\n{node}-{port}\" | sudo nc -l -p {node_port}; done)"
        " </dev/null >/dev/null 2>&1 &"
        for port, node_port in ((80, 30080), (443, 30443))
    )


def test_kubernetes_cloud_provider_flow(seeded):
    """The Kubernetes cloud provider's requests, replayed as its source
    issues them (k8s_provider.py), with traffic through the floating IP
    following each step: one node, a node added, a node removed, deleted."""
    import openstack

    from k8s_provider import delete_service, ensure_service, provider_for, request_log, update_members

    cloud = seeded.cloud
    cloud.openstack("security", "group", "rule", "create", "kubesg", "--proto", "tcp",
                    "--dst-port", "30000:32767", **KUBE)
    for fip, node in ((seeded.fip1, "node1"), (seeded.fip2, "node2")):
        guest(cloud, fip, node_responders(node))
    servers = {s["Name"]: s["ID"] for s in as_json(cloud, "server", "list", **KUBE)}
    node1, node2 = (servers["c-1"], seeded.fixed1), (servers["c-2"], seeded.fixed2)
    conn = openstack.connect(
        auth_url=cloud.url + "/identity/v3", username="kube", password="pw", project_name="kube",
        user_domain_name="Default", project_domain_name="Default", region_name="RegionOne",
    )
    provider_for(conn, wait_delay=0.2, wait_factor=1.0, active_steps=300)
    ports = [("TCP", 80, 30080), ("TCP", 443, 30443)]
    try:
        started = time.monotonic()
        service = ensure_service(conn, "kubernetes", "default", "web", [node1], ports)
        print(f"the provider's create took {time.monotonic() - started:.2f} s to ACTIVE with its floating IP")
        fip = service["floating_ip"]
        curl_until(cloud, fip, "node1-80")
        assert set(bodies(cloud, fip, 4)) == {"node1-80"}
        assert set(bodies(cloud, fip, 2, port=443)) == {"node1-443"}
        # A second sync changes nothing: every object reads back as sent.
        writes_before = [c for c in request_log(conn) if c.method != "GET"]
        service = ensure_service(conn, "kubernetes", "default", "web", [node1], ports, service=service)
        writes_after = [c for c in request_log(conn) if c.method != "GET"]
        assert writes_after == writes_before, writes_after[len(writes_before):]

        service = update_members(conn, service, [node1, node2])
        assert {"node1-80", "node2-80"} <= set(bodies(cloud, fip, 6))
        service = update_members(conn, service, [node2])
        assert set(bodies(cloud, fip, 4)) == {"node2-80"}
        assert set(bodies(cloud, fip, 2, port=443)) == {"node2-443"}
    finally:
        print("\n".join(f"{c.method} {c.path} -> {c.status}" for c in request_log(conn)))
    delete_service(conn, service)
    assert conn.network.find_ip(fip) is None
    assert as_json(cloud, "loadbalancer", "list", "--name", service["lb_name"], **KUBE) == []
    assert curl(cloud, fip, timeout=2) is None


def test_kill_9_of_oxistack_loses_no_request(seeded):
    cloud = seeded.cloud
    before = proxy_processes(cloud)
    assert before, "no proxy process runs"
    # A bounded load from the LAN runs while oxistack is killed and started,
    # against the web servers (port 82, monitored).
    counter = cloud.workdir / "load.out"
    script = (
        f"for i in $(seq 150); do curl -s -m 5 -o /dev/null -w '%{{http_code}}\\n' http://{seeded.lb_fip}:82/ "
        f"|| echo FAILED; sleep 0.05; done > {counter}"
    )
    background = cloud_background(cloud, script)
    time.sleep(1)
    cloud.kill()
    time.sleep(1)
    cloud.start()
    background.wait(timeout=120)
    codes = counter.read_text().split()
    assert len(codes) == 150 and set(codes) == {"200"}, codes
    lb = wait_active(cloud)
    assert proxy_processes(cloud) == before, "the proxy was not adopted"
    members = as_json(cloud, "loadbalancer", "member", "list", "testpool", **KUBE)
    assert sorted(m["address"] for m in members) == sorted([seeded.fixed1, seeded.fixed2])
    assert lb["provisioning_status"] == "ACTIVE"


def cloud_background(cloud, script):
    """Starts `script` on the LAN in the background."""
    return subprocess.Popen(
        [OXISTACK, "outside", "--", "bash", "-c", script],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**clean_env(), "OXISTACK_CONFIG": str(cloud.config)},
    )


def test_a_host_reboot_brings_the_load_balancer_back(seeded):
    cloud = seeded.cloud
    cloud.teardown()
    assert lb_namespaces(cloud) == [] and proxy_processes(cloud) == []
    cloud.start()
    curl_until(cloud, seeded.lb_fip, "server", timeout=60)
    assert wait_active(cloud)["operating_status"] in ("ONLINE", "DEGRADED")


def test_cascade_delete_leaves_nothing_behind(seeded):
    cloud = seeded.cloud
    lb = load_balancer(cloud)
    cloud.openstack("loadbalancer", "delete", "--cascade", "testlb", **KUBE)
    deadline = time.monotonic() + 20
    while as_json(cloud, "loadbalancer", "list", **KUBE):
        assert time.monotonic() < deadline, "the load balancer was not deleted"
        time.sleep(0.2)
    assert as_json(cloud, "port", "list", "--device-id", f"lb-{lb['id']}", **KUBE) == []
    groups = [g["Name"] for g in as_json(cloud, "security", "group", "list", **KUBE)]
    assert f"lb-{lb['id']}" not in groups, groups
    deadline = time.monotonic() + 10
    while lb_namespaces(cloud) or proxy_processes(cloud):
        assert time.monotonic() < deadline, (lb_namespaces(cloud), proxy_processes(cloud))
        time.sleep(0.2)
    assert curl(cloud, seeded.lb_fip, timeout=2) is None
