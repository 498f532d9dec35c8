"""Project > Instances in the dashboard, driven in a headless browser as kube:
launch and watch the instance settle without reloading, stop it from the
list, associate a floating IP and attach a volume from its page, open its
serial console; and demo can neither see nor reach it.

Fixtures other than the page under test come from the openstack CLI, which
is faster than clicking them together.
"""


import pytest
from playwright.sync_api import expect

from browser import browser, new_page, page  # noqa: F401 (fixtures)
from browser import expect_flash, expect_logged_in, login, row, wait_for_status
from test_compute_network import KUBE, as_json

INSTANCES = "/dashboard/project/instances"


@pytest.fixture(scope="module")
def db_server(kube_cloud):
    """An ACTIVE instance of kube's on kubenet, made with the CLI."""
    return as_json(kube_cloud, "server", "create", "--image", "cirros", "--flavor", "1",
                   "--network", "kubenet", "--wait", "db-1", **KUBE)


def signed_in_as_kube(cloud, page, path):
    login(page, cloud.url, "kube", "pw")
    expect_logged_in(page)
    page.goto(f"{cloud.url}{path}")
    return page


def test_launching_shows_build_then_active_without_reloading(kube_cloud, page):
    signed_in_as_kube(kube_cloud, page, f"{INSTANCES}/launch")
    page.get_by_label("Instance name").fill("web-1")
    page.get_by_label("Image").select_option(label="cirros")
    # Flavors are listed smallest first.
    page.get_by_label("Flavor").select_option(index=0)
    page.get_by_label("kubenet").check()
    page.get_by_label("kubesg").check()
    page.get_by_label("User data").fill("#cloud-config\nhostname: web-1\n")
    with page.expect_navigation():
        page.get_by_role("button", name="Launch instance").click()
    expect_flash(page, "ok", "Launched instance web-1.")
    server_id = page.locator("tr[data-id]", has_text="web-1").get_attribute("data-id")
    page.evaluate("window.stillThisPage = true")
    wait_for_status(page, server_id, "ACTIVE")
    expect(row(page, server_id)).to_contain_text("172.16.0.")
    expect(row(page, server_id)).to_contain_text("cirros")
    assert page.evaluate("window.stillThisPage === true"), "the list reloaded"

    # Stopping from the row: the row follows the instance down by itself.
    with page.expect_navigation():
        row(page, server_id).get_by_role("button", name="Stop").click()
    wait_for_status(page, server_id, "SHUTOFF")
    expect(row(page, server_id)).to_contain_text("Shut Down")

    # The name leads to the details, which show what the form asked for.
    row(page, server_id).get_by_role("link", name="web-1").click()
    overview = page.locator("#instance-overview")
    expect(overview).to_contain_text("SHUTOFF")
    expect(overview).to_contain_text("default, kubesg")
    # It refreshes from its own address, without the console log.
    source = f"{INSTANCES}/{server_id}/overview"
    expect(overview).to_have_attribute("data-refresh-src", source)
    fragment = page.request.get(f"{kube_cloud.url}{source}")
    assert fragment.ok, fragment.status
    assert 'id="instance-overview"' in fragment.text() and "Console log" not in fragment.text()


def test_floating_ip_security_group_and_volume_from_the_instance_page(kube_cloud, db_server, page):
    server = db_server
    volume = as_json(kube_cloud, "volume", "create", "--size", "1", "data-1", **KUBE)
    signed_in_as_kube(kube_cloud, page, f"{INSTANCES}/{server['id']}")
    expect(page.locator("#instance-overview")).to_contain_text("ACTIVE")

    floating = page.locator("#instance-floating-ips")
    floating.get_by_label("Floating IP").select_option(label="Allocate a new one from public")
    with page.expect_navigation():
        floating.get_by_role("button", name="Associate floating IP").click()
    expect_flash(page, "ok", "Associated floating IP")
    address = page.locator("#instance-floating-ips [data-floating-ip]").get_attribute("data-floating-ip")
    expect(page.locator("#instance-addresses")).to_contain_text(f"{address} (floating)")

    groups = page.locator("#instance-security-groups")
    groups.get_by_label("Security group").select_option(label="kubesg")
    with page.expect_navigation():
        groups.get_by_role("button", name="Add security group").click()
    expect_flash(page, "ok", "Added the security group.")
    expect(page.locator('#instance-security-groups [data-security-group="kubesg"]')).to_be_visible()

    volumes = page.locator("#instance-volumes")
    volumes.get_by_label("Volume").select_option(label="data-1 (1 GB)")
    with page.expect_navigation():
        volumes.get_by_role("button", name="Attach volume").click()
    expect_flash(page, "ok", "Attaching the volume.")
    expect(page.locator(f'#instance-volumes tr[data-id="{volume["id"]}"] td[data-status]')).to_have_text("in-use")
    expect(page.locator(f'#instance-volumes tr[data-id="{volume["id"]}"]')).to_contain_text("data-1")


def test_serial_console_shows_the_login_prompt(kube_cloud, db_server, page):
    signed_in_as_kube(kube_cloud, page, f"{INSTANCES}/{db_server['id']}")
    page.get_by_role("button", name="Open serial console").click()
    status = page.locator("#serial-console-status")
    terminal = page.locator("#serial-terminal .xterm-rows")
    expect(terminal.or_(page.locator("#serial-console-status[data-failed]"))).to_be_visible()
    failed = status.get_attribute("data-failed")
    if failed in ("404", "501"):
        pytest.skip(f"the compute API has no serial remote console yet ({failed}): {status.inner_text()}")
    assert failed is None, status.inner_text()
    expect(terminal).to_contain_text("login:")
    # Keys typed in the terminal reach the instance, which echoes them.
    page.locator("#serial-terminal .xterm-helper-textarea").focus()
    page.keyboard.type("root\n")
    expect(terminal).to_contain_text("root")


def test_demo_neither_sees_nor_reaches_kubes_instance(kube_cloud, db_server, new_page):
    demo = new_page()
    login(demo, kube_cloud.url, "demo", "pw")
    expect_logged_in(demo)
    demo.goto(f"{kube_cloud.url}{INSTANCES}")
    expect(demo.locator("main")).not_to_contain_text("db-1")
    response = demo.goto(f"{kube_cloud.url}{INSTANCES}/{db_server['id']}")
    assert response.status == 404
    expect(demo.locator("h1")).to_contain_text("404")
    expect(demo.locator("main")).not_to_contain_text("db-1")
