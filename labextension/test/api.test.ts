import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  desktopLabel,
  parseApiError,
  parseServerInfo,
  parseStartResponse
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
        napari: {
          available: false,
          running: false,
          message: 'napari is not installed; pip install "napari[pyqt6]"'
        }
      }),
      {
        running: true,
        display: ':1',
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
