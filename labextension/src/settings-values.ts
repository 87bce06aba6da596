/**
 * The user's settings as plain values: defaults and a lenient reader.
 *
 * Pure functions; test/settings-values.test.ts runs them under Node.
 */
import type { ISettingsValues, OpenIn } from './tokens';

/** The defaults, the same as in schema/settings.json. */
export const DEFAULT_SETTINGS: Readonly<ISettingsValues> = {
  openIn: 'browser-tab',
  contextMenu: true
};

/** Whether `value` is one of the places the desktop can open in. */
export function isOpenIn(value: unknown): value is OpenIn {
  return value === 'browser-tab' || value === 'lab-tab';
}

/**
 * The settings from the registry's composite value; anything missing or
 * invalid falls back to its default.
 */
export function parseSettings(composite: unknown): ISettingsValues {
  const record =
    typeof composite === 'object' &&
    composite !== null &&
    !Array.isArray(composite)
      ? (composite as Record<string, unknown>)
      : {};
  return {
    openIn: isOpenIn(record.openIn) ? record.openIn : DEFAULT_SETTINGS.openIn,
    contextMenu:
      typeof record.contextMenu === 'boolean'
        ? record.contextMenu
        : DEFAULT_SETTINGS.contextMenu
  };
}
