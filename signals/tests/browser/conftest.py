"""Headless Chromium (Debian's `chromium` and `chromium-driver`) driven by selenium, signed in
to the admin of a live test server as staff.

The packages are installed once by scripts/install_chromium.sh when either binary is missing
(root and Debian's package mirror needed); when that fails, the tests here are skipped with
the reason printed."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from accounts.models import User

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = Path(__file__).resolve().parents[3] / "scripts" / "install_chromium.sh"


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        run = subprocess.run(
            ["bash", str(INSTALL)], capture_output=True, text=True, timeout=900, check=False
        )
        if run.returncode != 0:
            reason = f"Chromium could not be installed ({INSTALL.name}): {run.stderr[-500:]}"
            print(reason)
            pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1500,1100",
        "--lang=en-GB",
    ):
        options.add_argument(argument)
    # The driver's path given: selenium looks for (or downloads) nothing.
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    yield driver
    driver.quit()


@pytest.fixture
def staff_browser(
    browser: webdriver.Chrome, live_server, admin_user: User
) -> Iterator[webdriver.Chrome]:
    """The browser with the session of a signed-in superuser (staff), on `live_server`."""
    client = Client()
    client.force_login(admin_user)
    browser.delete_all_cookies()
    browser.get(f"{live_server.url}/admin/login/")
    browser.add_cookie({"name": "sessionid", "value": client.cookies["sessionid"].value})
    yield browser
    browser.get("about:blank")  # a signal page polls the server: not while the next test sets up
