"""The web dashboard at /dashboard, driven in a headless browser: signing
in and out, the session, projects, CSRF and isolation. The panels have their
own modules (test_dashboard_*.py).

The fixtures and helpers are in browser.py; the cloud is a fresh oxistack
on the fake drivers with the seed's kube project.
"""

import json
import re
import time

from playwright.sync_api import expect

from browser import (  # noqa: F401 (fixtures)
    browser,
    expect_flash,
    expect_logged_in,
    login,
    new_page,
    page,
)
from test_compute_network import KUBE


def as_json(cloud, *args, **who):
    return json.loads(cloud.openstack(*args, "-f", "json", **who).stdout)


def test_kube_signs_in_to_the_overview_with_a_strict_session_cookie(kube_cloud, page):
    login(page, kube_cloud.url, "kube", "pw")
    expect_logged_in(page)
    expect(page).to_have_url(re.compile(r"/dashboard/project/$"))
    expect(page.locator("header.top")).to_contain_text("kube")
    session = {c["name"]: c for c in page.context.cookies()}["oxistack_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert session["path"] == "/dashboard"
    # The only project kube has is not a switcher; admins' pages are hidden.
    expect(page.locator("nav.side")).not_to_contain_text("Hypervisors")


def test_a_wrong_password_is_refused_and_repeated_failures_are_slowed(kube_cloud, page):
    kube_cloud.openstack("user", "create", "guesswork", "--password", "right")
    kube_cloud.openstack("role", "add", "--user", "guesswork", "--project", "kube", "member")
    login(page, kube_cloud.url, "guesswork", "wrong")
    expect_flash(page, "error", "Invalid credentials")
    expect(page).to_have_url(re.compile(r"/dashboard/auth/login"))
    for _ in range(2):
        login(page, kube_cloud.url, "guesswork", "wrong")
        expect_flash(page, "error", "Invalid credentials")
    # Now even the right password must wait; the message says how long.
    login(page, kube_cloud.url, "guesswork", "right")
    expect_flash(page, "error", re.compile(r"Too many failed sign-in attempts.*Try again in \d+ seconds"))
    time.sleep(1.2)
    login(page, kube_cloud.url, "guesswork", "right")
    expect_logged_in(page)


def test_a_form_post_without_the_csrf_token_changes_nothing(kube_cloud, page):
    login(page, kube_cloud.url, "kube", "pw")
    expect_logged_in(page)
    action = f"{kube_cloud.url}/dashboard/project/key_pairs/create"
    refused = page.request.post(action, form={"name": "forged"})
    assert refused.status == 403
    assert "CSRF" in refused.text()
    wrong = page.request.post(action, form={"name": "forged", "csrf": "0" * 64})
    assert wrong.status == 403
    names = [k["Name"] for k in as_json(kube_cloud, "keypair", "list", **KUBE)]
    assert "forged" not in names
    # The same form from the page, token included, goes through.
    page.goto(f"{kube_cloud.url}/dashboard/project/key_pairs")
    page.fill("#create-name", "genuine")
    page.get_by_role("button", name="Create key pair").click()
    expect(page.get_by_role("link", name="Download genuine.pem")).to_be_visible()
    names = [k["Name"] for k in as_json(kube_cloud, "keypair", "list", **KUBE)]
    assert "genuine" in names


def test_demo_can_neither_see_nor_reach_kubes_resources(kube_cloud, new_page):
    server = as_json(kube_cloud, "server", "create", "--image", "cirros", "--flavor", "1",
                     "--network", "kubenet", "--wait", "kube-private", **KUBE)
    volume = as_json(kube_cloud, "volume", "create", "--size", "1", "kube-disk", **KUBE)
    network = as_json(kube_cloud, "network", "show", "kubenet", **KUBE)
    demo = new_page()
    login(demo, kube_cloud.url, "demo", "pw")
    expect_logged_in(demo)
    demo.goto(f"{kube_cloud.url}/dashboard/project/instances")
    expect(demo.locator("main")).not_to_contain_text("kube-private")
    demo.goto(f"{kube_cloud.url}/dashboard/project/volumes")
    expect(demo.locator("main")).not_to_contain_text("kube-disk")
    for path in (f"instances/{server['id']}", f"volumes/{volume['id']}", f"networks/{network['id']}"):
        response = demo.goto(f"{kube_cloud.url}/dashboard/project/{path}")
        assert response.status == 404, path
        expect(demo.locator("main")).not_to_contain_text("kube-")
    # An admin page typed by hand is not there for a project member either.
    response = demo.goto(f"{kube_cloud.url}/dashboard/admin/instances")
    assert response.status == 404


def test_switching_projects_and_signing_out_ends_the_session(kube_cloud, page):
    kube_cloud.openstack("role", "add", "--user", "kube", "--project", "demo", "member")
    login(page, kube_cloud.url, "kube", "pw", project="kube")
    expect_logged_in(page)
    page.select_option("#switch-project", label="demo")
    with page.expect_navigation():
        page.get_by_role("button", name="Switch").click()
    expect_flash(page, "ok", "Switched to project demo")
    expect(page.locator("#switch-project option:checked")).to_have_text("demo")
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    expect_flash(page, "ok", "You have signed out")
    # The old session is gone: a page sends the browser back to sign in.
    page.goto(f"{kube_cloud.url}/dashboard/project/instances")
    expect(page).to_have_url(re.compile(r"/dashboard/auth/login"))
    kube_cloud.openstack("role", "remove", "--user", "kube", "--project", "demo", "member")


# Pages a phone user reaches most; none may be wider than the screen (wide
# tables and the topology picture scroll inside their own boxes).
PHONE_PAGES = ("", "instances", "instances/launch", "volumes", "network_topology",
               "security_groups", "load_balancers/create")
UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
    .map(e => e.name || e.id || e.outerHTML.slice(0, 60))"""


def test_pages_fit_a_phone_and_work_with_the_keyboard(kube_cloud, new_page):
    phone = new_page(viewport={"width": 390, "height": 844}, color_scheme="dark")
    login(phone, kube_cloud.url, "kube", "pw")
    expect_logged_in(phone)
    for path in PHONE_PAGES:
        phone.goto(f"{kube_cloud.url}/dashboard/project/{path}")
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"/dashboard/project/{path} is {overflow}px wider than a phone"
        assert phone.evaluate(UNLABELLED) == [], f"/dashboard/project/{path} has fields without a label"
    # From the top, the first Tab reaches "Skip to content", which moves the
    # focus to the page's content; the focus is visible.
    phone.goto(f"{kube_cloud.url}/dashboard/project/instances")
    phone.keyboard.press("Tab")
    expect(phone.locator(":focus")).to_have_text("Skip to content")
    phone.keyboard.press("Enter")
    expect(phone.locator(":focus")).to_have_attribute("id", "main")
    phone.keyboard.press("Tab")
    outline = phone.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused element shows no focus ring"
