/**
 * The browser desktop page: starts the desktop through the server's API,
 * shows it with noVNC, reconnects by itself and carries the clipboard.
 *
 * The server renders the page with a JSON configuration in
 * <script id="napari-desktop-config"> and an empty #jp-NapariDesktop-root;
 * everything else is built here.
 */
import RFB from '@novnc/novnc';

import { parseApiError, parseStartResponse } from '../src/api';
import type { IApiError, IStartResponse } from '../src/tokens';
import {
  apiEndpoint,
  backoffDelay,
  documentTitle,
  IDesktopConfig,
  isTransientFailure,
  parseConfig,
  STORAGE_KEYS,
  toLevel,
  websocketUrl
} from './logic';

/** The states shown in #jp-NapariDesktop-status[data-state]. */
export type ConnectionState =
  'connecting' | 'connected' | 'reconnecting' | 'error';

/** What tests (and curious people) can read from `window.napariDesktop`. */
export interface INapariDesktopHandle {
  state: ConnectionState;
  rfb: RFB | null;
}

declare global {
  interface Window {
    napariDesktop: INapariDesktopHandle;
  }
}

/** How long POST start may take before the page retries. */
const START_TIMEOUT_MS = 60_000;

const LEVELS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

// ---------------------------------------------------------------------------
// DOM helpers
// ---------------------------------------------------------------------------

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

function button(label: string, title: string): HTMLButtonElement {
  const node = el('button', 'jp-NapariDesktop-button', label);
  node.type = 'button';
  node.title = title;
  return node;
}

function levelSelect(
  id: string,
  label: string,
  title: string,
  describe: (level: number) => string
): { wrapper: HTMLLabelElement; select: HTMLSelectElement } {
  const wrapper = el('label', 'jp-NapariDesktop-field', `${label} `);
  wrapper.title = title;
  wrapper.htmlFor = id;
  const select = el('select', 'jp-NapariDesktop-select');
  select.id = id;
  for (const level of LEVELS) {
    const option = el('option', '', describe(level));
    option.value = String(level);
    select.appendChild(option);
  }
  wrapper.appendChild(select);
  return { wrapper, select };
}

/** Load desktop.css from next to this script unless the page links it already. */
function ensureStylesheet(): void {
  const script = new URL(import.meta.url);
  const css = new URL('desktop.css', script);
  const links = document.querySelectorAll<HTMLLinkElement>(
    'link[rel="stylesheet"]'
  );
  for (const link of links) {
    // Compare without the query: the server adds ?v=<version> to both.
    if (new URL(link.href, document.baseURI).pathname === css.pathname) {
      return;
    }
  }
  css.search = script.search;
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = css.href;
  document.head.appendChild(link);
}

function readStoredLevel(key: string, fallback: number): number {
  try {
    return toLevel(window.localStorage.getItem(key), fallback);
  } catch {
    // localStorage can be disabled (privacy settings, sandboxed frames).
    return fallback;
  }
}

function storeLevel(key: string, level: number): void {
  try {
    window.localStorage.setItem(key, String(level));
  } catch {
    // Not persisted; the choice still applies to this page.
  }
}

// ---------------------------------------------------------------------------
// The page
// ---------------------------------------------------------------------------

/** The page's elements. */
class PageView {
  readonly status: HTMLSpanElement;
  readonly screen: HTMLElement;
  readonly quality: HTMLSelectElement;
  readonly compression: HTMLSelectElement;
  readonly reconnect: HTMLButtonElement;
  readonly clipboardToggle: HTMLButtonElement;
  readonly clipboardPanel: HTMLDivElement;
  readonly clipboardText: HTMLTextAreaElement;
  private readonly _root: HTMLElement;
  private readonly _notice: HTMLDivElement;
  private readonly _noticeText: HTMLSpanElement;
  private readonly _error: HTMLDivElement;
  private readonly _errorMessage: HTMLParagraphElement;
  private readonly _errorFix: HTMLParagraphElement;
  readonly tryAgain: HTMLButtonElement;

  constructor(root: HTMLElement, app: string, version: string) {
    this._root = root;
    root.classList.add('jp-NapariDesktop-app');
    root.replaceChildren();

    // Top bar.
    const bar = el('header', 'jp-NapariDesktop-bar');
    const title = el(
      'span',
      'jp-NapariDesktop-title',
      app === 'napari' ? 'napari' : 'Desktop'
    );
    title.title = `jupyter-napari-desktop ${version}`.trim();
    this.status = el('span', 'jp-NapariDesktop-status', 'Starting…');
    this.status.id = 'jp-NapariDesktop-status';
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    const spacer = el('span', 'jp-NapariDesktop-spacer');

    this.clipboardToggle = button(
      'Clipboard',
      'Show the text copied in the desktop, or type text to paste into it'
    );
    this.clipboardToggle.setAttribute('aria-expanded', 'false');
    this.clipboardToggle.setAttribute(
      'aria-controls',
      'jp-NapariDesktop-clipboard'
    );

    const quality = levelSelect(
      'jp-NapariDesktop-quality',
      'Quality',
      'Image quality: lower is faster on slow networks (0 = smallest, 9 = best)',
      level =>
        level === 0 ? '0 (fastest)' : level === 9 ? '9 (best)' : String(level)
    );
    this.quality = quality.select;
    const compression = levelSelect(
      'jp-NapariDesktop-compression',
      'Compression',
      'Compression: higher sends less data but uses more CPU (0 = none, 9 = most)',
      level =>
        level === 0 ? '0 (none)' : level === 9 ? '9 (most)' : String(level)
    );
    this.compression = compression.select;

    this.reconnect = button(
      'Reconnect',
      'Close the desktop connection and open it again (the desktop keeps running)'
    );

    bar.append(
      title,
      this.status,
      spacer,
      this.clipboardToggle,
      quality.wrapper,
      compression.wrapper,
      this.reconnect
    );

    // Clipboard panel, over the screen so that the desktop keeps its size.
    this.clipboardPanel = el('div', 'jp-NapariDesktop-clipboard');
    this.clipboardPanel.id = 'jp-NapariDesktop-clipboard';
    this.clipboardPanel.hidden = true;
    const clipboardLabel = el(
      'label',
      'jp-NapariDesktop-clipboardLabel',
      'Text copied in the desktop appears here. Type or paste here to send it to the desktop.'
    );
    clipboardLabel.htmlFor = 'jp-NapariDesktop-clipboardText';
    this.clipboardText = el('textarea', 'jp-NapariDesktop-clipboardText');
    this.clipboardText.id = 'jp-NapariDesktop-clipboardText';
    this.clipboardText.rows = 5;
    this.clipboardText.spellcheck = false;
    this.clipboardPanel.append(clipboardLabel, this.clipboardText);

    // Notice (for example "napari is not installed"), dismissible.
    this._notice = el('div', 'jp-NapariDesktop-notice');
    this._notice.setAttribute('role', 'alert');
    this._notice.hidden = true;
    this._noticeText = el('span', 'jp-NapariDesktop-noticeText');
    const dismiss = button('Dismiss', 'Hide this notice');
    dismiss.addEventListener('click', () => {
      this._notice.hidden = true;
    });
    this._notice.append(this._noticeText, dismiss);

    // Error panel.
    this._error = el('div', 'jp-NapariDesktop-error');
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;
    const errorTitle = el(
      'h2',
      'jp-NapariDesktop-errorTitle',
      'The desktop could not start'
    );
    this._errorMessage = el('p', 'jp-NapariDesktop-errorMessage');
    this._errorFix = el('p', 'jp-NapariDesktop-errorFix');
    this.tryAgain = button('Try again', 'Start the desktop and connect again');
    this.tryAgain.classList.add('jp-mod-accept');
    this._error.append(
      errorTitle,
      this._errorMessage,
      this._errorFix,
      this.tryAgain
    );

    // The VNC screen; noVNC puts its canvas in here.
    this.screen = el('main', 'jp-NapariDesktop-screen');

    const body = el('div', 'jp-NapariDesktop-body');
    body.append(this.screen, this.clipboardPanel, this._notice, this._error);
    root.append(bar, body);

    this.clipboardToggle.addEventListener('click', () => {
      this.setClipboardOpen(this.clipboardPanel.hidden);
    });
  }

  setState(state: ConnectionState, text: string): void {
    this.status.dataset.state = state;
    this.status.textContent = text;
    this._root.dataset.state = state;
    if (state !== 'error') {
      this._error.hidden = true;
    }
  }

  showError(error: IApiError): void {
    this._errorMessage.textContent = error.message;
    this._errorFix.textContent = error.fix;
    this._errorFix.hidden = error.fix.length === 0;
    this._error.hidden = false;
    this.tryAgain.focus();
  }

  showNotice(text: string): void {
    this._noticeText.textContent = text;
    this._notice.hidden = false;
  }

  setClipboardOpen(open: boolean): void {
    this.clipboardPanel.hidden = !open;
    this.clipboardToggle.setAttribute('aria-expanded', String(open));
    this.clipboardToggle.classList.toggle('jp-mod-active', open);
    if (open) {
      this.clipboardText.focus();
    }
  }
}

// ---------------------------------------------------------------------------
// Talking to the server
// ---------------------------------------------------------------------------

type StartResult =
  | { ok: true; response: IStartResponse }
  | { ok: false; transient: boolean; error: IApiError };

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.length === 0) {
    return null;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * POST `<apiUrl>start`: start the desktop (or check it still runs). A reconnect does not
 * start a desktop the user stopped on purpose: the server answers 409 and the page shows
 * "Try again".
 */
async function postStart(
  config: IDesktopConfig,
  reconnect: boolean
): Promise<StartResult> {
  const url = apiEndpoint(config.apiUrl, 'start');
  const controller = new AbortController();
  const timer = window.setTimeout(() => controller.abort(), START_TIMEOUT_MS);
  try {
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'Content-Type': 'application/json',
          'X-XSRFToken': config.xsrfToken
        },
        body: JSON.stringify({ app: config.app, reconnect }),
        signal: controller.signal
      });
    } catch (error) {
      console.warn(`[napari-desktop] POST ${url} failed`, error);
      return { ok: false, transient: true, error: parseApiError(0, null, url) };
    }
    const data = await readBody(response);
    if (!response.ok) {
      return {
        ok: false,
        transient: isTransientFailure(response.status, data),
        error: parseApiError(response.status, data, url)
      };
    }
    try {
      return { ok: true, response: parseStartResponse(data) };
    } catch (error) {
      return {
        ok: false,
        transient: false,
        error: {
          message: error instanceof Error ? error.message : String(error),
          fix: 'This page and the jupyter-napari-desktop server extension may come from different versions; reload the page, or reinstall jupyter-napari-desktop and restart the Jupyter server.'
        }
      };
    }
  } catch (error) {
    // Reading the body failed (connection dropped, or the timeout fired).
    console.warn(`[napari-desktop] POST ${url} failed`, error);
    return { ok: false, transient: true, error: parseApiError(0, null, url) };
  } finally {
    window.clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// The session: start, connect, reconnect, clipboard
// ---------------------------------------------------------------------------

class DesktopSession {
  private readonly _config: IDesktopConfig;
  private readonly _view: PageView;
  private readonly _handle: INapariDesktopHandle;
  private _rfb: RFB | null = null;
  /** Bumped whenever a connection is abandoned; stale events are ignored. */
  private _generation = 0;
  /** Failed attempts since the last successful connection. */
  private _attempt = 0;
  private _retryTimer: number | null = null;
  private _unloading = false;
  private _napariNoticeShown = false;
  private _quality: number;
  private _compression: number;
  /** The last text that went to or came from the desktop's clipboard. */
  private _clipboard = '';

  constructor(
    config: IDesktopConfig,
    view: PageView,
    handle: INapariDesktopHandle
  ) {
    this._config = config;
    this._view = view;
    this._handle = handle;
    this._quality = readStoredLevel(STORAGE_KEYS.quality, config.quality);
    this._compression = readStoredLevel(
      STORAGE_KEYS.compression,
      config.compression
    );
    view.quality.value = String(this._quality);
    view.compression.value = String(this._compression);

    view.quality.addEventListener('change', () => {
      this._quality = toLevel(view.quality.value, this._quality);
      storeLevel(STORAGE_KEYS.quality, this._quality);
      if (this._rfb) {
        this._rfb.qualityLevel = this._quality;
      }
    });
    view.compression.addEventListener('change', () => {
      this._compression = toLevel(view.compression.value, this._compression);
      storeLevel(STORAGE_KEYS.compression, this._compression);
      if (this._rfb) {
        this._rfb.compressionLevel = this._compression;
      }
    });
    view.reconnect.addEventListener('click', () => this.restart());
    view.tryAgain.addEventListener('click', () => this.restart());

    // Clipboard into the desktop.
    view.clipboardText.addEventListener('input', () => {
      this._sendClipboard(view.clipboardText.value);
    });
    document.addEventListener('paste', event => {
      if (event.target === view.clipboardText) {
        return; // The textarea's input event sends it.
      }
      const text = event.clipboardData?.getData('text/plain') ?? '';
      if (text) {
        view.clipboardText.value = text;
        this._sendClipboard(text);
      }
    });
    window.addEventListener('focus', () => void this._pullLocalClipboard(true));

    // Reconnect at once when the network comes back.
    window.addEventListener('online', () => {
      if (this._retryTimer !== null) {
        this._cancelRetry();
        void this._connect('reconnecting');
      }
    });
    // A closing page is not a lost connection.
    window.addEventListener('pagehide', () => {
      this._unloading = true;
    });
  }

  /** Start the desktop and connect. */
  start(): void {
    this._attempt = 0;
    void this._connect('connecting');
  }

  /** Drop the current connection or pending retry and start over now. */
  restart(): void {
    this._abandon();
    this.start();
  }

  private _setState(state: ConnectionState, text: string): void {
    this._handle.state = state;
    this._view.setState(state, text);
  }

  private _showError(error: IApiError): void {
    this._abandon();
    this._setState('error', 'Error');
    this._view.showError(error);
  }

  private async _connect(state: 'connecting' | 'reconnecting'): Promise<void> {
    const generation = ++this._generation;
    this._setState(
      state,
      state === 'connecting'
        ? 'Starting the desktop…'
        : `Reconnecting (attempt ${this._attempt})…`
    );
    const result = await postStart(this._config, state === 'reconnecting');
    if (generation !== this._generation) {
      return; // Superseded by a restart while waiting.
    }
    if (!result.ok) {
      if (result.transient) {
        this._scheduleRetry(result.error.message);
      } else {
        this._showError(result.error);
      }
      return;
    }
    this._maybeShowNapariNotice(result.response);
    this._setState(
      state,
      state === 'connecting'
        ? 'Connecting…'
        : `Reconnecting (attempt ${this._attempt})…`
    );
    this._openRfb(generation);
  }

  private _maybeShowNapariNotice(response: IStartResponse): void {
    if (this._napariNoticeShown || response.napari.available) {
      return;
    }
    this._napariNoticeShown = true;
    this._view.showNotice(
      response.napari.message ??
        'napari is not installed in the Python environment the desktop uses.'
    );
  }

  private _openRfb(generation: number): void {
    this._disconnectRfb();
    const url = websocketUrl(window.location, this._config.websocketPath);
    let rfb: RFB;
    try {
      rfb = new RFB(this._view.screen, url, { shared: true });
    } catch (error) {
      this._showError({
        message: `Could not open the desktop connection ${url}: ${String(error)}`,
        fix: 'Reload the page. If this keeps happening, try another browser.'
      });
      return;
    }
    rfb.resizeSession = true;
    rfb.scaleViewport = false;
    rfb.clipViewport = false;
    rfb.focusOnClick = true;
    rfb.qualityLevel = this._quality;
    rfb.compressionLevel = this._compression;

    const current = () => generation === this._generation;
    rfb.addEventListener('connect', () => {
      if (!current()) {
        return;
      }
      this._attempt = 0;
      this._setState('connected', 'Connected');
      rfb.focus();
      void this._pullLocalClipboard(false);
    });
    rfb.addEventListener('disconnect', event => {
      if (!current()) {
        return;
      }
      this._rfb = null;
      this._handle.rfb = null;
      if (this._unloading) {
        return;
      }
      this._scheduleRetry(
        event.detail.clean
          ? 'The desktop connection closed.'
          : 'The desktop connection was lost.'
      );
    });
    rfb.addEventListener('clipboard', event => {
      if (current()) {
        this._receiveClipboard(event.detail.text);
      }
    });
    rfb.addEventListener('credentialsrequired', () => {
      if (current()) {
        this._showError({
          message: 'The VNC server asked for a password.',
          fix: 'jupyter-napari-desktop runs the VNC server without a password behind Jupyter’s own login. Check the VNC server settings (c.NapariDesktop) in the Jupyter server configuration.'
        });
      }
    });
    rfb.addEventListener('securityfailure', event => {
      if (current()) {
        this._showError({
          message: `The VNC server refused the connection${
            event.detail.reason ? `: ${event.detail.reason}` : ''
          } (status ${event.detail.status}).`,
          fix: 'See the Jupyter server log (lines starting with [napari-desktop]).'
        });
      }
    });

    this._rfb = rfb;
    this._handle.rfb = rfb;
  }

  /** Abandon the current connection and any pending retry, without reconnecting. */
  private _abandon(): void {
    // First make the connection's own events stale: disconnect() may
    // dispatch "disconnect" before it returns.
    this._generation++;
    this._cancelRetry();
    this._disconnectRfb();
  }

  /** Close the current connection, if any. */
  private _disconnectRfb(): void {
    const rfb = this._rfb;
    this._rfb = null;
    this._handle.rfb = null;
    if (rfb) {
      try {
        rfb.disconnect();
      } catch (error) {
        console.warn('[napari-desktop] disconnect failed', error);
      }
    }
  }

  private _cancelRetry(): void {
    if (this._retryTimer !== null) {
      window.clearTimeout(this._retryTimer);
      this._retryTimer = null;
    }
  }

  private _scheduleRetry(reason: string): void {
    this._cancelRetry();
    const delay = backoffDelay(this._attempt);
    this._attempt += 1;
    const seconds = (delay / 1000).toLocaleString(undefined, {
      maximumFractionDigits: 1
    });
    const hint =
      this._attempt > 10 ? ' If this goes on, see the Jupyter server log.' : '';
    this._setState(
      'reconnecting',
      `${reason} Reconnecting in ${seconds} s (attempt ${this._attempt}).${hint}`
    );
    this._retryTimer = window.setTimeout(() => {
      this._retryTimer = null;
      void this._connect('reconnecting');
    }, delay);
  }

  // Clipboard ---------------------------------------------------------------

  private _receiveClipboard(text: string): void {
    this._clipboard = text;
    this._view.clipboardText.value = text;
    if (navigator.clipboard?.writeText) {
      navigator.clipboard.writeText(text).catch(() => {
        // Not permitted now (page not focused, insecure context); the text
        // is still in the clipboard panel.
      });
    }
  }

  private _sendClipboard(text: string): void {
    if (!this._rfb || this._handle.state !== 'connected') {
      return;
    }
    if (text === this._clipboard) {
      return;
    }
    this._clipboard = text;
    this._rfb.clipboardPasteFrom(text);
  }

  /**
   * Send the browser's clipboard to the desktop where reading it is
   * permitted. Chromium asks once (only when `mayPrompt`, i.e. when the user
   * comes back to this tab); browsers without the "clipboard-read"
   * permission (Firefox, Safari) are left alone and use paste instead.
   */
  private async _pullLocalClipboard(mayPrompt: boolean): Promise<void> {
    if (!navigator.clipboard?.readText || !navigator.permissions?.query) {
      return;
    }
    try {
      const permission = await navigator.permissions.query({
        name: 'clipboard-read' as PermissionName
      });
      if (
        permission.state === 'denied' ||
        (permission.state === 'prompt' && !mayPrompt)
      ) {
        return;
      }
      const text = await navigator.clipboard.readText();
      if (text) {
        this._view.clipboardText.value = text;
        this._sendClipboard(text);
      }
    } catch {
      // Not permitted or not supported: ignore, paste still works.
    }
  }
}

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

function main(): void {
  ensureStylesheet();
  const handle: INapariDesktopHandle = { state: 'connecting', rfb: null };
  window.napariDesktop = handle;

  let root = document.getElementById('jp-NapariDesktop-root');
  if (root === null) {
    root = document.createElement('div');
    root.id = 'jp-NapariDesktop-root';
    document.body.appendChild(root);
  }
  document.body.classList.add('jp-NapariDesktop-page');

  let config: IDesktopConfig;
  try {
    config = parseConfig(
      document.getElementById('napari-desktop-config')?.textContent
    );
  } catch (error) {
    const view = new PageView(root, 'desktop', '');
    handle.state = 'error';
    view.setState('error', 'Error');
    view.showError({
      message: error instanceof Error ? error.message : String(error),
      fix: 'Open the desktop from the JupyterLab launcher, or reload this page.'
    });
    view.tryAgain.addEventListener('click', () => window.location.reload());
    return;
  }

  document.title = documentTitle(config.app);
  const view = new PageView(root, config.app, config.version);
  const session = new DesktopSession(config, view, handle);
  session.start();
}

main();
