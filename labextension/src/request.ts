/**
 * The one helper that talks to the server's `napari-desktop/api/` endpoints.
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
