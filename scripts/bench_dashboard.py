"""Benchmarks the dashboard's two heaviest pages, the instances list and the
network topology, with 100 instances on 20 networks (issue 10's figure):
time to first byte and whole document over plain HTTP, and the full load
of the page in headless Chromium (navigation start to the load event, the
stylesheet and script included). Prints one table.

The cloud is started by bench-dashboard.sh (release build, fake compute
driver and data plane: the pages' cost is the APIs' answers and the
rendering, not the guests)."""

import argparse
import http.client
import json
import re
import statistics
import time
import urllib.parse
import urllib.request

from bench_api import Api

TARGET_MS = 200


def seed(api, networks, instances):
    """`networks` tenant networks with a subnet each, all on one router
    with the public gateway, and `instances` servers spread over them."""
    project = api.call("GET", "/identity/v3/auth/projects")["projects"]
    admin = next(p["id"] for p in project if p["name"] == "admin")
    api.compute("PUT", f"/os-quota-sets/{admin}", {"quota_set": {
        "instances": instances * 2, "cores": instances * 4, "ram": instances * 4096}})
    public = api.network("GET", "/networks?router:external=true")["networks"][0]["id"]
    router = api.network("POST", "/routers", {"router": {
        "name": "bench-router", "external_gateway_info": {"network_id": public}}})["router"]
    flavor = api.compute("GET", "/flavors")["flavors"][0]["id"]
    image = bench_image(api)
    per_network = instances // networks
    for n in range(networks):
        network = api.network("POST", "/networks", {"network": {"name": f"bench-net-{n}"}})["network"]
        subnet = api.network("POST", "/subnets", {"subnet": {
            "network_id": network["id"], "ip_version": 4, "cidr": f"10.{n}.0.0/24",
            "name": f"bench-subnet-{n}"}})["subnet"]
        api.network("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
        api.compute("POST", "/servers", {"server": {
            "name": f"bench-vm-{n}", "imageRef": image, "flavorRef": flavor,
            "networks": [{"uuid": network["id"]}],
            "min_count": per_network, "max_count": per_network}})
    deadline = time.monotonic() + 120
    while True:
        servers = api.compute("GET", "/servers/detail?limit=1000")["servers"]
        if len(servers) >= instances and all(s["status"] == "ACTIVE" for s in servers):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"servers did not all become ACTIVE: {len(servers)}")
        time.sleep(0.5)


def bench_image(api):
    """The image the servers boot: `cirros` if the cloud has one, else a
    few KiB of zeros (the fake driver boots anything)."""
    found = api.call("GET", "/image/v2/images?name=cirros")["images"]
    if found:
        return found[0]["id"]
    image = api.call("POST", "/image/v2/images", {
        "name": "bench-image", "disk_format": "raw", "container_format": "bare"})
    request = urllib.request.Request(
        f"{api.url}/image/v2/images/{image['id']}/file", bytes(4096),
        {"x-auth-token": api.token, "content-type": "application/octet-stream"}, method="PUT")
    urllib.request.urlopen(request).read()
    return image["id"]


def dashboard_session(url, password):
    """Signs in through the login form; the session cookie."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    connection.request("GET", "/dashboard/auth/login")
    reply = connection.getresponse()
    cookie = reply.getheader("set-cookie").split(";")[0]
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', reply.read().decode()).group(1)
    body = urllib.parse.urlencode({"csrf": csrf, "domain": "Default", "username": "admin",
                                   "password": password, "project": "admin"})
    connection.request("POST", "/dashboard/auth/login", body, {
        "cookie": cookie, "content-type": "application/x-www-form-urlencoded"})
    reply = connection.getresponse()
    reply.read()
    assert reply.status == 303, f"sign-in failed: {reply.status}"
    return reply.getheader("set-cookie").split(";")[0]


def time_http(url, path, cookie, runs):
    """(time to first byte, whole document) of each run, in ms."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        connection.request("GET", path, headers={"cookie": cookie})
        reply = connection.getresponse()
        first_byte = time.perf_counter()
        body = reply.read()
        done = time.perf_counter()
        assert reply.status == 200, f"{path}: {reply.status}"
        assert len(body) > 1000
        samples.append(((first_byte - started) * 1000, (done - started) * 1000))
    return samples


def time_browser(url, path, cookie, runs):
    """Navigation start to the load event in Chromium, in ms."""
    from playwright.sync_api import sync_playwright

    name, value = cookie.split("=", 1)
    parts = urllib.parse.urlsplit(url)
    samples = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--no-sandbox", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        context = browser.new_context()
        context.add_cookies([{"name": name, "value": value, "domain": parts.hostname, "path": "/dashboard"}])
        page = context.new_page()
        page.goto(url + path)  # warms the cache of the static files, as a user's second page
        for _ in range(runs):
            page.goto(url + path, wait_until="load")
            timing = page.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
            entry = json.loads(timing)
            samples.append(entry["loadEventEnd"] - entry["startTime"])
        browser.close()
    return samples


def p(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--networks", type=int, default=20)
    args = parser.parse_args()
    api = Api(args.url, args.password)
    seed(api, args.networks, args.instances)
    cookie = dashboard_session(args.url, args.password)
    print(f"\n{args.instances} instances on {args.networks} networks, {args.runs} runs each "
          f"(fake driver, release build)\n")
    print("| page | TTFB p50 | TTFB p95 | document p50 | document p95 | browser full load p50 | p95 | target |")
    print("|---|---|---|---|---|---|---|---|")
    for label, path in (("instances", "/dashboard/project/instances"),
                        ("network topology", "/dashboard/project/network_topology")):
        http_samples = time_http(args.url, path, cookie, args.runs)
        first = [s[0] for s in http_samples]
        whole = [s[1] for s in http_samples]
        loads = time_browser(args.url, path, cookie, args.runs)
        ok = "✓" if p(loads, 0.5) < TARGET_MS and p(first, 0.5) < TARGET_MS else "✗"
        print(f"| {label} | {statistics.median(first):.1f} ms | {p(first, 0.95):.1f} ms "
              f"| {statistics.median(whole):.1f} ms | {p(whole, 0.95):.1f} ms "
              f"| {statistics.median(loads):.1f} ms | {p(loads, 0.95):.1f} ms | < {TARGET_MS} ms {ok} |")


if __name__ == "__main__":
    main()
