/**
 * The browser desktop page: starts the desktop through the server's API,
 * shows it with noVNC, reconnects by itself and carries the clipboard.
 *
 * The server renders the page with a JSON configuration in
 * <script id="napari-desktop-config"> and an empty #jp-NapariDesktop-root.
 * The parts: view.ts (the DOM), start.ts (the API client), connection.ts (the
 * connection state machine), page-config.ts, urls.ts, retry.ts and storage.ts; this file
 * wires them to noVNC, the stored quality levels and the clipboard.
 */
import RFB from '@novnc/novnc';

import { ConnectionState, DesktopConnection } from './connection';
import {
  applyHidpi,
  IHidpiControl,
  remoteScale,
  watchPixelRatio
} from './hidpi';
import { StatsOverlay } from './overlay';
import {
  documentTitle,
  HidpiMode,
  IDesktopConfig,
  parseConfig,
  toHidpiMode,
  toLevel
} from './page-config';
import { postStart } from './start';
import type { IStatsFigures } from './stats';
import type { UploadResult } from './upload';
import { UploadView } from './upload-view';
import { readStored, store, STORAGE_KEYS } from './storage';
import { apiEndpoint, websocketUrl } from './urls';
import { PageView } from './view';

export type { ConnectionState } from './connection';

/** What tests (and curious people) can read from `window.napariDesktop`. */
export interface INapariDesktopHandle {
  state: ConnectionState;
  rfb: RFB | null;
  /** Finished uploads (upload-view.ts). */
  uploads: UploadResult[];
  /** Upload files and open them in napari (JupyterLab's tab hands drops to this). */
  upload(files: File[]): void;
  /** The remote screen's pixels per CSS pixel now (hidpi.ts). */
  remoteScale: number;
  /** The stats overlay's figures now (overlay.ts). */
  stats?: () => IStatsFigures;
}

declare global {
  interface Window {
    napariDesktop: INapariDesktopHandle;
  }
}

/** The page: the view, one connection, the quality levels and the clipboard. */
class DesktopPage {
  private readonly _view: PageView;
  private readonly _connection: DesktopConnection<RFB>;
  private _napariNoticeShown = false;
  private _quality: number;
  private _compression: number;
  private _hidpi: HidpiMode;
  private _hidpiControl: IHidpiControl | null = null;
  private readonly _handle: INapariDesktopHandle;
  private readonly _stats: StatsOverlay;
  /** The last text that went to or came from the desktop's clipboard. */
  private _clipboard = '';
  /** What this browser refused to do with its clipboard (shown in the panel). */
  private readonly _clipboardLimits = { read: false, write: false };

  constructor(
    config: IDesktopConfig,
    view: PageView,
    handle: INapariDesktopHandle
  ) {
    this._view = view;
    this._quality = toLevel(readStored(STORAGE_KEYS.quality), config.quality);
    this._compression = toLevel(
      readStored(STORAGE_KEYS.compression),
      config.compression
    );
    view.quality.value = String(this._quality);
    view.compression.value = String(this._compression);
    this._handle = handle;
    this._stats = new StatsOverlay(
      view.statsToggle,
      view.statsPanel,
      view.screen,
      this._quality,
      config.adaptiveQuality,
      apiEndpoint(config.apiUrl, 'info'),
      config.xsrfToken
    );
    handle.stats = () => this._stats.figures;
    this._hidpi = toHidpiMode(readStored(STORAGE_KEYS.hidpi), config.hidpi);
    view.hidpi.value = this._hidpi;
    const uploads = new UploadView(config, view.body, view.upload);
    handle.uploads = uploads.results;
    handle.upload = files => uploads.add(files);

    this._connection = new DesktopConnection<RFB>({
      start: reconnect => postStart(config, reconnect),
      open: () => this._openRfb(config),
      showState: (state, text) => {
        handle.state = state;
        handle.rfb = this._connection.vnc;
        view.setState(state, text);
      },
      showError: error => view.showError(error),
      started: response => {
        if (!this._napariNoticeShown && !response.napari.available) {
          this._napariNoticeShown = true;
          view.showNotice(
            response.napari.message ??
              'napari is not installed in the Python environment the desktop uses.'
          );
        }
      },
      connected: rfb => {
        handle.rfb = rfb;
        rfb.focus();
        void this._pullLocalClipboard(false);
      },
      timers: {
        setTimeout: (callback, ms) => window.setTimeout(callback, ms),
        clearTimeout: id => window.clearTimeout(id)
      }
    });

    view.quality.addEventListener('change', () => {
      this._quality = toLevel(view.quality.value, this._quality);
      store(STORAGE_KEYS.quality, String(this._quality));
      this._stats.setLevel(this._quality);
    });
    view.compression.addEventListener('change', () => {
      this._compression = toLevel(view.compression.value, this._compression);
      store(STORAGE_KEYS.compression, String(this._compression));
      const rfb = this._connection.vnc;
      if (rfb) {
        rfb.compressionLevel = this._compression;
      }
    });
    view.hidpi.addEventListener('change', () => {
      this._hidpi = toHidpiMode(view.hidpi.value, this._hidpi);
      store(STORAGE_KEYS.hidpi, this._hidpi);
      this._hidpiControl?.update();
    });
    watchPixelRatio(() => this._hidpiControl?.update());
    view.reconnect.addEventListener('click', () => this._connection.restart());
    view.tryAgain.addEventListener('click', () => this._connection.restart());

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
    window.addEventListener('online', () => this._connection.online());
    // A closing page is not a lost connection.
    window.addEventListener('pagehide', () => this._connection.unload());
  }

  start(): void {
    this._connection.start();
  }

  private _openRfb(config: IDesktopConfig): RFB {
    const url = websocketUrl(document.baseURI, config.websocketPath);
    let rfb: RFB;
    let socket: WebSocket;
    try {
      // The page opens the socket itself so that the stats overlay counts its bytes.
      socket = new WebSocket(url);
      rfb = new RFB(this._view.screen, socket, { shared: true });
    } catch (error) {
      throw new Error(`${url}: ${String(error)}`, { cause: error });
    }
    rfb.resizeSession = true;
    rfb.scaleViewport = false;
    // On HiDPI screens, "crisp" asks for device pixels (scaleViewport on).
    this._hidpiControl = applyHidpi(rfb, () => {
      const scale = remoteScale(this._hidpi, window.devicePixelRatio);
      this._handle.remoteScale = scale;
      return scale;
    });
    rfb.clipViewport = false;
    rfb.focusOnClick = true;
    rfb.qualityLevel = this._quality;
    rfb.compressionLevel = this._compression;
    this._stats.attach(rfb, socket);
    rfb.addEventListener('clipboard', event => {
      if (rfb === this._connection.vnc) {
        this._receiveClipboard(event.detail.text);
      }
    });
    return rfb;
  }

  // Clipboard ---------------------------------------------------------------

  private _receiveClipboard(text: string): void {
    this._clipboard = text;
    this._view.clipboardText.value = text;
    if (!navigator.clipboard?.writeText) {
      this._clipboardLimit('write');
      return;
    }
    navigator.clipboard.writeText(text).catch(() => {
      // Not permitted now (Firefox and Safari: no click just before; an
      // insecure context): the text is in the clipboard panel, which says so.
      this._clipboardLimit('write');
    });
  }

  /** Note in the clipboard panel what the browser refused (once is enough). */
  private _clipboardLimit(kind: 'read' | 'write'): void {
    if (!this._clipboardLimits[kind]) {
      this._clipboardLimits[kind] = true;
      this._view.setClipboardLimits(this._clipboardLimits);
    }
  }

  private _sendClipboard(text: string): void {
    const rfb = this._connection.vnc;
    if (!rfb || this._connection.state !== 'connected') {
      return;
    }
    if (text === this._clipboard) {
      return;
    }
    this._clipboard = text;
    rfb.clipboardPasteFrom(text);
  }

  /**
   * Send the browser's clipboard to the desktop where reading it is
   * permitted. Chromium asks once (only when `mayPrompt`, i.e. when the user
   * comes back to this tab); browsers without the "clipboard-read"
   * permission (Firefox, Safari) use paste into the panel instead, which
   * the panel says.
   */
  private async _pullLocalClipboard(mayPrompt: boolean): Promise<void> {
    if (!navigator.clipboard?.readText || !navigator.permissions?.query) {
      this._clipboardLimit('read');
      return;
    }
    let permission: PermissionStatus;
    try {
      permission = await navigator.permissions.query({
        name: 'clipboard-read' as PermissionName
      });
    } catch {
      // Firefox and Safari know no "clipboard-read" permission.
      this._clipboardLimit('read');
      return;
    }
    if (permission.state === 'denied') {
      this._clipboardLimit('read');
      return;
    }
    if (permission.state === 'prompt' && !mayPrompt) {
      return;
    }
    try {
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

function main(): void {
  const handle: INapariDesktopHandle = {
    state: 'connecting',
    rfb: null,
    uploads: [],
    upload: () => undefined,
    remoteScale: 1
  };
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
  new DesktopPage(config, view, handle).start();
}

main();
