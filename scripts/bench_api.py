"""The OpenStack API as the benchmark scripts call it: straight HTTP with
an admin token, so that no client start-up blurs the figures. Shared by
bench_instances.py and bench_lb_api.py."""

import json
import urllib.error
import urllib.request


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
