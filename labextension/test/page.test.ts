import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DEFAULT_COMPRESSION,
  DEFAULT_QUALITY,
  documentTitle,
  parseConfig,
  toLevel
} from '../desktop/page-config';
import { backoffDelay, isTransientFailure } from '../desktop/retry';
import { apiEndpoint, websocketUrl } from '../desktop/urls';

describe('backoffDelay', () => {
  it('starts at 0.5 s and doubles up to 5 s', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6].map(n => backoffDelay(n));
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('stays at the maximum for very many attempts', () => {
    assert.equal(backoffDelay(10_000), 5000);
  });

  it('treats negative and non-finite attempts as the first', () => {
    assert.equal(backoffDelay(-3), 500);
    assert.equal(backoffDelay(Number.NaN), 500);
  });
});

describe('websocketUrl', () => {
  it('uses wss:// on https pages', () => {
    assert.equal(
      websocketUrl(
        'https://hub.example.org/user/alice/lab/tree/data',
        '/user/alice/napari-desktop/websockify'
      ),
      'wss://hub.example.org/user/alice/napari-desktop/websockify'
    );
  });

  it('uses ws:// on http pages and keeps the port', () => {
    assert.equal(
      websocketUrl(
        'http://localhost:8888/napari-desktop/?app=napari',
        '/napari-desktop/websockify'
      ),
      'ws://localhost:8888/napari-desktop/websockify'
    );
  });

  it('adds the leading slash to a relative path', () => {
    assert.equal(
      websocketUrl('http://h/lab', 'napari-desktop/websockify'),
      'ws://h/napari-desktop/websockify'
    );
  });
});

describe('apiEndpoint', () => {
  it('joins with exactly one slash', () => {
    assert.equal(
      apiEndpoint('/user/alice/napari-desktop/api/', 'start'),
      '/user/alice/napari-desktop/api/start'
    );
    assert.equal(
      apiEndpoint('/napari-desktop/api', '/start'),
      '/napari-desktop/api/start'
    );
  });
});

describe('toLevel', () => {
  it('accepts integers 0-9 as numbers or strings', () => {
    assert.equal(toLevel(0, 6), 0);
    assert.equal(toLevel('9', 6), 9);
  });

  it('falls back for anything else', () => {
    for (const bad of [10, -1, 2.5, '', ' ', 'high', null, undefined, {}]) {
      assert.equal(toLevel(bad, 6), 6, `toLevel(${JSON.stringify(bad)})`);
    }
  });
});

describe('documentTitle', () => {
  it('names napari only when napari is the app', () => {
    assert.equal(documentTitle('napari'), 'napari — Desktop');
    assert.equal(documentTitle('desktop'), 'Desktop');
  });
});

describe('parseConfig', () => {
  const full = {
    baseUrl: '/user/alice/',
    apiUrl: '/user/alice/napari-desktop/api/',
    websocketPath: '/user/alice/napari-desktop/websockify',
    app: 'desktop',
    xsrfToken: 'token-value',
    quality: 3,
    compression: 7,
    adaptiveQuality: false,
    uploadDir: 'data/uploads',
    hidpi: 'light',
    video: true,
    version: '0.1.0',
    owner: 'alice',
    user: 'bob',
    role: 'viewer',
    watchToken: 'link-token'
  };

  it('reads the configuration the server embeds', () => {
    assert.deepEqual(parseConfig(JSON.stringify(full)), full);
  });

  it('derives missing URLs from the base URL and uses noVNC defaults', () => {
    const config = parseConfig('{"baseUrl": "/user/bob"}');
    assert.equal(config.baseUrl, '/user/bob/');
    assert.equal(config.apiUrl, '/user/bob/napari-desktop/api/');
    assert.equal(config.websocketPath, '/user/bob/napari-desktop/websockify');
    assert.equal(config.app, 'napari');
    assert.equal(config.quality, DEFAULT_QUALITY);
    assert.equal(config.compression, DEFAULT_COMPRESSION);
    assert.equal(config.adaptiveQuality, true);
    assert.equal(config.uploadDir, '');
    assert.equal(config.hidpi, 'crisp');
    assert.equal(config.video, false); // the server offers H.264 only when it says so
  });

  it('rejects out-of-range levels and unknown apps', () => {
    const config = parseConfig(
      JSON.stringify({ ...full, app: 'xterm', quality: 12, compression: -1 })
    );
    assert.equal(config.app, 'napari');
    assert.equal(config.quality, DEFAULT_QUALITY);
    assert.equal(config.compression, DEFAULT_COMPRESSION);
  });

  it('explains a missing or broken configuration', () => {
    assert.throws(() => parseConfig(null), /no configuration/);
    assert.throws(() => parseConfig('{'), /not valid JSON/);
    assert.throws(() => parseConfig('[1]'), /expected a JSON object/);
  });
});

describe('isTransientFailure', () => {
  it('retries unreachable servers and unexplained gateway errors', () => {
    assert.equal(isTransientFailure(0, null), true);
    assert.equal(isTransientFailure(502, '<html>Bad Gateway</html>'), true);
    assert.equal(isTransientFailure(503, null), true);
  });

  it('shows explained server errors and client errors to the user', () => {
    const explained = { error: { message: 'Xvnc not found', fix: 'install' } };
    assert.equal(isTransientFailure(500, explained), false);
    assert.equal(isTransientFailure(403, null), false);
    assert.equal(isTransientFailure(404, null), false);
  });
});
