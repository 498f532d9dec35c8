"""Load-balancer timings through the API, on a real data plane; run by
bench-lb.sh against a cloud with the Linux network data plane (compute may
be fake: no instance is needed).

The members are two bench backends started in the tenant network's DHCP
namespace (the one host on the subnet besides the load balancer that
needs no VM), and the client runs there too. Prints a table of:
  - `loadbalancer create` -> ACTIVE;
  - the Kubernetes cloud provider's one-call create -> ACTIVE, and -> the
    first answer through the VIP;
  - a member added through the API -> the first request it answers.
"""

import argparse
import statistics
import subprocess
import time
from pathlib import Path

from bench_api import Api


def wait_active(api, lb_id, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        lb = api.lbaas("GET", f"/loadbalancers/{lb_id}")["loadbalancer"]
        if lb["provisioning_status"] == "ACTIVE":
            return lb
        if lb["provisioning_status"] == "ERROR" or time.monotonic() > deadline:
            raise SystemExit(f"load balancer {lb_id} is {lb['provisioning_status']}")
        time.sleep(0.005)


def wait_gone(api, lb_id, timeout=30):
    deadline = time.monotonic() + timeout
    while any(lb["id"] == lb_id for lb in api.lbaas("GET", "/loadbalancers")["loadbalancers"]):
        if time.monotonic() > deadline:
            raise SystemExit(f"load balancer {lb_id} was not deleted")
        time.sleep(0.05)


def fetch(namespace, url):
    # A short connect timeout: a SYN dropped before the path is open would
    # otherwise cost the measurement a whole second.
    result = subprocess.run(["ip", "netns", "exec", namespace, "curl", "-s", "--connect-timeout", "0.05",
                             "-m", "1", url],
                            capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


def until_answer(namespace, url, expected, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        body = fetch(namespace, url)
        if body is not None and expected in body:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{url} never answered {expected!r} (last: {body!r})")


def member(address, port, name):
    return {"address": address, "protocol_port": port, "name": name}


def populated(subnet_id, members, name):
    """The Kubernetes cloud provider's one-call create (its shape: TCP
    listener, pool with members, TCP monitor, tags and timeouts)."""
    return {"loadbalancer": {
        "name": name, "vip_subnet_id": subnet_id, "provider": "amphora", "tags": [name],
        "description": "Kubernetes external service bench/web from cluster bench",
        "listeners": [{
            "name": f"listener_0_{name}", "protocol": "TCP", "protocol_port": 80, "connection_limit": -1,
            "tags": [name], "timeout_client_data": 50000, "timeout_member_data": 50000,
            "timeout_member_connect": 5000, "timeout_tcp_inspect": 0, "allowed_cidrs": ["0.0.0.0/0"],
            "default_pool": {
                "name": f"pool_0_{name}", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
                "members": [dict(m, subnet_id=subnet_id) for m in members],
                "healthmonitor": {"name": f"monitor_0_{name}", "type": "TCP", "delay": 5, "timeout": 3,
                                  "max_retries": 1, "max_retries_down": 3},
            },
        }],
    }}


def row(label, samples, target="< 1 s"):
    print(f"| {label:<58} | {len(samples):>2} | {statistics.median(samples) * 1000:7.0f} ms "
          f"| {max(samples) * 1000:7.0f} ms | {target:<7} |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--prefix", required=True, help="the cloud's instance prefix")
    parser.add_argument("--backend", required=True, help="the oxistack-bench-backend binary")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    api = Api(args.url, args.password)

    net = api.call("POST", "/networking/v2.0/networks", {"network": {"name": "benchnet"}})["network"]
    subnet = api.call("POST", "/networking/v2.0/subnets", {"subnet": {
        "name": "benchsubnet", "network_id": net["id"], "ip_version": 4, "cidr": "10.98.0.0/24"}})["subnet"]
    dhcp_namespace = f"{args.prefix}-qdhcp-{net['id']}"
    deadline = time.monotonic() + 30
    while not Path("/run/netns", dhcp_namespace).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"no namespace {dhcp_namespace}")
        time.sleep(0.05)
    ports = api.call("GET", f"/networking/v2.0/ports?network_id={net['id']}&device_owner=network:dhcp")["ports"]
    host = ports[0]["fixed_ips"][0]["ip_address"]
    backends = [subprocess.Popen(["ip", "netns", "exec", dhcp_namespace, args.backend, f"{host}:{port}", text])
                for port, text in ((9001, "member one"), (9002, "member two"))]
    try:
        one, two = member(host, 9001, "one"), member(host, 9002, "two")
        create, full_active, full_traffic, follow = [], [], [], []
        for run in range(args.runs):
            started = time.monotonic()
            lb = api.lbaas("POST", "/loadbalancers", {"loadbalancer": {
                "name": f"plain{run}", "vip_subnet_id": subnet["id"]}})["loadbalancer"]
            wait_active(api, lb["id"])
            create.append(time.monotonic() - started)
            api.lbaas("DELETE", f"/loadbalancers/{lb['id']}?cascade=true")
            wait_gone(api, lb["id"])

            started = time.monotonic()
            lb = api.lbaas("POST", "/loadbalancers", populated(subnet["id"], [one], f"kube{run}"))["loadbalancer"]
            lb = wait_active(api, lb["id"])
            full_active.append(time.monotonic() - started)
            vip = f"http://{lb['vip_address']}:80/"
            until_answer(dhcp_namespace, vip, "member one")
            full_traffic.append(time.monotonic() - started)

            pool_id = api.lbaas("GET", f"/pools?loadbalancer_id={lb['id']}")["pools"][0]["id"]
            started = time.monotonic()
            api.lbaas("POST", f"/pools/{pool_id}/members", {"member": dict(two, subnet_id=subnet["id"])})
            until_answer(dhcp_namespace, vip, "member two")
            follow.append(time.monotonic() - started)
            wait_active(api, lb["id"])
            api.lbaas("DELETE", f"/loadbalancers/{lb['id']}?cascade=true")
            wait_gone(api, lb["id"])
    finally:
        for backend in backends:
            backend.terminate()
    print()
    print("| through the API, real namespaces and proxies (fake compute)   |  n |     p50    |     max    | target  |")
    print("|------------------------------------------------------------|----|------------|------------|---------|")
    row("loadbalancer create -> ACTIVE", create)
    row("the cloud provider's one-call create -> ACTIVE", full_active)
    row("the cloud provider's one-call create -> first answer", full_traffic)
    row("member added (POST) -> first request it answers", follow)


if __name__ == "__main__":
    main()
