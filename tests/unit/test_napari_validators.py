"""The napari helper's checks of what the API sends, without napari: they run in napari's
Python, but they are plain functions of plain values (napari_side/napari_helper.py)."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_napari_desktop.napari_side.napari_helper import (
    check_data,
    check_props,
    check_viewer,
    not_readable,
    numbers,
)


@pytest.mark.parametrize(
    ("kind", "array", "lengths", "problem"),
    [
        ("image", np.zeros((4, 4), np.uint8), None, None),
        ("labels", np.zeros((2, 4, 4), np.uint32), None, None),
        ("labels", np.zeros((4, 4), np.float32), None, "labels data must be"),
        ("image", np.zeros(4, np.uint8), None, "not of shape (4,)"),
        ("image", np.array(["a", "b"]), None, "image data must be"),
        ("points", np.zeros((3, 2)), None, None),
        ("points", np.zeros((3, 1)), None, "not of shape (3, 1)"),
        ("shapes", np.zeros((4, 2)), [4], None),
        ("shapes", np.zeros((4, 2)), None, "shapes need 'lengths'"),
        ("shapes", np.zeros((4, 2)), [0, 4], "shapes need 'lengths'"),
        ("shapes", np.zeros((4, 2)), [2, 3], "add up to 5, but 4 vertices came"),
        # napari took 20 GB and a minute for a 4-pixel image of 24 dimensions.
        ("image", np.zeros((1,) * 22 + (2, 2)), None, "at most 16 dimensions, not 24"),
        ("image", np.zeros((1,) * 14 + (2, 2)), None, None),
        ("points", np.zeros((3, 17)), None, "at most 16 coordinates, not 17"),
        ("image", np.zeros((0, 10)), None, "must not be empty, not of shape (0, 10)"),
    ],
)
def test_check_data(kind, array, lengths, problem):
    answer = check_data(kind, array, lengths)
    if problem is None:
        assert answer is None
    else:
        assert answer is not None and problem in answer


def test_check_props_names_the_unknown_and_the_known():
    assert check_props("image", {"name": "cells", "colormap": "magma"}, adding=False) is None
    answer = check_props("points", {"colormap": "magma", "opacity": 0.5}, adding=False)
    assert answer is not None and "no settable colormap" in answer and "opacity" in answer
    assert check_props("image", {"rgb": True}, adding=True) is None
    answer = check_props("image", {"rgb": True}, adding=False)
    assert answer is not None and "rgb" in answer
    assert check_props("image", [], adding=True) == "props must be a JSON object"
    assert check_props("image", {"name": "  "}, adding=True) == "name must be a non-empty string"
    for name in ("L" * 1001, "s\udcff", "a\nb", "\x1b[31mred", "nul\x00"):
        answer = check_props("image", {"name": name}, adding=True)
        assert answer is not None and "at most 1000 characters of text" in answer, name
    for name in ("L" * 1000, "Zellkern ß 細胞 🔬", "a b"):
        assert check_props("image", {"name": name}, adding=True) is None, name


@pytest.mark.parametrize(
    ("dims", "camera", "problem"),
    [
        ({"current_step": [0, 3, 0]}, {"zoom": 2.0, "center": [1, 2]}, None),
        ({"ndisplay": 3}, {"angles": [0, 45, 90]}, None),
        ({"current_step": [0, 1]}, {}, "3 whole numbers >= 0"),
        ({"current_step": [0, -1, 0]}, {}, "3 whole numbers >= 0"),
        ({"ndisplay": 4}, {}, "ndisplay must be 2 or 3"),
        ({}, {"zoom": 0}, "zoom must be a number from 1e-12 to 1e+12"),
        ({}, {"zoom": True}, "zoom must be a number from"),
        ({}, {"zoom": 9.3e-306}, "zoom must be a number from"),
        ({}, {"zoom": 1e300}, "zoom must be a number from"),
        ({}, {"center": [5e307, 0]}, "center must be 2 or 3 numbers"),
        ({}, {"center": [1]}, "center must be 2 or 3 numbers"),
        ({}, {"angles": [1, 2]}, "angles must be 3 numbers"),
        ({"order": [0, 1, 2]}, {}, "cannot set order"),
        ([], {}, "must be JSON objects"),
    ],
)
def test_check_viewer(dims, camera, problem):
    answer = check_viewer(dims, camera, ndim=3)
    if problem is None:
        assert answer is None
    else:
        assert answer is not None and problem in answer


def test_numbers_refuses_booleans_and_strings():
    assert numbers([1, 2.5]) and numbers([1, 2], count=2)
    assert not numbers([True, 1]) and not numbers(["1"]) and not numbers((1, 2))
    assert not numbers([1, 2], count=3)


def test_numbers_refuses_what_napari_cannot_transform():
    """A layer translated by 1e308 overflowed napari's transforms: the layer stayed, and
    every view of the canvas (reset_view, screenshots, the kept session) broke."""
    assert not numbers([float("nan")]) and not numbers([float("inf")])
    assert not numbers([1e308]) and numbers([1e12]) and not numbers([1.1e12])


@pytest.mark.parametrize(
    ("props", "problem"),
    [
        ({"translate": [10, -20.5], "scale": [0.5, 2]}, None),
        ({"translate": [1e308, 1e308]}, "translate must be a list of numbers"),
        ({"translate": []}, "translate must be a list of numbers"),
        ({"translate": "x"}, "translate must be a list of numbers"),
        ({"scale": [1, 0]}, "scale must not be 0"),
        ({"scale": [1e-300, 1]}, "scale must not be 0 or smaller than 1e-12"),
        ({"scale": [float("nan"), 1]}, "scale must be a list of numbers"),
    ],
)
def test_check_props_keeps_transforms_in_range(props, problem):
    answer = check_props("image", props, adding=True)
    if problem is None:
        assert answer is None
    else:
        assert answer is not None and problem in answer


def test_not_readable_refuses_what_would_block_a_reader(tmp_path):
    import os

    plain = tmp_path / "a.tif"
    plain.write_bytes(b"x")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert not_readable(str(plain)) is None and not_readable(str(tmp_path)) is None
    assert not_readable(str(fifo)) == "pipe is not a regular file or folder"
    assert "No such file" in (not_readable(str(tmp_path / "gone")) or "")
