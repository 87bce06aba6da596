/**
 * What napari brought back of its kept session, shown on the desktop page, with a
 * "Start empty" button: GET and POST `<apiUrl>session` (server/handlers.py SessionHandler).
 * The parsing and the words are plain functions (tested from Node); SessionBar adds one
 * line over the screen.
 */
import { apiEndpoint } from './urls';
import { withXsrf } from './request';
import { readStored, store, STORAGE_KEYS } from './storage';

/** The part of GET session's answer the page shows. */
export interface IRestored {
  from: string | null;
  savedAt: number | null;
  layers: string[];
  skipped: string[];
}

export interface ISessionReport {
  restoring: boolean;
  restored: IRestored | null;
  error: string | null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value)
    ? value.filter((v): v is string => typeof v === 'string')
    : [];
}

/** GET session's `napari` part, or null when napari is not running (or not keeping). */
export function parseSession(data: unknown): ISessionReport | null {
  if (typeof data !== 'object' || data === null) {
    return null;
  }
  const napari = (data as { napari?: unknown }).napari;
  if (typeof napari !== 'object' || napari === null) {
    return null;
  }
  const raw = napari as Record<string, unknown>;
  const restored = raw.restored;
  let parsed: IRestored | null = null;
  if (typeof restored === 'object' && restored !== null) {
    const r = restored as Record<string, unknown>;
    parsed = {
      from: typeof r.from === 'string' ? r.from : null,
      savedAt: typeof r.saved_at === 'number' ? r.saved_at : null,
      layers: strings(r.layers),
      skipped: strings(r.skipped)
    };
  }
  return {
    restoring: raw.restoring === true,
    restored: parsed,
    error: typeof raw.error === 'string' ? raw.error : null
  };
}

/** "5 min ago", "2 h ago", "3 days ago" from seconds. */
export function ago(seconds: number): string {
  if (seconds < 90) {
    return 'just now';
  }
  if (seconds < 5400) {
    return `${Math.round(seconds / 60)} min ago`;
  }
  if (seconds < 129600) {
    return `${Math.round(seconds / 3600)} h ago`;
  }
  return `${Math.round(seconds / 86400)} days ago`;
}

/**
 * Which restore a report tells of (the desktop's API URL, under JupyterHub the user's, and
 * the restored session with its time), or null when nothing was restored.
 */
export function restoreId(
  apiUrl: string,
  report: ISessionReport
): string | null {
  const restored = report.restored;
  if (!restored || restored.layers.length === 0) {
    return null;
  }
  return `${apiUrl} ${restored.from ?? ''} ${restored.savedAt ?? ''}`;
}

/**
 * The report without its restore once that restore's line was dismissed (`dismissed`:
 * the restoreId kept then): the line said so once, on every page load until dismissed,
 * not for the rest of the session; a failed save is still said.
 */
export function unlessDismissed(
  report: ISessionReport,
  apiUrl: string,
  dismissed: string | null
): ISessionReport {
  const id = restoreId(apiUrl, report);
  return id !== null && id === dismissed
    ? { ...report, restored: null }
    : report;
}

/** The line the page shows, or null when there is nothing to say. */
export function sessionText(
  report: ISessionReport,
  nowS: number,
  formatTime: (epochS: number) => string
): string | null {
  const parts: string[] = [];
  const restored = report.restored;
  if (restored && restored.layers.length > 0) {
    const count = restored.layers.length;
    const when =
      restored.savedAt === null
        ? ''
        : ` saved ${formatTime(restored.savedAt)} (${ago(nowS - restored.savedAt)})`;
    parts.push(
      `napari restored ${count} layer${count === 1 ? '' : 's'}${when}: ${restored.layers.join(', ')}.`
    );
  }
  if (restored && restored.skipped.length > 0) {
    parts.push(`Not restored: ${restored.skipped.join('; ')}.`);
  }
  if (report.error) {
    parts.push(`Not saved: ${report.error}`);
  }
  return parts.length > 0 ? parts.join(' ') : null;
}

/** One line over the screen: what was restored, and "Start empty". */
export class SessionBar {
  readonly element: HTMLDivElement;
  private readonly _text: HTMLSpanElement;
  private readonly _empty: HTMLButtonElement;
  private _polls = 0;
  private _restore: string | null = null; // restoreId of the line shown

  constructor(
    parent: HTMLElement,
    private readonly _apiUrl: string,
    private readonly _xsrfToken: string
  ) {
    this.element = document.createElement('div');
    this.element.className = 'jp-NapariDesktop-session';
    this.element.setAttribute('role', 'status');
    this.element.hidden = true;
    this._text = document.createElement('span');
    this._text.className = 'jp-NapariDesktop-sessionText';
    this._empty = document.createElement('button');
    this._empty.className = 'jp-NapariDesktop-button';
    this._empty.textContent = 'Start empty';
    this._empty.title =
      "Remove napari's layers and begin a new session (the restored one stays in the sessions folder)";
    this._empty.addEventListener('click', () => void this._startEmpty());
    const dismiss = document.createElement('button');
    dismiss.className = 'jp-NapariDesktop-button';
    dismiss.textContent = 'Dismiss';
    dismiss.title = 'Hide this line (it does not come back for this restore)';
    dismiss.addEventListener('click', () => {
      this.element.hidden = true;
      if (this._restore !== null) {
        store(STORAGE_KEYS.restoreDismissed, this._restore);
      }
    });
    this.element.append(this._text, this._empty, dismiss);
    parent.appendChild(this.element);
  }

  /** Ask every 2 s (at most a minute) until napari has restored or has nothing to. */
  watch(): void {
    this._polls = 0;
    void this._poll();
  }

  private async _poll(): Promise<void> {
    this._polls += 1;
    const report = await this._get();
    if (report && !report.restoring) {
      this.show(report);
      return;
    }
    if (this._polls < 30) {
      window.setTimeout(() => void this._poll(), 2000);
    }
  }

  show(full: ISessionReport): void {
    const report = unlessDismissed(
      full,
      this._apiUrl,
      readStored(STORAGE_KEYS.restoreDismissed)
    );
    this._restore = restoreId(this._apiUrl, report);
    const text = sessionText(report, Date.now() / 1000, epochS =>
      new Date(epochS * 1000).toLocaleString()
    );
    this.element.hidden = text === null;
    this._text.textContent = text ?? '';
    this._empty.hidden =
      !report.restored || report.restored.layers.length === 0;
  }

  private async _get(): Promise<ISessionReport | null> {
    try {
      const response = await fetch(
        apiEndpoint(this._apiUrl, 'session'),
        withXsrf(this._xsrfToken)
      );
      return response.ok ? parseSession(await response.json()) : null;
    } catch (error) {
      console.warn('[napari-desktop] GET session failed', error);
      return null;
    }
  }

  private async _startEmpty(): Promise<void> {
    this._empty.disabled = true;
    try {
      const response = await fetch(
        apiEndpoint(this._apiUrl, 'session'),
        withXsrf(this._xsrfToken, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ action: 'empty' })
        })
      );
      this._text.textContent = response.ok
        ? 'napari started empty; the earlier session stays in the sessions folder.'
        : `Could not start empty (HTTP ${response.status}).`;
      this._empty.hidden = response.ok;
    } finally {
      this._empty.disabled = false;
    }
  }
}
