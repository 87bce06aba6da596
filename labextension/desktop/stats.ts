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
  /** The quality level asked for now; "lossless" while the picture is still;
   * "video" on the video path (H.264 while it moves: the server's video_crf). */
  quality: number | 'lossless' | 'video';
}

/** An update at least this large is a changing picture, not a cursor or a clock. */
export const MOTION_BYTES = 16 * 1024;
/** The picture counts as still after this long without a large update or input... */
export const STILL_MS = 300;
/** ...or 1.5 times the time between the last two large updates, up to this: a slow
 * picture (a 3D volume drawn twice a second) is not made exact between its frames. */
export const MAX_STILL_MS = 700;

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

  figures(now: number, quality: IStatsFigures['quality']): IStatsFigures {
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

/** A rectangle of the remote screen, in framebuffer pixels. */
export interface IArea {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** What the page must ask the VNC server for. */
export type QualityRequest =
  { kind: 'level'; level: number } | { kind: 'lossless'; area: IArea };

/**
 * The part of the screen drawn since the last exact picture: the one box that
 * holds every update. The exact still picture asks only for it (napari's
 * canvas, not the whole screen), so catching up costs less on a slow link.
 */
export class DrawnArea {
  private _left = Infinity;
  private _top = Infinity;
  private _right = -Infinity;
  private _bottom = -Infinity;

  /** An update drew `area` (null or empty: nothing). */
  add(area: IArea | null): void {
    if (area === null || area.w <= 0 || area.h <= 0) {
      return;
    }
    this._left = Math.min(this._left, area.x);
    this._top = Math.min(this._top, area.y);
    this._right = Math.max(this._right, area.x + area.w);
    this._bottom = Math.max(this._bottom, area.y + area.h);
  }

  /** Whether the box holds all of `area`. */
  covers(area: IArea): boolean {
    return (
      this._left <= area.x &&
      this._top <= area.y &&
      this._right >= area.x + area.w &&
      this._bottom >= area.y + area.h
    );
  }

  /** The box within a `width` x `height` screen, forgotten; null when nothing was drawn. */
  take(width: number, height: number): IArea | null {
    const x = Math.max(0, Math.floor(this._left));
    const y = Math.max(0, Math.floor(this._top));
    const right = Math.min(width, Math.ceil(this._right));
    const bottom = Math.min(height, Math.ceil(this._bottom));
    this.clear();
    if (right <= x || bottom <= y) {
      return null;
    }
    return { x, y, w: right - x, h: bottom - y };
  }

  clear(): void {
    this._left = this._top = Infinity;
    this._right = this._bottom = -Infinity;
  }
}

/**
 * Lossy while the picture moves, exact when it stops.
 *
 * While updates arrive (napari playing, rotating, a key stepping the slider)
 * the server encodes at `level` (JPEG; encodings.ts keeps TigerVNC from
 * re-sending it nearly losslessly in between). Once no large update came for
 * STILL_MS (longer for a picture that changes slowly, see MAX_STILL_MS) and
 * there was no input, the page asks for the part of the screen
 * drawn meanwhile (DrawnArea) again without a quality level: TigerVNC then
 * encodes it losslessly (zlib), so the still picture is the X screen's, pixel
 * for pixel. The update that covers that area ends the refresh. Input or the
 * next large update return to `level` before more frames are encoded.
 */
export class AdaptiveQuality {
  private _level: number;
  private readonly _enabled: boolean;
  private _state: 'motion' | 'refreshing' | 'still' = 'motion';
  private _lastMotion = -Infinity;
  private _lastLarge = -Infinity;
  private _stillMs = STILL_MS;
  private _lastInput = -Infinity;
  private _movedSinceRefresh = false;
  private readonly _drawn = new DrawnArea(); // lossy since the last exact picture
  private readonly _answer = new DrawnArea(); // drawn since the refresh was asked for
  private _asked: IArea | null = null;

  constructor(level: number, enabled: boolean) {
    this._level = level;
    this._enabled = enabled;
  }

  /** Whether the still picture is made exact by the page (not by the VNC server). */
  get enabled(): boolean {
    return this._enabled;
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

  /** A new connection: nothing of the old screen is on the page any more. */
  reset(): void {
    this._drawn.clear();
    this._answer.clear();
    this._asked = null;
    this._movedSinceRefresh = false;
    this._state = 'motion';
  }

  /** An update of `size` bytes that drew `area` finished at `now`. */
  frame(
    size: number,
    now: number,
    area: IArea | null = null
  ): QualityRequest | null {
    if (this._state === 'refreshing' && this._asked !== null) {
      this._answer.add(area);
      if (this._answer.covers(this._asked)) {
        this._state = 'still'; // This is the exact picture asked for.
        this._asked = null;
        return null;
      }
    }
    if (size >= MOTION_BYTES) {
      // Frames this far apart belong to one slow motion; after a pause, a first frame.
      const gap = now - this._lastLarge;
      this._stillMs =
        gap > 2 * MAX_STILL_MS
          ? STILL_MS
          : Math.min(MAX_STILL_MS, Math.max(STILL_MS, 1.5 * gap));
      this._lastLarge = now;
    }
    if (this._state === 'motion') {
      // Anything drawn now may be lossy, also the rest of a picture in parts.
      this._drawn.add(area);
      this._movedSinceRefresh = true;
      this._lastMotion = now;
      return null;
    }
    if (size < MOTION_BYTES) {
      return null; // A cursor or a clock, encoded losslessly.
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
  tick(now: number, width: number, height: number): QualityRequest | null {
    if (
      !this._enabled ||
      this._state !== 'motion' ||
      !this._movedSinceRefresh ||
      now - this._lastMotion < this._stillMs ||
      now - this._lastInput < STILL_MS
    ) {
      return null;
    }
    this._state = 'refreshing';
    this._movedSinceRefresh = false;
    const area = this._drawn.take(width, height) ?? {
      x: 0,
      y: 0,
      w: width,
      h: height
    };
    this._asked = area;
    this._answer.clear();
    return { kind: 'lossless', area };
  }

  private _toMotion(): QualityRequest | null {
    if (this._state === 'motion') {
      return null;
    }
    this._state = 'motion';
    this._asked = null;
    return { kind: 'level', level: this._level };
  }
}

/** One line of the overlay: "12.0 frames/s · 3.4 Mbit/s · RTT 41 ms · quality 2". */
export function statsText(figures: IStatsFigures): string {
  const rtt = figures.rttMs === null ? '-' : `${Math.round(figures.rttMs)} ms`;
  const quality =
    figures.quality === 'video'
      ? 'H.264 video path'
      : figures.quality === 'lossless'
        ? 'quality lossless (still)'
        : `quality ${figures.quality}`;
  return (
    `${figures.fps.toFixed(1)} frames/s · ${figures.mbitPerS.toFixed(1)} Mbit/s · ` +
    `RTT ${rtt} · ${quality}`
  );
}
