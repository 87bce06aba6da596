// Debian's Firefox ESR, driven with puppeteer-core over WebDriver BiDi, for tests/engines.
//
// One JSON request a line on stdin, one JSON answer a line on stdout:
//   {"op": "goto", "url": "..."}  ->  {"ok": true, "value": ...} or {"ok": false, "error": "..."}
// tests/engines/drivers.py is the Python side. Nothing is downloaded: the browser is the
// executable named by FIREFOX (default /usr/bin/firefox-esr).
import { createInterface } from "node:readline";
import puppeteer from "puppeteer-core";

const FIREFOX = process.env.FIREFOX || "/usr/bin/firefox-esr";
let browser = null;
let page = null;
const initScripts = new Set();

/** The page a new tab (a launcher card's window.open) becomes, once it has loaded. */
async function waitForNewPage(known, timeout) {
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    for (const candidate of await browser.pages()) {
      if (!known.includes(candidate)) {
        await candidate.waitForFunction(
          () => document.readyState === "complete",
          {
            timeout: Math.max(1000, deadline - Date.now()),
          },
        );
        return candidate;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no new tab within ${timeout} ms`);
}

const OPS = {
  async launch({ width, height, scale }) {
    browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: FIREFOX,
      headless: true,
      // scale: devicePixelRatio, as a HiDPI laptop's (2: a Retina screen). There the
      // viewport is not emulated (that would set the ratio back to 1): the headless window
      // is made width x height CSS pixels plus Firefox's own bar, in device pixels.
      defaultViewport:
        scale && scale !== 1 ? null : { width, height, deviceScaleFactor: 1 },
      env: {
        ...process.env,
        ...(scale && scale !== 1
          ? {
              MOZ_HEADLESS_WIDTH: String(width * scale),
              MOZ_HEADLESS_HEIGHT: String((height + 85) * scale),
            }
          : {}),
      },
      extraPrefsFirefox: {
        // No update checks, telemetry or remote settings: this machine has no network.
        "app.update.enabled": false,
        "datareporting.policy.dataSubmissionEnabled": false,
        "network.captive-portal-service.enabled": false,
        // The pixel ratio itself: Firefox's own HiDPI setting (the viewport's
        // deviceScaleFactor does not reach window.devicePixelRatio over BiDi).
        ...(scale && scale !== 1
          ? { "layout.css.devPixelsPerPx": String(scale) }
          : {}),
      },
    });
    page = (await browser.pages())[0] ?? (await browser.newPage());
    return (await browser.version()).toString();
  },
  async goto({ url }) {
    await page.goto(url, { waitUntil: "load" });
    return page.url();
  },
  async url() {
    return page.url();
  },
  async initScript({ source }) {
    // Runs in every document the tab loads from now on, before the page's own scripts
    // (once: asking again for the same source adds nothing).
    if (!initScripts.has(source)) {
      initScripts.add(source);
      await page.evaluateOnNewDocument(source);
    }
    return true;
  },
  async evaluate({ expression }) {
    return await page.evaluate(expression);
  },
  async waitFor({ expression, timeout }) {
    await page.waitForFunction(expression, { timeout, polling: 250 });
    return true;
  },
  async click({ selector }) {
    await page.locator(selector).click();
    return true;
  },
  async clickForNewPage({ selector, timeout }) {
    const known = await browser.pages();
    await page.locator(selector).click();
    page = await waitForNewPage(known, timeout);
    await page.bringToFront();
    return page.url();
  },
  async box({ selector }) {
    const handle = await page.waitForSelector(selector);
    return await handle.boundingBox();
  },
  async screenshot({ selector }) {
    const target = selector ? await page.waitForSelector(selector) : page;
    return Buffer.from(await target.screenshot({ type: "png" })).toString(
      "base64",
    );
  },
  async clickAt({ x, y }) {
    await page.mouse.move(x, y);
    await page.mouse.click(x, y, { delay: 30 });
    return true;
  },
  async wheel({ x, y, deltaY }) {
    await page.mouse.move(x, y);
    await page.mouse.wheel({ deltaY });
    return true;
  },
  async type({ text }) {
    await page.keyboard.type(text, { delay: 20 });
    return true;
  },
  async press({ key }) {
    await page.keyboard.press(key);
    return true;
  },
  async resize({ width, height }) {
    const scale = page.viewport()?.deviceScaleFactor ?? 1;
    await page.setViewport({ width, height, deviceScaleFactor: scale });
    return true;
  },
  async close() {
    if (browser) {
      await browser.close();
      browser = null;
    }
    return true;
  },
};

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const request = JSON.parse(line);
  let answer;
  try {
    const op = OPS[request.op];
    if (!op) {
      throw new Error(`unknown op ${request.op}`);
    }
    answer = { ok: true, value: (await op(request)) ?? null };
  } catch (error) {
    answer = { ok: false, error: String(error?.stack ?? error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
  if (request.op === "close") {
    break;
  }
}
if (browser) {
  await browser.close();
}
