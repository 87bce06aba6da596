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

/** How often a page whose desktop was stopped asks whether it runs again. */
export const STOPPED_POLL_MS = 5000;

/**
 * Whether the desktop runs (GET `<apiUrl>status`): a page whose desktop was stopped on
 * purpose asks this, never POST start, so it does not start the desktop again itself.
 */
export async function desktopRunning(
  config: IDesktopConfig,
  fetchImpl: typeof fetch = fetch
): Promise<boolean> {
  try {
    const response = await fetchImpl(
      apiEndpoint(config.apiUrl, 'status'),
      withXsrf(config.xsrfToken)
    );
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

/**
 * The page's heading over a refused start, where "The desktop could not start" would be
 * wrong: a desktop stopped on purpose (409 to a reconnect), a view-only link revoked or
 * expired (403/404) or whose desktop is not running (409). Undefined: the default.
 */
export function failureTitle(
  status: number,
  watching: boolean,
  reconnect: boolean
): string | undefined {
  if (watching) {
    if (status === 403 || status === 404) {
      return 'This view-only link no longer works';
    }
    return status === 409 ? 'The desktop is not running' : undefined;
  }
  return status === 409 && reconnect ? STOPPED_TITLE : undefined;
}

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
  const watching = config.watchToken !== '';
  const url = watching
    ? `${apiEndpoint(config.apiUrl, 'status')}?token=${encodeURIComponent(config.watchToken)}`
    : apiEndpoint(config.apiUrl, 'start');
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let response: Response;
    try {
      response = await fetchImpl(
        url,
        watching
          ? { method: 'GET', credentials: 'omit', signal: controller.signal }
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
    const data = await readBody(response);
    if (!response.ok) {
      const title = failureTitle(response.status, watching, reconnect);
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
