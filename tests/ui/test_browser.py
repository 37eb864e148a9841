# SPDX-FileCopyrightText: 2026 The hareg authors
# SPDX-License-Identifier: EUPL-1.2
"""The web interface in a real browser: headless Debian chromium, driven by selenium through
/usr/bin/chromedriver, against a real ``hareg serve`` (gunicorn, gevent) with basic auth.

One walk through the interface as a user would: log in, repository list, repository,
manifest, its referrers, copy a pull command, delete a tag (confirmed), a GC dry run, the
repository page on a phone-sized window, keyboard navigation. Screenshots go to
``$HAREG_TEST_ARTIFACTS`` (default: the test's tmp dir); docs/images/ holds two of them.
No browser is downloaded: chromium and chromium-driver are Debian packages (``needs``
fails the test under ``CI=true`` when they are missing).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.auth.helpers import auth_toml, write_htpasswd
from tests.fixtures.server import HaregServer, ServerFactory, to_toml
from tests.oci import (
    Manifest,
    artifact_manifest,
    config_blob,
    image_index,
    image_manifest,
    new_session,
    push_image,
    random_blob,
)
from tests.ui.conftest import retention_toml
from tests.ui.helpers import ANONYMOUS_PULL, RULES, USERS

pytestmark = [pytest.mark.browser, pytest.mark.needs("chromium", "chromedriver")]

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
WAIT = 20.0
REPO = "team/web-frontend"


def _artifacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("HAREG_TEST_ARTIFACTS") or tmp_path) / "ui-screenshots"
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def ui_server(module_server_factory: ServerFactory,
              tmp_path_factory: pytest.TempPathFactory) -> HaregServer:
    users = write_htpasswd(tmp_path_factory.mktemp("ui-users") / "htpasswd", USERS)
    srv = module_server_factory.create("filesystem", name="ui-browser", start=False, workers=1)
    srv.config_path.write_text(
        to_toml(srv.config) + "\n"
        + auth_toml({"mode": "basic", "htpasswd": str(users), "anonymous_pull": ANONYMOUS_PULL,
                     "rules": RULES})
        + "\n" + retention_toml([{"repository": "team/**", "keep_last": 3,
                                  "protect": "latest", "immutable_tags": r"\d+\.\d+\.\d+"}]))
    srv.start()
    _seed(srv)
    return srv


def _platform_index(amd: Manifest, arm: Manifest) -> Manifest:
    index = image_index([amd, arm])
    doc = index.json
    doc["manifests"][1]["platform"] = {"architecture": "arm64", "os": "linux", "variant": "v8"}
    doc["annotations"] = {"org.opencontainers.image.source": "https://git.example/web",
                          "org.opencontainers.image.revision": "4f1c2e9"}
    return Manifest(json.dumps(doc).encode(), index.media_type, children=(amd, arm))


def _seed(srv: HaregServer) -> None:
    with new_session() as http:
        http.auth = ("admin", USERS["admin"])
        for tag, size in (("1.4.1", 3_000_000), ("1.4.2", 3_100_000), ("nightly", 2_000_000),
                          ("pr-1187", 2_000_000), ("latest", 3_200_000)):
            layers = [random_blob(size), random_blob(40_000)]
            push_image(http, srv.url, REPO, image_manifest(layers=layers), tag)
        amd = image_manifest(config_blob(architecture="amd64"), [random_blob(1_500_000)])
        arm = image_manifest(config_blob(architecture="arm64"), [random_blob(1_400_000)])
        index = _platform_index(amd, arm)
        push_image(http, srv.url, REPO, index, "1.5.0")
        push_image(http, srv.url, REPO, artifact_manifest(
            index, artifact_type="application/vnd.dev.cosign.artifact.sig.v1+json",
            annotations={"dev.sigstore.cosign/signer": "ci@example.org"}))
        push_image(http, srv.url, REPO, artifact_manifest(
            index, artifact_type="application/spdx+json",
            annotations={"org.opencontainers.image.created": "2026-11-28T09:00:00Z"}))
        for name in ("team/api", "team/worker", "public/base", "secret/vault"):
            push_image(http, srv.url, name, image_manifest(layers=[random_blob(200_000)]),
                       "latest")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--no-proxy-server", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.implicitly_wait(WAIT)  # lookups wait for a page that is still loading
    try:
        yield driver
    finally:
        driver.quit()


def _until(condition: Any, what: str) -> Any:
    """Poll ``condition`` (a page may still be loading: lookups that fail count as False)."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            value = condition()
        except WebDriverException:
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _text(b: Any) -> str:
    """The page's visible text (raises while the page has no body yet: poll with _until)."""
    from selenium.webdriver.common.by import By

    return str(b.find_element(By.TAG_NAME, "body").text)


def _page(b: Any) -> str:
    """The page's visible text, once it has a body."""
    return str(_until(lambda: _text(b) or " ", "a page"))


def test_a_walk_through_the_interface(ui_server: HaregServer, browser: Any,
                                      tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    shots = _artifacts(tmp_path)
    b = browser
    b.get(f"{ui_server.url}/ui/")
    body = _page(b)
    assert "public/base" in body and REPO not in body  # anonymous: public only

    # log in
    b.find_element(By.LINK_TEXT, "Log in").click()
    b.find_element(By.ID, "username").send_keys("admin")
    b.find_element(By.ID, "password").send_keys(USERS["admin"], Keys.ENTER)
    _until(lambda: "Logged in as" in _text(b), "the login")
    assert b.current_url.endswith("/ui/")
    b.save_screenshot(str(shots / "repositories.png"))

    # repository list -> repository
    b.find_element(By.LINK_TEXT, REPO).click()
    _until(lambda: b.find_element(By.TAG_NAME, "h1").text == REPO, "the repository page")
    page = _page(b)
    assert "linux/amd64, linux/arm64/v8" in page and "immutable" in page
    assert "removed by the next sweep" in page
    b.save_screenshot(str(shots / "repository.png"))

    # copy a pull command: the script shows the buttons; the command lands in the
    # clipboard, or (no clipboard permission) is left selected for Ctrl+C
    button = b.find_element(By.CSS_SELECTOR, "button.copy[data-copy='pull-1']")
    assert button.is_displayed()
    command = b.find_element(By.ID, "pull-1").text
    assert command == f"docker pull {ui_server.host}/{REPO}:1.4.1"
    button.click()
    _until(lambda: button.text == "Copied" or b.execute_script(
        "return window.getSelection().toString()") == command, "the copy")

    # repository -> manifest (an index) -> its referrers
    b.find_element(By.XPATH, "//tr[th[contains(., '1.5.0')]]//a[@class='digest']").click()
    _until(lambda: "Platforms" in _text(b), "the index page")
    page = _page(b)
    assert "Signatures" in page and "SBOMs" in page and "linux/arm64/v8" in page
    b.set_window_size(1280, 1350)  # the referrers too
    b.save_screenshot(str(shots / "manifest.png"))
    b.set_window_size(1280, 900)
    b.find_element(By.XPATH, "//section[h3='Signatures']//a[@class='digest']").click()
    _until(lambda: "this is a referrer of it" in _text(b),
           "the signature's page")
    assert "ci@example.org" in _page(b)

    # delete a tag, confirmed
    b.get(f"{ui_server.url}/ui/r/{REPO}")
    b.find_element(By.XPATH, "//tr[th[contains(., 'pr-1187')]]//a[text()='Delete']").click()
    _until(lambda: "Delete a tag" in _text(b), "the confirm")
    b.find_element(By.ID, "confirm-delete").click()
    _until(lambda: "Deleted tag pr-1187" in _text(b),
           "the deletion")
    b.implicitly_wait(0)
    assert not b.find_elements(By.XPATH, "//tr[th[contains(., 'pr-1187')]]")
    b.implicitly_wait(WAIT)

    # a GC dry run for the repository, from the form
    b.find_element(By.LINK_TEXT, "Garbage collection").click()
    field = b.find_element(By.ID, "repository")
    field.send_keys(REPO, Keys.ENTER)
    _until(lambda: "the next sweep would remove" in _text(b),
           "the dry run")
    assert "beyond keep_last=3" in _page(b)
    b.save_screenshot(str(shots / "gc-preview.png"))

    # a phone-sized window: nothing wider than the screen
    b.set_window_size(390, 844)
    try:
        b.get(f"{ui_server.url}/ui/r/{REPO}")
        width = b.execute_script("return [document.documentElement.scrollWidth,"
                                 " window.innerWidth]")
        assert width[0] <= width[1] + 1, width
        b.save_screenshot(str(shots / "repository-phone.png"))
    finally:
        b.set_window_size(1280, 900)

    # keyboard: the first Tab reaches the skip link, which moves to the content
    b.get(f"{ui_server.url}/ui/status")
    b.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    active = b.switch_to.active_element
    assert active.text == "Skip to content"
    active.send_keys(Keys.ENTER)
    assert b.switch_to.active_element.get_attribute("id") == "main"
    assert _page(b).count("ready") >= 2
    # no script or style was blocked by the Content-Security-Policy on the way
    errors = [e for e in b.get_log("browser") if "Content Security Policy" in e["message"]]
    assert not errors, errors
