"""Display choice when many desktops start at once (a workshop's first click): each failed
Xvnc start looks at which displays are free again, and there are enough attempts for the
numbers taken meanwhile by the others."""

from __future__ import annotations

import pytest

from jupyter_napari_desktop.launch import RuntimePaths, SupervisorSpec
from jupyter_napari_desktop.procs import make_runtime_dir
from jupyter_napari_desktop.supervisor import process as sup

pytestmark = pytest.mark.unit


class FakeXvnc:
    def __init__(self, display: int, wins: bool) -> None:
        self.display, self.wins = display, wins
        self.pid, self.returncode = 12345, None if wins else 1

    def poll(self):
        return self.returncode

    def kill(self) -> None:
        pass

    def wait(self, timeout=None):
        return self.returncode


@pytest.fixture
def supervisor(tmp_path):
    """A Supervisor of a private runtime directory; its desktop log closed after the test
    (the Supervisor opens it when made)."""
    made = make_supervisor(tmp_path)
    yield made
    made.log.close()


def make_supervisor(tmp_path) -> sup.Supervisor:
    paths: RuntimePaths = make_runtime_dir(tmp_path, "desk")
    spec = SupervisorSpec(
        root=str(paths.root),
        vnc_server="Xvnc",
        geometry="640x480",
        depth=24,
        frame_rate=30,
        first_display=40,
        startup_timeout=5,
        session_kind="minimal",
        session_argv=["true"],
        napari_argv=None,
        autostart_napari=False,
    )
    return sup.Supervisor(spec)


@pytest.mark.parametrize("others", [0, 4, 9])
def test_a_display_taken_meanwhile_is_skipped_and_the_next_free_one_tried(
    supervisor, monkeypatch, others
):
    """``others`` desktops win the race for every display this one tries, one after the
    other; this one still gets a display, never one it or they already had."""
    taken: set[int] = set()
    tried: list[int] = []
    monkeypatch.setattr(
        sup,
        "candidate_displays",
        lambda first: [d for d in range(first, first + 30) if d not in taken],
    )
    supervisor.paths.vnc_socket.touch()
    monkeypatch.setattr(sup, "x_socket_path", lambda display: supervisor.paths.vnc_socket)
    monkeypatch.setattr(sup.Supervisor, "vnc_ready", lambda self: True)

    def spawn(self, argv, env=None):
        display = int(argv[1].lstrip(":"))
        tried.append(display)
        assert display not in taken, f"tried :{display}, which was taken before"
        wins = len(tried) > others
        if not wins:
            taken.add(display)  # another desktop's Xvnc got there first
        return FakeXvnc(display, wins)

    monkeypatch.setattr(sup.Supervisor, "spawn", spawn)
    supervisor.start_xvnc()
    assert supervisor.display == tried[-1] and supervisor.display not in taken
    assert len(tried) == others + 1
    assert tried[0] == 40, "without a race the lowest free display"


def test_it_gives_up_after_its_attempts_and_names_the_displays(supervisor, monkeypatch):
    monkeypatch.setattr(sup, "candidate_displays", lambda first: list(range(first, first + 30)))
    monkeypatch.setattr(
        sup.Supervisor, "spawn", lambda self, argv, env=None: FakeXvnc(int(argv[1][1:]), False)
    )
    with pytest.raises(sup.DesktopError, match="tried displays") as failed:
        supervisor.start_xvnc()
    assert failed.value.message.count(",") == sup.XVNC_ATTEMPTS - 1
