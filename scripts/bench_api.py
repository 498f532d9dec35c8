"""The OpenStack API as the benchmark scripts call it: straight HTTP with
an admin token, so that no client start-up blurs the figures. Shared by
bench_instances.py, bench_lb_api.py and bench_volumes.py."""

import json
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


class Api:
    def __init__(self, url, password):
        self.url = url
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        request = urllib.request.Request(f"{url}/identity/v3/auth/tokens", json.dumps(body).encode(),
                                         {"content-type": "application/json"})
        with urllib.request.urlopen(request) as reply:
            self.token = reply.headers["x-subject-token"]

    def call(self, method, path, body=None):
        """METHOD on PATH of the cloud; the JSON answer, or the script ends
        naming the refusal."""
        request = urllib.request.Request(
            self.url + path, json.dumps(body).encode() if body is not None else None,
            {"x-auth-token": self.token, "content-type": "application/json",
             "openstack-api-version": "compute 2.79"}, method=method)
        try:
            with urllib.request.urlopen(request) as reply:
                data = reply.read()
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{method} {path}: {error.code} {error.read().decode()}")
        return json.loads(data) if data else None

    def compute(self, method, path, body=None):
        return self.call(method, "/compute/v2.1" + path, body)

    def network(self, method, path, body=None):
        return self.call(method, "/networking/v2.0" + path, body)

    def lbaas(self, method, path, body=None):
        return self.call(method, "/load-balancer/v2.0/lbaas" + path, body)


# A tenant network the benchmarks boot guests on: routed to `public`, a
# security group opening ssh, and a key pair whose private half is in `key`.
@dataclass
class GuestNetwork:
    image: str
    public: str
    network: str
    group: str
    ssh_rule: dict
    rule: str
    key: Path


def guest_network(api, work):
    image = api.call("GET", "/image/v2/images?name=cirros")["images"][0]["id"]
    public = api.network("GET", "/networks?name=public")["networks"][0]["id"]
    net = api.network("POST", "/networks", {"network": {"name": "bench"}})["network"]["id"]
    subnet = api.network("POST", "/subnets", {"subnet": {
        "network_id": net, "cidr": "10.99.0.0/24", "ip_version": 4}})["subnet"]["id"]
    router = api.network("POST", "/routers", {"router": {
        "name": "bench", "external_gateway_info": {"network_id": public}}})["router"]["id"]
    api.network("PUT", f"/routers/{router}/add_router_interface", {"subnet_id": subnet})
    group = api.network("POST", "/security-groups", {"security_group": {"name": "bench-ssh"}})["security_group"]["id"]
    ssh_rule = {"security_group_rule": {"security_group_id": group, "direction": "ingress",
                                        "protocol": "tcp", "port_range_min": 22, "port_range_max": 22}}
    rule = api.network("POST", "/security-group-rules", ssh_rule)["security_group_rule"]["id"]
    key = work / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    api.compute("POST", "/os-keypairs", {"keypair": {"name": "bench", "public_key": (work / "key.pub").read_text()}})
    return GuestNetwork(image, public, net, group, ssh_rule, rule, key)
