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
import { SessionBar } from './session';
import RFB from '@novnc/novnc';

import { ConnectionState, DesktopConnection } from './connection';
import {
  applyHidpi,
  IHidpiControl,
  IResizeState,
  remoteScale,
  watchPixelRatio
} from './hidpi';
import { StatsOverlay } from './overlay';
import {
  documentTitle,
  HidpiMode,
  IDesktopConfig,
  parseConfig,
  Role,
  toHidpiMode,
  toLevel
} from './page-config';
import { pastedImages, readClipboardImage } from './paste-image';
import {
  AccessClient,
  IAccess,
  IViewLink,
  PEOPLE_POLL_MS,
  peopleText
} from './people';
import { IScreenAnswer, ScreenScaleReporter } from './screen';
import {
  desktopRunning,
  LOGIN_TITLE,
  postStart,
  STOPPED_POLL_MS,
  STOPPED_TITLE
} from './start';
import type { IStatsFigures } from './stats';
import type { UploadResult } from './upload';
import { UploadView } from './upload-view';
import { decodesH264, VideoWatchdog, wantsVideo, withVideo } from './video';
import { readStored, store, STORAGE_KEYS } from './storage';
import { apiEndpoint, websocketUrl } from './urls';
import { PageView } from './view';
import type { IApiError } from '../src/tokens';

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
  /** The server's last answer about the desktop's scale (screen.ts). */
  screen?: IScreenAnswer;
  /** How the page's resizes of the remote screen went (hidpi.ts). */
  resize?: () => IResizeState;
  /** The stats overlay's figures now (overlay.ts). */
  stats?: () => IStatsFigures;
  /** Whether the connection asked for H.264 (video.ts), and why it was dropped. */
  video?: boolean;
  videoFailed?: string;
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
  /** The page asks once what napari restored of its kept session (session.ts). */
  private _sessionWatched = false;
  private _stoppedPoll: number | null = null;
  private _lastError: IApiError | null = null;
  private _quality: number;
  private _compression: number;
  private _hidpi: HidpiMode;
  private _hidpiControl: IHidpiControl | null = null;
  private readonly _screenScale: ScreenScaleReporter;
  /** Why the desktop cannot scale its programs; then the page shows CSS pixels. */
  private _scalingRefused: string | null = null;
  /** This page's user's rights (people.ts); a viewer's page sends no input. */
  private _role: Role;
  private readonly _access: AccessClient;
  private readonly _handle: INapariDesktopHandle;
  private readonly _stats: StatsOverlay;
  /** The last text that went to or came from the desktop's clipboard. */
  private _clipboard = '';
  /** What this browser refused to do with its clipboard (shown in the panel). */
  private readonly _clipboardLimits = { read: false, write: false };
  /** The server offers H.264 (video.ts; to a link's page: video_room.py); this browser
   * decodes it; it failed here. */
  private readonly _videoOffered: boolean;
  private _decodesH264 = false;
  private _videoRefused = false;
  private _watchdog: VideoWatchdog | null = null;

  constructor(
    config: IDesktopConfig,
    view: PageView,
    handle: INapariDesktopHandle
  ) {
    this._view = view;
    this._role = config.role;
    this._videoOffered = config.video; // a link's page too: one encoder for its room
    // Known before the first connection opens (start waits for it).
    const videoCheck = this._videoOffered
      ? decodesH264().then(decodes => {
          this._decodesH264 = decodes;
        })
      : Promise.resolve();
    this._access = new AccessClient(config.apiUrl, config.xsrfToken);
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
    // A visitor's controls are hidden from the start, also while the owner's desktop is
    // not running (no connection to follow the role on).
    this._followRole(null);
    this._screenScale = new ScreenScaleReporter(
      config.apiUrl,
      config.xsrfToken,
      answer => this._screenAnswered(answer)
    );
    const sessionBar = new SessionBar(
      view.body,
      config.apiUrl,
      config.xsrfToken
    );
    const uploads = new UploadView(config, view.body, view.upload);
    handle.uploads = uploads.results;
    handle.upload = files => uploads.add(files);

    this._connection = new DesktopConnection<RFB>({
      start: async reconnect => {
        await videoCheck;
        return postStart(config, reconnect);
      },
      open: () => this._openRfb(config),
      showState: (state, text) => {
        handle.state = state;
        handle.rfb = this._connection.vnc;
        view.setState(state, text);
      },
      showError: error => {
        this._lastError = error;
        view.showError(error);
        if (error.title === STOPPED_TITLE) {
          this._reconnectWhenStarted(config);
        }
      },
      started: response => {
        if (
          !this._sessionWatched &&
          this._role !== 'viewer' && // the owner's session: not a visitor's to empty
          (config.app === 'napari' || response.napari.running)
        ) {
          this._sessionWatched = true;
          sessionBar.watch();
        }
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
      this._followRole();
    });
    watchPixelRatio(() => {
      this._hidpiControl?.update();
      this._followRole();
    });
    // Who is here (people.ts): now, and every few seconds. A view-only link's page
    // reaches nothing but the picture: it says whose desktop it shows.
    if (config.watchToken) {
      const whose = config.owner ? `${config.owner}'s desktop` : 'This desktop';
      view.setPeople(`${whose}: view only (a link)`, []);
      this._followRole();
    } else {
      // Until the server refuses this page's login (logged out): then a 403 every few
      // seconds would change nothing but the server's log.
      const timer = window.setInterval(async () => {
        await this._refreshPeople();
        if (this._access.refused) {
          window.clearInterval(timer);
        }
      }, PEOPLE_POLL_MS);
      void this._refreshPeople();
      view.shareView.addEventListener('click', () => void this._makeLink());
    }
    view.reconnect.addEventListener('click', () => this._connection.restart());
    view.tryAgain.addEventListener('click', () => {
      if (this._lastError?.title === LOGIN_TITLE) {
        window.location.reload(); // a new login, a new XSRF token: only a reload has them
      } else {
        this._connection.restart();
      }
    });

    // Clipboard into the desktop.
    view.clipboardText.addEventListener('input', () => {
      this._sendClipboard(view.clipboardText.value);
    });
    document.addEventListener('paste', event => {
      const images = pastedImages(event.clipboardData, new Date());
      if (images.length > 0) {
        event.preventDefault(); // an image is not text for the desktop's clipboard
        uploads.add(images);
        return;
      }
      if (event.target === view.clipboardText) {
        return; // The textarea's input event sends it.
      }
      const text = event.clipboardData?.getData('text/plain') ?? '';
      if (text) {
        view.clipboardText.value = text;
        this._sendClipboard(text);
      }
    });
    view.pasteImage.addEventListener('click', async () => {
      const found = await readClipboardImage(navigator.clipboard, new Date());
      if (found.kind === 'image') {
        uploads.add([found.file]);
      } else if (found.kind === 'none') {
        view.showNotice('There is no image in the clipboard: copy one first.');
      } else {
        view.showNotice(
          `No image from the clipboard: ${found.reason}. Paste it into the Clipboard ` +
            'panel with Ctrl+V (Cmd+V on a Mac), or drop the file on the desktop.'
        );
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
    let url = websocketUrl(document.baseURI, config.websocketPath);
    if (config.watchToken) {
      url += `?token=${encodeURIComponent(config.watchToken)}`;
    }
    const video = wantsVideo(
      this._videoOffered,
      this._videoRefused,
      this._decodesH264
    );
    if (video) {
      url = withVideo(url);
    }
    this._handle.video = video;
    this._view.setVideo(video);
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
    // The desktop's programs draw at the same scale (screen.ts), so napari keeps its size.
    this._screenScale.reset();
    const control = applyHidpi(rfb, () => {
      if (this._role === 'viewer') {
        return 1; // a viewer sees the owner's screen as it is
      }
      const wanted = remoteScale(this._hidpi, window.devicePixelRatio);
      const scale = this._scalingRefused === null ? wanted : 1;
      this._handle.remoteScale = scale;
      this._screenScale.report(scale);
      return scale;
    });
    this._hidpiControl = control;
    this._handle.resize = () => control.state();
    rfb.clipViewport = false;
    rfb.focusOnClick = true;
    rfb.qualityLevel = this._quality;
    rfb.compressionLevel = this._compression;
    this._followRole(rfb);
    this._stats.attach(rfb, socket, video);
    this._watchdog?.dispose();
    this._watchdog = video
      ? new VideoWatchdog(rfb, why => this._videoFailed(rfb, why))
      : null;
    rfb.addEventListener('clipboard', event => {
      if (rfb === this._connection.vnc) {
        this._receiveClipboard(event.detail.text);
      }
    });
    return rfb;
  }

  /** The browser's decoder failed: the usual picture from now on, at once. */
  private _videoFailed(rfb: RFB, why: string): void {
    if (rfb !== this._connection.vnc) {
      return;
    }
    console.warn(`[napari-desktop] video path off: ${why}`);
    this._videoRefused = true;
    this._handle.videoFailed = why;
    this._connection.restart();
  }

  /**
   * A viewer's page sends no input and does not resize the owner's screen: it shows
   * the screen scaled into the window. (The server drops a viewer's input anyway.)
   */
  private _followRole(rfb: RFB | null = this._connection?.vnc ?? null): void {
    const viewer = this._role === 'viewer';
    this._view.upload.hidden = viewer;
    this._view.pasteImage.hidden = viewer;
    if (this._view.hidpi.parentElement) {
      this._view.hidpi.parentElement.hidden = viewer; // the owner's screen, as it is
    }
    if (!rfb) {
      return;
    }
    rfb.viewOnly = viewer;
    rfb.resizeSession = !viewer;
    if (viewer) {
      rfb.scaleViewport = true;
    }
  }

  /**
   * The desktop was stopped on purpose: the page waits ("Try again") but joins it again by
   * itself once someone started it (a launcher card, another tab), asking every few
   * seconds whether it runs.
   */
  private _reconnectWhenStarted(config: IDesktopConfig): void {
    if (this._stoppedPoll !== null) {
      return;
    }
    this._stoppedPoll = window.setInterval(async () => {
      if (this._connection.state !== 'error') {
        this._stopWatchingStopped(); // "Try again" was clicked
        return;
      }
      const running = await desktopRunning(config);
      if (running === null) {
        this._stopWatchingStopped(); // the login ended: only a reload helps ("Try again")
      } else if (running) {
        this._stopWatchingStopped();
        if (this._connection.state === 'error') {
          this._connection.restart();
        }
      }
    }, STOPPED_POLL_MS);
  }

  private _stopWatchingStopped(): void {
    if (this._stoppedPoll !== null) {
      window.clearInterval(this._stoppedPoll);
      this._stoppedPoll = null;
    }
  }

  private async _refreshPeople(): Promise<void> {
    const access = await this._access.get();
    if (!access) {
      return;
    }
    const links = access.you.role === 'owner' ? await this._access.links() : [];
    this._showPeople(access, links);
  }

  /** A view-only link, copied to the clipboard where the browser allows, and shown. */
  private async _makeLink(): Promise<void> {
    const link = await this._access.makeLink(3600);
    if (!link?.path) {
      this._view.showNotice('No view-only link was made: see the server log.');
      return;
    }
    const url = new URL(link.path, document.baseURI).href;
    let copied = false;
    try {
      await navigator.clipboard.writeText(url);
      copied = true;
    } catch {
      // Not permitted: the link is in the notice, to copy by hand.
    }
    this._view.showNotice(
      `View-only link for one hour${copied ? ' (copied)' : ''}: ${url} — ` +
        'it shows this desktop and nothing else; revoke it under the bar.'
    );
    void this._refreshPeople();
  }

  /** The people line; the owner's page gets a button per visitor and per link. */
  private _showPeople(access: IAccess, links: IViewLink[] = []): void {
    const role = access.you.role;
    this._view.shareView.hidden = role !== 'owner';
    if (role !== this._role) {
      this._role = role;
      this._followRole();
      this._hidpiControl?.update();
    }
    const actions =
      role !== 'owner'
        ? []
        : access.people
            .filter(p => p.user !== access.you.user)
            .map(p => {
              const has = access.control.includes(p.user);
              const control = has
                ? access.control.filter(u => u !== p.user)
                : [...access.control, p.user];
              return {
                label: has
                  ? `Take back from ${p.user}`
                  : `Hand control to ${p.user}`,
                title: has
                  ? `${p.user} watches again, without control`
                  : `${p.user} may type and click in your desktop until you take it back`,
                run: () =>
                  void this._access
                    .hand(control)
                    .then(() => this._refreshPeople())
              };
            });
    for (const link of links) {
      actions.push({
        label: `Revoke view link ${link.id.slice(0, 4)} (${link.viewers} watching)`,
        title:
          'The link stops working and its viewers are disconnected at once',
        run: () =>
          void this._access.revoke(link.id).then(() => this._refreshPeople())
      });
    }
    const text = peopleText(access);
    this._view.setPeople(
      links.length > 0 && text === '' ? 'View-only links:' : text,
      actions
    );
  }

  /** The server answered PUT screen: where it cannot scale, show CSS pixels. */
  private _screenAnswered(answer: IScreenAnswer): void {
    this._handle.screen = answer;
    if (
      answer.scaling ||
      answer.message === null ||
      this._scalingRefused !== null
    ) {
      return;
    }
    this._scalingRefused = answer.message;
    this._view.hidpi.title =
      `The desktop cannot draw its programs larger (${answer.message}): ` +
      'the page shows it in CSS pixels, as "light" does.';
    console.warn(`[napari-desktop] ${this._view.hidpi.title}`);
    this._hidpiControl?.update();
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
