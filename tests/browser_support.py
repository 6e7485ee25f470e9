"""What the browser tests share: Debian's Chromium (installed with apt when missing), one browser, a live server.

Chromium comes from Debian (``/usr/bin/chromium``): when it is missing the
``chromium`` fixture installs it with ``apt-get install -y chromium`` (CI runs as
root on Debian; ``apt-get update`` first if the package lists are empty).
Playwright's own browser download is never used. Screenshots go to
``test-output/screenshots/`` for people to look at. Imported by the browser test
modules (``test_review_ui_browser.py``, ``test_worklist_browser.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from api import create_app
from conftest import serve as serve_app
from mpi.auth import add_user
from mpi.services import DEFAULT_MODEL_VERSION, Services
from mpi.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
#: The laptop screen the pages are laid out for.
VIEWPORT = {"width": 1440, "height": 900}


def _apt_get(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, installed with apt when missing (never Playwright's download)."""
    if not CHROMIUM.exists():
        if shutil.which("apt-get") is None:
            pytest.fail("/usr/bin/chromium is missing and there is no apt-get to install it with")
        result = _apt_get("install", "-y", "chromium")
        if result.returncode != 0:  # a fresh image has no package lists yet
            _apt_get("update")
            result = _apt_get("install", "-y", "chromium")
        assert result.returncode == 0 and CHROMIUM.exists(), f"apt-get install chromium failed:\n{result.stdout[-2000:]}"
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium):
    """One headless Chromium per test module: each module imports this fixture, so each has its own, and only one
    runs at a time (two sessions' Playwright loops on one thread would clash)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, site):
    """A fresh page of the module's browser on its ``site`` (a fixture the module defines: the served base URL
    first), in a context of its own, closed after the test."""
    context = browser.new_context(base_url=site[0], viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def serve(app, name: str = "closedloop-mpi-browser") -> AbstractContextManager[str]:
    """The app behind waitress on a free loopback port, in a thread; yields its base URL (``conftest.serve``)."""
    return serve_app(app, name, threads=4)


def screenshot(page, name: str) -> Path:
    """Save the whole page as ``test-output/screenshots/NAME.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_services(folder: Path, clock=None) -> Services:
    """Services over a new store in ``folder`` with the shipped model, as a browser test's live server runs them."""
    models = folder / "models"
    models.mkdir()
    shutil.copy(PROJECT_ROOT / "matching_models" / f"{DEFAULT_MODEL_VERSION}.json", models)
    settings = {"MPI_DB": str(folder / "mpi.duckdb"), "MPI_MODELS_DIR": str(models),
                "MPI_SECRET_KEY": "browser-test-secret"}
    return Services(settings) if clock is None else Services(settings, clock=clock)


@contextmanager
def steward_site(services: Services) -> Iterator[tuple[str, tuple[str, str]]]:
    """The app over ``services`` behind waitress and a steward ``sam`` to sign in as; yields (base URL, (name,
    token)) and closes the services after."""
    steward = ("sam", add_user(services.store, "sam", "steward"))
    try:
        with serve(create_app(services=services)) as base:
            yield base, steward
    finally:
        services.close()
