/**
 * Ids, names, service tokens and the shapes of the server's JSON API.
 *
 * No side effects: the only value import is Lumino's Token class. The desktop
 * page (desktop/desktop.ts) and the pure helper modules import types only
 * from here, so neither Lumino nor JupyterLab ends up in the page's bundle.
 */
import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

/** The npm package name; plugin ids are `<npm-name>:<feature>`. */
export const PACKAGE_NAME = 'jupyter-napari-desktop';

/** The plugin that adds the launcher cards and the open-napari/open-desktop commands. */
export const LAUNCHER_PLUGIN_ID = `${PACKAGE_NAME}:launcher`;

/** The plugin that reads the user's settings (schema/settings.json). */
export const SETTINGS_PLUGIN_ID = `${PACKAGE_NAME}:settings`;

/** The plugin that shows the desktop: a browser tab or a JupyterLab tab. */
export const PANEL_PLUGIN_ID = `${PACKAGE_NAME}:panel`;

/** The plugin behind "Open in napari" (command, file browser menu and button). */
export const OPEN_PLUGIN_ID = `${PACKAGE_NAME}:open`;

/** The plugin with the restart and stop commands. */
export const LIFECYCLE_PLUGIN_ID = `${PACKAGE_NAME}:lifecycle`;

/** The plugin that shows the desktop's state in the status bar. */
export const STATUS_PLUGIN_ID = `${PACKAGE_NAME}:status`;

/** Command ids, `napari-desktop:<verb>`. */
export const CommandIDs = {
  /** Show the desktop with napari started in it (where: the `openIn` setting). */
  openNapari: 'napari-desktop:open-napari',
  /** Show the plain desktop, napari available (where: the `openIn` setting). */
  openDesktop: 'napari-desktop:open-desktop',
  /** Open files or folders as layers in the desktop's napari. */
  openInNapari: 'napari-desktop:open-in-napari',
  /** Stop and start the desktop again, after a confirmation. */
  restart: 'napari-desktop:restart',
  /** Stop the desktop, after a confirmation. */
  stop: 'napari-desktop:stop'
} as const;

/** The server's URL namespace, relative to the Jupyter base URL. */
export const URL_NAMESPACE = 'napari-desktop';

/** The server's JSON API, relative to the Jupyter base URL. */
export const API_NAMESPACE = `${URL_NAMESPACE}/api`;

/** Launcher category of the cards. */
export const LAUNCHER_CATEGORY = 'Other';

/** Command palette category of the commands. */
export const PALETTE_CATEGORY = 'napari';

/** What the desktop page starts: napari in the desktop, or the desktop alone. */
export type DesktopApp = 'napari' | 'desktop';

/** Where the desktop is shown: a new browser tab, or a tab inside JupyterLab. */
export type OpenIn = 'browser-tab' | 'lab-tab';

/** GET `napari-desktop/api/info`. */
export interface IServerInfo {
  /** Version of the Python package. */
  version: string;
  /**
   * Other browser-desktop tools installed next to this one, such as
   * "jupyter-remote-desktop-proxy". Empty when there are none.
   */
  coexisting: string[];
}

/** The napari part of a successful POST `napari-desktop/api/start`. */
export interface INapariStatus {
  /** Whether napari can be imported by the Python the desktop starts it with. */
  available: boolean;
  /** Whether napari is running in the desktop. */
  running: boolean;
  /** What to tell the user (for example how to install napari), or null. */
  message: string | null;
}

/** Successful (HTTP 200) POST `napari-desktop/api/start`. */
export interface IStartResponse {
  running: boolean;
  /** The X display of the desktop, for example ":1". */
  display: string;
  /** Desktops this server has started: a new number means a fresh desktop. */
  generation: number;
  /**
   * Why the previous desktop ended or was replaced, for example "Xvnc exited (-9)", or null
   * for the server's first desktop. Shown when the page reconnects to a fresh desktop.
   */
  reason: string | null;
  napari: INapariStatus;
}

/** One layer of the running napari viewer. */
export interface INapariLayer {
  name: string;
  /** napari's layer kind: "image", "labels", "points", ... */
  type: string;
  shape: number[];
}

/** The viewer's dimensions. */
export interface INapariDims {
  ndim: number;
  currentStep: number[];
}

/** The napari part of the desktop status. */
export interface INapariState extends INapariStatus {
  /** napari's version, null when napari is not running. */
  version: string | null;
  layers: INapariLayer[];
  dims: INapariDims | null;
}

/**
 * GET `napari-desktop/api/status`; also the answer of POST open, restart
 * and stop.
 */
export interface IDesktopStatus {
  running: boolean;
  /** The X display, for example ":1"; null when stopped. */
  display: string | null;
  /** "xfce" or "minimal"; null when stopped. */
  session: string | null;
  uptimeS: number | null;
  memoryMb: number | null;
  napari: INapariState;
}

/** The JSON body of POST `napari-desktop/api/open`. */
export interface IOpenRequest {
  /** Paths relative to the Jupyter server's root, as the file browser has them. */
  paths: string[];
  /** The napari reader plugin to use, for example "napari-tifffile". */
  plugin?: string;
  /** The layer kind to open as, for example "labels". */
  layer_type?: string;
}

/** Successful (HTTP 200) POST `napari-desktop/api/open`. */
export interface IOpenResponse {
  /** The names of the new layers. */
  opened: string[];
  /** The desktop status after opening, null if the server sent none. */
  status: IDesktopStatus | null;
}

/** The `error` object of any failed (non-200) API answer. */
export interface IApiError {
  /** What failed, with the value. */
  message: string;
  /** How to fix it. */
  fix: string;
  /** The heading the desktop page shows over it (default: the desktop could not start). */
  title?: string;
}

/** The user's settings (schema/settings.json). */
export interface ISettingsValues {
  /** Where the desktop is shown. */
  openIn: OpenIn;
  /** Whether the file browser's context menu has "Open in napari". */
  contextMenu: boolean;
}

/** The current settings, defaults until the settings registry answers. */
export interface INapariDesktopSettings extends Readonly<ISettingsValues> {
  /** Emitted when the user changes a setting (and when they are first read). */
  readonly changed: ISignal<INapariDesktopSettings, void>;
}

/** The settings service, provided by SETTINGS_PLUGIN_ID. */
export const INapariDesktopSettings = new Token<INapariDesktopSettings>(
  `${PACKAGE_NAME}:INapariDesktopSettings`,
  'The napari desktop settings: where the desktop opens, context menu item.'
);

/** How to show the desktop. */
export interface IShowOptions {
  /**
   * Bring an already shown desktop to the front as it is (for "Open in
   * napari" and the status bar) instead of showing it for `app`.
   */
  reuse?: boolean;
}

/** The places the desktop is shown in: browser tabs opened from here, or a JupyterLab tab. */
export interface INapariDesktopViews {
  /**
   * Show the desktop page for `app` where the `openIn` setting says.
   *
   * Call it from a user action (a click, a command): browsers only allow
   * new tabs then.
   */
  show(app: DesktopApp, options?: IShowOptions): void;
  /** Close every desktop view opened from this JupyterLab (before a stop). */
  closeAll(): void;
}

/** The desktop views service, provided by PANEL_PLUGIN_ID. */
export const INapariDesktopViews = new Token<INapariDesktopViews>(
  `${PACKAGE_NAME}:INapariDesktopViews`,
  'Shows the napari desktop in a browser tab or a JupyterLab tab.'
);
