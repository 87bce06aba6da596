import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  AdaptiveQuality,
  MOTION_BYTES,
  STILL_MS,
  StatsMeter,
  statsText
} from '../desktop/stats';

describe('StatsMeter', () => {
  it('counts large updates and bytes of the last second only', () => {
    const meter = new StatsMeter(1000);
    for (let t = 0; t < 2000; t += 100) {
      meter.bytes(125_000, t); // 1 Mbit every 100 ms: 10 Mbit/s
      meter.frame(MOTION_BYTES, t);
      meter.frame(100, t); // a cursor: not a frame
    }
    const figures = meter.figures(1950, 3);
    assert.equal(figures.fps, 10);
    assert.equal(figures.mbitPerS, 10);
    assert.equal(figures.rttMs, null);
    assert.equal(meter.figures(5000, 3).fps, 0);
    assert.equal(meter.figures(5000, 3).mbitPerS, 0);
  });

  it('keeps the last round trip', () => {
    const meter = new StatsMeter();
    meter.rtt(42);
    meter.rtt(38);
    assert.equal(meter.figures(0, 'lossless').rttMs, 38);
  });
});

describe('AdaptiveQuality', () => {
  it('asks for the exact picture once the motion stopped, then goes back', () => {
    const adaptive = new AdaptiveQuality(2, true);
    assert.equal(adaptive.tick(10_000), null, 'nothing moved yet');
    assert.equal(adaptive.frame(MOTION_BYTES, 0), null);
    assert.equal(adaptive.quality, 2);
    assert.equal(adaptive.tick(STILL_MS - 1), null);
    assert.deepEqual(adaptive.tick(STILL_MS), { kind: 'lossless' });
    assert.equal(adaptive.quality, 'lossless');
    // The refresh itself is large: it does not count as motion.
    assert.equal(adaptive.frame(5 * MOTION_BYTES, STILL_MS + 50), null);
    assert.equal(adaptive.quality, 'lossless');
    assert.equal(adaptive.tick(STILL_MS * 10), null, 'one refresh per stop');
    // A clock or a cursor changes nothing.
    assert.equal(adaptive.frame(200, STILL_MS * 11), null);
    // A key returns to the motion level before the server encodes its frame.
    assert.deepEqual(adaptive.input(STILL_MS * 12), {
      kind: 'level',
      level: 2
    });
    assert.equal(adaptive.quality, 2);
  });

  it('goes back to the motion level when frames come without input', () => {
    const adaptive = new AdaptiveQuality(3, true);
    adaptive.frame(MOTION_BYTES, 0);
    adaptive.tick(1000);
    adaptive.frame(MOTION_BYTES, 1010); // the refresh
    assert.deepEqual(adaptive.frame(MOTION_BYTES, 1100), {
      kind: 'level',
      level: 3
    });
  });

  it('waits for the small updates that finish a picture', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0);
    adaptive.frame(1000, 200); // the last strip of the same picture
    assert.equal(adaptive.tick(STILL_MS + 100), null);
    assert.deepEqual(adaptive.tick(STILL_MS + 200), { kind: 'lossless' });
  });

  it('waits while input goes on', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0);
    adaptive.input(1000);
    assert.equal(adaptive.tick(1000 + STILL_MS - 1), null);
    assert.deepEqual(adaptive.tick(1000 + STILL_MS), { kind: 'lossless' });
  });

  it('never asks for lossless when disabled, and follows the chosen level', () => {
    const adaptive = new AdaptiveQuality(6, false);
    adaptive.frame(MOTION_BYTES, 0);
    assert.equal(adaptive.tick(10_000), null);
    assert.deepEqual(adaptive.setLevel(4), { kind: 'level', level: 4 });
    assert.equal(adaptive.quality, 4);
  });

  it('keeps a new level for later while the picture is still', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0);
    adaptive.tick(1000);
    assert.equal(adaptive.setLevel(5), null);
    assert.deepEqual(adaptive.input(2000), { kind: 'level', level: 5 });
  });
});

describe('statsText', () => {
  it('names every figure', () => {
    assert.equal(
      statsText({ fps: 12, mbitPerS: 3.44, rttMs: 40.6, quality: 2 }),
      '12.0 frames/s · 3.4 Mbit/s · RTT 41 ms · quality 2'
    );
    assert.match(
      statsText({ fps: 0, mbitPerS: 0, rttMs: null, quality: 'lossless' }),
      /RTT - · quality lossless \(still\)/
    );
  });
});
