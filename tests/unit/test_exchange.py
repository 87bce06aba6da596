"""Transfer files (exchange.py) and the kernel's PNG (viewer.py), without a display."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from jupyter_napari_desktop.config import NapariDesktop
from jupyter_napari_desktop.kernel.viewer import png_bytes
from jupyter_napari_desktop.server.errors import Refused
from jupyter_napari_desktop.server.exchange import TRANSFER_DIR, Exchange


class Desktop:
    """The two things Exchange reads of the manager: its config and its private directory."""

    def __init__(self, root: Path, running: bool = True) -> None:
        self.config = NapariDesktop(transfer_limit_mb=1)
        self.paths = SimpleNamespace(root=root) if running else None
        self.is_running = running

    def running(self) -> bool:
        return self.is_running


@pytest.fixture
def exchange(tmp_path):
    root = tmp_path / "desktop"
    root.mkdir(mode=0o700)
    return Exchange(Desktop(root))  # type: ignore[arg-type]


def test_transfer_files_are_private_and_only_ours_are_taken(exchange, tmp_path):
    made = exchange.make(1000)
    assert made.path.parent == tmp_path / "desktop" / TRANSFER_DIR
    assert stat.S_IMODE(made.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert exchange.take(made.name) is made
    outside = tmp_path / "a.npy"
    outside.write_bytes(b"x")
    for name in (str(outside), "../a.npy", "0" * 32 + ".npy", made.name + "/..", None, 3):
        with pytest.raises(Refused) as info:
            exchange.take(name)
        assert info.value.status == 400 and "not a transfer file" in info.value.message
    assert exchange.remove(made.name) and not made.path.exists()
    assert not exchange.remove(made.name), "a name is used once"


def test_the_limit_is_413_with_the_option_to_raise(exchange):
    with pytest.raises(Refused) as info:
        exchange.make(1_000_001)
    assert info.value.status == 413 and "transfer_limit_mb" in info.value.fix
    made = exchange.make(10)
    made.path.write_bytes(os.urandom(1_000_000 + (1 << 16) + 1))  # more than was declared
    with pytest.raises(Refused) as info:
        exchange.take(made.name)
    assert info.value.status == 413 and not made.path.exists()


def test_a_link_or_a_missing_file_is_refused(exchange, tmp_path):
    made = exchange.make(10)
    made.path.unlink()
    with pytest.raises(Refused) as info:
        exchange.take(made.name)
    assert info.value.status == 410
    made = exchange.make(10)
    made.path.unlink()
    made.path.symlink_to(tmp_path / "elsewhere.npy")
    with pytest.raises(Refused) as info:
        exchange.take(made.name)
    assert info.value.status == 400 and not made.path.is_symlink()


def test_no_desktop_no_transfer(tmp_path):
    exchange = Exchange(Desktop(tmp_path, running=False))  # type: ignore[arg-type]
    with pytest.raises(Refused) as info:
        exchange.make(10)
    assert info.value.status == 409 and "desktop_viewer()" in info.value.fix


@pytest.mark.parametrize("channels", [3, 4])
def test_the_kernels_png_decodes_to_the_same_pixels(channels):
    image = np.random.default_rng(channels).integers(0, 256, (37, 53, channels), dtype=np.uint8)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
    assert decoded.shape == image.shape and np.array_equal(decoded, image)


def test_a_kernel_without_numpy_is_told_what_to_install():
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "try:\n    from jupyter_napari_desktop import desktop_viewer; desktop_viewer()\n"
        "except ImportError as err:\n    print(err)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "needs numpy in this kernel's environment: pip install numpy" in done.stdout, done
