"""The shell commands that README.md and docs/*.md show, read as a person copies them: the
tests that run them as written (tests/fresh, tests/images, tests/integration/test_cli.py)
and the ledger of which test runs which (tests/unit/test_doc_commands.py) read them here."""

from __future__ import annotations

import re

from tests.support.paths import ROOT

SHELL_BLOCK = re.compile(r"```(?:bash|sh)\n(.*?)```", re.S)


def shell_blocks(doc: str) -> list[str]:
    """The text of each ```bash / ```sh block of ``doc`` (a path in the checkout)."""
    return SHELL_BLOCK.findall((ROOT / doc).read_text())


def shell_commands(doc: str) -> list[str]:
    """Every command of ``doc``'s shell blocks as written, each once: lines ending in a
    backslash joined, runs of blanks made one (a comment after a command stays: bash skips
    it); comment lines and blank lines left out."""
    found: list[str] = []
    for block in shell_blocks(doc):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s+", " ", line.strip())
            if command and not command.startswith("#") and command not in found:
                found.append(command)
    return found


def commands_under(marker: str, doc: str = "README.md") -> list[str]:
    """The commands under the comment that starts with ``marker`` in one of ``doc``'s shell
    blocks, as written (the comment may go on over several lines; the commands end at the
    next comment or blank line)."""
    for block in shell_blocks(doc):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if line.startswith(marker):
                commands = []
                for command in lines[index + 1 :]:
                    if command.startswith("#") and not commands:
                        continue
                    if not command.strip() or command.startswith("#"):
                        break
                    commands.append(command.strip())
                assert commands, f"{doc}: no command after {marker!r}"
                return commands
    raise AssertionError(f"{doc} has no shell block with a comment {marker!r}")
