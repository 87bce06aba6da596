/**
 * JPEG while moving, without TigerVNC's near-lossless re-sends.
 *
 * TigerVNC (1.12 to 1.14) re-sends every area it encoded with a JPEG quality
 * level below 9 at JPEG quality 100 once the area has not changed for 50 ms,
 * as fast as the link allows: with napari playing a stack at a few frames per
 * second most of the bytes are those re-sends, between two frames. A level-9
 * client is never re-sent anything, and TigerVNC lets the "fine" quality and
 * subsampling pseudo-encodings (TurboVNC's) set the JPEG it really uses. So
 * while the picture moves the page asks for level 9 with the fine quality and
 * subsampling of the chosen level: the same JPEG frames, no re-sends. The
 * page then makes the still picture exact itself (AdaptiveQuality), which is
 * why this only applies together with it.
 *
 * No DOM and no noVNC: overlay.ts applies it to noVNC's SetEncodings.
 */

const QUALITY_LEVEL_0 = -32;
const QUALITY_LEVEL_9 = -23;
const FINE_QUALITY_0 = -512;
const SUBSAMPLING: Record<'none' | '4:2:2' | '4:2:0', number> = {
  none: -768,
  '4:2:0': -767,
  '4:2:2': -766
};

/** JPEG quality and chroma subsampling of TigerVNC's levels 0-8 (TightJPEGEncoder). */
export const JPEG_OF_LEVEL: ReadonlyArray<
  [quality: number, subsampling: keyof typeof SUBSAMPLING]
> = [
  [15, '4:2:0'],
  [29, '4:2:0'],
  [41, '4:2:0'],
  [42, '4:2:2'],
  [62, '4:2:2'],
  [77, '4:2:2'],
  [79, 'none'],
  [86, 'none'],
  [92, 'none']
];

/**
 * The encodings list with the quality level 0-8 replaced by level 9 plus the
 * same JPEG as fine quality and subsampling; other lists come back unchanged
 * (no quality level: lossless; level 9: nothing is re-sent anyway).
 */
export function withoutResends(encodings: readonly number[]): number[] {
  const index = encodings.findIndex(
    e => e >= QUALITY_LEVEL_0 && e < QUALITY_LEVEL_9
  );
  if (index < 0) {
    return [...encodings];
  }
  const [quality, subsampling] =
    JPEG_OF_LEVEL[encodings[index] - QUALITY_LEVEL_0];
  const out = [...encodings];
  out.splice(
    index,
    1,
    QUALITY_LEVEL_9,
    FINE_QUALITY_0 + quality,
    SUBSAMPLING[subsampling]
  );
  return out;
}
