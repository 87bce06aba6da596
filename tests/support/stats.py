"""Percentiles and summaries: one method everywhere (``statistics.quantiles``, inclusive:
linear between samples), so that two p95s in our reports can be compared."""

from __future__ import annotations

import math
import statistics
import sys
from typing import Any, Optional


def percentile(values: list[Optional[float]], q: int) -> Optional[float]:
    """The ``q``-th percentile (a whole number, 0 to 100) of the values that are not None;
    None when there are none. Infinite values (a sample that never came) rank above all
    others and come out as infinity."""
    got = sorted(min(v, sys.float_info.max) for v in values if v is not None)
    if not got:
        return None
    if len(got) == 1 or q <= 0:
        return math.inf if got[0] >= sys.float_info.max / 2 else round(got[0], 3)
    if q >= 100:
        value = got[-1]
    else:
        value = statistics.quantiles(got, n=100, method="inclusive")[q - 1]
    return math.inf if value >= sys.float_info.max / 2 else round(value, 3)


def summary(values: list[Optional[float]]) -> dict[str, Any]:
    """Median, min, max, count and failures (None) of ``values``."""
    got = sorted(v for v in values if v is not None)
    if not got:
        return {"median": None, "min": None, "max": None, "n": 0, "failed": len(values)}
    return {
        "median": round(statistics.median(got), 3),
        "min": got[0],
        "max": got[-1],
        "n": len(got),
        "failed": len(values) - len(got),
    }
