"""Test layers as markers: each test gets the marker of its folder under tests/ (``unit``,
``integration``, ``browser``, ``engines``, ``hub``, ``images``, ``packaging``, ``fresh``), so ``-m``
selects a layer and every layer runs on its own. Registered by tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
LAYERS = ("unit", "integration", "browser", "engines", "hub", "images", "packaging", "fresh")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        try:
            parts = Path(item.path).resolve().relative_to(TESTS).parts
        except ValueError:
            continue
        if len(parts) > 1 and parts[0] in LAYERS:
            item.add_marker(parts[0])
