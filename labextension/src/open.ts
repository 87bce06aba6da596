/**
 * "Open in napari": files and folders selected in the file browser (or the
 * `paths` argument) become layers in the desktop's running napari.
 *
 * The command shows the desktop first (while the click still counts as a
 * user action, so the browser allows a new tab), then asks the server to
 * open the paths, with a progress notification: a cold start of the desktop
 * and napari takes up to a minute or so.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import {
  FileBrowser,
  IDefaultFileBrowser,
  IFileBrowserFactory
} from '@jupyterlab/filebrowser';
import { IDisposable } from '@lumino/disposable';

import { parseOpenResponse } from './api';
import { showRequestError } from './dialogs';
import { napariIcon } from './icons';
import {
  buildOpenRequest,
  openedMessage,
  openFailedTitle,
  openingMessage
} from './open-request';
import { requestAPI } from './request';
import { DEFAULT_SETTINGS } from './settings-values';
import {
  CommandIDs,
  INapariDesktopSettings,
  INapariDesktopViews,
  IOpenRequest,
  IOpenResponse,
  OPEN_PLUGIN_ID,
  PALETTE_CATEGORY
} from './tokens';

/** Where the item goes in the file browser's context menu: after "Open With". */
const CONTEXT_MENU_RANK = 1.4;

/** Files and folders, as the file browser marks its items. */
const CONTEXT_MENU_SELECTOR = '.jp-DirListing-item[data-isdir]';

const ARGS_SCHEMA = {
  type: 'object',
  properties: {
    paths: {
      type: 'array',
      items: { type: 'string' },
      description:
        "Paths relative to the Jupyter server's root; default: the file browser's selection"
    },
    plugin: {
      type: 'string',
      description: 'The napari reader plugin, for example "napari-tifffile"'
    },
    layer_type: {
      type: 'string',
      description: 'Open as this layer kind, for example "labels"'
    }
  }
} as const;

const plugin: JupyterFrontEndPlugin<void> = {
  id: OPEN_PLUGIN_ID,
  description:
    'Adds "Open in napari" to the file browser (context menu, toolbar) and the command palette.',
  autoStart: true,
  requires: [INapariDesktopViews],
  optional: [
    IFileBrowserFactory,
    IDefaultFileBrowser,
    INapariDesktopSettings,
    ICommandPalette
  ],
  activate: (
    app: JupyterFrontEnd,
    views: INapariDesktopViews,
    factory: IFileBrowserFactory | null,
    defaultBrowser: FileBrowser | null,
    settings: INapariDesktopSettings | null,
    palette: ICommandPalette | null
  ): void => {
    const { commands } = app;
    const id = CommandIDs.openInNapari;

    /** The paths selected in the file browser used last. */
    const selection = (): string[] => {
      const browser = factory?.tracker.currentWidget ?? defaultBrowser;
      return browser
        ? Array.from(browser.selectedItems(), item => item.path)
        : [];
    };

    const open = async (request: IOpenRequest): Promise<IOpenResponse> =>
      parseOpenResponse(
        await requestAPI('open', { method: 'POST', body: request })
      );

    commands.addCommand(id, {
      label: 'Open in napari',
      caption:
        'Open the selected files and folders as layers in napari, in the browser desktop',
      icon: napariIcon,
      describedBy: { args: ARGS_SCHEMA },
      isEnabled: args => {
        try {
          buildOpenRequest(args, selection());
          return true;
        } catch {
          return false;
        }
      },
      execute: async args => {
        let request: IOpenRequest;
        try {
          request = buildOpenRequest(args, selection());
        } catch (error) {
          await showRequestError('Nothing to open in napari', error);
          return;
        }
        views.show('napari', { reuse: true });
        const done = open(request);
        // The notification wants JSON: hand it the finished message.
        const message = done.then(response =>
          openedMessage(request.paths, response)
        );
        Notification.promise(message, {
          pending: {
            message: openingMessage(request.paths),
            options: { autoClose: false }
          },
          success: {
            message: result => String(result),
            options: { autoClose: 5000 }
          },
          error: {
            message: () => `${openFailedTitle(request.paths)}.`,
            options: { autoClose: 5000 }
          }
        });
        try {
          await done;
        } catch (error) {
          // The command ends with the request; the dialog stays until closed.
          void showRequestError(openFailedTitle(request.paths), error);
        }
      }
    });
    palette?.addItem({ command: id, category: PALETTE_CATEGORY });

    // The toolbar button and the palette follow the selection.
    const watched = new Set<FileBrowser>();
    const watch = (browser: FileBrowser) => {
      if (watched.has(browser)) {
        return;
      }
      watched.add(browser);
      browser.selectionChanged.connect(() => commands.notifyCommandChanged(id));
      browser.disposed.connect(() => watched.delete(browser));
    };
    if (defaultBrowser !== null) {
      watch(defaultBrowser);
    }
    factory?.tracker.forEach(watch);
    factory?.tracker.widgetAdded.connect((_, browser) => watch(browser));
    factory?.tracker.currentChanged.connect(() =>
      commands.notifyCommandChanged(id)
    );

    // The context menu item, unless the user turned it off.
    let menuItem: IDisposable | null = null;
    const syncMenu = () => {
      const wanted = settings?.contextMenu ?? DEFAULT_SETTINGS.contextMenu;
      if (wanted && menuItem === null) {
        menuItem = app.contextMenu.addItem({
          command: id,
          selector: CONTEXT_MENU_SELECTOR,
          rank: CONTEXT_MENU_RANK
        });
      } else if (!wanted && menuItem !== null) {
        menuItem.dispose();
        menuItem = null;
      }
    };
    syncMenu();
    settings?.changed.connect(syncMenu);
  }
};

export default plugin;
