/**
 * Ids, names and the shapes of the server's JSON API.
 *
 * This module has no side effects and imports nothing, so both the JupyterLab
 * plugin and the desktop page (desktop/desktop.ts) can use it.
 */

/** The npm package name; plugin ids are `<npm-name>:<feature>`. */
export const PACKAGE_NAME = 'jupyter-napari-desktop';

/** The plugin that adds the launcher cards and palette commands. */
export const LAUNCHER_PLUGIN_ID = `${PACKAGE_NAME}:launcher`;

/** Command ids, `napari-desktop:<verb>`. */
export const CommandIDs = {
  /** Open the browser desktop with napari started in it, in a new browser tab. */
  openNapari: 'napari-desktop:open-napari',
  /** Open the plain browser desktop (napari available), in a new browser tab. */
  openDesktop: 'napari-desktop:open-desktop'
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
  napari: INapariStatus;
}

/** The `error` object of any failed (non-200) API answer. */
export interface IApiError {
  /** What failed, with the value. */
  message: string;
  /** How to fix it. */
  fix: string;
}
