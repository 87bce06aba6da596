"""The server's small guards of what clients send: how deep a JSON body nests, how much of a
client's input an error echoes, and which query arguments never reach the log."""

from __future__ import annotations

import pytest

from jupyter_napari_desktop.server.errors import MAX_SAYING, Refused, shorten
from jupyter_napari_desktop.server.handlers import json_depth, scrub_uri


@pytest.mark.parametrize(
    ("value", "depth"),
    [
        (1, 0),
        ("x", 0),
        ({}, 1),
        ({"a": [1, 2]}, 2),
        ({"a": [{"b": []}], "c": 1}, 4),
        ([[[[[]]]]], 5),
    ],
)
def test_json_depth(value, depth):
    assert json_depth(value) == depth


def test_json_depth_of_a_very_deep_value_does_not_recurse():
    value: list = []
    for _ in range(100_000):
        value = [value]
    assert json_depth(value) == 100_001


def test_shorten_says_it_cut():
    assert shorten("short") == "short"
    cut = shorten("x" * 20_000_000)
    assert len(cut) <= MAX_SAYING and cut.endswith("(20,000,000 characters in all)")
    refused = Refused(404, "x" * 50_000, "y" * 50_000, "z" * 50_000)
    assert max(len(refused.message), len(refused.fix), len(refused.detail)) <= MAX_SAYING


@pytest.mark.parametrize(
    ("uri", "scrubbed"),
    [
        ("/napari-desktop/watch", "/napari-desktop/watch"),
        ("/napari-desktop/watch?token=abc", "/napari-desktop/watch?token=[secret]"),
        ("/w/websockify?video=h264&token=abc&x=1", "/w/websockify?video=h264&token=[secret]&x=1"),
        ("/w?TOKEN=abc&_xsrf=2|x", "/w?TOKEN=[secret]&_xsrf=[secret]"),
        ("/w?to%6Ben=abc", "/w?to%6Ben=[secret]"),
        ("/w?tokenish=abc&token", "/w?tokenish=abc&token"),
    ],
)
def test_scrub_uri(uri, scrubbed):
    assert scrub_uri(uri) == scrubbed


def test_the_cli_shows_control_characters_escaped():
    from jupyter_napari_desktop.cli import printable

    plain = "napari 0.9: 1 layer(s): Zellkern ß 🔬"
    assert printable(plain) == plain
    assert printable("a\nnapari 9.9: FAKE") == "a\\nnapari 9.9: FAKE"
    assert printable("\x1b[31mred\x00") == "\\x1b[31mred\\x00"
