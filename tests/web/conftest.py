"""Fixtures of the web tests: one served world per module and headless Chromium.

Chromium is Debian's ``chromium`` package driven by Playwright (never a browser that
Playwright downloads). Without it the browser tests skip and say how to install it;
CI installs it (.ci/run).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from .world import World, build_world

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# The screenshots are test artifacts kept in docs/screenshots/ (linked from the README);
# TETHER_SCREENSHOTS=<folder> puts them elsewhere, e.g. to keep a checkout unchanged.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREENSHOTS_ENV = "TETHER_SCREENSHOTS"


def chromium_path() -> str | None:
    return shutil.which("chromium") or (("/usr/bin/chromium") if Path("/usr/bin/chromium").exists() else None)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request, plugin_host, tmp_path_factory) -> Iterator[World]:
    """A tenant synced from the fake org, served on loopback (both backends)."""
    if request.param == "sqlite":
        store = request.getfixturevalue("_tether_sqlite_template").new_store()
    else:
        database = request.getfixturevalue("_tether_postgres")
        if database is None:
            pytest.skip("PostgreSQL tests need TETHER_TEST_POSTGRES_URL")
        store = database.new_store()
    # Screenshots come from the SQLite run only: one set, whatever the backends.
    screenshots = Path(os.environ.get(SCREENSHOTS_ENV) or SCREENSHOTS)
    built = build_world(store, plugin_host, tmp_path_factory.mktemp("web-home"),
                        screenshots=screenshots if request.param == "sqlite" else None)
    yield built
    built.close()
    if request.param == "sqlite":
        store.dispose()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        message = "browser tests need Debian's chromium: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(f"{message} (CI installs it in .ci/run; it must be there)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
