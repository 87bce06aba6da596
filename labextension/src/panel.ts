/**
 * Where the desktop is shown: a new browser tab, or the desktop page in an
 * iframe inside a JupyterLab tab ("openIn": "lab-tab").
 *
 * There is one desktop per Jupyter server, so there is at most one
 * JupyterLab tab: opening it again activates it (and switches it to the
 * requested app). Browser tabs opened from here are remembered so that
 * "Open in napari" can bring one forward and "Stop desktop" can close them
 * (an open desktop page would otherwise start the desktop again).
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { MainAreaWidget, showErrorMessage } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import {
  launchIcon,
  refreshIcon,
  ToolbarButton
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { desktopPageUrl, viewTitle } from './api';
import { desktopIcon, napariIcon } from './icons';
import { NapariDesktopRequestError, requestPageHtml } from './request';
import { DEFAULT_SETTINGS } from './settings-values';
import {
  DesktopApp,
  INapariDesktopSettings,
  INapariDesktopViews,
  IShowOptions,
  PANEL_PLUGIN_ID
} from './tokens';

/** The URL of the desktop page for `app` on this server. */
function pageUrl(app: DesktopApp): string {
  return desktopPageUrl(PageConfig.getBaseUrl(), app);
}

/** Open the desktop page in a new browser tab; say so in a dialog if blocked. */
function openBrowserTab(app: DesktopApp): Window | null {
  const url = pageUrl(app);
  const opened = window.open(url, '_blank');
  if (opened === null) {
    void showErrorMessage(
      'Could not open a new browser tab',
      `The browser blocked the new tab for ${url}. ` +
        'Allow pop-ups for this site, or open that address yourself, or choose ' +
        '"A JupyterLab tab" for "Open the desktop in" in Settings › napari desktop.'
    );
    return null;
  }
  // The desktop page does not need to reach back into JupyterLab.
  opened.opener = null;
  return opened;
}

/** What the desktop page (desktop/desktop.ts) offers its embedder. */
interface IDesktopPageWindow {
  napariDesktop?: { upload?(files: File[]): void };
}

/** Whether a drag carries files from the computer. */
function carriesFiles(event: DragEvent): boolean {
  return Array.from(event.dataTransfer?.types ?? []).includes('Files');
}

/** The desktop page in an iframe, as its srcdoc (see requestPageHtml). */
class DesktopFrame extends Widget {
  constructor(url: string) {
    super();
    this.addClass('jp-IFrame');
    this.addClass('jp-NapariDesktop-frame');
    this._iframe = document.createElement('iframe');
    this._iframe.title = 'napari desktop';
    // The page is this server's own, same origin: no sandbox, but let it use
    // the clipboard for the desktop's clipboard panel.
    this._iframe.allow = 'clipboard-read; clipboard-write; fullscreen';
    this.node.appendChild(this._iframe);
    this._url = url;
    void this._load();
  }

  get url(): string {
    return this._url;
  }

  set url(value: string) {
    this._url = value;
    void this._load();
  }

  /**
   * Upload `files` through the page (a drop on the tab's toolbar; drops on
   * the page itself are the page's own). False when the page is not ready.
   */
  upload(files: File[]): boolean {
    const page = this._iframe.contentWindow as IDesktopPageWindow | null;
    const upload = page?.napariDesktop?.upload;
    if (!upload) {
      return false;
    }
    upload(files);
    return true;
  }

  /** Load the page again: it reconnects to the (still running) desktop. */
  reload(): void {
    void this._load();
  }

  /** Fetch the page for the current URL and show it; the latest call wins. */
  private async _load(): Promise<void> {
    const url = this._url;
    const load = ++this._loads;
    let html: string;
    try {
      html = await requestPageHtml(url);
    } catch (error) {
      if (load === this._loads && !this.isDisposed) {
        const details =
          error instanceof NapariDesktopRequestError
            ? `${error.details.message} ${error.details.fix}`
            : String(error);
        void showErrorMessage('The desktop page could not be loaded', details);
      }
      return;
    }
    if (load === this._loads && !this.isDisposed) {
      this._iframe.srcdoc = html;
    }
  }

  protected onActivateRequest(msg: Message): void {
    // Keys typed next belong to the desktop.
    this._iframe.focus();
  }

  private _iframe: HTMLIFrameElement;
  private _url: string;
  private _loads = 0;
}

/** The JupyterLab tab with the desktop page. */
export class DesktopPanel extends MainAreaWidget<DesktopFrame> {
  constructor(app: DesktopApp) {
    super({ content: new DesktopFrame(pageUrl(app)) });
    this.id = 'jp-NapariDesktop-panel';
    this.addClass('jp-NapariDesktop-panel');
    this.title.closable = true;
    this.title.caption = 'The napari desktop (jupyter-napari-desktop)';
    this._app = app;
    this._setTitle();
    // Files dropped on the tab (outside the page) are uploaded by the page.
    this.node.addEventListener('dragover', event => {
      if (carriesFiles(event)) {
        event.preventDefault();
      }
    });
    this.node.addEventListener('drop', event => {
      if (!carriesFiles(event)) {
        return;
      }
      event.preventDefault();
      event.stopPropagation();
      const files = Array.from(event.dataTransfer?.files ?? []);
      if (!this.content.upload(files)) {
        void showErrorMessage(
          'The desktop page is still loading',
          'Drop the files again once the napari tab shows the desktop.'
        );
      }
    });
    this.toolbar.addItem(
      'reload',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip:
          'Reconnect to the desktop (it keeps running, with its windows and layers)',
        onClick: () => this.content.reload()
      })
    );
    this.toolbar.addItem(
      'browser-tab',
      new ToolbarButton({
        icon: launchIcon,
        tooltip: 'Move the desktop to a new browser tab',
        onClick: () => {
          if (openBrowserTab(this._app) !== null) {
            this.dispose();
          }
        }
      })
    );
  }

  /** What the page started: napari, or the plain desktop. */
  get app(): DesktopApp {
    return this._app;
  }

  /** Show the page for `app` (the desktop stays; napari starts for "napari"). */
  setApp(app: DesktopApp): void {
    if (app === this._app) {
      return;
    }
    this._app = app;
    this._setTitle();
    this.content.url = pageUrl(app);
  }

  /**
   * Hidden by scale(0), never by display:none: a hidden iframe of size 0
   * would make the page ask the desktop to resize its screen to nothing.
   * The dock panel sets this on every widget it holds, so keep it here.
   */
  get hiddenMode(): Widget.HiddenMode {
    return super.hiddenMode;
  }

  set hiddenMode(value: Widget.HiddenMode) {
    super.hiddenMode = Widget.HiddenMode.Scale;
  }

  private _setTitle(): void {
    this.title.label = viewTitle(this._app);
    this.title.icon = this._app === 'napari' ? napariIcon : desktopIcon;
  }

  private _app: DesktopApp;
}

class DesktopViews implements INapariDesktopViews {
  constructor(
    private _shell: JupyterFrontEnd.IShell,
    private _settings: INapariDesktopSettings | null
  ) {}

  show(app: DesktopApp, options: IShowOptions = {}): void {
    const openIn = this._settings?.openIn ?? DEFAULT_SETTINGS.openIn;
    const tab = this._liveTabs().pop();
    const panel = this._panel;
    if (options.reuse) {
      // Whatever view is already there, the configured kind first.
      if (openIn === 'lab-tab' && panel !== null) {
        this._shell.activateById(panel.id);
        return;
      }
      if (tab !== undefined) {
        tab.focus();
        return;
      }
      if (panel !== null) {
        this._shell.activateById(panel.id);
        return;
      }
    }
    if (openIn === 'browser-tab') {
      const opened = openBrowserTab(app);
      if (opened !== null) {
        this._tabs.push(opened);
      }
      return;
    }
    if (panel !== null) {
      panel.setApp(app);
      this._shell.activateById(panel.id);
      return;
    }
    const created = new DesktopPanel(app);
    created.disposed.connect(() => {
      if (this._panel === created) {
        this._panel = null;
      }
    });
    this._panel = created;
    this._shell.add(created, 'main', { type: 'napari desktop' });
    this._shell.activateById(created.id);
  }

  closeAll(): void {
    this._panel?.dispose();
    for (const tab of this._liveTabs()) {
      tab.close();
    }
    this._tabs = [];
  }

  private _liveTabs(): Window[] {
    this._tabs = this._tabs.filter(tab => !tab.closed);
    return this._tabs.slice();
  }

  private _panel: DesktopPanel | null = null;
  private _tabs: Window[] = [];
}

const plugin: JupyterFrontEndPlugin<INapariDesktopViews> = {
  id: PANEL_PLUGIN_ID,
  description:
    'Shows the napari desktop in a new browser tab or in a JupyterLab tab.',
  autoStart: true,
  provides: INapariDesktopViews,
  optional: [INapariDesktopSettings],
  activate: (
    app: JupyterFrontEnd,
    settings: INapariDesktopSettings | null
  ): INapariDesktopViews => new DesktopViews(app.shell, settings)
};

export default plugin;
