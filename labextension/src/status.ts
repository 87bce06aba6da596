/**
 * The status bar item: "napari desktop: running, napari: 2 layers" or
 * "napari desktop: stopped", from GET `napari-desktop/api/status`.
 *
 * Polled every 10 s while the page is visible (backing off while the server
 * does not answer) and after each napari desktop command. Clicking it shows
 * the desktop.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { IStatusBar } from '@jupyterlab/statusbar';
import { Poll } from '@lumino/polling';
import { Widget } from '@lumino/widgets';

import { errorDetails, parseDesktopStatus } from './api';
import { napariIcon } from './icons';
import { requestAPI } from './request';
import {
  BusyAction,
  clickTarget,
  statusText,
  statusTooltip
} from './status-text';
import {
  CommandIDs,
  IApiError,
  IDesktopStatus,
  STATUS_PLUGIN_ID
} from './tokens';

/** How often the status is read while the page is visible. */
const POLL_INTERVAL_MS = 10_000;

/** The longest wait between reads while the server does not answer. */
const POLL_MAX_MS = 120_000;

/** After showing the desktop, read the status again when it has likely started. */
const AFTER_SHOW_MS = [2_000, 6_000];

/** The commands after which the status is read again. */
const COMMANDS: ReadonlySet<string> = new Set([
  CommandIDs.openNapari,
  CommandIDs.openDesktop,
  CommandIDs.openInNapari,
  CommandIDs.restart,
  CommandIDs.stop
]);

class StatusItem extends Widget {
  constructor(onClick: (status: IDesktopStatus | null) => void) {
    super();
    this.addClass('jp-NapariDesktop-statusItem');
    this.addClass('jp-mod-highlighted');
    this.node.setAttribute('role', 'button');
    this.node.tabIndex = 0;
    const icon = document.createElement('span');
    icon.className = 'jp-NapariDesktop-statusIcon';
    napariIcon.element({ container: icon, height: '14px', width: '14px' });
    this._text = document.createElement('span');
    this._text.className = 'jp-NapariDesktop-statusText';
    this.node.append(icon, this._text);
    this.node.addEventListener('click', () => onClick(this.status));
    this.node.addEventListener('keydown', event => {
      if (event.key === 'Enter' || event.key === ' ') {
        event.preventDefault();
        onClick(this.status);
      }
    });
    this._render();
  }

  status: IDesktopStatus | null = null;

  set(status: IDesktopStatus | null, error: IApiError | null): void {
    this.status = status;
    this._error = error;
    this._render();
  }

  setBusy(busy: BusyAction | null): void {
    this._busy = busy;
    this._render();
  }

  private _render(): void {
    const text = statusText(this.status, this._error, this._busy);
    this._text.textContent = text;
    this.node.title = statusTooltip(this.status, this._error);
    this.node.dataset.state =
      this._busy ??
      (this._error !== null
        ? 'unknown'
        : this.status === null
          ? 'loading'
          : this.status.running
            ? 'running'
            : 'stopped');
  }

  private _text: HTMLSpanElement;
  private _error: IApiError | null = null;
  private _busy: BusyAction | null = null;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: STATUS_PLUGIN_ID,
  description: 'Shows in the status bar whether the napari desktop runs.',
  autoStart: true,
  optional: [IStatusBar],
  activate: (app: JupyterFrontEnd, statusBar: IStatusBar | null): void => {
    if (statusBar === null) {
      return;
    }
    const { commands } = app;
    const item = new StatusItem(status => {
      const command =
        clickTarget(status) === 'napari'
          ? CommandIDs.openNapari
          : CommandIDs.openDesktop;
      void commands.execute(command, { reuse: true });
    });

    const poll = new Poll({
      name: `${STATUS_PLUGIN_ID}:poll`,
      factory: async () => {
        try {
          item.set(parseDesktopStatus(await requestAPI('status')), null);
        } catch (error) {
          item.set(item.status, errorDetails(error));
          throw error; // let the poll back off
        }
      },
      frequency: {
        interval: POLL_INTERVAL_MS,
        backoff: true,
        max: POLL_MAX_MS
      },
      standby: 'when-hidden',
      auto: false
    });

    let opening = 0;
    commands.commandExecuted.connect((_, executed) => {
      if (!COMMANDS.has(executed.id)) {
        return;
      }
      const isOpen = executed.id === CommandIDs.openInNapari;
      if (
        executed.id === CommandIDs.openNapari ||
        executed.id === CommandIDs.openDesktop
      ) {
        // The desktop page starts the desktop: look again once it may run.
        for (const delay of AFTER_SHOW_MS) {
          window.setTimeout(() => void poll.refresh(), delay);
        }
      }
      if (isOpen) {
        opening += 1;
        item.setBusy('opening');
      }
      void poll.refresh();
      const settle = () => {
        if (isOpen) {
          opening -= 1;
          if (opening === 0) {
            item.setBusy(null);
          }
        }
        void poll.refresh();
      };
      Promise.resolve(executed.result).then(settle, settle);
    });

    statusBar.registerStatusItem(STATUS_PLUGIN_ID, {
      item,
      align: 'left',
      rank: 50
    });
    // Never block activation: the first read happens in the background.
    void poll.start();
  }
};

export default plugin;
