/**
 * The one place that talks to the server's `napari-desktop/` URLs: its API, and the
 * desktop page's HTML for the JupyterLab tab.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { parseApiError } from './api';
import { API_NAMESPACE, IApiError } from './tokens';

/** A failed API request, with a message and a fix for the user. */
export class NapariDesktopRequestError extends Error {
  constructor(
    readonly status: number,
    readonly details: IApiError
  ) {
    super(details.message);
    this.name = 'NapariDesktopRequestError';
  }
}

/**
 * The HTML of the desktop page at `url`, fetched as the API is (with the XSRF header);
 * an error page (503) is HTML to show too.
 *
 * The JupyterLab tab shows it as its iframe's srcdoc rather than by URL: under
 * JupyterHub every page of a single-user server forbids being framed (CSP
 * `frame-ancestors 'none'`), because all users' servers share one origin and a
 * framed page could be scripted by another user's page. A srcdoc document belongs
 * to this JupyterLab page, and the page's own rule stays as it is.
 *
 * @throws NapariDesktopRequestError when the server cannot be reached
 */
export async function requestPageHtml(url: string): Promise<string> {
  const settings = ServerConnection.makeSettings();
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      url,
      { method: 'GET', cache: 'no-store' },
      settings
    );
    const type = response.headers.get('Content-Type') ?? '';
    if (!type.startsWith('text/html')) {
      throw new NapariDesktopRequestError(
        response.status,
        parseApiError(response.status, await response.text(), url)
      );
    }
    return await response.text();
  } catch (error) {
    if (error instanceof NapariDesktopRequestError) {
      throw error;
    }
    console.warn(`[napari-desktop] request to ${url} failed`, error);
    throw new NapariDesktopRequestError(0, parseApiError(0, null, url));
  }
}

/**
 * Call `napari-desktop/api/<endPoint>` on the Jupyter server.
 *
 * Authentication and the XSRF header come from ServerConnection. A `body`
 * that is not a string is sent as JSON.
 *
 * @returns the parsed JSON body (null for an empty body)
 * @throws NapariDesktopRequestError when the server cannot be reached or answers
 *   with an error status
 */
export async function requestAPI(
  endPoint: string,
  init: Omit<RequestInit, 'body'> & { body?: unknown } = {}
): Promise<unknown> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  const { body, ...rest } = init;
  const request: RequestInit = { ...rest };
  if (body !== undefined) {
    const headers = new Headers(rest.headers);
    if (typeof body === 'string') {
      request.body = body;
    } else {
      request.body = JSON.stringify(body);
      headers.set('Content-Type', 'application/json');
    }
    request.headers = headers;
  }

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, request, settings);
  } catch (error) {
    console.warn(`[napari-desktop] request to ${url} failed`, error);
    throw new NapariDesktopRequestError(0, parseApiError(0, null, url));
  }

  const text = await response.text();
  let data: unknown = null;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    throw new NapariDesktopRequestError(
      response.status,
      parseApiError(response.status, data, url)
    );
  }
  return data;
}
