"""The dashboard's Admin and Identity pages, in a headless browser: an
admin sees the hypervisor's usage, manages flavors, projects, users and
role assignments, and reads the catalog; anyone else finds no such pages.

Fixtures come from the openstack CLI where that is quicker; each test
drives the UI action it is about.
"""

import re

from browser import browser, new_page, page  # noqa: F401 (fixtures)
from browser import body_text, confirm, csrf_token, expect_flash, expect_logged_in, login, row
from playwright.sync_api import expect


def admin_login(page, cloud):
    login(page, cloud.url, "admin", "pw", project="admin")
    expect(page).not_to_have_url(re.compile(r"/dashboard/auth/login"))
    return page


def test_hypervisor_usage(kube_cloud, page):
    admin_login(page, kube_cloud)
    page.goto(f"{kube_cloud.url}/dashboard/admin/hypervisors")
    summary = page.locator("section", has=page.get_by_role("heading", name="Hypervisor summary"))
    expect(summary).to_contain_text(re.compile(r"vCPUs\s*\d+ of \d+ used"))
    expect(summary).to_contain_text(re.compile(r"RAM\s*\d+ of \d+ MiB used"))
    expect(summary).to_contain_text(re.compile(r"Instances\s*\d+ running"))
    expect(page.locator("table tbody tr[data-id]")).not_to_have_count(0)
    expect(page.locator("table")).to_contain_text("fake")


def test_create_and_delete_a_flavor(kube_cloud, page):
    admin_login(page, kube_cloud)
    page.goto(f"{kube_cloud.url}/dashboard/admin/flavors")
    form = page.locator("form", has=page.get_by_role("heading", name="Create flavor"))
    form.get_by_label("Name").fill("x1.browser")
    form.get_by_label("vCPUs").fill("3")
    form.get_by_label("RAM (MiB)").fill("1536")
    with page.expect_navigation():
        form.get_by_role("button", name="Create flavor").click()
    expect_flash(page, "ok", "Created flavor x1.browser.")
    flavor = page.locator("tr[data-id]", has_text="x1.browser")
    expect(flavor).to_contain_text("1536 MiB")
    flavor.get_by_role("button", name="Delete").click()
    expect(page.locator("dialog[open]")).to_contain_text("Delete flavor x1.browser?")
    confirm(page)
    expect_flash(page, "ok", "Deleted the flavor.")
    expect(page.locator("tr[data-id]", has_text="x1.browser")).to_have_count(0)


def test_a_flavor_without_ephemeral_disk_or_swap_has_none(kube_cloud, page):
    admin_login(page, kube_cloud)
    page.goto(f"{kube_cloud.url}/dashboard/admin/flavors")
    form = page.locator("form", has=page.get_by_role("heading", name="Create flavor"))
    form.get_by_label("Name").fill("x1.noswap")
    form.get_by_label("Ephemeral disk (GiB)").fill("")
    form.get_by_label("Swap (MiB)").fill("")
    with page.expect_navigation():
        form.get_by_role("button", name="Create flavor").click()
    expect_flash(page, "ok", "Created flavor x1.noswap.")
    flavor = page.locator("tr[data-id]", has_text="x1.noswap")
    expect(flavor).to_contain_text("0 GiB")
    # A required size left empty (past the browser's own check) is told
    # in words on the page, not a 400.
    answer = page.request.post(
        f"{kube_cloud.url}/dashboard/admin/flavors",
        form={"csrf": csrf_token(page), "name": "x1.novcpus", "vcpus": "", "ram": "512", "disk": "1"},
        max_redirects=0,
    )
    assert answer.status == 303, answer.status
    page.goto(f"{kube_cloud.url}/dashboard/admin/flavors")
    expect_flash(page, "error", "Could not create flavor x1.novcpus: vCPUs is required.")
    expect(page.locator("tr[data-id]", has_text="x1.novcpus")).to_have_count(0)


def test_project_user_and_role_assignment(kube_cloud, page):
    admin_login(page, kube_cloud)
    page.goto(f"{kube_cloud.url}/dashboard/identity/projects")
    form = page.locator("form", has=page.get_by_role("heading", name="Create project"))
    form.get_by_label("Name").fill("webteam")
    form.get_by_label("Description").fill("made in the browser")
    with page.expect_navigation():
        form.get_by_role("button", name="Create project").click()
    expect_flash(page, "ok", "Created project webteam.")

    page.goto(f"{kube_cloud.url}/dashboard/identity/users")
    form = page.locator("form", has=page.get_by_role("heading", name="Create user"))
    form.get_by_label("User name").fill("alice")
    form.get_by_label("Password").fill("secret-pw")
    form.get_by_label("Email").fill("alice@example.org")
    with page.expect_navigation():
        form.get_by_role("button", name="Create user").click()
    expect_flash(page, "ok", "Created user alice.")
    expect(page.locator("tr[data-id]", has_text="alice")).to_contain_text("alice@example.org")

    page.goto(f"{kube_cloud.url}/dashboard/identity/projects")
    with page.expect_navigation():
        page.get_by_role("link", name="webteam", exact=True).click()
    assignments = page.locator("section", has=page.get_by_role("heading", name="Role assignments"))
    expect(assignments).to_contain_text("No roles are assigned here.")
    add = assignments.locator("form", has=page.get_by_role("heading", name="Add a role assignment"))
    add.get_by_label("User or group").select_option(label="alice")
    add.get_by_label("Role").select_option(label="member")
    with page.expect_navigation():
        add.get_by_role("button", name="Add role assignment").click()
    expect_flash(page, "ok", "Added the role assignment.")
    granted = assignments.locator("tr[data-id]", has_text="alice")
    expect(granted).to_contain_text("member")
    # The user's own page shows the same grant.
    user_page = page.url
    page.goto(f"{kube_cloud.url}/dashboard/identity/users")
    with page.expect_navigation():
        page.get_by_role("link", name="alice", exact=True).click()
    expect(page.locator("section", has_text="Role assignments").locator("tr[data-id]")).to_contain_text("webteam")

    page.goto(user_page)
    granted.get_by_role("button", name="Remove").click()
    expect(page.locator("dialog[open]")).to_contain_text("Remove role member from alice?")
    confirm(page)
    expect_flash(page, "ok", "Removed the role assignment.")
    expect(assignments.locator("tr[data-id]")).to_have_count(0)


def test_services_and_endpoints(kube_cloud, page):
    admin_login(page, kube_cloud)
    page.goto(f"{kube_cloud.url}/dashboard/admin/info")
    endpoints = page.locator("section", has=page.get_by_role("heading", name="Services and endpoints"))
    for service_type in ("compute", "network", "identity"):
        expect(endpoints.locator(f'tr[data-service-type="{service_type}"]').first).to_be_visible()
    expect(endpoints).to_contain_text(f"{kube_cloud.url}/compute/v2.1")
    compute = page.locator("section", has=page.get_by_role("heading", name="Compute services"))
    expect(compute).to_contain_text("nova-compute")


def test_admin_pages_are_not_there_for_others(kube_cloud, page):
    login(page, kube_cloud.url, "kube", "pw", project="kube")
    page.goto(f"{kube_cloud.url}/dashboard/project/key_pairs")
    expect_logged_in(page)
    expect(page.locator("nav.side")).to_contain_text("Key Pairs")
    expect(page.locator("nav.side")).not_to_contain_text("Admin")
    expect(page.locator("nav.side")).not_to_contain_text("Identity")
    response = page.goto(f"{kube_cloud.url}/dashboard/admin/flavors")
    assert response.status == 404
    assert "There is nothing here" in body_text(page)
    assert page.get_by_role("button", name="Create flavor").count() == 0
    response = page.goto(f"{kube_cloud.url}/dashboard/identity/users")
    assert response.status == 404
    assert row(page, "admin").count() == 0
