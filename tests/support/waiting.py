"""Wait on a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold in time (an assertion failure in a test)."""


def wait_for(condition: Callable[[], T], timeout: float, what: str, step: float = 0.05) -> T:
    """Poll ``condition`` until it returns something truthy and return that; at the
    deadline raise ``WaitTimeout`` naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(step)
    raise WaitTimeout(f"timed out after {timeout:g} s waiting for {what}")


def run_async(coroutine: Coroutine[Any, Any, T], timeout: float = 300) -> T:
    """Run ``coroutine`` to its end in an event loop of its own thread: Playwright's sync
    API (a browser fixture of the same test run) keeps an event loop running in the main
    thread, where ``asyncio.run`` refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=timeout)
