/**
 * Pure logic of the desktop page: configuration parsing, URLs, the reconnect
 * schedule and the stored quality settings. No DOM access, so
 * test/logic.test.ts runs it under Node.
 */
import { isDesktopApp } from '../src/api';
import type { DesktopApp } from '../src/tokens';

/** What the server embeds in the page as `<script id="napari-desktop-config">`. */
export interface IDesktopConfig {
  /** Jupyter base URL, ending in "/". */
  baseUrl: string;
  /** The JSON API, ending in "/". */
  apiUrl: string;
  /** Absolute path of the VNC websocket, without scheme and host. */
  websocketPath: string;
  /** What to start. */
  app: DesktopApp;
  /** Sent as X-XSRFToken with POST requests. */
  xsrfToken: string;
  /** Default noVNC quality level, 0 (smallest) to 9 (best). */
  quality: number;
  /** Default noVNC compression level, 0 (none) to 9 (most). */
  compression: number;
  /** Lossy only while the picture moves, exact once it stops (stats.ts). */
  adaptiveQuality: boolean;
  /** Root-relative folder dropped files are uploaded into ("" = the root). */
  uploadDir: string;
  /** HiDPI screens: "crisp" (device pixels) or "light" (CSS pixels). */
  hidpi: HidpiMode;
  /** Version of the Python package. */
  version: string;
}

/** How a screen with devicePixelRatio > 1 is used; see hidpi.ts. */
export type HidpiMode = 'crisp' | 'light';

/** "crisp" or "light" from `value`, else `fallback`. */
export function toHidpiMode(value: unknown, fallback: HidpiMode): HidpiMode {
  return value === 'crisp' || value === 'light' ? value : fallback;
}

/** The defaults, used when the server sends no levels (as c.NapariDesktop). */
export const DEFAULT_QUALITY = 2;
export const DEFAULT_COMPRESSION = 2;

/** localStorage keys of the user's own choices. */
export const STORAGE_KEYS = {
  quality: 'jp-NapariDesktop-quality',
  compression: 'jp-NapariDesktop-compression',
  hidpi: 'jp-NapariDesktop-hidpi'
} as const;

/** First reconnect delay, doubled on each failed attempt up to RECONNECT_MAX_MS. */
export const RECONNECT_INITIAL_MS = 500;
export const RECONNECT_MAX_MS = 5000;

/**
 * Milliseconds to wait before reconnect attempt number `attempt` (0-based):
 * 500, 1000, 2000, 4000, 5000, 5000, ...
 */
export function backoffDelay(
  attempt: number,
  initialMs: number = RECONNECT_INITIAL_MS,
  maxMs: number = RECONNECT_MAX_MS
): number {
  const n = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  // 2 ** 30 is far past any sensible maximum; avoid Infinity for huge n.
  return Math.min(maxMs, initialMs * 2 ** Math.min(n, 30));
}

/** An integer 0-9 from `value`, or `fallback` when it is anything else. */
export function toLevel(value: unknown, fallback: number): number {
  const n =
    typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 9
    ? n
    : fallback;
}

function ensureTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** `apiUrl` joined with an endpoint name, e.g. ("/napari-desktop/api/", "start"). */
export function apiEndpoint(apiUrl: string, name: string): string {
  return ensureTrailingSlash(apiUrl) + name.replace(/^\/+/, '');
}

/**
 * The websocket URL for the absolute `path` on the host of `baseUri` (the
 * document's base URI: in JupyterLab's tab the page is an iframe's srcdoc,
 * whose location is about:srcdoc and whose base URI is JupyterLab's): wss://
 * on https pages, ws:// otherwise.
 */
export function websocketUrl(baseUri: string, path: string): string {
  const url = new URL(path.startsWith('/') ? path : `/${path}`, baseUri);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** The browser tab title for `app`. */
export function documentTitle(app: DesktopApp): string {
  return app === 'napari' ? 'napari — Desktop' : 'Desktop';
}

function stringField(
  data: Record<string, unknown>,
  name: string,
  fallback: string
): string {
  const value = data[name];
  return typeof value === 'string' && value.length > 0 ? value : fallback;
}

/**
 * Parse the page configuration the server embeds as JSON.
 *
 * @throws Error saying what is missing or malformed.
 */
export function parseConfig(text: string | null | undefined): IDesktopConfig {
  if (text === null || text === undefined || text.trim() === '') {
    throw new Error(
      'This page has no configuration (no <script id="napari-desktop-config">).'
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `This page's configuration is not valid JSON: ${String(error)}`,
      { cause: error }
    );
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error(
      `This page's configuration is ${JSON.stringify(data)}; expected a JSON object.`
    );
  }
  const record = data as Record<string, unknown>;
  const baseUrl = ensureTrailingSlash(stringField(record, 'baseUrl', '/'));
  return {
    baseUrl,
    apiUrl: ensureTrailingSlash(
      stringField(record, 'apiUrl', `${baseUrl}napari-desktop/api/`)
    ),
    websocketPath: stringField(
      record,
      'websocketPath',
      `${baseUrl}napari-desktop/websockify`
    ),
    app: isDesktopApp(record.app) ? record.app : 'napari',
    xsrfToken: stringField(record, 'xsrfToken', ''),
    quality: toLevel(record.quality, DEFAULT_QUALITY),
    compression: toLevel(record.compression, DEFAULT_COMPRESSION),
    adaptiveQuality: record.adaptiveQuality !== false,
    uploadDir:
      typeof record.uploadDir === 'string'
        ? record.uploadDir.replace(/^\/+|\/+$/g, '')
        : '',
    hidpi: toHidpiMode(record.hidpi, 'crisp'),
    version: stringField(record, 'version', '')
  };
}

/**
 * Whether a failed POST start is worth retrying by itself: the server could
 * not be reached (status 0), or a proxy/gateway error without the server's
 * own `{"error": ...}` explanation. Explained errors are shown to the user.
 */
export function isTransientFailure(status: number, data: unknown): boolean {
  if (status === 0) {
    return true;
  }
  const explained =
    typeof data === 'object' &&
    data !== null &&
    'error' in data &&
    typeof (data as { error: unknown }).error === 'object';
  return status >= 500 && !explained;
}
