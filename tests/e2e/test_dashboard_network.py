"""The dashboard's network panels in a browser: networks, security group
rules, floating IPs and the topology picture, signed in as kube on the seed's
kube project (fake drivers). Fixtures the pages only show are made with the
CLI; the actions under test are done in the pages.
"""

import json
import re

import pytest
from playwright.sync_api import expect

from browser import browser, new_page, page  # noqa: F401 (fixtures)
from browser import SCREENSHOTS, body_text, confirm, expect_flash, login, row
from test_compute_network import KUBE, wait_for_servers


def as_json(cloud, *args, **who):
    return json.loads(cloud.openstack(*args, "-f", "json", **who).stdout)


def sign_in(page, cloud, path):
    login(page, cloud.url, "kube", "pw")
    page.goto(f"{cloud.url}{path}")
    return page


@pytest.fixture(scope="module")
def instance(kube_cloud):
    """A server `vm1` on kubenet (the fake driver makes it ACTIVE at once),
    as `server list` shows it."""
    kube_cloud.openstack("server", "create", "--image", "cirros", "--network", "kubenet",
                         "--flavor", "1", "vm1", **KUBE)
    return wait_for_servers(kube_cloud, ["vm1"], **KUBE)["vm1"]


def row_with(page, text):
    """The one table row showing `text`."""
    return page.locator("tr[data-id]").filter(has_text=text)


def test_create_a_network_with_a_subnet(kube_cloud, page):
    sign_in(page, kube_cloud, "/dashboard/project/networks")
    form = page.locator("form", has=page.get_by_role("button", name="Create network"))
    form.get_by_label("Network name").fill("webnet")
    form.get_by_label("Subnet name").fill("websubnet")
    form.get_by_label("Network address (CIDR)").fill("10.20.0.0/24")
    form.get_by_label("DNS name servers").fill("192.168.1.16")
    with page.expect_navigation():
        form.get_by_role("button", name="Create network").click()
    expect_flash(page, "ok", "Created network webnet with its subnet.")
    listed = row_with(page, "webnet")
    expect(listed).to_contain_text("websubnet 10.20.0.0/24")
    expect(listed.locator("td[data-status]")).to_have_text("ACTIVE")

    with page.expect_navigation():
        listed.get_by_role("link", name="webnet").click()
    subnet = row_with(page, "websubnet")
    expect(subnet).to_contain_text("10.20.0.1")
    expect(subnet).to_contain_text("192.168.1.16")


def create_network(page, cloud, name, subnet, cidr):
    page.goto(f"{cloud.url}/dashboard/project/networks")
    form = page.locator("form", has=page.get_by_role("button", name="Create network"))
    form.get_by_label("Network name").fill(name)
    form.get_by_label("Subnet name").fill(subnet)
    form.get_by_label("Network address (CIDR)").fill(cidr)
    with page.expect_navigation():
        form.get_by_role("button", name="Create network").click()
    expect_flash(page, "ok", f"Created network {name} with its subnet.")


def test_router_gateway_and_interfaces(kube_cloud, page):
    login(page, kube_cloud.url, "kube", "pw")
    create_network(page, kube_cloud, "edgenet", "edgesubnet", "10.30.0.0/24")
    page.goto(f"{kube_cloud.url}/dashboard/project/routers")
    form = page.locator("form", has=page.get_by_role("button", name="Create router"))
    form.get_by_label("Router name").fill("edge")
    form.get_by_label("External network").select_option(label="public")
    with page.expect_navigation():
        form.get_by_role("button", name="Create router").click()
    expect_flash(page, "ok", "Created router edge.")
    listed = row_with(page, "edge")
    expect(listed).to_contain_text(re.compile(r"public \d+\.\d+\.\d+\.\d+"))

    with page.expect_navigation():
        listed.get_by_role("link", name="edge").click()
    page.get_by_role("button", name="Clear gateway").click()
    confirm(page)
    expect_flash(page, "ok", "Cleared the gateway.")
    expect(page.locator("dl.details dt:text-is('External gateway') + dd")).to_have_text("None")

    form = page.locator("form", has=page.get_by_role("button", name="Add interface"))
    form.get_by_label("Subnet").select_option(label="edgenet: edgesubnet (10.30.0.0/24)")
    with page.expect_navigation():
        form.get_by_role("button", name="Add interface").click()
    expect_flash(page, "ok", "Added the interface.")
    interface = row_with(page, "10.30.0.1")
    expect(interface).to_contain_text("edgenet")
    interface.get_by_role("button", name="Remove").click()
    confirm(page)
    expect_flash(page, "ok", "Removed the interface.")
    expect(row_with(page, "10.30.0.1")).to_have_count(0)

    page.get_by_role("button", name="Delete router").click()
    confirm(page)
    expect_flash(page, "ok", "Deleted the router.")
    expect(row_with(page, "edge")).to_have_count(0)


def add_rule(page, preset):
    form = page.locator("form", has=page.get_by_role("button", name="Add rule"))
    form.get_by_label("Rule", exact=True).select_option(label=preset)
    with page.expect_navigation():
        form.get_by_role("button", name="Add rule").click()
    expect_flash(page, "ok", "Added the rule.")


def rule_row(page, ports):
    """The rule whose Port Range cell reads `ports`."""
    return page.locator("tr[data-id]").filter(
        has=page.locator("td:nth-child(4)", has_text=re.compile(f"^{re.escape(ports)}$")))


def test_security_group_rules_from_presets(kube_cloud, page):
    group = as_json(kube_cloud, "security", "group", "create", "websg", **KUBE)
    sign_in(page, kube_cloud, f"/dashboard/project/security_groups/{group['id']}")
    add_rule(page, "SSH (22)")
    add_rule(page, "Kubernetes NodePort range (30000-32767)")
    ssh, nodeport = rule_row(page, "22"), rule_row(page, "30000 - 32767")
    for rule in (ssh, nodeport):
        expect(rule).to_contain_text("ingress")
        expect(rule).to_contain_text("tcp")
        expect(rule).to_contain_text("0.0.0.0/0")

    ssh.get_by_role("button", name="Delete rule").click()
    expect(page.locator("dialog[open]")).to_contain_text("Delete the ingress tcp rule (22)?")
    confirm(page)
    expect_flash(page, "ok", "Deleted the rule.")
    expect(ssh).to_have_count(0)
    expect(nodeport).to_have_count(1)


def test_allocate_and_associate_a_floating_ip(kube_cloud, instance, page):
    sign_in(page, kube_cloud, "/dashboard/project/floating_ips")
    form = page.locator("form", has=page.get_by_role("button", name="Allocate IP"))
    form.get_by_label("Pool").select_option(label="public")
    with page.expect_navigation():
        form.get_by_role("button", name="Allocate IP").click()
    allocated = expect_flash(page, "ok", re.compile(r"Allocated floating IP \d+\.\d+\.\d+\.\d+\."))
    address = allocated.inner_text().split()[-1].rstrip(".")
    listed = row_with(page, address)
    expect(listed).to_contain_text("Not associated")
    floating_id = listed.get_attribute("data-id")

    fixed = instance["Networks"]["kubenet"][0]
    listed.get_by_label(re.compile("Port to be associated")).select_option(label=f"vm1: {fixed}")
    with page.expect_navigation():
        listed.get_by_role("button", name="Associate").click()
    expect_flash(page, "ok", f"Associated the floating IP with {fixed}.")
    mapped = row(page, floating_id)
    expect(mapped).to_contain_text(f"{fixed} Instance vm1")
    expect(mapped.get_by_role("link", name="vm1")).to_have_attribute(
        "href", f"/dashboard/project/instances/{instance['ID']}")
    expect(mapped.locator("td[data-status]")).to_have_text("ACTIVE")


def test_topology_links_the_project(kube_cloud, instance, page):
    sign_in(page, kube_cloud, "/dashboard/project/network_topology")
    picture = page.locator("div.topology#topology svg")
    kubenet = picture.locator(".topo-net", has_text="kubenet")
    public = picture.locator(".topo-net.topo-external", has_text="public")
    router = picture.locator(".topo-device.topo-router", has_text="kuberouter")
    vm = picture.locator(f'.topo-device.topo-instance[data-id="{instance["ID"]}"]')
    expect(kubenet).to_contain_text("172.16.0.0/24")
    expect(vm).to_contain_text("vm1")
    ids = {name: element.get_attribute("data-id")
           for name, element in [("kubenet", kubenet), ("public", public), ("router", router)]}
    links = [(ids["router"], ids["public"]), (ids["router"], ids["kubenet"]), (instance["ID"], ids["kubenet"])]
    for device, network in links:
        expect(picture.locator(f'.topo-link[data-device="{device}"][data-network="{network}"]')).to_have_count(1)
    interface = picture.locator(f'.topo-link[data-device="{ids["router"]}"][data-network="{ids["kubenet"]}"]')
    expect(interface).to_contain_text("172.16.0.1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "network_topology.png"), full_page=True)
    with page.expect_navigation():
        vm.click()
    expect(page).to_have_url(f"{kube_cloud.url}/dashboard/project/instances/{instance['ID']}")


def test_a_post_without_the_csrf_token_is_refused(kube_cloud, page):
    sign_in(page, kube_cloud, "/dashboard/project/networks")
    response = page.request.post(f"{kube_cloud.url}/dashboard/project/networks/create",
                                 form={"name": "forged"})
    assert response.status == 403
    assert "CSRF" in response.text()
    page.reload()
    assert "forged" not in body_text(page)


def test_an_admin_sees_only_the_admin_projects_network_objects(kube_cloud, page):
    """Neutron lists every project's objects to an admin; the project
    pages show the signed-in project's own and the networks it may use."""
    login(page, kube_cloud.url, "admin", "pw", project="admin")
    page.goto(f"{kube_cloud.url}/dashboard/project/networks")
    expect(page.get_by_role("link", name="public", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="kubenet", exact=True)).to_have_count(0)
    page.goto(f"{kube_cloud.url}/dashboard/project/routers")
    expect(page.get_by_role("heading", name="Routers")).to_be_visible()
    expect(page.get_by_role("link", name="kuberouter", exact=True)).to_have_count(0)
    page.goto(f"{kube_cloud.url}/dashboard/project/network_topology")
    expect(page.locator("#topology")).to_contain_text("public")
    expect(page.locator("#topology")).not_to_contain_text("kubenet")
