"""The dashboard's storage pages in a headless browser: the overview's quota
meters, an image uploaded from the browser with its progress, and a volume's
life (create, attach to an instance, extend, snapshot, a volume from the
snapshot, detach, delete), each change seen without reloading.

The instance and the image it boots from are made with the CLI; the browser
does what the pages are for.
"""

import os
import re

import pytest
from playwright.sync_api import expect

from browser import browser, new_page, page  # noqa: F401 (fixtures)
from browser import STATUS_TIMEOUT_MS, confirm, expect_flash, login, row, wait_for_row_gone, wait_for_status
from test_compute_network import KUBE, as_json, wait_for_servers

QUOTAS = ("Instances", "VCPUs", "RAM", "Floating IPs", "Security Groups", "Volumes", "Load Balancers")


@pytest.fixture(scope="module")
def instance(kube_cloud):
    """An ACTIVE instance of kube's (fake driver)."""
    server = as_json(
        kube_cloud, "server", "create", "--image", "cirros", "--flavor", "m1.tiny", "--network", "kubenet",
        "storage-vm", **KUBE,
    )
    wait_for_servers(kube_cloud, ["storage-vm"], **KUBE)
    return server["id"]


def signed_in(page, cloud, path):
    login(page, cloud.url, "kube", "pw")
    page.goto(f"{cloud.url}/dashboard/project/{path}")
    return page


def row_named(page, name):
    """The id of the list row showing `name`."""
    found = page.locator("tr[data-id]", has=page.get_by_role("link", name=name, exact=True))
    expect(found).to_have_count(1)
    return found.get_attribute("data-id")


def test_overview_shows_quota_usage(kube_cloud, instance, page):
    signed_in(page, kube_cloud, "")
    expect(page.get_by_role("heading", name="Limit Summary")).to_be_visible()
    for label in QUOTAS:
        expect(page.locator(f'[data-quota="{label}"]')).to_contain_text(re.compile(r"Used \d+(\.\d)?( [MG]B)? of (\d|unlimited)"))
    # The instances are counted (other modules share this cloud), and the
    # meter says how full the quota is.
    count = len(as_json(kube_cloud, "server", "list", **KUBE))
    expect(page.locator('[data-quota="Instances"]')).to_contain_text(f"Used {count} of")
    expect(page.locator('[data-quota="Instances"] .meter[aria-valuenow]')).to_have_count(1)


def test_upload_an_image_with_progress(kube_cloud, page, tmp_path):
    data = tmp_path / "browser-upload.raw"
    data.write_bytes(os.urandom(300 << 10))
    signed_in(page, kube_cloud, "images/create")
    page.get_by_label("Name", exact=True).fill("browser-upload")
    page.get_by_label("Image file").set_input_files(str(data))
    page.get_by_label("Disk format").select_option("raw")
    page.get_by_role("button", name="Create image").click()
    # The bar fills, then the image's page opens (the page's script policy
    # allows no evaluated strings, so the bar is watched by its locators).
    expect(page.locator("#upload-percent")).to_have_text("100%")
    expect(page.locator("#upload-bar")).to_have_js_property("value", 100)
    page.wait_for_url(re.compile(r"/dashboard/project/images/[0-9a-f-]{36}$"))
    expect_flash(page, "ok", "Uploaded 300.0 KiB to image browser-upload")
    expect(page.locator("#image-state dd[data-status]")).to_have_text("active")
    image = as_json(kube_cloud, "image", "show", "browser-upload", **KUBE)
    assert image["size"] == 300 << 10 and image["status"] == "active"

    page.goto(f"{kube_cloud.url}/dashboard/project/images")
    image_id = row_named(page, "browser-upload")
    expect(row(page, image_id)).to_contain_text("This project")
    wait_for_status(page, image_id, "active")


def test_a_volume_from_creation_to_deletion(kube_cloud, instance, page):
    signed_in(page, kube_cloud, "volumes/create")
    page.get_by_label("Volume name").fill("browser-volume")
    page.get_by_label("Size (GiB)").fill("1")
    page.get_by_role("button", name="Create volume").click()
    volume = row_named(page, "browser-volume")
    wait_for_status(page, volume, "available")

    def manage():
        row(page, volume).get_by_role("link", name="Manage").click()
        expect(page.get_by_role("heading", name="Volume browser-volume")).to_be_visible()

    # Attach to the CLI's instance: in-use, with the server's name. Each
    # action started on the volume's page comes back to it.
    manage()
    volume_page = page.url
    state = page.locator("#volume-state")
    page.get_by_label("Instance").select_option(instance)
    page.get_by_role("button", name="Attach volume").click()
    expect_flash(page, "ok", "Attaching the volume")
    expect(page).to_have_url(volume_page)
    expect(state.locator("dd[data-status]")).to_have_text("in-use", timeout=STATUS_TIMEOUT_MS)
    expect(state).to_contain_text(re.compile(r"storage-vm on /dev/vd[b-z]"))

    # Extend while attached.
    page.get_by_label("New size (GiB)").fill("2")
    page.get_by_role("button", name="Extend volume").click()
    expect_flash(page, "ok", "Extending the volume to 2 GiB.")
    expect(page).to_have_url(volume_page)
    expect(state).to_contain_text("2 GiB", timeout=STATUS_TIMEOUT_MS)
    expect(state.locator("dd[data-status]")).to_have_text("in-use", timeout=STATUS_TIMEOUT_MS)

    # Snapshot it (forced, it is in use), then a volume from the snapshot.
    expect(page.get_by_text("A snapshot of a volume in use is forced")).to_be_visible()
    page.get_by_label("Snapshot name").fill("browser-snapshot")
    page.get_by_role("button", name="Create snapshot").click()
    expect_flash(page, "ok", "Creating snapshot browser-snapshot of volume browser-volume.")
    expect(page).to_have_url(volume_page)
    page.goto(f"{kube_cloud.url}/dashboard/project/snapshots")
    snapshot = page.locator("tr[data-id]", has_text="browser-snapshot").get_attribute("data-id")
    wait_for_status(page, snapshot, "available")
    row(page, snapshot).get_by_role("link", name="Create volume").click()
    expect(page.get_by_label("Volume source")).to_have_value("snapshot")
    expect(page.get_by_label("Snapshot (when the source is a snapshot)")).to_have_value(snapshot)
    page.get_by_label("Volume name").fill("from-snapshot")
    page.get_by_role("button", name="Create volume").click()
    copy = row_named(page, "from-snapshot")
    wait_for_status(page, copy, "available")
    expect(row(page, copy)).to_contain_text("2 GiB")

    # Detach, asking first.
    manage()
    page.get_by_role("button", name="Detach").click()
    confirm(page)
    expect(page).to_have_url(volume_page)
    expect(state.locator("dd[data-status]")).to_have_text("available", timeout=STATUS_TIMEOUT_MS)
    expect(state).not_to_contain_text("storage-vm")
    page.get_by_role("link", name="Back to volumes").click()

    # Delete the copy, asking first; it leaves the list by itself.
    row(page, copy).get_by_role("button", name="Delete").click()
    expect(page.locator("dialog[open]")).to_contain_text("Delete volume from-snapshot?")
    confirm(page)
    wait_for_row_gone(page, copy)
    volumes = {v["Name"] for v in as_json(kube_cloud, "volume", "list", **KUBE)}
    assert "browser-volume" in volumes and "from-snapshot" not in volumes
