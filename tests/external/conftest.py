"""Fixtures of the tests that drive a real browser: headless Chromium through Playwright.

Debian's `chromium` (at CHROMIUM, else /usr/bin/chromium): no browser is downloaded.
A missing Chromium fails the test that needs it, never skips it.
"""
import os
import shutil

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Chromium as root, without a screen, and without reaching for Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def browser():
    assert shutil.which(CHROMIUM), f"Chromium is needed at {CHROMIUM}: apt-get install chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
