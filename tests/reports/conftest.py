"""Fixtures of the report tests: synthetic inputs, output paths, a headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from report_browser import find_chromium
from report_synthetic import make_inputs

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


@pytest.fixture
def small_inputs():
    """2 scenarios x 4 provinces x 12 years x 4 stats, every optional frame present."""
    return make_inputs()


@pytest.fixture
def hostile_inputs():
    """Like small_inputs, with script-bearing scenario, region, hub, publisher and metadata text."""
    return make_inputs(hostile=True)


@pytest.fixture(scope="session")
def full_inputs():
    """The size case: 6 scenarios x 31 provinces x 12 years x 4 stats."""
    return make_inputs(n_scenarios=6, n_regions=31)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of headless Chromium; missing means FAIL under CI=true, skip elsewhere."""
    path = find_chromium()
    if path is None:
        message = (
            "Chromium not found (looked for /usr/bin/chromium and GRIDCAST_CHROMIUM); "
            "install it with `bash .ci/install-browser.sh`"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots and PDFs people can look at (gitignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
