"""Where the checkout is, and where tests keep what a person looks at afterwards."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Screenshots, logs and figures of a test run (NAPARI_DESKTOP_ARTIFACTS to put them elsewhere).
ARTIFACTS = Path(os.environ.get("NAPARI_DESKTOP_ARTIFACTS", ROOT / "artifacts"))
