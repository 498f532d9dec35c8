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
    csrf_token,
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


def test_a_wrong_project_name_is_named_in_the_message(kube_cloud, page):
    login(page, kube_cloud.url, "kube", "pw", project="no-such-project")
    expect_flash(page, "error", "the domain, user name, password or project is wrong")


def test_a_session_the_cloud_stops_accepting_ends_on_the_login_page(kube_cloud, page):
    kube_cloud.openstack("user", "create", "leaver", "--password", "pw")
    kube_cloud.openstack("role", "add", "--user", "leaver", "--project", "kube", "member")
    login(page, kube_cloud.url, "leaver", "pw")
    expect_logged_in(page)
    page.goto(f"{kube_cloud.url}/dashboard/project/key_pairs")
    old = {c["name"]: c["value"] for c in page.context.cookies()}["oxistack_session"]
    # Removing the role revokes the user's tokens in the project.
    kube_cloud.openstack("role", "remove", "--user", "leaver", "--project", "kube", "member")
    response = page.reload()
    # The login page, once (not a loop back home), saying why.
    expect(page).to_have_url(re.compile(r"/dashboard/auth/login\?ended=1$"))
    assert response.status == 200
    expect_flash(page, "error", "Your session has ended")
    expect(page.locator("[name=password]")).to_be_visible()
    new = {c["name"]: c["value"] for c in page.context.cookies()}["oxistack_session"]
    assert new != old, "the ended session's cookie was replaced"
    # The old session is gone for good, not merely redirected once.
    ended = page.request.get(f"{kube_cloud.url}/dashboard/project/key_pairs",
                             headers={"Cookie": f"oxistack_session={old}"}, max_redirects=0)
    assert ended.status in (302, 303, 307) and "ended=1" in ended.headers["location"]


def test_pages_carry_a_content_security_policy_that_allows_their_own_scripts(kube_cloud, page):
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    login(page, kube_cloud.url, "kube", "pw")
    expect_logged_in(page)
    response = page.goto(f"{kube_cloud.url}/dashboard/project/key_pairs")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    # The page's own script runs: the confirmation dialog opens.
    page.fill("#create-name", "csp-check")
    with page.expect_navigation():
        page.get_by_role("button", name="Create key pair").click()
    expect(page.get_by_role("link", name="Download csp-check.pem")).to_be_visible()
    page.goto(f"{kube_cloud.url}/dashboard/project/key_pairs")
    page.locator('tr[data-id="csp-check"]').get_by_role("button", name="Delete").click()
    expect(page.locator("dialog[open]")).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e], errors


def test_a_background_refresh_leaves_the_message_for_the_next_page(kube_cloud, page):
    login(page, kube_cloud.url, "kube", "pw")
    expect_logged_in(page)
    base = f"{kube_cloud.url}/dashboard/project/key_pairs"
    page.goto(base)
    refused = page.request.post(f"{base}/import", max_redirects=0, form={
        "csrf": csrf_token(page), "name": "bad-key", "public_key": "not a key"})
    assert refused.status in (302, 303), refused.status
    # dashboard.js's refresh of pending rows does not take the message ...
    refreshed = page.request.get(base, headers={"X-Refresh": "1"})
    assert refreshed.ok and "Could not import key pair" not in refreshed.text()
    # ... the next page the user opens shows it.
    page.goto(base)
    expect_flash(page, "error", "Could not import key pair bad-key")


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
