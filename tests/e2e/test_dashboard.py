"""The web dashboard at /dashboard, driven in a headless browser.

The fixtures and helpers are in browser.py; the cloud is conftest's, on the
fake drivers unless a test asks for VMs.
"""

import json

from browser import body_text, browser, new_page, page  # noqa: F401 (fixtures)


def test_browser_reaches_the_cloud(cloud, page):
    """The harness itself: a fake-driver cloud, Chromium, a screenshot."""
    response = page.goto(f"{cloud.url}/identity/v3")
    assert response.status == 200
    text = body_text(page)
    assert "v3" in text
    assert json.loads(text)["version"]["id"].startswith("v3")
