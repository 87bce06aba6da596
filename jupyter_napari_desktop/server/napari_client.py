"""Server-side client of the napari helper's socket (see napari_side/napari_helper.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

MAX_ANSWER = 8 << 20
# The helper's own lists (napari_side/napari_helper.py, which imports nothing of this package):
# the layer types napari can open files as, and those whose data the API sends and fetches.
# tests/unit/test_contracts.py checks that both sides agree.
LAYER_TYPES = ("image", "labels", "points", "shapes", "surface", "tracks", "vectors")
DATA_TYPES = ("image", "labels", "points", "shapes")


class NapariUnavailable(Exception):
    """napari's socket is not there or does not answer."""


class NapariTimeout(NapariUnavailable):
    """napari took the request but did not answer within the timeout (a slow read)."""


async def ask(socket_path: Path, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one JSON request, return the JSON answer; NapariUnavailable on any failure."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(socket_path), limit=MAX_ANSWER), timeout
        )
    except (OSError, asyncio.TimeoutError) as err:
        raise NapariUnavailable(f"napari does not answer on {socket_path}: {err}") from err
    try:
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError as err:
        raise NapariTimeout(f"napari did not answer in {timeout:g} s") from err
    except (OSError, ValueError) as err:
        raise NapariUnavailable(f"napari did not answer in {timeout:g} s: {err}") from err
    finally:
        writer.close()
    try:
        answer = json.loads(line)
    except ValueError as err:
        raise NapariUnavailable(f"napari sent a bad answer: {line[:200]!r}") from err
    if not isinstance(answer, dict):
        raise NapariUnavailable("napari sent a bad answer")
    return answer
