"""The dashboard's load-balancer panel in a browser: Horizon's Create Load
Balancer wizard with two instances as members and a health monitor in one
flow, the load balancer's page with its status tree refreshing by itself,
a floating IP for its VIP, and delete with the page's own confirmation.
A refusal of the wizard keeps what was typed.

The instances are made with the CLI (the fake driver makes them ACTIVE at
once): the test is about the pages.
"""

import re

import pytest
from playwright.sync_api import expect

from browser import SCREENSHOTS, browser, new_page, page  # noqa: F401 (fixtures)
from browser import confirm, expect_flash, login, row, wait_for_row_gone
from test_compute_network import KUBE

LIST = "/dashboard/project/load_balancers"
INSTANCES = ("lbweb-1", "lbweb-2")
# Operating statuses a member may show once the data plane has seen it.
MEMBER_STATUS = re.compile(r"^\s*(ONLINE|OFFLINE|NO_MONITOR|ERROR|DEGRADED)\s*$")

MAKE_INSTANCES = """
openstack server create --image cirros --network kubenet --flavor m1.tiny --min 2 --max 2 lbweb -f value -c id
openstack subnet show kubesubnet -f value -c id
"""


@pytest.fixture(scope="module")
def kubesubnet(kube_cloud):
    """Two instances of kube's on kubenet; the id of kubesubnet."""
    return kube_cloud.sh(MAKE_INSTANCES, **KUBE).stdout.split()[-1]


def open_wizard(page, cloud):
    login(page, cloud.url, "kube", "pw")
    page.goto(cloud.url + LIST)
    with page.expect_navigation():
        page.get_by_role("link", name="Create load balancer").click()
    expect(page.get_by_role("heading", name="Create Load Balancer")).to_be_visible()


def status_row(page, kind):
    return page.locator(f'#lb-status tr[data-kind="{kind}"]')


def test_wizard_builds_a_load_balancer_then_floating_ip_and_delete(kube_cloud, kubesubnet, page):
    open_wizard(page, kube_cloud)
    page.get_by_label("Name", exact=True).fill("weblb")
    page.get_by_label("Description").fill("web front")
    page.locator("select[name=vip_subnet_id]").select_option(kubesubnet)
    page.get_by_label("Listener name").fill("web-http")
    page.get_by_label("Protocol").select_option("HTTP")
    page.get_by_label("Port", exact=True).fill("80")
    page.get_by_label("Pool name").fill("web-pool")
    page.get_by_label("Algorithm").select_option("ROUND_ROBIN")
    for instance in INSTANCES:
        page.get_by_label(instance, exact=True).check()
        expect(page.locator(f'tr:has(label:text-is("{instance}")) input[data-member-port]')).to_have_value("80")
    # The HTTP fields show only once a monitor is asked for.
    expect(page.get_by_label("URL path")).to_be_hidden()
    page.get_by_label("Create a health monitor").check()
    page.get_by_label("Type", exact=True).select_option("HTTP")
    expect(page.get_by_label("URL path")).to_have_value("/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "lb-wizard.png"), full_page=True)

    with page.expect_navigation():
        page.get_by_role("button", name="Create Load Balancer").click()
    expect(page).to_have_url(re.compile(r"/dashboard/project/load_balancers/[0-9a-f-]{36}$"))
    lb_id = page.url.rsplit("/", 1)[1]
    expect_flash(page, "ok", "Creating load balancer weblb")

    # The status block refreshes by itself, always, from its own address,
    # which answers with that block alone: it is replaced while we watch.
    source = f"{LIST}/{lb_id}/status"
    expect(page.locator("#lb-status")).to_have_attribute("data-refresh-src", source)
    fragment = page.request.get(f"{kube_cloud.url}{source}")
    assert fragment.ok, fragment.status
    assert fragment.text().startswith("<div") and 'id="lb-status"' in fragment.text(), fragment.text()[:200]
    assert "<html" not in fragment.text() and "Floating IP" not in fragment.text()
    page.evaluate("document.getElementById('lb-status').setAttribute('data-seen', '1')")
    expect(page.locator("#lb-status[data-seen]")).to_have_count(0, timeout=10_000)
    expect(status_row(page, "Load balancer").locator("td").nth(3)).to_have_text("ACTIVE")
    expect(status_row(page, "Listener").locator("td").nth(1)).to_have_text("web-http")
    expect(status_row(page, "Health monitor").locator("td").nth(2)).to_have_text("HTTP")
    members = status_row(page, "Member")
    expect(members).to_have_count(2)
    for number, instance in enumerate(INSTANCES):
        member = members.nth(number)
        expect(member.locator("td").nth(1)).to_have_text(instance)
        expect(member.locator("td").nth(2)).to_have_text(re.compile(r"^172\.16\.0\.\d+:80$"))
        expect(member.locator("td").nth(4)).to_have_text(MEMBER_STATUS)
    member_rows = page.locator("section.pool table.members tbody tr[data-id]")
    expect(member_rows).to_have_count(2)

    # Remove a member (asked first), then add it back from the instances.
    pool = page.locator("section.pool")
    member_rows.filter(has_text=INSTANCES[1]).get_by_role("button", name="Remove").click()
    expect(page.locator("dialog[open]")).to_contain_text(f"Remove member {INSTANCES[1]}")
    confirm(page)
    expect_flash(page, "ok", "Removing the member")
    expect(members).to_have_count(1)
    target = pool.locator("select[name=target]")
    target.select_option(target.locator("option", has_text=INSTANCES[1]).get_attribute("value"))
    with page.expect_navigation():
        pool.get_by_role("button", name="Add member").click()
    expect_flash(page, "ok", "Adding member")
    expect(members).to_have_count(2)
    expect(member_rows).to_have_count(2)

    # A new floating IP from the public network, on the VIP.
    box = page.locator("#floating-ip")
    box.get_by_label("Floating IP").select_option(label="Allocate a new one from public")
    with page.expect_navigation():
        box.get_by_role("button", name="Associate").click()
    expect_flash(page, "ok", "Associated floating IP")
    address = page.locator("#floating-ip strong.floating-ip")
    expect(address).to_have_text(re.compile(r"^\d+\.\d+\.\d+\.\d+$"))
    floating_ip = address.inner_text().strip()
    page.screenshot(path=str(SCREENSHOTS / "lb-details.png"), full_page=True)

    # The topology picture links the load balancer and both members'
    # instances to kubenet, and kuberouter to kubenet and public, with the
    # VIP's floating IP on its link.
    page.goto(kube_cloud.url + "/dashboard/project/network_topology")
    picture = page.locator("div.topology svg")
    kubenet = picture.locator(".topo-net", has_text="kubenet").get_attribute("data-id")
    public = picture.locator(".topo-net.topo-external", has_text="public").get_attribute("data-id")
    router = picture.locator(".topo-device.topo-router", has_text="kuberouter").get_attribute("data-id")
    lb_link = picture.locator(f'.topo-link[data-device="{lb_id}"][data-network="{kubenet}"]')
    expect(lb_link).to_contain_text(floating_ip)
    for network in (kubenet, public):
        expect(picture.locator(f'.topo-link[data-device="{router}"][data-network="{network}"]')).to_have_count(1)
    for instance in INSTANCES:
        box = picture.locator(".topo-device.topo-instance", has_text=instance)
        link = f'.topo-link[data-device="{box.get_attribute("data-id")}"][data-network="{kubenet}"]'
        expect(picture.locator(link)).to_have_count(1)
    page.screenshot(path=str(SCREENSHOTS / "topology-with-load-balancer.png"), full_page=True)

    page.goto(kube_cloud.url + LIST)
    expect(row(page, lb_id)).to_contain_text(floating_ip)
    expect(row(page, lb_id)).to_contain_text("weblb")
    row(page, lb_id).get_by_role("button", name="Delete").click()
    expect(page.locator("dialog[open]")).to_contain_text("Delete load balancer weblb")
    confirm(page)
    wait_for_row_gone(page, lb_id, timeout=20_000)


def test_a_refused_wizard_keeps_what_was_typed(kube_cloud, kubesubnet, page):
    open_wizard(page, kube_cloud)
    page.get_by_label("Name", exact=True).fill("badlb")
    page.get_by_label("Description").fill("keep me")
    page.locator("select[name=vip_subnet_id]").select_option(kubesubnet)
    page.get_by_label("Port", exact=True).fill("0")
    page.get_by_label("Algorithm").select_option("LEAST_CONNECTIONS")
    page.get_by_label(INSTANCES[1], exact=True).check()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Create Load Balancer").click()
    assert answer.value.status == 400
    expect_flash(page, "error", re.compile(r"Could not create the load balancer: .*protocol_port.*greater or equal to 1"))
    expect(page.get_by_label("Name", exact=True)).to_have_value("badlb")
    expect(page.get_by_label("Description")).to_have_value("keep me")
    expect(page.get_by_label("Port", exact=True)).to_have_value("0")
    expect(page.get_by_label("Algorithm")).to_have_value("LEAST_CONNECTIONS")
    expect(page.get_by_label(INSTANCES[1], exact=True)).to_be_checked()
    expect(page.get_by_label(INSTANCES[0], exact=True)).not_to_be_checked()
    assert "badlb" not in kube_cloud.openstack("loadbalancer", "list", "-f", "value", "-c", "name", **KUBE).stdout
