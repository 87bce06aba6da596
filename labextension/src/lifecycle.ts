/**
 * "Restart desktop" and "Stop desktop" in the command palette, each after
 * a confirmation.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { refreshIcon, stopIcon } from '@jupyterlab/ui-components';

import { parseDesktopStatus } from './api';
import { confirmAction, showRequestError } from './dialogs';
import { requestAPI } from './request';
import {
  CommandIDs,
  IDesktopStatus,
  INapariDesktopViews,
  LIFECYCLE_PLUGIN_ID,
  PALETTE_CATEGORY
} from './tokens';

export const RESTART_QUESTION =
  'Restart the napari desktop? Open windows are closed; files in your home ' +
  "directory are kept and files opened through 'Open in napari' are reopened.";

export const STOP_QUESTION =
  'Stop the napari desktop? Open windows are closed; napari’s layers are kept ' +
  'in its session and come back when napari starts again (unless the server ' +
  'turned restoring off), and files in your home directory are kept. Desktop ' +
  'tabs opened from here are closed. The napari and Desktop launcher cards ' +
  'start it again.';

async function post(endPoint: 'restart' | 'stop'): Promise<IDesktopStatus> {
  return parseDesktopStatus(await requestAPI(endPoint, { method: 'POST' }));
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: LIFECYCLE_PLUGIN_ID,
  description: 'Adds the Restart desktop and Stop desktop commands.',
  autoStart: true,
  requires: [INapariDesktopViews],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    views: INapariDesktopViews,
    palette: ICommandPalette | null
  ): void => {
    const { commands } = app;

    commands.addCommand(CommandIDs.restart, {
      label: 'Restart desktop',
      caption:
        'Stop the napari desktop and start it again (files opened in napari are reopened)',
      icon: refreshIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        if (
          !(await confirmAction('Restart desktop', RESTART_QUESTION, 'Restart'))
        ) {
          return;
        }
        const done = post('restart');
        Notification.promise(
          done.then(() => null),
          {
            pending: {
              message: 'Restarting the napari desktop…',
              options: { autoClose: false }
            },
            success: {
              message: () => 'The napari desktop was restarted.',
              options: { autoClose: 5000 }
            },
            error: {
              message: () => 'The napari desktop did not restart.',
              options: { autoClose: 5000 }
            }
          }
        );
        try {
          await done;
        } catch (error) {
          void showRequestError('Could not restart the napari desktop', error);
        }
      }
    });

    commands.addCommand(CommandIDs.stop, {
      label: 'Stop desktop',
      caption: 'Stop the napari desktop and everything running in it',
      icon: stopIcon,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        if (!(await confirmAction('Stop desktop', STOP_QUESTION, 'Stop'))) {
          return;
        }
        // An open desktop page reconnects, and so would start it again.
        views.closeAll();
        try {
          await post('stop');
          Notification.success('The napari desktop was stopped.', {
            autoClose: 5000
          });
        } catch (error) {
          void showRequestError('Could not stop the napari desktop', error);
        }
      }
    });

    for (const command of [CommandIDs.restart, CommandIDs.stop]) {
      palette?.addItem({ command, category: PALETTE_CATEGORY });
    }
  }
};

export default plugin;
