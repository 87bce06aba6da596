import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  desktopLabel,
  desktopPageUrl,
  errorDetails,
  parseApiError,
  parseDesktopStatus,
  parseOpenResponse,
  parseServerInfo,
  parseStartResponse,
  viewTitle
} from '../src/api';

describe('parseServerInfo', () => {
  it('reads version and coexisting tools', () => {
    assert.deepEqual(
      parseServerInfo({
        version: '0.1.0',
        coexisting: ['jupyter-remote-desktop-proxy']
      }),
      { version: '0.1.0', coexisting: ['jupyter-remote-desktop-proxy'] }
    );
  });

  it('treats a missing list as no other tools and drops non-names', () => {
    assert.deepEqual(parseServerInfo({ version: '0.1.0' }).coexisting, []);
    assert.deepEqual(
      parseServerInfo({ coexisting: ['a', 3, '', null] }).coexisting,
      ['a']
    );
  });

  it('names the bad value', () => {
    assert.throws(() => parseServerInfo('oops'), /"oops".*JSON object/);
    assert.throws(
      () => parseServerInfo({ coexisting: 'jupyter-remote-desktop-proxy' }),
      /coexisting.*list of names/
    );
  });
});

describe('desktopLabel', () => {
  it('is "Desktop" alone and "napari Desktop" next to another desktop tool', () => {
    assert.equal(desktopLabel(null), 'Desktop');
    assert.equal(desktopLabel({ version: '0.1.0', coexisting: [] }), 'Desktop');
    assert.equal(
      desktopLabel({
        version: '0.1.0',
        coexisting: ['jupyter-remote-desktop-proxy']
      }),
      'napari Desktop'
    );
  });
});

describe('parseStartResponse', () => {
  it('reads the display and the napari status', () => {
    assert.deepEqual(
      parseStartResponse({
        running: true,
        display: ':1',
        generation: 2,
        reason: 'Xvnc exited (-9)',
        napari: {
          available: false,
          running: false,
          message: 'napari is not installed; pip install "napari[pyqt6]"'
        }
      }),
      {
        running: true,
        display: ':1',
        generation: 2,
        reason: 'Xvnc exited (-9)',
        napari: {
          available: false,
          running: false,
          message: 'napari is not installed; pip install "napari[pyqt6]"'
        }
      }
    );
  });

  it('assumes napari is available when the server does not say', () => {
    const parsed = parseStartResponse({ running: true, display: ':1' });
    assert.equal(parsed.reason, null);
    assert.equal(parsed.napari.available, true);
    assert.equal(parsed.napari.message, null);
  });

  it('rejects answers that are not objects', () => {
    assert.throws(() => parseStartResponse(null), /expected a JSON object/);
  });
});

describe('parseApiError', () => {
  const url = '/napari-desktop/api/start';

  it("uses the server's message and fix", () => {
    assert.deepEqual(
      parseApiError(
        500,
        {
          error: {
            message: 'Xvnc not found on PATH',
            fix: 'install tigervnc-standalone-server'
          }
        },
        url
      ),
      {
        message: 'Xvnc not found on PATH',
        fix: 'install tigervnc-standalone-server'
      }
    );
  });

  it('explains an unreachable server', () => {
    const error = parseApiError(0, null, url);
    assert.match(error.message, /Could not reach the Jupyter server/);
    assert.match(error.fix, /still running/);
  });

  it('tells a logged-out user to reload or log in', () => {
    const error = parseApiError(
      403,
      { message: "'_xsrf' argument missing" },
      url
    );
    assert.match(error.message, /HTTP 403.*_xsrf/);
    assert.match(error.fix, /log in/);
  });

  it('points at the server extension on 404', () => {
    assert.match(parseApiError(404, 'Not Found', url).fix, /server extension/);
  });

  it('names the status of anything else', () => {
    assert.match(parseApiError(502, '<html>', url).message, /HTTP 502/);
  });
});

describe('parseDesktopStatus', () => {
  it('reads a running desktop with napari, its layers and dims', () => {
    assert.deepEqual(
      parseDesktopStatus({
        running: true,
        display: ':1',
        session: 'xfce',
        uptime_s: 12.5,
        memory_mb: 412.3,
        napari: {
          available: true,
          running: true,
          message: null,
          version: '0.6.2',
          layers: [{ name: 'cells', type: 'image', shape: [2, 256, 256] }],
          dims: { ndim: 3, current_step: [0, 127, 127] }
        }
      }),
      {
        running: true,
        display: ':1',
        session: 'xfce',
        uptimeS: 12.5,
        memoryMb: 412.3,
        napari: {
          available: true,
          running: true,
          message: null,
          version: '0.6.2',
          layers: [{ name: 'cells', type: 'image', shape: [2, 256, 256] }],
          dims: { ndim: 3, currentStep: [0, 127, 127] }
        }
      }
    );
  });

  it('reads a stopped desktop with nulls', () => {
    const status = parseDesktopStatus({
      running: false,
      display: null,
      session: null,
      uptime_s: null,
      memory_mb: null,
      napari: {
        available: false,
        running: false,
        message: 'napari is not installed; pip install "napari[pyqt6]"',
        version: null,
        layers: [],
        dims: null
      }
    });
    assert.equal(status.running, false);
    assert.equal(status.display, null);
    assert.equal(status.uptimeS, null);
    assert.equal(status.napari.available, false);
    assert.match(status.napari.message ?? '', /pip install/);
    assert.deepEqual(status.napari.layers, []);
    assert.equal(status.napari.dims, null);
  });

  it('is lenient with missing, mistyped and unknown fields', () => {
    const status = parseDesktopStatus({
      running: 'yes',
      display: 1,
      uptime_s: 'long',
      future_field: { anything: true },
      napari: {
        layers: [
          { name: 'ok', shape: [3, 'x', 4] },
          { type: 'image' },
          'junk',
          { name: 'labels', type: 'labels', shape: 'big', extra: 1 }
        ],
        dims: { current_step: [1, 2] }
      }
    });
    assert.equal(status.running, false);
    assert.equal(status.display, null);
    assert.equal(status.session, null);
    assert.equal(status.uptimeS, null);
    assert.equal(status.memoryMb, null);
    assert.equal(status.napari.available, true);
    assert.equal(status.napari.version, null);
    assert.deepEqual(status.napari.layers, [
      { name: 'ok', type: '', shape: [3, 4] },
      { name: 'labels', type: 'labels', shape: [] }
    ]);
    assert.deepEqual(status.napari.dims, { ndim: 2, currentStep: [1, 2] });
  });

  it('reads an older server without a napari part', () => {
    const status = parseDesktopStatus({ running: true, display: ':5' });
    assert.equal(status.display, ':5');
    assert.equal(status.napari.running, false);
    assert.deepEqual(status.napari.layers, []);
  });

  it('rejects answers that are not objects', () => {
    assert.throws(() => parseDesktopStatus([1]), /\[1\].*JSON object/);
  });
});

describe('errorDetails', () => {
  it("uses a request error's message and fix", () => {
    const error = Object.assign(new Error('cells.tif: no reader'), {
      details: {
        message: 'napari cannot read data/cells.tif: No plugin found',
        fix: 'pip install napari-tifffile'
      }
    });
    assert.deepEqual(errorDetails(error), {
      message: 'napari cannot read data/cells.tif: No plugin found',
      fix: 'pip install napari-tifffile'
    });
  });

  it('falls back to the message, then the text', () => {
    assert.deepEqual(errorDetails(new Error('boom')), {
      message: 'boom',
      fix: ''
    });
    assert.deepEqual(errorDetails('plain'), { message: 'plain', fix: '' });
    assert.deepEqual(errorDetails(null), { message: 'null', fix: '' });
  });
});

describe('desktopPageUrl and viewTitle', () => {
  it('joins the base URL with or without its slash', () => {
    assert.equal(desktopPageUrl('/', 'napari'), '/napari-desktop/?app=napari');
    assert.equal(
      desktopPageUrl('/user/ada', 'desktop'),
      '/user/ada/napari-desktop/?app=desktop'
    );
    assert.equal(
      desktopPageUrl('http://host/user/ada/', 'napari'),
      'http://host/user/ada/napari-desktop/?app=napari'
    );
  });

  it('titles tabs "napari" and "Desktop"', () => {
    assert.equal(viewTitle('napari'), 'napari');
    assert.equal(viewTitle('desktop'), 'Desktop');
  });
});

describe('parseOpenResponse', () => {
  it('reads the new layer names and the status', () => {
    const response = parseOpenResponse({
      opened: ['cells', { name: 'nuclei' }, 3],
      status: {
        running: true,
        display: ':1',
        napari: { running: true, layers: [{ name: 'cells', type: 'image' }] }
      }
    });
    assert.deepEqual(response.opened, ['cells', 'nuclei']);
    assert.equal(response.status?.display, ':1');
    assert.equal(response.status?.napari.layers[0].name, 'cells');
  });

  it('reads a bare status and an answer without one', () => {
    assert.equal(
      parseOpenResponse({ running: true, display: ':2' }).status?.display,
      ':2'
    );
    assert.deepEqual(parseOpenResponse({ opened: ['a'] }), {
      opened: ['a'],
      status: null
    });
    assert.throws(() => parseOpenResponse('ok'), /"ok".*JSON object/);
  });
});
