/**
 * Launcher cards and palette commands that show the browser desktop.
 *
 * Both commands show `napari-desktop/?app=<app>` where the `openIn` setting
 * says (a new browser tab by default, or a JupyterLab tab); the page there
 * starts the desktop and connects to it.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';

import { desktopLabel, parseServerInfo } from './api';
import { desktopIcon, napariIcon } from './icons';
import { requestAPI } from './request';
import {
  CommandIDs,
  DesktopApp,
  INapariDesktopViews,
  LAUNCHER_CATEGORY,
  LAUNCHER_PLUGIN_ID,
  PALETTE_CATEGORY
} from './tokens';

/** The arguments of the open commands: `reuse` brings a shown desktop forward. */
const OPEN_ARGS_SCHEMA = {
  type: 'object',
  properties: {
    reuse: {
      type: 'boolean',
      description:
        'Bring an already shown desktop to the front instead of showing it again'
    }
  }
} as const;

const plugin: JupyterFrontEndPlugin<void> = {
  id: LAUNCHER_PLUGIN_ID,
  description:
    'Adds launcher cards and commands that show napari in a browser desktop.',
  autoStart: true,
  requires: [INapariDesktopViews],
  optional: [ILauncher, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    views: INapariDesktopViews,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ): void => {
    const { commands } = app;
    let desktopCommandLabel = desktopLabel(null);
    const show = (desktopApp: DesktopApp, args: ReadonlyPartialJSONObject) =>
      views.show(desktopApp, { reuse: args.reuse === true });

    commands.addCommand(CommandIDs.openNapari, {
      label: 'napari',
      caption: 'napari in a browser desktop (jupyter-napari-desktop)',
      icon: napariIcon,
      describedBy: { args: OPEN_ARGS_SCHEMA },
      execute: args => show('napari', args)
    });
    commands.addCommand(CommandIDs.openDesktop, {
      label: () => desktopCommandLabel,
      caption:
        'A browser desktop with napari available (jupyter-napari-desktop)',
      icon: desktopIcon,
      describedBy: { args: OPEN_ARGS_SCHEMA },
      execute: args => show('desktop', args)
    });

    for (const command of [CommandIDs.openNapari, CommandIDs.openDesktop]) {
      palette?.addItem({ command, category: PALETTE_CATEGORY });
    }

    let desktopCard: IDisposable | null = null;
    const addDesktopCard = () => {
      desktopCard =
        launcher?.add({
          command: CommandIDs.openDesktop,
          category: LAUNCHER_CATEGORY,
          rank: 1
        }) ?? null;
    };
    launcher?.add({
      command: CommandIDs.openNapari,
      category: LAUNCHER_CATEGORY,
      rank: 0
    });
    addDesktopCard();

    // Never block activation on the server: ask in the background.
    void requestAPI('info')
      .then(data => {
        const label = desktopLabel(parseServerInfo(data));
        if (label === desktopCommandLabel) {
          return;
        }
        desktopCommandLabel = label;
        commands.notifyCommandChanged(CommandIDs.openDesktop);
        // Open launchers only re-render when their items change: re-add the card.
        desktopCard?.dispose();
        addDesktopCard();
      })
      .catch((reason: unknown) => {
        console.warn(
          '[napari-desktop] could not read napari-desktop/api/info; ' +
            'keeping the "Desktop" launcher label',
          reason
        );
      });
  }
};

export default plugin;
