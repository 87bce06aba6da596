/**
 * The desktop page's connection state machine: start the desktop through the
 * API, open the VNC connection, reconnect with backoff when it drops, and stay
 * stopped when the user stopped the desktop on purpose (the server answers a
 * reconnect with 409: an explained error, shown with "Try again").
 *
 * No DOM and no noVNC here: the page passes in how to start, how to open the
 * VNC connection and the timers, so test/connection.test.ts drives it in Node.
 */
import type { IApiError, IStartResponse } from '../src/tokens';
import { backoffDelay } from './retry';

/** The states shown in #jp-NapariDesktop-status[data-state]. */
export type ConnectionState =
  'connecting' | 'connected' | 'reconnecting' | 'error';

/** What POST start came back with. */
export type StartResult =
  | { ok: true; response: IStartResponse }
  | { ok: false; transient: boolean; error: IApiError };

/** The events of noVNC's RFB the state machine listens to. */
export interface IVncEvents {
  connect: CustomEvent<Record<string, never>>;
  disconnect: CustomEvent<{ clean: boolean }>;
  credentialsrequired: CustomEvent<{ types: string[] }>;
  securityfailure: CustomEvent<{ status: number; reason?: string }>;
}

/** The part of a VNC connection (noVNC's RFB) the state machine uses. */
export interface IVncConnection {
  addEventListener<K extends keyof IVncEvents>(
    type: K,
    listener: (event: IVncEvents[K]) => void
  ): void;
  disconnect(): void;
}

/** Timers (window's in the page, fakes in tests). */
export interface ITimers {
  setTimeout(callback: () => void, ms: number): number;
  clearTimeout(id: number): void;
}

/** What the page does for the state machine. */
export interface IConnectionHost<T extends IVncConnection> {
  /** POST start; `reconnect` is true after a lost connection. */
  start(reconnect: boolean): Promise<StartResult>;
  /** Open a VNC connection; throws "<url>: <why>" when it cannot even be created. */
  open(): T;
  /** Show a state and its text. */
  showState(state: ConnectionState, text: string): void;
  /** Show an error the user must act on (with "Try again"). */
  showError(error: IApiError): void;
  /** The desktop answered start (for example: napari is not installed). */
  started(response: IStartResponse): void;
  /** The VNC connection is up. */
  connected(vnc: T): void;
  timers: ITimers;
}

/** After this many failed attempts the status also points to the server log. */
const HINT_AFTER = 10;

export class DesktopConnection<T extends IVncConnection> {
  private readonly _host: IConnectionHost<T>;
  private _vnc: T | null = null;
  private _state: ConnectionState = 'connecting';
  /** Bumped whenever a connection is abandoned; stale events are ignored. */
  private _generation = 0;
  /** Failed attempts since the last successful connection. */
  private _attempt = 0;
  private _retryTimer: number | null = null;
  private _unloading = false;
  /** The server's desktop last connected to (its generation), and why a new one replaced it. */
  private _desktop: number | null = null;
  private _replaced: string | null = null;

  constructor(host: IConnectionHost<T>) {
    this._host = host;
  }

  /** The open VNC connection, if any. */
  get vnc(): T | null {
    return this._vnc;
  }

  get state(): ConnectionState {
    return this._state;
  }

  /** Start the desktop and connect. */
  start(): void {
    this._attempt = 0;
    void this._connect('connecting');
  }

  /** Drop the current connection or pending retry and start over now. */
  restart(): void {
    this._abandon();
    this.start();
  }

  /** The network is back: retry now instead of waiting for the backoff. */
  online(): void {
    if (this._retryTimer !== null) {
      this._cancelRetry();
      void this._connect('reconnecting');
    }
  }

  /** The page is closing: a connection that drops now is not lost. */
  unload(): void {
    this._unloading = true;
  }

  private _setState(state: ConnectionState, text: string): void {
    this._state = state;
    this._host.showState(state, text);
  }

  private _fail(error: IApiError): void {
    this._abandon();
    this._setState('error', 'Error');
    this._host.showError(error);
  }

  private async _connect(state: 'connecting' | 'reconnecting'): Promise<void> {
    const generation = ++this._generation;
    const waiting = `Reconnecting (attempt ${this._attempt})…`;
    this._setState(
      state,
      state === 'connecting' ? 'Starting the desktop…' : waiting
    );
    const result = await this._host.start(state === 'reconnecting');
    if (generation !== this._generation) {
      return; // Superseded by a restart while waiting.
    }
    if (!result.ok) {
      if (result.transient) {
        this._scheduleRetry(result.error.message);
      } else {
        this._fail(result.error);
      }
      return;
    }
    this._host.started(result.response);
    const { generation: desktop, reason } = result.response;
    this._replaced =
      this._desktop !== null && desktop !== this._desktop
        ? (reason ?? 'the previous desktop ended')
        : null;
    this._desktop = desktop;
    this._setState(state, state === 'connecting' ? 'Connecting…' : waiting);
    this._open(generation);
  }

  private _open(generation: number): void {
    this._disconnect();
    let vnc: T;
    try {
      vnc = this._host.open();
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this._fail({
        message: `Could not open the desktop connection ${detail}`,
        fix: 'Reload the page. If this keeps happening, try another browser.'
      });
      return;
    }
    const current = () => generation === this._generation;
    vnc.addEventListener('connect', () => {
      if (current()) {
        this._attempt = 0;
        this._setState(
          'connected',
          this._replaced
            ? `Connected to a new desktop (${this._replaced})`
            : 'Connected'
        );
        this._host.connected(vnc);
      }
    });
    vnc.addEventListener('disconnect', event => {
      if (!current()) {
        return;
      }
      this._vnc = null;
      if (!this._unloading) {
        this._scheduleRetry(
          event.detail.clean
            ? 'The desktop connection closed.'
            : 'The desktop connection was lost.'
        );
      }
    });
    vnc.addEventListener('credentialsrequired', () => {
      if (current()) {
        this._fail({
          message: 'The VNC server asked for a password.',
          fix: 'jupyter-napari-desktop runs the VNC server without a password behind Jupyter’s own login. Check the VNC server settings (c.NapariDesktop) in the Jupyter server configuration.'
        });
      }
    });
    vnc.addEventListener('securityfailure', event => {
      if (current()) {
        const reason = event.detail.reason ? `: ${event.detail.reason}` : '';
        this._fail({
          message: `The VNC server refused the connection${reason} (status ${event.detail.status}).`,
          fix: 'See the Jupyter server log (lines starting with [napari-desktop]).'
        });
      }
    });
    this._vnc = vnc;
  }

  /** Abandon the current connection and any pending retry, without reconnecting. */
  private _abandon(): void {
    // First make the connection's own events stale: disconnect() may
    // dispatch "disconnect" before it returns.
    this._generation++;
    this._cancelRetry();
    this._disconnect();
  }

  private _disconnect(): void {
    const vnc = this._vnc;
    this._vnc = null;
    if (vnc) {
      try {
        vnc.disconnect();
      } catch (error) {
        console.warn('[napari-desktop] disconnect failed', error);
      }
    }
  }

  private _cancelRetry(): void {
    if (this._retryTimer !== null) {
      this._host.timers.clearTimeout(this._retryTimer);
      this._retryTimer = null;
    }
  }

  private _scheduleRetry(reason: string): void {
    this._cancelRetry();
    const delay = backoffDelay(this._attempt);
    this._attempt += 1;
    const seconds = (delay / 1000).toLocaleString(undefined, {
      maximumFractionDigits: 1
    });
    const hint =
      this._attempt > HINT_AFTER
        ? ' If this goes on, see the Jupyter server log.'
        : '';
    this._setState(
      'reconnecting',
      `${reason} Reconnecting in ${seconds} s (attempt ${this._attempt}).${hint}`
    );
    this._retryTimer = this._host.timers.setTimeout(() => {
      this._retryTimer = null;
      void this._connect('reconnecting');
    }, delay);
  }
}
