import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  AdaptiveQuality,
  DrawnArea,
  MAX_STILL_MS,
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

const W = 1920;
const H = 1080;
const CANVAS = { x: 300, y: 100, w: 1200, h: 800 };

describe('AdaptiveQuality', () => {
  it('asks for the drawn area exactly once the motion stopped, then goes back', () => {
    const adaptive = new AdaptiveQuality(2, true);
    assert.equal(adaptive.tick(10_000, W, H), null, 'nothing moved yet');
    assert.equal(adaptive.frame(MOTION_BYTES, 0, CANVAS), null);
    assert.equal(adaptive.quality, 2);
    assert.equal(adaptive.tick(STILL_MS - 1, W, H), null);
    assert.deepEqual(adaptive.tick(STILL_MS, W, H), {
      kind: 'lossless',
      area: CANVAS
    });
    assert.equal(adaptive.quality, 'lossless');
    // The refresh itself is large: it does not count as motion.
    assert.equal(adaptive.frame(5 * MOTION_BYTES, STILL_MS + 50, CANVAS), null);
    assert.equal(adaptive.quality, 'lossless');
    assert.equal(
      adaptive.tick(STILL_MS * 10, W, H),
      null,
      'one refresh per stop'
    );
    // A clock or a cursor changes nothing.
    assert.equal(
      adaptive.frame(200, STILL_MS * 11, { x: 0, y: 0, w: 9, h: 9 }),
      null
    );
    // A key returns to the motion level before the server encodes its frame.
    assert.deepEqual(adaptive.input(STILL_MS * 12), {
      kind: 'level',
      level: 2
    });
    assert.equal(adaptive.quality, 2);
  });

  it('asks for one box around everything drawn, within the screen', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0, CANVAS);
    adaptive.frame(300, 10, { x: 1800, y: 1000, w: 200, h: 200 }); // a small, lossy update
    assert.deepEqual(adaptive.tick(1000, W, H), {
      kind: 'lossless',
      area: { x: 300, y: 100, w: W - 300, h: H - 100 }
    });
  });

  it('asks for the whole screen when the display said nothing', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0);
    assert.deepEqual(adaptive.tick(1000, W, H), {
      kind: 'lossless',
      area: { x: 0, y: 0, w: W, h: H }
    });
  });

  it('ends the refresh on the updates that cover the area, however small', () => {
    const adaptive = new AdaptiveQuality(2, true);
    const label = { x: 10, y: 10, w: 40, h: 12 };
    adaptive.frame(MOTION_BYTES, 0, label);
    adaptive.tick(1000, W, H);
    adaptive.frame(100, 1010, { x: 10, y: 10, w: 40, h: 6 }); // half of it
    adaptive.frame(100, 1020, { x: 10, y: 16, w: 40, h: 6 }); // the rest
    // Still, so the next large update is motion again.
    assert.deepEqual(adaptive.frame(MOTION_BYTES, 1100, CANVAS), {
      kind: 'level',
      level: 2
    });
  });

  it('goes back to the motion level when frames come without input', () => {
    const adaptive = new AdaptiveQuality(3, true);
    adaptive.frame(MOTION_BYTES, 0, CANVAS);
    adaptive.tick(1000, W, H);
    adaptive.frame(MOTION_BYTES, 1010, CANVAS); // the refresh
    assert.deepEqual(adaptive.frame(MOTION_BYTES, 1100, CANVAS), {
      kind: 'level',
      level: 3
    });
  });

  it('waits for the small updates that finish a picture', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0, CANVAS);
    adaptive.frame(1000, 200, CANVAS); // the last strip of the same picture
    assert.equal(adaptive.tick(STILL_MS + 100, W, H), null);
    assert.equal(adaptive.tick(STILL_MS + 200, W, H)?.kind, 'lossless');
  });

  it('waits longer between the frames of a slow picture, not after a pause', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0, CANVAS);
    adaptive.frame(MOTION_BYTES, 400, CANVAS); // a 3D view drawn 2.5 times a second
    assert.equal(adaptive.tick(400 + STILL_MS + 50, W, H), null);
    adaptive.frame(MOTION_BYTES, 800, CANVAS);
    assert.equal(adaptive.tick(800 + MAX_STILL_MS, W, H)?.kind, 'lossless');
    // A key after a long pause: one frame, exact STILL_MS later.
    adaptive.input(10_000);
    adaptive.frame(MOTION_BYTES, 10_050, CANVAS);
    assert.equal(adaptive.tick(10_050 + STILL_MS, W, H)?.kind, 'lossless');
  });

  it('waits while input goes on', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0, CANVAS);
    adaptive.input(1000);
    assert.equal(adaptive.tick(1000 + STILL_MS - 1, W, H), null);
    assert.equal(adaptive.tick(1000 + STILL_MS, W, H)?.kind, 'lossless');
  });

  it('forgets the old screen on a new connection', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0, CANVAS);
    adaptive.reset();
    assert.equal(adaptive.tick(1000, W, H), null);
  });

  it('never asks for lossless when disabled, and follows the chosen level', () => {
    const adaptive = new AdaptiveQuality(6, false);
    adaptive.frame(MOTION_BYTES, 0, CANVAS);
    assert.equal(adaptive.tick(10_000, W, H), null);
    assert.deepEqual(adaptive.setLevel(4), { kind: 'level', level: 4 });
    assert.equal(adaptive.quality, 4);
  });

  it('keeps a new level for later while the picture is still', () => {
    const adaptive = new AdaptiveQuality(2, true);
    adaptive.frame(MOTION_BYTES, 0, CANVAS);
    adaptive.tick(1000, W, H);
    assert.equal(adaptive.setLevel(5), null);
    assert.deepEqual(adaptive.input(2000), { kind: 'level', level: 5 });
  });
});

describe('DrawnArea', () => {
  it('holds every drawn update in one box, within the screen, once', () => {
    const drawn = new DrawnArea();
    drawn.add({ x: 100, y: 50, w: 300, h: 250 });
    drawn.add({ x: 350, y: 20, w: 1750, h: 100 }); // partly off a 1920x1080 screen
    drawn.add({ x: 65535, y: 65535, w: -65535, h: -65535 }); // nothing
    assert.ok(drawn.covers({ x: 100, y: 20, w: 10, h: 10 }));
    assert.ok(!drawn.covers({ x: 0, y: 20, w: 10, h: 10 }));
    assert.deepEqual(drawn.take(1920, 1080), {
      x: 100,
      y: 20,
      w: 1820,
      h: 280
    });
    assert.equal(drawn.take(1920, 1080), null);
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
    // On the video path the quality level does not apply: the path is named instead.
    assert.equal(
      statsText({ fps: 9.5, mbitPerS: 1.9, rttMs: 3, quality: 'video' }),
      '9.5 frames/s · 1.9 Mbit/s · RTT 3 ms · H.264 video path'
    );
  });
});
