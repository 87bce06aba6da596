/**
 * Parsers for the server's JSON API answers.
 *
 * Pure functions with no JupyterLab imports: the plugin and the desktop page
 * both use them, and test/api.test.ts runs them under Node.
 */
import type {
  DesktopApp,
  IApiError,
  IDesktopStatus,
  INapariDims,
  INapariLayer,
  INapariState,
  INapariStatus,
  IOpenResponse,
  IServerInfo,
  IStartResponse
} from './tokens';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parse the answer of GET `napari-desktop/api/info`.
 *
 * @throws Error naming the unexpected value when the answer is malformed.
 */
export function parseServerInfo(data: unknown): IServerInfo {
  if (!isRecord(data)) {
    throw new Error(
      `napari-desktop/api/info answered ${JSON.stringify(data)}; expected a JSON object`
    );
  }
  const version = typeof data.version === 'string' ? data.version : '';
  const raw = data.coexisting ?? [];
  if (!Array.isArray(raw)) {
    throw new Error(
      `napari-desktop/api/info "coexisting" is ${JSON.stringify(raw)}; expected a list of names`
    );
  }
  const coexisting = raw.filter(
    (name): name is string => typeof name === 'string' && name.length > 0
  );
  return { version, coexisting };
}

/**
 * The label of the plain-desktop command.
 *
 * "Desktop" unless another desktop tool (which brings its own "Desktop"
 * launcher card) is installed; then "napari Desktop" tells the two apart.
 */
export function desktopLabel(info: IServerInfo | null): string {
  return info !== null && info.coexisting.length > 0
    ? 'napari Desktop'
    : 'Desktop';
}

function parseNapariStatus(data: unknown): INapariStatus {
  if (!isRecord(data)) {
    // An older or minimal server: assume napari is there, say nothing.
    return { available: true, running: false, message: null };
  }
  return {
    available: data.available !== false,
    running: data.running === true,
    message:
      typeof data.message === 'string' && data.message.length > 0
        ? data.message
        : null
  };
}

/**
 * Parse a successful (HTTP 200) answer of POST `napari-desktop/api/start`.
 *
 * @throws Error naming the unexpected value when the answer is malformed.
 */
export function parseStartResponse(data: unknown): IStartResponse {
  if (!isRecord(data)) {
    throw new Error(
      `napari-desktop/api/start answered ${JSON.stringify(data)}; expected a JSON object`
    );
  }
  return {
    running: data.running === true,
    display: typeof data.display === 'string' ? data.display : '',
    generation: typeof data.generation === 'number' ? data.generation : 0,
    reason: typeof data.reason === 'string' ? data.reason : null,
    napari: parseNapariStatus(data.napari)
  };
}

/**
 * Turn a failed API answer into a message and a fix a person can act on.
 *
 * Uses the server's `{"error": {"message", "fix"}}` when present, then
 * Jupyter's own `{"message": ...}` error bodies, then the HTTP status alone.
 *
 * @param status - the HTTP status, or 0 when the server could not be reached
 * @param data - the parsed JSON body, the body text, or null
 * @param url - the URL that was requested, to name it in the message
 */
export function parseApiError(
  status: number,
  data: unknown,
  url: string
): IApiError {
  if (isRecord(data) && isRecord(data.error)) {
    const message = data.error.message;
    const fix = data.error.fix;
    if (typeof message === 'string' && message.length > 0) {
      return { message, fix: typeof fix === 'string' ? fix : '' };
    }
  }
  if (status === 0) {
    return {
      message: `Could not reach the Jupyter server at ${url}.`,
      fix: 'Check that the Jupyter server is still running and that you are online, then try again.'
    };
  }
  const detail =
    isRecord(data) && typeof data.message === 'string' && data.message
      ? `: ${data.message}`
      : '';
  if (status === 403 || status === 401) {
    return {
      message: `The Jupyter server refused ${url} (HTTP ${status})${detail}.`,
      fix: 'Reload this page. If your Jupyter session ended, log in again.'
    };
  }
  if (status === 404) {
    return {
      message: `The Jupyter server has no ${url} (HTTP 404).`,
      fix:
        'Check that the jupyter-napari-desktop server extension is installed and enabled ' +
        '("jupyter server extension list"), then restart the Jupyter server.'
    };
  }
  return {
    message: `${url} failed with HTTP ${status}${detail}.`,
    fix: 'See the Jupyter server log for details (lines starting with [napari-desktop]).'
  };
}

/** Whether `value` names one of the apps the desktop page can start. */
export function isDesktopApp(value: unknown): value is DesktopApp {
  return value === 'napari' || value === 'desktop';
}

/** The title of the desktop's JupyterLab tab and page for `app`. */
export function viewTitle(app: DesktopApp): string {
  return app === 'napari' ? 'napari' : 'Desktop';
}

/**
 * The URL of the desktop page for `app`.
 *
 * @param baseUrl - the Jupyter base URL, for example "/" or "/user/ada/"
 */
export function desktopPageUrl(baseUrl: string, app: DesktopApp): string {
  return `${withTrailingSlash(baseUrl)}napari-desktop/?app=${app}`;
}

/** `url` ending in "/" (base URLs and folders are joined with names). */
export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 ? value : null;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function numbers(value: unknown): number[] {
  return Array.isArray(value)
    ? value.filter(
        (n): n is number => typeof n === 'number' && Number.isFinite(n)
      )
    : [];
}

function parseLayers(value: unknown): INapariLayer[] {
  if (!Array.isArray(value)) {
    return [];
  }
  const layers: INapariLayer[] = [];
  for (const item of value) {
    if (isRecord(item) && typeof item.name === 'string') {
      layers.push({
        name: item.name,
        type: typeof item.type === 'string' ? item.type : '',
        shape: numbers(item.shape)
      });
    }
  }
  return layers;
}

function parseDims(value: unknown): INapariDims | null {
  if (!isRecord(value)) {
    return null;
  }
  const currentStep = numbers(value.current_step);
  const ndim = numberOrNull(value.ndim) ?? currentStep.length;
  return { ndim, currentStep };
}

function parseNapariState(data: unknown): INapariState {
  const record = isRecord(data) ? data : {};
  return {
    ...parseNapariStatus(data),
    version: stringOrNull(record.version),
    layers: parseLayers(record.layers),
    dims: parseDims(record.dims)
  };
}

/**
 * Parse GET `napari-desktop/api/status` (and the answers of POST open,
 * restart and stop, which are the same status).
 *
 * Lenient: a missing or mistyped field reads as "not known" (null, false,
 * empty), unknown fields are ignored, so older and newer servers both work.
 *
 * @throws Error naming the value when the answer is not a JSON object.
 */
export function parseDesktopStatus(data: unknown): IDesktopStatus {
  if (!isRecord(data)) {
    throw new Error(
      `napari-desktop/api/status answered ${JSON.stringify(data)}; expected a JSON object`
    );
  }
  return {
    running: data.running === true,
    display: stringOrNull(data.display),
    session: stringOrNull(data.session),
    uptimeS: numberOrNull(data.uptime_s),
    memoryMb: numberOrNull(data.memory_mb),
    napari: parseNapariState(data.napari)
  };
}

/**
 * Parse a successful (HTTP 200) answer of POST `napari-desktop/api/open`:
 * `{"opened": [layer names], "status": {...}}`. A bare status (as restart
 * and stop answer) is read too.
 *
 * @throws Error naming the value when the answer is not a JSON object.
 */
export function parseOpenResponse(data: unknown): IOpenResponse {
  if (!isRecord(data)) {
    throw new Error(
      `napari-desktop/api/open answered ${JSON.stringify(data)}; expected a JSON object`
    );
  }
  const opened: string[] = [];
  for (const item of Array.isArray(data.opened) ? data.opened : []) {
    const name = isRecord(item) ? item.name : item;
    if (typeof name === 'string') {
      opened.push(name);
    }
  }
  let status: IDesktopStatus | null = null;
  if (isRecord(data.status)) {
    status = parseDesktopStatus(data.status);
  } else if ('running' in data) {
    status = parseDesktopStatus(data);
  }
  return { opened, status };
}

/**
 * The message and fix of anything a request or a command threw.
 *
 * Uses the `details` of a request error (see request.ts), else the error's
 * own message, else its text.
 */
export function errorDetails(error: unknown): IApiError {
  if (isRecord(error) || error instanceof Error) {
    const details = (error as { details?: unknown }).details;
    if (
      isRecord(details) &&
      typeof details.message === 'string' &&
      details.message.length > 0
    ) {
      return {
        message: details.message,
        fix: typeof details.fix === 'string' ? details.fix : ''
      };
    }
    const message = (error as { message?: unknown }).message;
    if (typeof message === 'string' && message.length > 0) {
      return { message, fix: '' };
    }
  }
  return { message: String(error), fix: '' };
}
