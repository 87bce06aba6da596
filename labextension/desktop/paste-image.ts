/**
 * Images from the laptop's clipboard into napari: a screenshot or a figure copied on the
 * laptop becomes a layer. The RFB clipboard carries text only, so the image travels as an
 * upload (upload.ts: into the Jupyter folder, then opened in napari), named after the
 * moment it was pasted.
 *
 * Two ways in, as far as the browser lets the page see images:
 * - a paste on the page (Ctrl+V / Cmd+V in the Clipboard panel, or on the page outside the
 *   desktop's screen, which has the keyboard otherwise): every engine hands the image to
 *   the paste event;
 * - the panel's "Paste image" button: `navigator.clipboard.read()`, which Chromium allows
 *   after asking once, Safari for the click itself, and Firefox (>= 127) too; where it is
 *   missing or refused, the page says to paste into the panel instead.
 */

/** Image types napari reads from a file (the upload keeps the bytes as they are). */
export const IMAGE_TYPES: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/tiff': 'tif',
  'image/bmp': 'bmp'
};

/** `clipboard-20261204-095300.png`: the time of the paste, local time. */
export function clipboardFileName(type: string, now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp =
    `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-` +
    `${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
  return `clipboard-${stamp}.${IMAGE_TYPES[type] ?? 'png'}`;
}

/** The images in a paste's data, renamed for the upload (a pasted image is "image.png"). */
export function pastedImages(data: DataTransfer | null, now: Date): File[] {
  if (!data) {
    return [];
  }
  const images: File[] = [];
  for (const file of Array.from(data.files)) {
    if (file.type in IMAGE_TYPES) {
      images.push(
        new File([file], clipboardFileName(file.type, now), { type: file.type })
      );
    }
  }
  return images;
}

/** What reading the clipboard gave: an image, nothing, or why the page cannot read it. */
export type ClipboardImage =
  | { kind: 'image'; file: File }
  | { kind: 'none' }
  | { kind: 'unavailable'; reason: string };

/** The first image in the system clipboard (`clipboard`: navigator.clipboard). */
export async function readClipboardImage(
  clipboard: Pick<Clipboard, 'read'> | undefined,
  now: Date
): Promise<ClipboardImage> {
  if (!clipboard?.read) {
    return {
      kind: 'unavailable',
      reason:
        'this browser does not let the page read images from the clipboard'
    };
  }
  let items: ClipboardItems;
  try {
    items = await clipboard.read();
  } catch (error) {
    const name = error instanceof Error ? error.name : String(error);
    return {
      kind: 'unavailable',
      reason: `the browser did not let the page read the clipboard (${name})`
    };
  }
  for (const item of items) {
    const type = item.types.find(t => t in IMAGE_TYPES);
    if (type) {
      const blob = await item.getType(type);
      return {
        kind: 'image',
        file: new File([blob], clipboardFileName(type, now), { type })
      };
    }
  }
  return { kind: 'none' };
}
