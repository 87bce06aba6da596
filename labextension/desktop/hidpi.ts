/**
 * HiDPI screens (devicePixelRatio above 1): "crisp" asks the VNC server for a
 * screen of the window's device pixels and shows it at the window's CSS
 * size; "light" asks for CSS pixels and lets the browser enlarge them (a
 * quarter of the pixels at ratio 2, blurred).
 *
 * noVNC 1.7 sizes the remote screen from the CSS size of its container
 * (RFB._screenSize, read by RFB._requestRemoteResize) and has no notion of
 * the pixel ratio. `applyHidpi` multiplies that size by the ratio for the
 * resize request only, and turns noVNC's scaleViewport on so that the larger
 * frame buffer is drawn at 1/ratio, which keeps mouse coordinates right. At
 * ratio 1 (or "light") the factor is 1 and scaleViewport stays off: noVNC
 * then behaves, and sends, exactly as without this module.
 */
import type RFB from '@novnc/novnc';

import type { HidpiMode } from './page-config';

/** Highest ratio used for the remote screen (Xvnc refuses huge screens). */
export const MAX_RATIO = 4;

/** The factor between CSS pixels and the remote screen's pixels. */
export function remoteScale(mode: HidpiMode, devicePixelRatio: number): number {
  if (
    mode !== 'crisp' ||
    !Number.isFinite(devicePixelRatio) ||
    devicePixelRatio <= 1
  ) {
    return 1;
  }
  return Math.min(devicePixelRatio, MAX_RATIO);
}

/** The remote screen size for a container of `width` x `height` CSS pixels. */
export function remoteSize(
  width: number,
  height: number,
  scale: number
): { w: number; h: number } {
  return { w: Math.floor(width * scale), h: Math.floor(height * scale) };
}

/** The private parts of noVNC's RFB that the resize goes through. */
interface IRfbResize {
  _screenSize(): { w: number; h: number };
  _requestRemoteResize(): void;
  _fbWidth: number;
  _fbHeight: number;
  /** noVNC's "a request is out": it sends no other until the server answers it. */
  _pendingRemoteResize: boolean;
  _rfbConnectionState: string;
}

/**
 * How long after a resize request the page checks that the remote screen has the size
 * asked for, and how often it asks again. noVNC sends one request at a time and asks
 * again only after the server accepted one: a request the server refused (a resize
 * racing another), or one made while another was pending, left the screen at the old
 * size (seen in Firefox and WebKit, about one window resize in five). A request still
 * unanswered at the check is given up (noVNC would wait for its answer forever, and send
 * no other), and asked again.
 */
export const RESIZE_RECHECK_MS = 1000;
export const RESIZE_RETRIES = 5;

/** How the page's resizes went (window.napariDesktop.resize(), for tests and people). */
export interface IResizeState {
  /** The remote size the page wants now ("WxH"), and the remote screen's size. */
  wanted: string;
  screen: string;
  /** Requests asked again at a check, and unanswered requests given up. */
  retries: number;
  unanswered: number;
}

/** Control over one RFB's use of the pixel ratio. */
export interface IHidpiControl {
  /** Apply the current mode and ratio now (after either changed). */
  update(): void;
  /** How the resizes went so far. */
  state(): IResizeState;
}

/**
 * Make `rfb` follow `scale()` (see remoteScale): its resize requests ask for
 * CSS size × scale, and the frame buffer is shown at CSS size.
 */
export function applyHidpi(rfb: RFB, scale: () => number): IHidpiControl {
  const internals = rfb as unknown as IRfbResize;
  const screenSize = internals._screenSize.bind(rfb);
  const requestResize = internals._requestRemoteResize.bind(rfb);
  let factor = 1;
  internals._screenSize = () => {
    const size = screenSize();
    return factor === 1 ? size : remoteSize(size.w, size.h, factor);
  };
  let recheck: ReturnType<typeof setTimeout> | undefined;
  let retries = 0;
  let wanted = '';
  let retried = 0;
  let unanswered = 0;
  const wantedSize = () => {
    const size = screenSize();
    return remoteSize(size.w, size.h, scale());
  };
  // noVNC calls this on connect, on container resizes and from its own
  // rate-limit timer (through this instance property, so this one).
  internals._requestRemoteResize = () => {
    factor = scale();
    try {
      requestResize();
    } finally {
      factor = 1;
    }
    const want = wantedSize();
    const key = `${want.w}x${want.h}`;
    if (key !== wanted) {
      wanted = key;
      retries = 0;
    }
    clearTimeout(recheck);
    recheck = setTimeout(() => {
      const now = wantedSize();
      const inSync =
        now.w === internals._fbWidth && now.h === internals._fbHeight;
      if (!inSync && retries < RESIZE_RETRIES && rfb.resizeSession) {
        if (internals._pendingRemoteResize) {
          internals._pendingRemoteResize = false;
          unanswered += 1;
        }
        retries += 1;
        retried += 1;
        internals._requestRemoteResize();
      }
    }, RESIZE_RECHECK_MS);
  };
  const update = () => {
    const scaled = scale() !== 1;
    if (rfb.scaleViewport !== scaled) {
      rfb.scaleViewport = scaled;
    }
    internals._requestRemoteResize();
  };
  // noVNC asks for a size when its screen element's ResizeObserver fires. The window's
  // own resize event asks too (noVNC sends nothing when the size is the screen's): a
  // window resize that reached the layout but not the observer left the remote screen
  // at the old size for good.
  const listening = new AbortController();
  window.addEventListener(
    'resize',
    () => {
      if (internals._rfbConnectionState === 'connected') {
        internals._requestRemoteResize();
      }
    },
    { signal: listening.signal }
  );
  rfb.addEventListener('disconnect', () => listening.abort());
  const state = (): IResizeState => {
    const want = wantedSize();
    return {
      wanted: `${want.w}x${want.h}`,
      screen: `${internals._fbWidth}x${internals._fbHeight}`,
      retries: retried,
      unanswered
    };
  };
  rfb.scaleViewport = scale() !== 1;
  return { update, state };
}

/**
 * Call `changed` whenever window.devicePixelRatio changes (browser zoom, the
 * window moved to another monitor).
 */
export function watchPixelRatio(changed: () => void): void {
  const listen = () => {
    const query = window.matchMedia(
      `(resolution: ${window.devicePixelRatio}dppx)`
    );
    query.addEventListener(
      'change',
      () => {
        changed();
        listen();
      },
      { once: true }
    );
  };
  listen();
}
