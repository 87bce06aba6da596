"""What the browser tests do on JupyterLab's and the desktop's pages."""

from __future__ import annotations


def open_lab(context, lab, wait_for_status_item: bool = True):
    """JupyterLab with the token, once the launcher (and our status bar item) is there.

    ``reset`` starts from an empty workspace, so a tab an earlier test left open (a
    notebook) does not hide the launcher: tests do not depend on their order."""
    page = context.new_page()
    page.goto(f"{lab.url}lab?reset&token={lab.token}")
    page.wait_for_selector(".jp-LauncherCard", timeout=90_000)
    if wait_for_status_item:
        page.wait_for_selector(".jp-NapariDesktop-statusItem", timeout=30_000)
    return page


def wait_state(frame, state: str, timeout: float) -> None:
    """Wait until the desktop page (tab or iframe) reports ``state``."""
    frame.wait_for_function(
        "s => window.napariDesktop && window.napariDesktop.state === s",
        arg=state,
        timeout=timeout * 1000,
        polling=250,
    )


def desktop_x_env(lab, display: str) -> dict[str, str]:
    """DISPLAY and XAUTHORITY of the running desktop (from its Xvnc's command line)."""
    env = lab.x_env()
    assert env["DISPLAY"] == display, (env["DISPLAY"], display)
    return env
