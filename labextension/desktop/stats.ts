/**
 * The connection's live figures (the stats overlay) and the adaptive quality
 * rule. No DOM and no noVNC: desktop.ts feeds in what the connection does
 * (bytes, finished framebuffer updates, input, round trips) with a clock, so
 * test/stats.test.ts drives both in Node.
 */

/** What the overlay shows. */
export interface IStatsFigures {
  /** Framebuffer updates that carried a picture (at least MOTION_BYTES), per second. */
  fps: number;
  /** Megabits per second received from the desktop. */
  mbitPerS: number;
  /** The last round trip to the Jupyter server in milliseconds, or null before one. */
  rttMs: number | null;
  /** The quality level asked for now; "lossless" while the picture is still. */
  quality: number | 'lossless';
}

/** An update at least this large is a changing picture, not a cursor or a clock. */
export const MOTION_BYTES = 16 * 1024;
/** The picture counts as still after this long without a large update or input. */
export const STILL_MS = 300;

/** Sums of events in a sliding window (default one second). */
export class StatsMeter {
  private readonly _windowMs: number;
  private _bytes: Array<[number, number]> = [];
  private _frames: number[] = [];
  private _rttMs: number | null = null;

  constructor(windowMs = 1000) {
    this._windowMs = windowMs;
  }

  /** `count` bytes arrived at time `now` (milliseconds). */
  bytes(count: number, now: number): void {
    this._bytes.push([now, count]);
    this._prune(now);
  }

  /** A framebuffer update of `size` bytes finished at `now`. */
  frame(size: number, now: number): void {
    if (size >= MOTION_BYTES) {
      this._frames.push(now);
    }
    this._prune(now);
  }

  /** A round trip took `ms`. */
  rtt(ms: number): void {
    this._rttMs = ms;
  }

  figures(now: number, quality: number | 'lossless'): IStatsFigures {
    this._prune(now);
    const seconds = this._windowMs / 1000;
    const bytes = this._bytes.reduce((sum, [, count]) => sum + count, 0);
    return {
      fps: this._frames.length / seconds,
      mbitPerS: (bytes * 8) / seconds / 1e6,
      rttMs: this._rttMs,
      quality
    };
  }

  private _prune(now: number): void {
    const oldest = now - this._windowMs;
    while (this._bytes.length && this._bytes[0][0] <= oldest) {
      this._bytes.shift();
    }
    while (this._frames.length && this._frames[0] <= oldest) {
      this._frames.shift();
    }
  }
}

/** What the page must ask the VNC server for. */
export type QualityRequest =
  { kind: 'level'; level: number } | { kind: 'lossless' };

/**
 * Lossy while the picture moves, exact when it stops.
 *
 * While large updates arrive (napari playing, rotating, a key stepping the
 * slider) the server encodes at `level` (JPEG). Once no update at all came for
 * STILL_MS and there was no input, the page asks for the screen again without
 * a quality level: TigerVNC then encodes losslessly (zlib), so the still
 * picture is the X screen's, pixel for pixel. (By itself TigerVNC 1.12 left
 * the lossy areas at about 53 dB PSNR, never exact: benchmarks/.) Input
 * or the next large update return to `level` before more frames are encoded.
 */
export class AdaptiveQuality {
  private _level: number;
  private readonly _enabled: boolean;
  private _state: 'motion' | 'refreshing' | 'still' = 'motion';
  private _lastMotion = -Infinity;
  private _lastInput = -Infinity;
  private _movedSinceRefresh = false;

  constructor(level: number, enabled: boolean) {
    this._level = level;
    this._enabled = enabled;
  }

  /** The quality level in use now. */
  get quality(): number | 'lossless' {
    return this._state === 'motion' ? this._level : 'lossless';
  }

  /** The user chose another level; what to ask for now (null: nothing). */
  setLevel(level: number): QualityRequest | null {
    this._level = level;
    return this._state === 'motion' ? { kind: 'level', level } : null;
  }

  /** A framebuffer update of `size` bytes finished at `now`. */
  frame(size: number, now: number): QualityRequest | null {
    if (size < MOTION_BYTES) {
      // The rest of a picture that came in parts: still moving, not motion alone.
      if (this._state === 'motion') {
        this._lastMotion = now;
      }
      return null;
    }
    if (this._state === 'refreshing') {
      this._state = 'still'; // This is the exact picture asked for.
      return null;
    }
    this._lastMotion = now;
    this._movedSinceRefresh = true;
    return this._toMotion();
  }

  /** A key or the pointer went to the desktop at `now`. */
  input(now: number): QualityRequest | null {
    this._lastInput = now;
    return this._toMotion();
  }

  /** Called often (every 100 ms or so): time to make the picture exact? */
  tick(now: number): QualityRequest | null {
    if (
      !this._enabled ||
      this._state !== 'motion' ||
      !this._movedSinceRefresh ||
      now - this._lastMotion < STILL_MS ||
      now - this._lastInput < STILL_MS
    ) {
      return null;
    }
    this._state = 'refreshing';
    this._movedSinceRefresh = false;
    return { kind: 'lossless' };
  }

  private _toMotion(): QualityRequest | null {
    if (this._state === 'motion') {
      return null;
    }
    this._state = 'motion';
    return { kind: 'level', level: this._level };
  }
}

/** One line of the overlay: "12.0 frames/s · 3.4 Mbit/s · RTT 41 ms · quality 2". */
export function statsText(figures: IStatsFigures): string {
  const rtt = figures.rttMs === null ? '-' : `${Math.round(figures.rttMs)} ms`;
  const quality =
    figures.quality === 'lossless' ? 'lossless (still)' : `${figures.quality}`;
  return (
    `${figures.fps.toFixed(1)} frames/s · ${figures.mbitPerS.toFixed(1)} Mbit/s · ` +
    `RTT ${rtt} · quality ${quality}`
  );
}
