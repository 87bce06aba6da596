/**
 * The page's screen scale, told to the server (PUT <apiUrl>screen): at scale 2 the
 * desktop's programs draw at 192 dpi, so napari in a screen of device pixels ("crisp" on
 * a Retina laptop) has the size it has at ratio 1, and is sharp.
 *
 * The server publishes the scale over XSETTINGS (supervisor/xsettings.py): napari and
 * the XFCE panel follow while they run. When the desktop cannot (another settings manager
 * owns its display), the answer says so and the page shows CSS pixels instead ("light"):
 * readable, if blurred, rather than half-size.
 */
import { readBody } from './start';
import { withXsrf } from './request';
import { apiEndpoint } from './urls';

/** The server's answer to PUT screen. */
export interface IScreenAnswer {
  scale: number;
  dpi: number | null;
  /** False: the desktop cannot scale its programs (see `message`). */
  scaling: boolean;
  message: string | null;
}

/** The answer's fields, or null for anything else. */
export function parseScreenAnswer(data: unknown): IScreenAnswer | null {
  if (typeof data !== 'object' || data === null) {
    return null;
  }
  const record = data as Record<string, unknown>;
  if (typeof record.scale !== 'number' || typeof record.scaling !== 'boolean') {
    return null;
  }
  return {
    scale: record.scale,
    dpi: typeof record.dpi === 'number' ? record.dpi : null,
    scaling: record.scaling,
    message: typeof record.message === 'string' ? record.message : null
  };
}

/**
 * Sends the scale when it changes (noVNC asks for a size often: on connect, on every
 * resize and from its own timer); `reset` after a new connection sends it again.
 */
export class ScreenScaleReporter {
  private _sent: number | null = null;
  private _pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly _apiUrl: string,
    private readonly _xsrfToken: string,
    private readonly _answered: (answer: IScreenAnswer) => void,
    private readonly _fetch: typeof fetch = (input, init) => fetch(input, init)
  ) {}

  /** A new connection (maybe a new desktop, or a restarted server): send again. */
  reset(): void {
    this._sent = null;
  }

  /** Tell the server `scale`, unless it was the last one told. */
  report(scale: number): void {
    if (scale === this._sent) {
      return;
    }
    this._sent = scale;
    // One request at a time, in order: the last one told is the one that holds.
    this._pending = this._pending.then(() => this._put(scale));
  }

  private async _put(scale: number): Promise<void> {
    const url = apiEndpoint(this._apiUrl, 'screen');
    try {
      const response = await this._fetch(
        url,
        withXsrf(this._xsrfToken, {
          method: 'PUT',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ scale })
        })
      );
      const answer = parseScreenAnswer(await readBody(response));
      if (!response.ok || answer === null) {
        console.warn(`[napari-desktop] PUT ${url}: ${response.status}`);
        this._sent = null; // try again with the next resize
        return;
      }
      this._answered(answer);
    } catch (error) {
      console.warn(`[napari-desktop] PUT ${url} failed`, error);
      this._sent = null;
    }
  }
}
