import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import {
  DEFAULT_SETTINGS,
  isOpenIn,
  parseSettings
} from '../src/settings-values';

describe('parseSettings', () => {
  it('reads the values the user chose', () => {
    assert.deepEqual(parseSettings({ openIn: 'lab-tab', contextMenu: false }), {
      openIn: 'lab-tab',
      contextMenu: false
    });
  });

  it('falls back to the defaults for missing or invalid values', () => {
    assert.deepEqual(parseSettings(undefined), DEFAULT_SETTINGS);
    assert.deepEqual(
      parseSettings({ openIn: 'window', contextMenu: 'no' }),
      DEFAULT_SETTINGS
    );
    assert.equal(isOpenIn('browser-tab'), true);
    assert.equal(isOpenIn('tab'), false);
  });

  it('has the defaults and choices of schema/settings.json', () => {
    const schema = JSON.parse(
      readFileSync(new URL('../schema/settings.json', import.meta.url), 'utf8')
    );
    assert.equal(schema.properties.openIn.default, DEFAULT_SETTINGS.openIn);
    assert.equal(
      schema.properties.contextMenu.default,
      DEFAULT_SETTINGS.contextMenu
    );
    const choices = schema.properties.openIn.oneOf.map(
      (choice: { const: string }) => choice.const
    );
    assert.deepEqual(choices, ['browser-tab', 'lab-tab']);
    assert.ok(choices.every(isOpenIn));
    assert.equal(
      schema['jupyter.lab.toolbars'].FileBrowser[0].command,
      'napari-desktop:open-in-napari'
    );
  });
});
