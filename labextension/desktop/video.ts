/**
 * The video path on the page: ask for H.264 where the browser decodes it, and
 * go back to the usual picture by itself when the decoder fails.
 *
 * The server (server/video.py) sends the moving part of the screen as Open
 * H.264 (RFB encoding 50), which noVNC 1.7 decodes with WebCodecs'
 * VideoDecoder: only in a secure context (HTTPS or localhost) and only where
 * the browser has an H.264 decoder. noVNC hands each picture to its display's
 * render queue and waits for the decoder's output; a decoder that fails (or
 * never answers) leaves that queue stuck, and the picture freezes. The watchdog
 * sees a decoded picture pending for longer than `STUCK_MS`, or noVNC's
 * "Failed to decode" error, and asks for a connection without video.
 *
 * It reads noVNC 1.7.0's display render queue (`_display._renderQ`), the one
 * place this file reaches into noVNC.
 */

/** A decoded picture noVNC's display waits for longer than this: failed. */
export const STUCK_MS = 800;
const CHECK_MS = 100;

/** What the page asks for in the websocket URL. */
export const VIDEO_QUERY = 'video=h264';

/**
 * Whether to ask for the video path: the server offers it, this page has not
 * seen the decoder fail, and the browser decodes H.264.
 */
export function wantsVideo(
  offered: boolean,
  refused: boolean,
  decodes: boolean
): boolean {
  return offered && !refused && decodes;
}

/** The websocket URL with the video path asked for. */
export function withVideo(url: string): string {
  return url + (url.includes('?') ? '&' : '?') + VIDEO_QUERY;
}

/** Whether this browser decodes baseline H.264 here (WebCodecs). */
export async function decodesH264(): Promise<boolean> {
  if (!window.isSecureContext || typeof VideoDecoder === 'undefined') {
    return false;
  }
  try {
    const support = await VideoDecoder.isConfigSupported({
      codec: 'avc1.42c028',
      codedWidth: 1920,
      codedHeight: 1088,
      optimizeForLatency: true
    });
    return support.supported === true;
  } catch {
    return false;
  }
}

interface IQueued {
  type: string;
  frame?: { ready?: boolean };
}

/** noVNC's internals read here (noVNC 1.7.0, core/display.js). */
interface IDisplayInternals {
  _display?: { _renderQ?: IQueued[] };
}

/** The state of noVNC's render queue: is a decoded picture pending? */
export function pendingPicture(queue: readonly IQueued[] | undefined): boolean {
  const head = queue?.[0];
  return head?.type === 'frame' && head.frame?.ready !== true;
}

/**
 * Watches one connection on the video path; `failed` is called once when the
 * decoder fails. Timers and the clock are injected (tests/ drive it).
 */
export class VideoWatchdog {
  private _since: number | null = null;
  private _done = false;
  private readonly _timer: number;
  private readonly _onError: (event: ErrorEvent) => void;

  constructor(
    rfb: object,
    private readonly _failed: (why: string) => void,
    private readonly _now: () => number = () => performance.now()
  ) {
    const internals = rfb as IDisplayInternals;
    this._timer = window.setInterval(
      () => this.check(internals._display?._renderQ),
      CHECK_MS
    );
    this._onError = event => {
      if (/decode/i.test(String(event.message))) {
        this._fail(`the browser's H.264 decoder failed: ${event.message}`);
      }
    };
    window.addEventListener('error', this._onError);
  }

  /** One look at the render queue (every CHECK_MS). */
  check(queue: readonly IQueued[] | undefined): void {
    if (!pendingPicture(queue)) {
      this._since = null;
      return;
    }
    const now = this._now();
    this._since ??= now;
    if (now - this._since > STUCK_MS) {
      this._fail(
        `a decoded picture did not come within ${STUCK_MS} ms: the browser's H.264 decoder is stuck`
      );
    }
  }

  private _fail(why: string): void {
    if (!this._done) {
      this._done = true;
      this.dispose();
      this._failed(why);
    }
  }

  dispose(): void {
    window.clearInterval(this._timer);
    window.removeEventListener('error', this._onError);
  }
}
