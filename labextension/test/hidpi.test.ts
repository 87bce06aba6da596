import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type RFB from '@novnc/novnc';

import {
  applyHidpi,
  remoteScale,
  remoteSize,
  RESIZE_RECHECK_MS,
  RESIZE_RETRIES
} from '../desktop/hidpi';

// The page's window, as far as applyHidpi uses it (its resize event).
const fakeWindow = new EventTarget();
(globalThis as unknown as { window: EventTarget }).window = fakeWindow;

/** The part of noVNC's RFB applyHidpi touches, recording the sizes it requests. */
class FakeRfb extends EventTarget {
  scaleViewport = false;
  _rfbConnectionState = 'connected';
  requested: { w: number; h: number }[] = [];
  _screenSize() {
    return { w: 1400, h: 868 };
  }
  _requestRemoteResize() {
    this.requested.push(this._screenSize());
  }
}

describe('remoteScale', () => {
  it('is the pixel ratio when crisp, 1 when light or at ratio 1', () => {
    assert.equal(remoteScale('crisp', 2), 2);
    assert.equal(remoteScale('crisp', 1.25), 1.25);
    assert.equal(remoteScale('light', 2), 1);
    assert.equal(remoteScale('crisp', 1), 1);
    assert.equal(remoteScale('crisp', 0.5), 1);
    assert.equal(remoteScale('crisp', Number.NaN), 1);
    assert.equal(remoteScale('crisp', 8), 4);
  });
  it('rounds the remote size down to whole pixels', () => {
    assert.deepEqual(remoteSize(1399.5, 867.3, 1.25), { w: 1749, h: 1084 });
  });
});

describe('applyHidpi', () => {
  it('asks for device pixels and scales the view at ratio 2', () => {
    const fake = new FakeRfb();
    const control = applyHidpi(fake as unknown as RFB, () => 2);
    assert.equal(fake.scaleViewport, true);
    control.update();
    assert.deepEqual(fake.requested, [{ w: 2800, h: 1736 }]);
    // Everything else (noVNC's autoscale) still sees the CSS size.
    assert.deepEqual(fake._screenSize(), { w: 1400, h: 868 });
  });
  it('changes nothing at ratio 1', () => {
    const fake = new FakeRfb();
    let scale = 1;
    const control = applyHidpi(fake as unknown as RFB, () => scale);
    assert.equal(fake.scaleViewport, false);
    fake._requestRemoteResize();
    assert.deepEqual(fake.requested, [{ w: 1400, h: 868 }]);
    scale = 2; // e.g. the user switched to "crisp" on a HiDPI screen
    control.update();
    assert.equal(fake.scaleViewport, true);
    assert.deepEqual(fake.requested[1], { w: 2800, h: 1736 });
  });
});

describe('applyHidpi resize recheck', () => {
  it('asks again when the server left the screen at the old size, a bounded number of times', t => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const fake = new FakeRfb() as FakeRfb & {
      _fbWidth: number;
      _fbHeight: number;
      resizeSession: boolean;
    };
    fake._fbWidth = 1000;
    fake._fbHeight = 600;
    fake.resizeSession = true;
    const control = applyHidpi(fake as unknown as RFB, () => 1);
    control.update();
    assert.equal(fake.requested.length, 1);
    t.mock.timers.tick(RESIZE_RECHECK_MS);
    assert.equal(
      fake.requested.length,
      2,
      'the refused size is asked for again'
    );
    for (let i = 0; i < RESIZE_RETRIES + 3; i++) {
      t.mock.timers.tick(RESIZE_RECHECK_MS);
    }
    assert.equal(fake.requested.length, 1 + RESIZE_RETRIES, 'and not forever');
    // Once the screen has the size, nothing more is sent.
    fake._fbWidth = 1400;
    fake._fbHeight = 868;
    control.update();
    const sent = fake.requested.length;
    for (let i = 0; i < 3; i++) {
      t.mock.timers.tick(RESIZE_RECHECK_MS);
    }
    assert.equal(fake.requested.length, sent);
  });
});

describe('applyHidpi unanswered request', () => {
  it('gives up a request the server never answered and asks again', t => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    // As noVNC: nothing is sent while a request is out.
    class PendingRfb extends FakeRfb {
      _fbWidth = 1000;
      _fbHeight = 600;
      _pendingRemoteResize = false;
      resizeSession = true;
      _requestRemoteResize() {
        if (this._pendingRemoteResize) {
          return;
        }
        this._pendingRemoteResize = true;
        super._requestRemoteResize();
      }
    }
    const fake = new PendingRfb();
    const control = applyHidpi(fake as unknown as RFB, () => 1);
    control.update();
    assert.equal(fake.requested.length, 1);
    // No answer comes: the check sends the request again.
    t.mock.timers.tick(RESIZE_RECHECK_MS);
    assert.equal(fake.requested.length, 2, 'asked again, not left pending');
    assert.deepEqual(control.state(), {
      wanted: '1400x868',
      screen: '1000x600',
      retries: 1,
      unanswered: 1
    });
    // The answer to the second comes: in sync, nothing more.
    fake._pendingRemoteResize = false;
    fake._fbWidth = 1400;
    fake._fbHeight = 868;
    t.mock.timers.tick(RESIZE_RECHECK_MS * 3);
    assert.equal(fake.requested.length, 2);
    assert.equal(control.state().screen, '1400x868');
  });
});

describe('applyHidpi window resize', () => {
  it('asks for the size when the window resizes, until disconnected', () => {
    const fake = new FakeRfb();
    applyHidpi(fake as unknown as RFB, () => 1);
    fakeWindow.dispatchEvent(new Event('resize'));
    assert.equal(fake.requested.length, 1);
    fake._rfbConnectionState = 'connecting';
    fakeWindow.dispatchEvent(new Event('resize'));
    assert.equal(fake.requested.length, 1, 'not while not connected');
    fake._rfbConnectionState = 'connected';
    fake.dispatchEvent(new Event('disconnect'));
    fakeWindow.dispatchEvent(new Event('resize'));
    assert.equal(fake.requested.length, 1, 'and no more once disconnected');
  });
});
