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


@pytest.mark.parametrize(
    ("kind", "props", "problem"),
    [
        ("image", {"colormap": "magma"}, None),
        ("image", {"colormap": "red"}, None),
        ("image", {"colormap": [1, 0.5, 0]}, None),
        ("image", {"colormap": ["black", "#ff8800", [1, 1, 1, 1]]}, None),
        # napari took these silently: gray instead, or nothing changed, and the API said 200.
        ("image", {"colormap": []}, "colormap must be a colormap's name"),
        ("image", {"colormap": 3}, "colormap must be a colormap's name"),
        ("image", {"colormap": {"a": 1}}, 'not {"a": 1}'),
        ("image", {"colormap": [[1, 0]]}, "a list of 2 or more colors"),
        ("image", {"colormap": [[2, 0, 0], [0, 1, 0]]}, "from 0 to 1"),
        ("image", {"colormap": ""}, 'not ""'),
        ("image", {"contrast_limits": [0, 255]}, None),
        ("image", {"contrast_limits": [0]}, "contrast_limits must be two numbers [low, high]"),
        ("image", {"contrast_limits": [0, 1, 2]}, "not [0, 1, 2]"),
        ("image", {"contrast_limits": [0, float("nan")]}, "contrast_limits must be"),
        ("image", {"contrast_limits": [5, 5]}, "low below high"),
        ("image", {"gamma": 0}, "gamma must be a number above 0"),
        ("image", {"gamma": float("nan")}, "gamma must be"),
        ("image", {"opacity": 1.5}, "opacity must be a number from 0 to 1, not 1.5"),
        ("image", {"opacity": True}, "opacity must be"),
        ("image", {"opacity": 0}, None),
        ("image", {"visible": "yes"}, 'visible must be true or false, not "yes"'),
        ("image", {"blending": "teapot"}, "blending must be one of translucent"),
        ("image", {"blending": "additive"}, None),
        ("labels", {"brush_size": 0}, "brush_size must be a whole number of 1 or more"),
        ("labels", {"brush_size": 1.5}, "brush_size must be"),
        ("labels", {"selected_label": True}, "selected_label must be a whole number"),
        ("labels", {"mode": "paint", "selected_label": 5, "brush_size": 12}, None),
        ("points", {"size": -1}, "size must be a number above 0"),
        ("points", {"size": [1, 2, 3]}, None),
        ("points", {"face_color": []}, "face_color must be a color"),
        ("points", {"face_color": ["red", [0, 0, 1]]}, None),
        ("points", {"border_color": 3}, "border_color must be a color"),
        ("points", {"symbol": None}, "symbol must be a symbol's name"),
        ("shapes", {"edge_width": -1}, "edge_width must be a number of 0 or more"),
        ("shapes", {"edge_color": [0.5, 0.5]}, "edge_color must be a color"),
        ("shapes", {"mode": 3}, "mode must be a mode's name"),
    ],
)
def test_check_props_refuses_what_napari_would_take_silently(kind, props, problem):
    answer = check_props(kind, props, adding=False)
    if problem is None:
        assert answer is None
    else:
        assert answer is not None and problem in answer, answer
        key = next(iter(props))
        assert answer.startswith(f"{key} must be "), "the message names the setting first"
