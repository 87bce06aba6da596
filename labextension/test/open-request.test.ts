import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseOpenResponse } from '../src/api';
import {
  baseName,
  buildOpenRequest,
  describePaths,
  openedMessage,
  openFailedTitle,
  openingMessage
} from '../src/open-request';

describe('buildOpenRequest', () => {
  it("sends the file browser's selection exactly as it is", () => {
    assert.deepEqual(
      buildOpenRequest({}, ['data/cells 1.tif', 'ünïcode/β.zarr']),
      { paths: ['data/cells 1.tif', 'ünïcode/β.zarr'] }
    );
  });

  it('drops repeats and empty entries, keeping the order', () => {
    assert.deepEqual(buildOpenRequest({}, ['b.tif', '', 'a.tif', 'b.tif']), {
      paths: ['b.tif', 'a.tif']
    });
  });

  it('prefers the paths argument and passes plugin and layer_type', () => {
    assert.deepEqual(
      buildOpenRequest(
        {
          paths: ['x.npy'],
          plugin: 'napari-tifffile',
          layer_type: 'labels',
          toolbar: true
        },
        ['selected.tif']
      ),
      { paths: ['x.npy'], plugin: 'napari-tifffile', layer_type: 'labels' }
    );
  });

  it('leaves out empty plugin and layer_type', () => {
    assert.deepEqual(
      buildOpenRequest({ plugin: '', layer_type: null }, ['a.png']),
      { paths: ['a.png'] }
    );
  });

  it('says what to do when nothing is selected', () => {
    assert.throws(() => buildOpenRequest({}, []), /Select one or more files/);
    assert.throws(
      () => buildOpenRequest({ paths: [] }, ['ignored.tif']),
      /Nothing is selected/
    );
  });

  it('names arguments of the wrong type', () => {
    assert.throws(
      () => buildOpenRequest({ paths: 'a.tif' }, []),
      /"paths" argument is "a.tif"; expected a list/
    );
    assert.throws(
      () => buildOpenRequest({ paths: ['a.tif', 3] }, []),
      /3 is not a path/
    );
    assert.throws(
      () => buildOpenRequest({ plugin: 7 }, ['a.tif']),
      /"plugin" argument is 7/
    );
    assert.throws(
      () => buildOpenRequest({ layer_type: ['labels'] }, ['a.tif']),
      /"layer_type" argument is \["labels"\].*"labels"/
    );
  });
});

describe('messages', () => {
  it('names files by their last part', () => {
    assert.equal(baseName('data/cells.tif'), 'cells.tif');
    assert.equal(baseName('data/plate.zarr/'), 'plate.zarr');
    assert.equal(baseName('top.png'), 'top.png');
  });

  it('describes one, two and many items', () => {
    assert.equal(describePaths(['a/cells.tif']), 'cells.tif');
    assert.equal(describePaths(['a.tif', 'b/c.tif']), 'a.tif and c.tif');
    assert.equal(describePaths(['a', 'b', 'c']), '3 items');
  });

  it('keeps notifications under 140 characters', () => {
    const long = `${'x'.repeat(200)}.tif`;
    assert.ok(openingMessage([long]).length <= 140, openingMessage([long]));
    assert.ok(describePaths([long]).endsWith('…'));
    assert.equal(describePaths([long, long]), '2 items');
  });

  it('names the new layers after opening', () => {
    assert.equal(
      openedMessage(
        ['cells.tif'],
        parseOpenResponse({ opened: ['cells'], status: { running: true } })
      ),
      'Opened cells.tif in napari as layer "cells".'
    );
    assert.equal(
      openedMessage(
        ['a.tif', 'b.tif'],
        parseOpenResponse({ opened: ['a', 'b', 'b [1]'] })
      ),
      'Opened a.tif and b.tif in napari as 3 layers.'
    );
    assert.equal(
      openedMessage(
        ['x.npy'],
        parseOpenResponse({
          running: true,
          napari: { running: true, layers: [{ name: 'x' }] }
        })
      ),
      'Opened x.npy in napari (1 layer in the viewer).'
    );
    assert.equal(
      openedMessage(['x.npy'], { opened: [], status: null }),
      'Opened x.npy in napari.'
    );
    assert.equal(
      openFailedTitle(['data/cells.tif']),
      'Could not open cells.tif in napari'
    );
  });
});
