"""Headless Chromium through Selenium and Debian's chromedriver, for the tests that open pages as a person would.

Without the browser the tests skip locally, but fail in CI (``CI`` set): .ci/run installs chromium and
chromium-driver, and a browser test that silently skipped there would check nothing."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def chromium() -> tuple[str, str]:
    """(browser, chromedriver) paths, or skip (fail under CI) naming the Debian packages to install."""
    exe = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    drv = shutil.which("chromedriver")
    if exe and drv:
        return exe, drv
    why = "no headless Chromium + chromedriver on this machine (Debian: apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(f"{why}; .ci/run installs them: the browser tests must run in CI, not skip")
    pytest.skip(why)


@contextmanager
def headless_chromium(*, width: int = 1200, height: int = 1600) -> Iterator[Any]:
    """A Selenium WebDriver on headless Chromium (no sandbox: CI runs as root), closed on exit."""
    exe, drv = chromium()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("browser tests need selenium (pinned in requirements-dev.txt)")

    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=drv), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
