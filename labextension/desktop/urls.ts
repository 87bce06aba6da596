/**
 * The URLs the desktop page talks to, from its configuration (page-config.ts).
 */
import { withTrailingSlash } from '../src/api';

/** `apiUrl` joined with an endpoint name, e.g. ("/napari-desktop/api/", "start"). */
export function apiEndpoint(apiUrl: string, name: string): string {
  return withTrailingSlash(apiUrl) + name.replace(/^\/+/, '');
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
