"""What every committed result carries: the commit it measured, and its Markdown tables."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.paths import ROOT


def commit(root: Path = ROOT) -> str:
    """``git describe`` of the checkout measured ("-dirty" when it had changes)."""
    done = subprocess.run(
        ["git", "-C", str(root), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table, as lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]
