import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseDesktopStatus } from '../src/api';
import {
  clickTarget,
  formatDuration,
  statusText,
  statusTooltip
} from '../src/status-text';

const running = parseDesktopStatus({
  running: true,
  display: ':1',
  session: 'xfce',
  uptime_s: 3725,
  memory_mb: 512.4,
  napari: {
    available: true,
    running: true,
    version: '0.6.2',
    layers: [
      { name: 'cells', type: 'image', shape: [2, 256, 256] },
      { name: 'nuclei', type: 'labels', shape: [256, 256] }
    ]
  }
});
const stopped = parseDesktopStatus({
  running: false,
  napari: { available: true, running: false }
});
const withoutNapari = parseDesktopStatus({
  running: true,
  display: ':1',
  napari: { available: true, running: false }
});
const notInstalled = parseDesktopStatus({
  running: true,
  napari: {
    available: false,
    running: false,
    message: 'napari is not installed; pip install "napari[pyqt6]"'
  }
});

describe('statusText', () => {
  it('says whether the desktop and napari run', () => {
    assert.equal(
      statusText(running, null, null),
      'napari desktop: running, napari: 2 layers'
    );
    assert.equal(statusText(stopped, null, null), 'napari desktop: stopped');
    assert.equal(
      statusText(withoutNapari, null, null),
      'napari desktop: running, napari not running'
    );
    assert.equal(
      statusText(notInstalled, null, null),
      'napari desktop: running, napari not installed'
    );
  });

  it('shows a running command, an unknown state and the first read', () => {
    assert.equal(
      statusText(stopped, null, 'opening'),
      'napari desktop: opening…'
    );
    assert.equal(
      statusText(running, { message: 'unreachable', fix: '' }, null),
      'napari desktop: unknown'
    );
    assert.equal(statusText(null, null, null), 'napari desktop: …');
  });
});

describe('statusTooltip', () => {
  it('lists the details and the layers', () => {
    const text = statusTooltip(running, null);
    assert.match(
      text,
      /running \(display :1, xfce session, up 1 h 2 min, 512 MB\)/
    );
    assert.match(text, /napari 0\.6\.2 is running/);
    assert.match(text, /• cells \(image 2×256×256\)/);
    assert.match(text, /• nuclei \(labels 256×256\)/);
    assert.match(text, /Click to open the desktop\.$/);
  });

  it("gives napari's message and the request's fix", () => {
    assert.match(statusTooltip(notInstalled, null), /pip install/);
    const text = statusTooltip(null, {
      message: 'The Jupyter server has no /napari-desktop/api/status',
      fix: 'enable the server extension'
    });
    assert.match(text, /Could not read the desktop status: The Jupyter/);
    assert.match(text, /Fix: enable the server extension/);
  });
});

describe('formatDuration', () => {
  it('uses the largest two units', () => {
    assert.equal(formatDuration(42.9), '42 s');
    assert.equal(formatDuration(300), '5 min');
    assert.equal(formatDuration(7200), '2 h');
    assert.equal(formatDuration(7500), '2 h 5 min');
    assert.equal(formatDuration(90000), '1 d 1 h');
    assert.equal(formatDuration(-3), '0 s');
  });
});

describe('clickTarget', () => {
  it('shows napari unless it was closed or is missing', () => {
    assert.equal(clickTarget(null), 'napari');
    assert.equal(clickTarget(stopped), 'napari');
    assert.equal(clickTarget(running), 'napari');
    assert.equal(clickTarget(withoutNapari), 'desktop');
    assert.equal(clickTarget(notInstalled), 'desktop');
  });
});
