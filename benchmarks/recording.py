"""What every committed result carries: the commit it measured, and its Markdown tables."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

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


def write_rows(
    out: Path, name: str, rows: list[dict[str, Any]], report: Callable[..., list[str]]
) -> None:
    """``out/NAME.json`` (the rows and the commit) and ``out/NAME.md`` (``report(rows,
    commit)``), and the report printed."""
    measured = commit()
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps({"commit": measured, "rows": rows}, indent=1))
    lines = report(rows, measured)
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
