"""Wait on a condition with a deadline, never a bare sleep."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

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
