/**
 * Launcher cards and palette commands that open the browser desktop.
 *
 * Both commands open `napari-desktop/?app=<app>` in a new browser tab; the
 * page there starts the desktop and connects to it.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, showErrorMessage } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ILauncher } from '@jupyterlab/launcher';
import { IDisposable } from '@lumino/disposable';

import { desktopLabel, parseServerInfo } from './api';
import { desktopIcon, napariIcon } from './icons';
import { requestAPI } from './request';
import {
  CommandIDs,
  DesktopApp,
  LAUNCHER_CATEGORY,
  LAUNCHER_PLUGIN_ID,
  PALETTE_CATEGORY,
  URL_NAMESPACE
} from './tokens';

/** The URL of the desktop page for `app`. */
function desktopPageUrl(app: DesktopApp): string {
  return (
    URLExt.join(PageConfig.getBaseUrl(), `${URL_NAMESPACE}/`) + `?app=${app}`
  );
}

/** Open the desktop page in a new browser tab; say so in a dialog if blocked. */
function openDesktopPage(app: DesktopApp): void {
  const url = desktopPageUrl(app);
  const opened = window.open(url, '_blank');
  if (opened === null) {
    void showErrorMessage(
      'Could not open a new browser tab',
      `The browser blocked the new tab for ${url}. ` +
        'Allow pop-ups for this site, or open that address yourself.'
    );
    return;
  }
  // The desktop page does not need to reach back into JupyterLab.
  opened.opener = null;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: LAUNCHER_PLUGIN_ID,
  description:
    'Adds launcher cards and commands that open napari in a browser desktop.',
  autoStart: true,
  optional: [ILauncher, ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    launcher: ILauncher | null,
    palette: ICommandPalette | null
  ): void => {
    const { commands } = app;
    let desktopCommandLabel = desktopLabel(null);

    commands.addCommand(CommandIDs.openNapari, {
      label: 'napari',
      caption: 'napari in a browser desktop (jupyter-napari-desktop)',
      icon: napariIcon,
      execute: () => openDesktopPage('napari')
    });
    commands.addCommand(CommandIDs.openDesktop, {
      label: () => desktopCommandLabel,
      caption:
        'A browser desktop with napari available (jupyter-napari-desktop)',
      icon: desktopIcon,
      execute: () => openDesktopPage('desktop')
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
