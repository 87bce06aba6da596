import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  clipboardFileName,
  pastedImages,
  readClipboardImage
} from '../desktop/paste-image';

const NOW = new Date(2026, 11, 4, 9, 5, 7);
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);

/** The part of a paste's DataTransfer that pastedImages reads. */
function pasted(...files: File[]): DataTransfer {
  return { files } as unknown as DataTransfer;
}

describe('clipboardFileName', () => {
  it('names the paste by its local time and type', () => {
    assert.equal(
      clipboardFileName('image/png', NOW),
      'clipboard-20261204-090507.png'
    );
    assert.equal(
      clipboardFileName('image/jpeg', NOW),
      'clipboard-20261204-090507.jpg'
    );
  });
});

describe('pastedImages', () => {
  it('keeps the images, renamed, and leaves other files', () => {
    const images = pastedImages(
      pasted(
        new File([PNG], 'image.png', { type: 'image/png' }),
        new File(['x'], 'notes.txt', { type: 'text/plain' })
      ),
      NOW
    );
    assert.deepEqual(
      images.map(f => [f.name, f.type, f.size]),
      [['clipboard-20261204-090507.png', 'image/png', 4]]
    );
    assert.deepEqual(pastedImages(null, NOW), []);
  });
});

describe('readClipboardImage', () => {
  it('reads the first image item', async () => {
    const clipboard = {
      read: async () =>
        [
          { types: ['text/plain'], getType: async () => new Blob(['hi']) },
          {
            types: ['text/html', 'image/png'],
            getType: async (type: string) => new Blob([PNG], { type })
          }
        ] as unknown as ClipboardItems
    };
    const found = await readClipboardImage(clipboard, NOW);
    assert.equal(found.kind, 'image');
    if (found.kind === 'image') {
      assert.equal(found.file.name, 'clipboard-20261204-090507.png');
      assert.equal(found.file.size, 4);
    }
  });
  it('says why where the browser cannot or will not', async () => {
    assert.equal(
      (await readClipboardImage(undefined, NOW)).kind,
      'unavailable'
    );
    const refused = await readClipboardImage(
      {
        read: async () => {
          throw new DOMException('denied', 'NotAllowedError');
        }
      },
      NOW
    );
    assert.deepEqual(refused, {
      kind: 'unavailable',
      reason:
        'the browser did not let the page read the clipboard (NotAllowedError)'
    });
    const empty = await readClipboardImage({ read: async () => [] }, NOW);
    assert.deepEqual(empty, { kind: 'none' });
  });
});
