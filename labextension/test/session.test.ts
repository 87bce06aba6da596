import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ago, parseSession, sessionText } from '../desktop/session';

const at = (epochS: number) => `T${epochS}`;

describe('session', () => {
  it('parses the napari part of GET session and ignores what it does not know', () => {
    const report = parseSession({
      dir: '/home/u/napari-sessions',
      napari: {
        restoring: false,
        restored: {
          from: '2026-12-04T04-50-00Z-42',
          saved_at: 1000,
          layers: ['cells', 'mask', 3],
          skipped: ['cut: L1-1.npy: truncated'],
          seconds: 1.2
        },
        error: null
      }
    });
    assert.deepEqual(report, {
      restoring: false,
      restored: {
        from: '2026-12-04T04-50-00Z-42',
        savedAt: 1000,
        layers: ['cells', 'mask'],
        skipped: ['cut: L1-1.npy: truncated']
      },
      error: null
    });
    assert.equal(parseSession({ napari: null }), null);
    assert.equal(parseSession('nope'), null);
  });

  it('says what was restored, from when, and what was not', () => {
    const report = parseSession({
      napari: {
        restored: {
          saved_at: 1000,
          layers: ['cells', 'mask'],
          skipped: ['cut: truncated']
        }
      }
    });
    assert.ok(report);
    assert.equal(
      sessionText(report, 1000 + 600, at),
      'napari restored 2 layers saved T1000 (10 min ago): cells, mask. Not restored: cut: truncated.'
    );
  });

  it('says nothing for a fresh napari, and says when saving fails', () => {
    assert.equal(
      sessionText({ restoring: false, restored: null, error: null }, 0, at),
      null
    );
    assert.equal(
      sessionText(
        { restoring: false, restored: null, error: 'read-only' },
        0,
        at
      ),
      'Not saved: read-only'
    );
  });

  it('writes ages a person reads', () => {
    assert.equal(ago(30), 'just now');
    assert.equal(ago(600), '10 min ago');
    assert.equal(ago(7200), '2 h ago');
    assert.equal(ago(86400 * 3), '3 days ago');
  });
});
