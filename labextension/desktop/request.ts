/**
 * How the desktop page's requests to its Jupyter server are made: one place for the
 * credentials and the XSRF header.
 *
 * Every request carries the page's XSRF token, GET included. JupyterHub (since 4.1)
 * treats a cookie-authenticated request that a script makes (fetch mode "cors") without
 * the token as anonymous and answers it with a redirect to the hub's login, round and
 * round: under a hub, a GET without the token never reaches the server.
 */

/** `init` with the session's cookies and the page's XSRF token. */
export function withXsrf(
  xsrfToken: string,
  init: Omit<RequestInit, 'headers'> & { headers?: Record<string, string> } = {}
): RequestInit {
  return {
    ...init,
    credentials: 'same-origin',
    headers: { ...init.headers, 'X-XSRFToken': xsrfToken }
  };
}
