"""The pure half of napari_side/session_keep.py: names, rotation, atomic writes, reading a
session back with what was passed over. No napari, no display."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from jupyter_napari_desktop.napari_side import session_keep as keep
from jupyter_napari_desktop.server.manager import session_json

pytestmark = pytest.mark.unit


def make_session(root, name, layers=None, arrays=None):
    folder = root / name
    folder.mkdir(parents=True)
    for file, array in (arrays or {}).items():
        keep.write_array(folder / file, array)
    keep.write_state(folder, {"format": 1, "saved_at": 1.0, "layers": layers or []})
    return folder


def test_session_names_sort_by_time_and_are_unique_per_napari():
    early = keep.session_name(1_700_000_000, 42)
    late = keep.session_name(1_700_000_001, 7)
    assert early == "2023-11-14T22-13-20Z-42"
    assert sorted([late, early]) == [early, late]
    assert keep.SESSION_RE.match(early) and keep.SESSION_RE.match(late)


def test_list_sessions_newest_first_ignoring_other_files(tmp_path):
    for name in ("2026-01-01T00-00-00Z-1", "2026-01-02T00-00-00Z-1", "notes", ".hidden"):
        (tmp_path / name).mkdir()
    (tmp_path / "README.txt").write_text("x")
    names = [p.name for p in keep.list_sessions(tmp_path)]
    assert names == ["2026-01-02T00-00-00Z-1", "2026-01-01T00-00-00Z-1"]
    assert keep.list_sessions(tmp_path / "missing") == []


def test_prune_keeps_the_newest_saved_sessions_and_recent_unsaved_ones(tmp_path):
    names = [f"2026-01-0{day}T00-00-00Z-1" for day in range(1, 8)]
    for name in names:
        make_session(tmp_path, name)
    unsaved = tmp_path / "2026-01-09T00-00-00Z-1"  # a napari killed before its first save
    unsaved.mkdir()
    removed = keep.prune(tmp_path, 3, protect=(tmp_path / names[0],))
    assert sorted(p.name for p in removed) == names[1:4]
    left = [p.name for p in keep.list_sessions(tmp_path)]
    assert left == [unsaved.name, *reversed(names[4:]), names[0]]
    # An unsaved folder goes once it is an hour old.
    assert keep.prune(tmp_path, 3, now=time.time() + 7200, protect=(tmp_path / names[0],)) == [
        unsaved
    ]


def test_write_atomic_leaves_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "session.json"
    target.write_text("old")

    def fail(handle):
        handle.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        keep.write_atomic(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["session.json"], "no temporary file left"


def test_state_round_trips_numpy_values_as_json(tmp_path):
    state = {
        "layers": [
            {"name": "a", "props": {"scale": np.array([1.0, 2.5]), "opacity": np.float32(0.5)}}
        ],
        "camera": {"center": (1, 2), "zoom": float("nan")},
    }
    keep.write_state(tmp_path, state)
    back = json.loads((tmp_path / keep.STATE_FILE).read_text())
    assert back["layers"][0]["props"] == {"scale": [1.0, 2.5], "opacity": 0.5}
    assert back["camera"] == {"center": [1, 2], "zoom": None}


def test_pick_latest_passes_over_unreadable_and_newer_format_sessions(tmp_path):
    good = make_session(tmp_path, "2026-01-01T00-00-00Z-1", [{"name": "a"}])
    (tmp_path / "2026-01-03T00-00-00Z-1").mkdir()  # never saved: passed over silently
    cut = tmp_path / "2026-01-04T00-00-00Z-1"
    cut.mkdir()
    (cut / keep.STATE_FILE).write_text('{"format": 1, "layers": [')
    future = tmp_path / "2026-01-05T00-00-00Z-1"
    future.mkdir()
    (future / keep.STATE_FILE).write_text('{"format": 99, "layers": []}')
    folder, state, passed = keep.pick_latest(tmp_path)
    assert folder == good and state["layers"] == [{"name": "a"}]
    assert len(passed) == 2
    assert "newer jupyter-napari-desktop" in passed[0] and future.name in passed[0]
    assert "cannot be read" in passed[1] and cut.name in passed[1]
    assert keep.pick_latest(tmp_path / "none") == (None, {}, [])


def test_pick_latest_skips_the_session_napari_writes_now(tmp_path):
    """A notebook's "latest" (open_session) is the session before napari's own."""
    before = make_session(tmp_path, "2026-01-01T00-00-00Z-1", [{"name": "a"}])
    now = make_session(tmp_path, "2026-01-02T00-00-00Z-2", [{"name": "b"}])
    assert keep.pick_latest(tmp_path)[0] == now
    assert keep.pick_latest(tmp_path, skip=now)[0] == before
    assert keep.pick_latest(tmp_path, skip=before)[0] == now


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ({"name": "a", "type": "labels", "files": {"data": "L1-1.npy"}}, None),
        ({"name": "a", "type": "image", "source": {"path": "/d/a.tif"}}, None),
        ({"name": "a", "type": "hologram", "files": {"data": "L1-1.npy"}}, "unknown layer type"),
        ({"name": "a", "type": "labels", "files": {"data": "../../etc/x.npy"}}, "bad data file"),
        ({"name": "a", "type": "labels"}, "neither data files nor a source"),
        (["a"], "not a layer entry"),
    ],
)
def test_check_entry(entry, reason):
    found = keep.check_entry(entry)
    assert found == reason if reason is None else reason in found


def test_load_session_reads_the_newest_session_without_napari(tmp_path):
    mask = np.arange(24, dtype=np.uint32).reshape(2, 3, 4)
    layers = [
        {
            "name": "mask",
            "type": "labels",
            "files": {"data": "L1-1.npy"},
            "props": {"opacity": 0.5},
        },
        {"name": "raw", "type": "image", "source": {"path": "/d/raw.tif"}},
    ]
    make_session(tmp_path, "2026-01-01T00-00-00Z-1", layers, {"L1-1.npy": mask})
    session = keep.load_session(root=tmp_path)
    assert list(session) == ["mask", "raw"]
    assert np.array_equal(session["mask"]["data"], mask)
    assert session["mask"]["props"] == {"opacity": 0.5}
    assert session["raw"]["data"] is None and session["raw"]["source"] == {"path": "/d/raw.tif"}


def test_a_truncated_data_file_is_named(tmp_path):
    folder = make_session(tmp_path, "2026-01-01T00-00-00Z-1", [], {"L1-1.npy": np.zeros((9, 9))})
    data = (folder / "L1-1.npy").read_bytes()
    (folder / "L1-1.npy").write_bytes(data[:100])
    with pytest.raises(ValueError, match=r"L1-1\.npy"):
        keep.load_arrays(folder, {"data": "L1-1.npy"})


def test_remove_unnamed_keeps_what_session_json_names(tmp_path):
    for name in ("L1-1.npy", "L1-2.npy", ".L1-3.npy.1.2.tmp", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    state = {"layers": [{"name": "a", "files": {"data": "L1-2.npy"}}]}
    keep.write_state(tmp_path, state)
    keep.remove_unnamed(tmp_path, state)
    assert sorted(os.listdir(tmp_path)) == ["L1-2.npy", "notes.txt", "session.json"]


def test_link_or_copy_shares_unchanged_data(tmp_path):
    source = tmp_path / "a.npy"
    keep.write_array(source, np.ones(4))
    (tmp_path / "b").mkdir()
    keep.link_or_copy(source, tmp_path / "b" / "a.npy")
    assert np.array_equal(np.load(tmp_path / "b" / "a.npy"), np.ones(4))
    assert os.stat(source).st_ino == os.stat(tmp_path / "b" / "a.npy").st_ino


def test_the_api_tells_only_listed_fields_of_the_helpers_report():
    report = {
        "dir": "/home/u/napari-sessions",
        "folder": "2026-01-01T00-00-00Z-1",
        "restored": {"from": "x", "layers": ["a"], "skipped": [], "seconds": 1.0, "secret": 1},
        "last_save": {"at": 5.0, "layers": 1, "qt_s": 0.01, "extra": 2},
        "error": None,
        "other": "no",
    }
    shown = session_json(report)
    assert shown is not None and "other" not in shown
    assert "secret" not in shown["restored"] and "extra" not in shown["last_save"]
    assert shown["restored"]["layers"] == ["a"]
    assert session_json(None) is None


def test_sessions_go_where_the_file_browser_shows_them(tmp_path):
    from jupyter_napari_desktop.server.manager import default_session_root

    home = tmp_path / "home"
    (home / "clone").mkdir(parents=True)
    assert default_session_root(home, home) == home / "napari-sessions"
    assert default_session_root(home / "clone", home) == home / "clone" / "napari-sessions"
    # A root outside the home (a shared data folder, /) is not where a user's work goes.
    assert default_session_root(tmp_path / "data", home) == home / "napari-sessions"
    assert default_session_root(Path("/"), home) == home / "napari-sessions"
    assert default_session_root(None, home) == home / "napari-sessions"


class Image:
    """A stand-in for a napari layer: its kind is its class's name, as kind_of reads it."""

    def __init__(self, name, path):
        self.name = name
        self.source = type("Source", (), {"path": path})()


class Labels(Image):
    pass


def test_an_open_file_stands_for_the_sessions_entry_of_the_same_file(tmp_path):
    cells = str(tmp_path / "cells.tif")
    entries = [
        {"name": "cells copy", "type": "image", "source": {"path": cells}},
        {"name": "painted", "type": "labels", "files": {"data": "a.npy"}},
        {"name": "cells", "type": "image", "source": {"path": str(tmp_path / "." / "cells.tif")}},
        {"name": "cells as labels", "type": "labels", "source": {"path": cells}},
        {"name": "other", "type": "image", "source": {"path": str(tmp_path / "other.tif")}},
        {"name": "broken", "type": "hologram", "source": {"path": cells}},
    ]
    opened = Image("cells", cells)
    found = keep.match_opened(entries, [opened, Labels("nothing", None), Image("x", None)])
    # the entry of the same name first (its path written another way), each layer once;
    # data files, another kind, another file, an unknown kind: read as before
    assert found == {2: opened}
    second = Image("cells", cells)
    assert keep.match_opened(entries, [opened, second]) == {2: opened, 0: second}
    assert keep.match_opened(entries, []) == {}
