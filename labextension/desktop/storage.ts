/**
 * The user's own choices (quality, compression, the HiDPI mode), kept in the
 * browser's localStorage, which can be disabled (privacy settings, sandboxed
 * frames): then a choice applies to this page only.
 */

/** localStorage keys of the user's own choices. */
export const STORAGE_KEYS = {
  quality: 'jp-NapariDesktop-quality',
  compression: 'jp-NapariDesktop-compression',
  hidpi: 'jp-NapariDesktop-hidpi',
  // The restore whose line was dismissed (session.ts restoreId): not shown again.
  restoreDismissed: 'jp-NapariDesktop-restoreDismissed'
} as const;

/** The stored value of `key`, or null when there is none or storage is off. */
export function readStored(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** Keep `value` under `key`, where the browser allows it. */
export function store(key: string, value: string): void {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // Not persisted; the choice still applies to this page.
  }
}
