/**
 * The stats overlay and the adaptive quality, wired to noVNC.
 *
 * stats.ts holds the figures and the rule; this file feeds them from one
 * noVNC connection and applies what the rule asks for. It reaches into
 * noVNC 1.7.0 (pinned by the lockfile) in four places, all here: the
 * display's flip() with its damage box (one call per finished framebuffer
 * update, and what it drew), the socket the page opens itself (bytes), every
 * SetEncodings (rewritten by encodings.ts while adaptive quality is on), and a
 * SetEncodings without a quality level followed by a full update request of
 * the drawn box (the exact still picture).
 */
import RFB from '@novnc/novnc';

import { withoutResends } from './encodings';
import { withXsrf } from './request';
import {
  AdaptiveQuality,
  IArea,
  QualityRequest,
  StatsMeter,
  statsText
} from './stats';

/** noVNC's display's damage box: what was drawn since its last flip. */
interface IDamageBox {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** noVNC's internals used here (noVNC 1.7.0, core/rfb.js). */
interface IRfbInternals {
  _display?: {
    flip: (fromQueue?: boolean) => void;
    _damageBounds?: IDamageBox;
  };
  _qualityLevel: number;
  _sendEncodings?: () => void;
  _sock?: unknown;
  _fbWidth: number;
  _fbHeight: number;
  _rfbConnectionState?: string;
}

interface IRfbClass {
  messages?: {
    fbUpdateRequest?: (
      sock: unknown,
      incremental: boolean,
      x: number,
      y: number,
      w: number,
      h: number
    ) => void;
    clientEncodings?: (sock: unknown, encodings: number[]) => void;
  };
}

/** noVNC's damage box as an area (null when nothing was drawn). */
function drawnArea(box: IDamageBox | undefined): IArea | null {
  if (!box || box.right <= box.left || box.bottom <= box.top) {
    return null;
  }
  return {
    x: box.left,
    y: box.top,
    w: box.right - box.left,
    h: box.bottom - box.top
  };
}

/** Shows or hides the overlay: Ctrl+Alt+Shift+S (not passed to the desktop). */
export function isStatsShortcut(event: KeyboardEvent): boolean {
  return (
    event.ctrlKey &&
    event.altKey &&
    event.shiftKey &&
    (event.code === 'KeyS' || event.key.toLowerCase() === 's')
  );
}

export class StatsOverlay {
  readonly button: HTMLButtonElement;
  readonly panel: HTMLDivElement;
  private readonly _meter = new StatsMeter();
  private _adaptive: AdaptiveQuality;
  private _rfb: RFB | null = null;
  private _video = false;
  private _pending = 0; // bytes since the last finished update
  private _timer: number;
  private _rttTimer: number | null = null;
  private readonly _rttUrl: string;
  private readonly _xsrfToken: string;

  constructor(
    button: HTMLButtonElement,
    panel: HTMLDivElement,
    screen: HTMLElement,
    level: number,
    adaptive: boolean,
    rttUrl: string,
    xsrfToken: string
  ) {
    this._adaptive = new AdaptiveQuality(level, adaptive);
    this._rttUrl = rttUrl;
    this._xsrfToken = xsrfToken;
    this.button = button;
    this.panel = panel;

    this.button.addEventListener('click', () => this.toggle());
    document.addEventListener(
      'keydown',
      event => {
        if (isStatsShortcut(event)) {
          event.preventDefault();
          event.stopPropagation();
          this.toggle();
        }
      },
      true
    );
    // Input first goes back to the motion level, before noVNC sends it on.
    for (const type of ['keydown', 'pointerdown', 'wheel']) {
      screen.addEventListener(
        type,
        () => this._apply(this._adaptive.input(performance.now())),
        {
          capture: true,
          passive: true
        }
      );
    }
    this._timer = window.setInterval(() => this._tick(), 100);
  }

  /** The quality level in use ("lossless" while the picture is still). */
  get quality(): number | 'lossless' {
    return this._adaptive.quality;
  }

  get figures() {
    return this._meter.figures(
      performance.now(),
      this._video ? 'video' : this._adaptive.quality
    );
  }

  toggle(show = this.panel.hidden): void {
    this.panel.hidden = !show;
    this.button.setAttribute('aria-pressed', String(show));
    if (show && this._rttTimer === null) {
      void this._measureRtt();
      this._rttTimer = window.setInterval(() => void this._measureRtt(), 2000);
    } else if (!show && this._rttTimer !== null) {
      window.clearInterval(this._rttTimer);
      this._rttTimer = null;
    }
    this._render();
  }

  /** The user chose another level in the bar. */
  setLevel(level: number): void {
    this._apply(this._adaptive.setLevel(level));
  }

  /**
   * Follow a new connection; `socket` is the websocket noVNC was given. On the
   * video path (`video`) the server makes the still picture exact itself: the
   * quality is left alone.
   */
  attach(rfb: RFB, socket: WebSocket, video = false): void {
    this._rfb = rfb;
    this._video = video;
    this._pending = 0;
    this._adaptive.reset();
    socket.addEventListener('message', event => {
      const data = event.data as ArrayBuffer | Blob | string;
      const size =
        typeof data === 'string'
          ? data.length
          : data instanceof Blob
            ? data.size
            : data.byteLength;
      this._pending += size;
      this._meter.bytes(size, performance.now());
    });
    const internals = rfb as unknown as IRfbInternals;
    const display = internals._display;
    if (display && typeof display.flip === 'function') {
      const flip = display.flip.bind(display);
      display.flip = (fromQueue?: boolean) => {
        const area = drawnArea(display._damageBounds); // flip() resets it
        flip(fromQueue);
        if (this._rfb === rfb) {
          const now = performance.now();
          this._meter.frame(this._pending, now);
          this._apply(this._adaptive.frame(this._pending, now, area));
          this._pending = 0;
        }
      };
    }
    const send = internals._sendEncodings?.bind(rfb);
    const messages = (RFB as unknown as IRfbClass).messages;
    if (this._adaptive.enabled && !video && send && messages?.clientEncodings) {
      // Every SetEncodings of this connection goes out without re-sends.
      internals._sendEncodings = () => {
        const original = messages.clientEncodings!;
        messages.clientEncodings = (sock, encodings) =>
          original(sock, withoutResends(encodings));
        try {
          send();
        } finally {
          messages.clientEncodings = original;
        }
      };
    }
  }

  private _tick(): void {
    const internals = this._rfb as unknown as IRfbInternals | null;
    if (internals) {
      this._apply(
        this._adaptive.tick(
          performance.now(),
          internals._fbWidth,
          internals._fbHeight
        )
      );
    }
    this._render();
  }

  private _render(): void {
    if (!this.panel.hidden) {
      this.panel.textContent = statsText(this.figures);
    }
  }

  private _apply(request: QualityRequest | null): void {
    const rfb = this._rfb;
    if (request === null || rfb === null || this._video) {
      return;
    }
    const internals = rfb as unknown as IRfbInternals;
    if (internals._rfbConnectionState !== 'connected') {
      return;
    }
    if (request.kind === 'level') {
      rfb.qualityLevel = request.level; // Sends SetEncodings when it changed.
      return;
    }
    const request_ = (RFB as unknown as IRfbClass).messages?.fbUpdateRequest;
    if (!internals._sendEncodings || !request_ || !internals._sock) {
      return; // Another noVNC: keep the lossy level.
    }
    // Without a quality level TigerVNC encodes losslessly; then ask again for
    // what was drawn lossily.
    const area = request.area;
    internals._qualityLevel = -1;
    internals._sendEncodings();
    request_(internals._sock, false, area.x, area.y, area.w, area.h);
  }

  private async _measureRtt(): Promise<void> {
    const started = performance.now();
    try {
      await fetch(
        this._rttUrl,
        withXsrf(this._xsrfToken, { method: 'GET', cache: 'no-store' })
      );
      this._meter.rtt(performance.now() - started);
    } catch {
      // Offline: the connection's own status says so.
    }
  }

  dispose(): void {
    window.clearInterval(this._timer);
    if (this._rttTimer !== null) {
      window.clearInterval(this._rttTimer);
    }
  }
}
