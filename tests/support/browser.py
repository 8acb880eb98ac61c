"""Debian's Chromium for the browser tests (Playwright): its path, its flags, a page's errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def chromium_path() -> str:
    assert Path(CHROMIUM).exists(), "install Debian's chromium: apt-get install -y chromium"
    return CHROMIUM


def page_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text)
            if msg.type == "error" and "Failed to load resource" not in msg.text
            else None
        ),
    )
    return errors
