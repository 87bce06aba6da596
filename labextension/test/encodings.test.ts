import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { JPEG_OF_LEVEL, withoutResends } from '../desktop/encodings';

const TIGHT = 7;
const COMPRESS_2 = -254;

describe('withoutResends', () => {
  it('turns level 2 into level 9 with JPEG 41 at 4:2:0', () => {
    assert.deepEqual(withoutResends([TIGHT, -32 + 2, COMPRESS_2]), [
      TIGHT,
      -23,
      -512 + 41,
      -767,
      COMPRESS_2
    ]);
  });

  it('keeps every level 0-8 as the JPEG TigerVNC would use for it', () => {
    for (let level = 0; level < 9; level++) {
      const out = withoutResends([-32 + level]);
      assert.equal(out[0], -23);
      assert.equal(out[1] + 512, JPEG_OF_LEVEL[level][0]);
    }
  });

  it('leaves lossless and level 9 alone', () => {
    // noVNC sends QualityLevel0 - 1 when the page asks for no quality level.
    assert.deepEqual(withoutResends([TIGHT, -33, COMPRESS_2]), [
      TIGHT,
      -33,
      COMPRESS_2
    ]);
    assert.deepEqual(withoutResends([TIGHT, -23]), [TIGHT, -23]);
  });
});
