/**
 * "Open in napari" without JupyterLab: the request body from the command's
 * arguments or the file browser's selection, and the words the user sees.
 *
 * Pure functions; test/open-request.test.ts runs them under Node.
 */
import type { IOpenRequest, IOpenResponse } from './tokens';

/** Longest file name shown in a notification (they are cut at 140 characters). */
const MAX_NAME = 60;

function optionalName(
  args: Readonly<Record<string, unknown>>,
  key: 'plugin' | 'layer_type'
): string | undefined {
  const value = args[key];
  if (value === undefined || value === null || value === '') {
    return undefined;
  }
  if (typeof value !== 'string') {
    throw new Error(
      `The "${key}" argument is ${JSON.stringify(value)}; expected a name such as ` +
        (key === 'plugin' ? '"napari-tifffile"' : '"image" or "labels"') +
        '.'
    );
  }
  return value;
}

/**
 * The body of POST `napari-desktop/api/open`.
 *
 * @param args - the command's arguments: `paths` (a list of paths relative to
 *   the server root; when absent, `selection` is used), optional `plugin` and
 *   `layer_type`. Other arguments (such as `toolbar`) are ignored.
 * @param selection - the paths selected in the file browser, in order
 * @throws Error saying what to do when there is nothing to open or an
 *   argument has the wrong type
 */
export function buildOpenRequest(
  args: Readonly<Record<string, unknown>>,
  selection: readonly string[]
): IOpenRequest {
  let candidates: readonly unknown[] = selection;
  if (args.paths !== undefined) {
    if (!Array.isArray(args.paths)) {
      throw new Error(
        `The "paths" argument is ${JSON.stringify(args.paths)}; expected a list ` +
          'of paths relative to the Jupyter root, such as ["data/cells.tif"].'
      );
    }
    candidates = args.paths;
  }
  const paths: string[] = [];
  for (const path of candidates) {
    if (typeof path !== 'string') {
      throw new Error(
        `${JSON.stringify(path)} is not a path; expected text such as "data/cells.tif".`
      );
    }
    // The file browser's paths are used exactly as they are (spaces and all);
    // only empty entries and repeats are dropped.
    if (path !== '' && !paths.includes(path)) {
      paths.push(path);
    }
  }
  if (paths.length === 0) {
    throw new Error(
      'Nothing is selected. Select one or more files or folders (such as a ' +
        '.tif file or a .zarr folder) in the file browser, then choose ' +
        '"Open in napari" again.'
    );
  }
  const request: IOpenRequest = { paths };
  const plugin = optionalName(args, 'plugin');
  const layerType = optionalName(args, 'layer_type');
  if (plugin !== undefined) {
    request.plugin = plugin;
  }
  if (layerType !== undefined) {
    request.layer_type = layerType;
  }
  return request;
}

/** The last part of `path` ("data/cells.tif" -> "cells.tif", "a.zarr/" -> "a.zarr"). */
export function baseName(path: string): string {
  const parts = path.split('/').filter(part => part.length > 0);
  return parts.length > 0 ? parts[parts.length - 1] : path;
}

function shortName(path: string): string {
  const name = baseName(path);
  return name.length > MAX_NAME ? `${name.slice(0, MAX_NAME - 1)}…` : name;
}

/** "cells.tif", "a.tif and b.tif" or "3 items", for messages. */
export function describePaths(paths: readonly string[]): string {
  if (paths.length === 1) {
    return shortName(paths[0]);
  }
  if (paths.length === 2) {
    const both = `${shortName(paths[0])} and ${shortName(paths[1])}`;
    if (both.length <= MAX_NAME) {
      return both;
    }
  }
  return `${paths.length} items`;
}

/** The progress notification while the request runs. */
export function openingMessage(paths: readonly string[]): string {
  return (
    `Opening ${describePaths(paths)} in napari… ` +
    '(up to a minute if the desktop is starting)'
  );
}

/** The notification once napari has the layers. */
export function openedMessage(
  paths: readonly string[],
  response: IOpenResponse
): string {
  const what = `Opened ${describePaths(paths)} in napari`;
  const { opened, status } = response;
  if (opened.length === 1) {
    const name = opened[0];
    const short = name.length > 40 ? `${name.slice(0, 39)}…` : name;
    return `${what} as layer "${short}".`;
  }
  if (opened.length > 1) {
    return `${what} as ${opened.length} layers.`;
  }
  const layers = status?.napari.layers.length;
  return layers === undefined
    ? `${what}.`
    : `${what} (${layers} layer${layers === 1 ? '' : 's'} in the viewer).`;
}

/** The title of the error dialog. */
export function openFailedTitle(paths: readonly string[]): string {
  return `Could not open ${describePaths(paths)} in napari`;
}
