"""c.NapariDesktop validation: bad values name the option, the value and the accepted forms."""

from __future__ import annotations

import pytest
from traitlets import TraitError
from traitlets.config import Config

from jupyter_napari_desktop.config import NapariDesktop, parse_geometry


def make(**options):
    return NapariDesktop(config=Config({"NapariDesktop": options}))


def test_defaults_are_valid():
    config = make()
    assert config.geometry == "1920x1080"
    assert config.session == "xfce"
    assert config.vnc_server == "Xvnc"
    assert config.autostart_napari is True
    assert config.prestart is False
    assert config.restore is True and config.session_dir == ""
    assert (config.keep_sessions, config.save_delay) == (5, 3.0)


@pytest.mark.parametrize(
    ("option", "value", "accepted"),
    [
        ("geometry", "big", "WIDTHxHEIGHT"),
        ("geometry", "100x100", "width must be"),
        ("geometry", "1920x1080; rm -rf /", "WIDTHxHEIGHT"),
        ("frame_rate", 0, "from 1 to 120"),
        ("frame_rate", 500, "from 1 to 120"),
        ("quality", 10, "from 0 to 9"),
        ("max_mbit_per_s", 0.1, "0 (no limit) or megabits from 0.5 to 10000"),
        ("max_mbit_per_s", -4, "0 (no limit)"),
        ("compression", -1, "from 0 to 9"),
        ("startup_timeout", 0.1, "from 1 to 600"),
        ("open_timeout", 0, "from 1 to 3600"),
        ("transfer_limit_mb", 0, "from 1 to 1000000"),
        ("first_display", -3, "from 0 to 9000"),
        ("vnc_server", "  ", "absolute path"),
        ("xstartup", "relative/script.sh", "absolute path"),
        ("napari_python", "python3", "absolute path"),
        ("extra_env", {"BAD NAME": "x"}, "variable name"),
        ("upload_dir", "/srv/data", "relative to the Jupyter root"),
        ("upload_dir", "~/uploads", "relative to the Jupyter root"),
        ("upload_dir", "data/../../etc", "without '..'"),
        ("upload_dir", ".hidden/uploads", "hidden"),
        ("render_node", "gpu", "'auto', 'off' or the path of a DRM render node"),
        ("render_node", "renderD128", "e.g. '/dev/dri/renderD128'"),
        ("session_dir", "sessions", "absolute path"),
        ("keep_sessions", 0, "from 1 to 100"),
        ("save_delay", 0.1, "from 0.5 to 600"),
    ],
)
def test_bad_values_name_option_value_and_accepted_forms(option, value, accepted):
    with pytest.raises(TraitError) as info:
        make(**{option: value})
    message = str(info.value)
    assert f"c.NapariDesktop.{option}" in message
    assert repr(value) in message
    assert accepted in message


def test_bad_enum_is_refused():
    with pytest.raises(TraitError, match="session"):
        make(session="gnome")


def test_good_values_are_kept():
    config = make(
        geometry=" 1280x800 ",
        session="minimal",
        frame_rate=60,
        extra_env={"NAPARI_ASYNC": "1"},
        napari_python="/opt/napari/bin/python",
    )
    assert config.geometry == "1280x800"
    assert config.frame_rate == 60
    assert config.extra_env == {"NAPARI_ASYNC": "1"}


def test_upload_dir_is_normalised_and_stays_relative():
    assert make().upload_dir == ""
    assert make(upload_dir=" ./uploads//today/ ").upload_dir == "uploads/today"
    assert make(upload_dir="data\\in").upload_dir == "data/in"
    assert make().hidpi == "crisp"
    with pytest.raises(TraitError, match="hidpi"):
        make(hidpi="sharp")


def test_parse_geometry():
    assert parse_geometry("2560x1440") == (2560, 1440)
    with pytest.raises(ValueError, match="WIDTHxHEIGHT"):
        parse_geometry("2560*1440")


def test_every_option_has_help_for_the_admin():
    for name, trait in NapariDesktop.class_traits(config=True).items():
        assert len(trait.help) > 40, f"c.NapariDesktop.{name} needs a real help string"


def test_picture_defaults_are_the_measured_ones():
    """benchmarks/results/bandwidth.md: quality 2 while moving, exact when still."""
    config = make()
    assert (config.quality, config.compression, config.adaptive_quality) == (2, 2, True)
    assert make(adaptive_quality=False).adaptive_quality is False


def test_render_node_defaults_to_auto_and_keeps_a_path():
    assert make().render_node == "auto"
    assert make(render_node=" off ").render_node == "off"
    assert make(render_node="/dev/dri/renderD129").render_node == "/dev/dri/renderD129"
