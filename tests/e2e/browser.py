"""A headless browser for the dashboard's end-to-end tests.

Not a test file: fixtures and helpers for one. A test module that drives the
dashboard imports the fixtures by name, so that pytest finds them there:

    from browser import browser, new_page, page  # noqa: F401 (fixtures)
    from browser import confirm, login, wait_for_status

The browser is Debian's Chromium (scripts/test.sh installs it; OXISTACK_CHROMIUM
names another), driven by the pinned Playwright from tests/e2e/requirements.txt.
It never downloads a browser of its own.

The markup the dashboard keeps to, and these helpers rely on:
  * the login form at /dashboard/auth/login has the fields `domain`,
    `username`, `password` and, optional, `project`, and a button "Sign in";
  * messages are elements with the class `flash` and `flash-ok` or
    `flash-error` (role=status or role=alert);
  * lists are <table>s with rows `tr[data-id=ID]` and status cells
    `td[data-status]`, which the page refreshes by itself while pending;
  * forms hold a hidden input `name=csrf`;
  * destructive buttons ask in the page's own <dialog> with a button "Confirm".

Each test's pages are screenshotted, full page, when the test ends, passed or
failed, to target/dashboard-screenshots/<test name>.png (more pages of one
test get -2, -3 ...). JavaScript errors and console errors of a page are
printed then, so pytest shows them with a failure.
"""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "target" / "dashboard-screenshots"
CHROMIUM = os.environ.get("OXISTACK_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1280, "height": 900}
# As root Chromium needs --no-sandbox. The rest keep it from reaching for
# Google's services, which a machine without the internet refuses many at
# a time (slowing every start).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
# Every wait of a page, locator or expect(), in milliseconds.
TIMEOUT_MS = 15_000
# How long a status may take to settle; a real VM is slower than a page.
STATUS_TIMEOUT_MS = 120_000
# Statuses a wait for another one gives up on at once.
FAILED_STATUSES = ("ERROR",)

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, shared by the tests of one module; closed, with the
    Playwright driver, at the module's end whatever happened."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # Root (as in CI) has no sandbox; /dev/shm may be small in containers.
            args=CHROMIUM_ARGS,
            timeout=60_000,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, request):
    """A factory: new_page(**context_options) -> Page, each in a fresh browser
    context (own cookies, so a second user is a second call). 1280x900, every
    wait 15 s. At the test's end each page is screenshotted and its context
    closed."""
    opened = []

    def make(**context_options):
        options = {"viewport": VIEWPORT, **context_options}
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        page = context.new_page()
        problems = []
        page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        page.on("console", lambda message: _console(message, problems))
        # A native alert/confirm would be dismissed silently (Playwright's
        # default); the dashboard uses its own <dialog>, so say so loudly.
        page.on("dialog", lambda dialog: problems.append(f"native {dialog.type} dismissed: {dialog.message}"))
        opened.append((context, page, problems))
        return page

    yield make

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", request.node.name)
    for number, (context, page, problems) in enumerate(opened, start=1):
        path = SCREENSHOTS / (f"{name}.png" if number == 1 else f"{name}-{number}.png")
        try:
            if not page.is_closed():
                page.screenshot(path=str(path), full_page=True, timeout=TIMEOUT_MS)
                print(f"screenshot of {page.url}: {path}")
        except PlaywrightError as error:
            # A broken page must not hide why the test failed.
            print(f"no screenshot {path}: {error}")
        for problem in problems:
            print(problem)
        try:
            context.close()
        except PlaywrightError as error:
            print(f"closing the browser context failed: {error}")


def _console(message, problems):
    # The browser asks every site for /favicon.ico by itself.
    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
        problems.append(f"console {message.type}: {message.text}")


@pytest.fixture
def page(new_page):
    """One page in a fresh context (see new_page)."""
    return new_page()


def login(page, base_url, username, password, project=None, domain="Default"):
    """Signs in through the dashboard's login form and waits for the page
    the form leads to. Does not check that it worked: a test of a wrong
    password looks for the flash-error itself; others may call
    expect_logged_in(page)."""
    page.goto(f"{base_url.rstrip('/')}/dashboard/auth/login")
    form = page.locator("form", has=page.locator("[name=password]"))
    _fill(form.locator("[name=domain]"), domain)
    _fill(form.locator("[name=username]"), username)
    _fill(form.locator("[name=password]"), password)
    if project is not None:
        _fill(form.locator("[name=project]"), project)
    with page.expect_navigation():
        form.get_by_role("button", name=re.compile(r"^\s*sign in\s*$", re.IGNORECASE)).click()
    return page


def expect_logged_in(page):
    """Asserts the page is past the login form and shows no error."""
    expect(page).not_to_have_url(re.compile(r"/dashboard/auth/login"))
    expect(page.locator(".flash.flash-error")).to_have_count(0)


def _fill(field, value):
    """Fills a text field, or picks the option of a <select>."""
    if field.evaluate("element => element.tagName") == "SELECT":
        field.select_option(value)
    else:
        field.fill(value)


def row(page, id):
    """The table row of the resource with this ID."""
    return page.locator(f'tr[data-id="{id}"]')


def status_cell(page, id):
    """The status cell in the row of the resource with this ID."""
    return row(page, id).locator("td[data-status]")


def wait_for_text(locator, expected, timeout=TIMEOUT_MS):
    """Waits, without reloading, until the element's text (whitespace
    trimmed and collapsed) is `expected`, or matches it if it is a compiled
    regex. Returns the text."""
    expect(locator).to_have_text(expected, timeout=timeout)
    return " ".join(locator.inner_text().split())


def wait_for_status(page, id, status, timeout=STATUS_TIMEOUT_MS, failed=FAILED_STATUSES):
    """Waits, without reloading (the page refreshes pending rows itself),
    until the status cell of row ID reads `status`; fails at once on one of
    `failed` (ERROR) instead of waiting out the timeout. Returns the status."""
    accepted = [status, *(f for f in failed if f != status)]
    pattern = re.compile(r"^\s*(" + "|".join(re.escape(s) for s in accepted) + r")\s*$")
    cell = status_cell(page, id)
    expect(cell).to_have_text(pattern, timeout=timeout)
    text = cell.inner_text().strip()
    assert text == status, f"row {id} went {text}, not {status}"
    return text


def wait_for_row_gone(page, id, timeout=STATUS_TIMEOUT_MS):
    """Waits, without reloading, until the row of ID has left the table."""
    expect(row(page, id)).to_have_count(0, timeout=timeout)


def flash(page, kind=None):
    """The flash messages, of one kind ("ok" or "error") if given."""
    return page.locator(".flash" + (f".flash-{kind}" if kind else ""))


def expect_flash(page, kind, text=None):
    """Waits for a flash message of KIND ("ok" or "error"), containing `text`
    (a string or regex) if given; returns its locator."""
    messages = flash(page, kind)
    if text is None:
        expect(messages.first).to_be_visible()
        return messages.first
    match = messages.filter(has_text=text)
    expect(match.first).to_be_visible()
    return match.first


def csrf_token(page):
    """The value of the first form's hidden csrf field."""
    return page.locator("input[name=csrf]").first.input_value()


def confirm(page, navigates=True):
    """Clicks "Confirm" in the page's own confirmation <dialog> (after the
    test clicked the destructive button that opens it). If `navigates`,
    waits for the page the confirmed form leads to."""
    button = page.locator("dialog[open]").get_by_role("button", name="Confirm", exact=True)
    if navigates:
        with page.expect_navigation():
            button.click()
    else:
        button.click()
        expect(page.locator("dialog[open]")).to_have_count(0)
    return page


def body_text(page):
    """The text the page shows."""
    return page.locator("body").inner_text()
