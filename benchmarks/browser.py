"""Chromium (Debian's, through Playwright): JupyterLab's launcher and the desktop tab.

Every page gets ``images.PAGE_PROBE``: it stamps ``Date.now()`` of the last click in the
page, and of the first moment its largest canvas shows a drawn desktop and napari's test
pattern. Times are differences of those stamps (one clock, milliseconds).
"""

from __future__ import annotations

import asyncio
import time
from typing import Optional

from tests.support.jupyter import JupyterServer
from tests.support.pattern import CHROMIUM, CHROMIUM_ARGS

from .images import PAGE_PROBE

CLICK_PROBE = (
    "document.addEventListener('click', () => { window.__benchClickAt = Date.now(); }, true);"
)

# Launcher cards (tooltip or label) of each tool.
CARDS = {
    "ours-napari": ".jp-LauncherCard[title*='napari in a browser desktop']",
    "ours-desktop": ".jp-LauncherCard[title*='A browser desktop']",
    "reference": ".jp-LauncherCard[title^='Desktop']",  # jupyter-server-proxy: 'Desktop [↗]'
}
# Height of each page's bar above the VNC screen (CSS px): the window is this much taller
# than the remote screen we want, since both pages resize the remote screen to fit.
BAR_HEIGHT = {"ours": 32, "reference": 36}
SCREEN_SELECTOR = {"ours": ".jp-NapariDesktop-screen", "reference": "#screen"}


class Browser:
    def __init__(self) -> None:
        self._playwright = None
        self.chromium = None

    async def start(self) -> Browser:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        self.chromium = await self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        return self

    async def stop(self) -> None:
        if self.chromium is not None:
            await self.chromium.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self.chromium = self._playwright = None

    async def context(self, tool: str, width: int, height: int):
        ctx = await self.chromium.new_context(
            viewport={"width": width, "height": height + BAR_HEIGHT[tool]}
        )
        await ctx.add_init_script(PAGE_PROBE + CLICK_PROBE)
        return ctx


async def open_lab(ctx, server: JupyterServer, timeout: float = 180):
    page = await ctx.new_page()
    await page.goto(f"{server.url}lab?token={server.token}", timeout=timeout * 1000)
    await page.wait_for_selector(".jp-LauncherCard", timeout=timeout * 1000)
    return page


async def click_card(ctx, lab, card: str):
    """Click a launcher card; return (click time in ms since the epoch, the new tab)."""
    locator = lab.locator(CARDS[card]).first
    await locator.wait_for(timeout=60_000)
    async with ctx.expect_page(timeout=60_000) as new_tab:
        await locator.click()
    tab = await new_tab.value
    clicked = await lab.evaluate("window.__benchClickAt || null")
    return float(clicked or time.time() * 1000), tab


async def probe(tab, key: str, timeout: float, after_ms: float = 0.0) -> Optional[float]:
    """Poll the tab's probe until ``key`` ('drawnAt' or 'patternAt') is set; its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = await tab.evaluate(f"window.__benchProbe && window.__benchProbe.{key}")
        except Exception:
            value = None
        if value and value >= after_ms:
            return float(value)
        await asyncio.sleep(0.05)
    return None


async def reset_probe(tab, key: str) -> None:
    await tab.evaluate(f"window.__benchProbe.{key} = null")


async def remote_size(tab) -> list[int]:
    try:
        size = await tab.evaluate("[window.__benchProbe.width, window.__benchProbe.height]")
    except Exception:
        return [0, 0]
    return [int(size[0]), int(size[1])]


async def bar_height(tab, tool: str) -> float:
    return float(
        await tab.evaluate(
            f"document.querySelector({SCREEN_SELECTOR[tool]!r}).getBoundingClientRect().top"
        )
    )
