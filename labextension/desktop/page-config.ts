/**
 * The desktop page's configuration: what the server embeds in the page, parsed
 * and checked, and the levels and modes the user may choose. No DOM access, so
 * test/page.test.ts runs it under Node.
 */
import { isDesktopApp, withTrailingSlash } from '../src/api';
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
  /** The server sends H.264 to a page that decodes it (video.ts). */
  video: boolean;
  /** Version of the Python package. */
  version: string;
  /** Whose desktop this is ("" without JupyterHub: whoever logs in). */
  owner: string;
  /** Who opened this page. */
  user: string;
  /** What this page's user may do (server/access.py); a viewer only watches. */
  role: Role;
  /** A view-only link's token ("" on a logged-in page): sent with its requests. */
  watchToken: string;
}

/** The page user's rights on the desktop (server/access.py). */
export type Role = 'owner' | 'control' | 'viewer';

/** A role from `value`, else "owner" (a server without access control). */
export function toRole(value: unknown): Role {
  return value === 'control' || value === 'viewer' ? value : 'owner';
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

/** An integer 0-9 from `value`, or `fallback` when it is anything else. */
export function toLevel(value: unknown, fallback: number): number {
  const n =
    typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 9
    ? n
    : fallback;
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
  const baseUrl = withTrailingSlash(stringField(record, 'baseUrl', '/'));
  return {
    baseUrl,
    apiUrl: withTrailingSlash(
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
    video: record.video === true,
    version: stringField(record, 'version', ''),
    owner: stringField(record, 'owner', ''),
    user: stringField(record, 'user', ''),
    role: toRole(record.role),
    watchToken: stringField(record, 'watchToken', '')
  };
}
