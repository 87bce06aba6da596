"""For layers that drive Playwright's sync API (browser, images): it runs its own event
loop, so pytest-jupyter's autouse loop fixtures step aside. A layer's conftest imports
these two names; the ``browser`` fixture itself is in tests/conftest.py."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    yield
