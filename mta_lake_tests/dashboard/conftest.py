"""One warehouse, one dashboard server and one Chromium for the whole session (see ``mta_lake_harness/dashboard.py``)."""

import os
import re
from collections.abc import Iterator

import pytest

from mta_lake_harness.dashboard import (
    CHROMIUM_ARGS,
    INSTALL_CHROMIUM,
    DashboardServer,
    FixtureWarehouse,
    build_fixture_warehouse,
    chromium_executable,
)

LOCAL = re.compile(r"^(http://127\.0\.0\.1:\d+/|data:|blob:|about:)")


@pytest.fixture(scope="session")
def fixture_warehouse(tmp_path_factory: pytest.TempPathFactory) -> FixtureWarehouse:
    return build_fixture_warehouse(tmp_path_factory.mktemp("dashboard"))


@pytest.fixture(scope="session")
def dashboard(
    fixture_warehouse: FixtureWarehouse, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DashboardServer]:
    server = DashboardServer(
        fixture_warehouse.path, fixture_warehouse.lake, tmp_path_factory.mktemp("server") / "dashboard.log"
    )
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium (Debian's), driven by Playwright; in CI a missing chromium fails, never skips."""
    executable = chromium_executable()
    if executable is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(INSTALL_CHROMIUM, pytrace=False)
        pytest.skip(INSTALL_CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    """A fresh browser context and page; at the end, no request may have left 127.0.0.1."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    outside: list[str] = []
    context.on("request", lambda request: None if LOCAL.match(request.url) else outside.append(request.url))
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    try:
        yield opened
    finally:
        context.close()
    assert outside == [], f"the page loaded from outside the machine: {sorted(set(outside))[:5]}"
