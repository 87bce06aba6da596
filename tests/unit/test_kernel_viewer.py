"""The kernel's desktop_viewer() client (kernel/viewer.py) refusing what cannot become a
layer before anything is sent, and naming layers in URLs, without a server."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_napari_desktop.kernel.viewer import DesktopViewer, quote, to_json
from tests.support.procs import free_port


@pytest.fixture
def viewer():
    """A client of a port where nothing listens: a request would be a NapariDesktopError
    ("cannot reach the Jupyter server"), so a ValueError means nothing was sent."""
    return DesktopViewer({"url": f"http://127.0.0.1:{free_port()}/", "token": "t"}, timeout=5)


def test_shapes_of_2d_and_3d_vertices_say_which_shape_differs(viewer):
    mixed = [[[0, 0], [1, 1], [2, 0]], [[0, 0, 0], [1, 1, 1], [2, 0, 2]]]
    with pytest.raises(ValueError, match="same number of dimensions") as info:
        viewer.add_shapes(mixed)
    assert "shape 1 has 3, shape 0 has 2" in str(info.value)
    assert "inhomogeneous" not in str(info.value)


@pytest.mark.parametrize(
    ("shapes", "words"),
    [
        ([[[0, 0], [1, 1, 1], [2, 0]]], "shape 0's vertices must be a rectangular array"),
        ([[[0, 0]], [[0, 0], [1]]], "shape 1's vertices must be a rectangular array"),
        ([[0, 1, 2]], "shape 0's vertices must be an (N, D) array"),
        ([[[0]]], "shape 0's vertices must be an (N, D) array"),
        ([], "give at least one shape"),
    ],
)
def test_ragged_shapes_are_refused_here(viewer, shapes, words):
    with pytest.raises(ValueError) as info:
        viewer.add_shapes(shapes)
    assert words in str(info.value) and "inhomogeneous" not in str(info.value)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda v: v.add_points([[0, 0], [1, 1, 1]]), "item [1] is 3 long, item [0] is 2 long"),
        (
            lambda v: v.add_image([np.zeros((4, 4)), [[0, 0], [1, 1, 1]]]),
            "level 1 must be a rectangular array",  # checked before level 0 is sent
        ),
        (
            lambda v: v.add_labels(((0, 0), (1, (2, 3)))),
            "item [1][1] is 2 long, item [1][0] is a single value",
        ),
        (lambda v: v._send([[[1, 2], [3, 4]], [[1, 2], [3]]]), "item [1][1] is 1 long"),
    ],
)
def test_ragged_data_of_the_other_layers_names_the_item(viewer, call, words):
    with pytest.raises(ValueError) as info:
        call(viewer)
    assert words in str(info.value) and "inhomogeneous" not in str(info.value)


def test_settings_go_as_json_item_by_item():
    assert to_json((0, 255)) == [0, 255] and to_json(np.float32(0.5)) == 0.5
    assert to_json([[1, 0, 0], "red", (0, 1, 0, 1)]) == [[1, 0, 0], "red", [0, 1, 0, 1]]
    assert to_json([[1, 0], [1, 2, 3]]) == [[1, 0], [1, 2, 3]], "the server says what it takes"


def test_a_layer_name_with_a_lone_surrogate_has_a_url():
    """napari names a layer after a file whose name is not UTF-8 ("a\\udcffb"), and a name
    typed in napari may hold anything: the URL carries it as UTF-8 with surrogatepass."""
    assert quote("a\ud800b") == "a%ED%A0%80b"
    assert quote("a\udcffb") == "a%ED%B3%BFb"
    assert quote("cells ß/1") == "cells%20%C3%9F%2F1"


def test_nested_lists_of_numbers_are_one_image_not_levels(viewer, monkeypatch):
    """add_image([[1, 2], [3, 4]]) went as a multiscale layer of two 1-D levels (refused
    with 422): nested lists of numbers are one 2x2 image; a list with arrays is levels."""
    sent: list = []
    monkeypatch.setattr(viewer, "_send", lambda data: sent.append(np.asarray(data)) or "t")
    monkeypatch.setattr(viewer, "_call", lambda *a: {"layer": {"name": "x", "type": "image"}})
    viewer.add_image([[1, 2], [3, 4]])
    assert [a.shape for a in sent] == [(2, 2)]
    sent.clear()
    viewer.add_labels(((0, 1), (2, 3)))
    assert [a.shape for a in sent] == [(2, 2)]
    sent.clear()
    viewer.add_image([np.zeros((8, 8)), np.zeros((4, 4))])
    assert [a.shape for a in sent] == [(8, 8), (4, 4)]
