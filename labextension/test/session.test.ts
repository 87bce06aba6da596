import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ago,
  parseSession,
  restoreId,
  sessionText,
  unlessDismissed
} from '../desktop/session';

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
  it('leaves a dismissed restore out, on every later page load, but not a later restore', () => {
    const report = (
      from: string,
      savedAt: number,
      error: string | null = null
    ) =>
      parseSession({
        napari: {
          restoring: false,
          restored: { from, saved_at: savedAt, layers: ['cells'], skipped: [] },
          error
        }
      })!;
    const api = '/user/alice/napari-desktop/api/';
    const first = report('2026-12-06T06-02-55Z-7', 1000);
    const id = restoreId(api, first);
    assert.ok(id);
    assert.equal(unlessDismissed(first, api, null), first);
    const hidden = unlessDismissed(first, api, id);
    assert.equal(hidden.restored, null);
    assert.equal(sessionText(hidden, 2000, at), null);
    // Another user's page on the same origin (JupyterHub), a later restore: shown.
    assert.equal(
      unlessDismissed(first, '/user/bob/napari-desktop/api/', id),
      first
    );
    const later = report('2026-12-06T07-10-00Z-9', 5000);
    assert.equal(unlessDismissed(later, api, id), later);
    // A failed save is still said after the restore's line was dismissed.
    const failing = report('2026-12-06T06-02-55Z-7', 1000, 'disk full');
    assert.match(
      sessionText(unlessDismissed(failing, api, id), 2000, at) ?? '',
      /^Not saved: disk full/
    );
    assert.equal(
      restoreId(api, parseSession({ napari: { restored: null } })!),
      null
    );
  });
});
