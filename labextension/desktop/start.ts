/**
 * The desktop page's API client: POST start with the page's XSRF token,
 * answered through the parsers the JupyterLab extension uses too (src/api.ts).
 */
import { parseApiError, parseStartResponse } from '../src/api';
import type { StartResult } from './connection';
import type { IDesktopConfig } from './page-config';
import { isTransientFailure } from './retry';
import { apiEndpoint } from './urls';
import { withXsrf } from './request';

/** How long POST start may take before the page retries. */
export const START_TIMEOUT_MS = 60_000;

/** The answer's JSON, its text when it is not JSON, null when empty. */
export async function readBody(response: Response): Promise<unknown> {
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

/** The heading of a desktop stopped on purpose (Stop desktop, or its server's stop). */
export const STOPPED_TITLE = 'The desktop was stopped';

/** A redirect that reached the page (a fetch with redirect "manual" outside a browser). */
function isRedirect(response: Response): boolean {
  return response.status >= 300 && response.status < 400;
}

/** How often a page whose desktop was stopped asks whether it runs again. */
export const STOPPED_POLL_MS = 5000;

/**
 * Whether the desktop runs (GET `<apiUrl>status`): a page whose desktop was stopped on
 * purpose asks this, never POST start, so it does not start the desktop again itself.
 * null: the server refused the page's login (401/403), asking again would not help.
 */
export async function desktopRunning(
  config: IDesktopConfig,
  fetchImpl: typeof fetch = fetch
): Promise<boolean | null> {
  try {
    const response = await fetchImpl(
      apiEndpoint(config.apiUrl, 'status'),
      withXsrf(config.xsrfToken)
    );
    if (response.status === 401 || response.status === 403) {
      return null;
    }
    const data = response.ok ? await readBody(response) : null;
    return (
      typeof data === 'object' &&
      data !== null &&
      (data as { running?: unknown }).running === true
    );
  } catch {
    return false;
  }
}

/** Whose page asks: the owner's (or one handed control), a visitor's, a view-only link's. */
export type PageKind = 'owner' | 'visitor' | 'link';

/** The heading of a page whose login changed or ended: "Try again" reloads it. */
export const LOGIN_TITLE = 'Your login has changed or ended';

/** The heading of a link's page while its desktop's Jupyter server is not running. */
export const SERVER_DOWN_TITLE = 'The desktop is not reachable';

/**
 * The page's heading over a refused start, where "The desktop could not start" would be
 * wrong: a desktop stopped on purpose (409 to a reconnect), a page whose login changed
 * (403: its XSRF token is stale, only a reload mends it), a view-only link revoked or
 * expired (403/404), a desktop a visitor or a link watches that is not running (409).
 * Undefined: the default.
 */
export function failureTitle(
  status: number,
  kind: PageKind,
  reconnect: boolean
): string | undefined {
  if (kind === 'link' && (status === 403 || status === 404)) {
    return 'This view-only link no longer works';
  }
  if (status === 409 && kind !== 'owner') {
    return 'The desktop is not running';
  }
  if (status === 409 && reconnect) {
    return STOPPED_TITLE;
  }
  return status === 403 || status === 401 ? LOGIN_TITLE : undefined;
}

/** Whose page `config` is. */
export function pageKind(config: IDesktopConfig): PageKind {
  if (config.watchToken !== '') {
    return 'link';
  }
  return config.role === 'viewer' ? 'visitor' : 'owner';
}

/** The header a view-only link's page sends its token in (never the URL: a proxy or the
 * hub in front may log the URL, and JupyterHub does, whole, while the server is down). */
export const WATCH_HEADER = 'X-Napari-Desktop-Watch';

/**
 * POST `<apiUrl>start`: start the desktop (or check it still runs). A reconnect does not
 * start a desktop the user stopped on purpose: the server answers 409 and the page shows
 * "Try again".
 */
export async function postStart(
  config: IDesktopConfig,
  reconnect: boolean,
  fetchImpl: typeof fetch = fetch,
  timeoutMs: number = START_TIMEOUT_MS
): Promise<StartResult> {
  // A view-only link's page asks whether the desktop runs; it never starts one.
  const kind = pageKind(config);
  const watching = kind === 'link';
  const url = apiEndpoint(config.apiUrl, watching ? 'status' : 'start');
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let response: Response;
    try {
      response = await fetchImpl(
        url,
        watching
          ? {
              method: 'GET',
              credentials: 'omit',
              headers: { [WATCH_HEADER]: config.watchToken },
              // JupyterHub sends a stopped server's requests to its login page.
              redirect: 'manual',
              signal: controller.signal
            }
          : withXsrf(config.xsrfToken, {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: JSON.stringify({ app: config.app, reconnect }),
              signal: controller.signal
            })
      );
    } catch (error) {
      console.warn(`[napari-desktop] POST ${url} failed`, error);
      return { ok: false, transient: true, error: parseApiError(0, null, url) };
    }
    if (
      watching &&
      (response.type === 'opaqueredirect' || isRedirect(response))
    ) {
      // The owner's Jupyter server is not running (JupyterHub redirects to its login):
      // wait for it, as for a network failure.
      return {
        ok: false,
        transient: true,
        error: {
          title: SERVER_DOWN_TITLE,
          message: `${config.owner ? `${config.owner}'s` : "The desktop's"} Jupyter server is not running (it was stopped, or is starting).`,
          fix: 'This page connects again by itself when it runs.'
        }
      };
    }
    const data = await readBody(response);
    if (!response.ok) {
      const title = failureTitle(response.status, kind, reconnect);
      return {
        ok: false,
        transient: isTransientFailure(response.status, data),
        error: {
          ...parseApiError(response.status, data, url),
          ...(title && { title })
        }
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
    clearTimeout(timer);
  }
}
