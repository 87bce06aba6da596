import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseConfig } from '../desktop/page-config';
import { desktopRunning, postStart } from '../desktop/start';

const config = parseConfig(
  JSON.stringify({
    apiUrl: '/napari-desktop/api/',
    app: 'napari',
    xsrfToken: 't'
  })
);

/** A fetch that answers `status` with `body`, recording what was asked. */
function answering(status: number, body: unknown) {
  const calls: { url: string; init: RequestInit }[] = [];
  const fake = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return new Response(body === undefined ? '' : JSON.stringify(body), {
      status
    });
  }) as unknown as typeof fetch;
  return { fake, calls };
}

describe('postStart', () => {
  it('posts the app, reconnect and the XSRF token', async () => {
    const { fake, calls } = answering(200, {
      running: true,
      display: ':1',
      napari: { available: true, running: true, message: null }
    });
    const result = await postStart(config, true, fake);
    assert.equal(result.ok, true);
    assert.equal(calls[0].url, '/napari-desktop/api/start');
    assert.deepEqual(JSON.parse(String(calls[0].init.body)), {
      app: 'napari',
      reconnect: true
    });
    assert.equal(
      (calls[0].init.headers as Record<string, string>)['X-XSRFToken'],
      't'
    );
  });

  it('does not retry a stop on purpose (409 with the reason)', async () => {
    const error = { message: 'The desktop was stopped.', fix: 'Try again.' };
    const result = await postStart(
      config,
      true,
      answering(409, { error }).fake
    );
    assert.deepEqual(result, {
      ok: false,
      transient: false,
      error: { ...error, title: 'The desktop was stopped' }
    });
  });

  it('heads a revoked link, a stopped desktop, a changed login, but not a failed start, for what it is', async () => {
    const error = { message: 'refused', fix: '' };
    const page = (extra: Record<string, string>) =>
      parseConfig(
        JSON.stringify({
          apiUrl: '/napari-desktop/api/',
          app: 'napari',
          xsrfToken: 't',
          ...extra
        })
      );
    const link = page({ watchToken: 'w' });
    const title = async (
      config: ReturnType<typeof parseConfig>,
      status: number,
      reconnect = false
    ) => {
      const result = await postStart(
        config,
        reconnect,
        answering(status, { error }).fake
      );
      return result.ok ? 'ok' : result.error.title;
    };
    assert.equal(await title(link, 403), 'This view-only link no longer works');
    assert.equal(await title(link, 409), 'The desktop is not running');
    assert.equal(
      await title(page({ role: 'viewer' }), 409),
      'The desktop is not running'
    );
    assert.equal(await title(config, 409, true), 'The desktop was stopped');
    assert.equal(await title(config, 403), 'Your login has changed or ended');
    assert.equal(await title(config, 503), undefined);
    assert.equal(await title(config, 409), undefined);
  });

  it("sends a link's token in a header, and waits for a server the hub redirects", async () => {
    const link = parseConfig(
      JSON.stringify({
        apiUrl: '/user/alice/napari-desktop/watch/',
        app: 'napari',
        xsrfToken: '',
        watchToken: 'secret-token',
        owner: 'alice'
      })
    );
    const up = answering(200, { running: true, display: ':1' });
    await postStart(link, false, up.fake);
    assert.equal(up.calls[0].url, '/user/alice/napari-desktop/watch/status');
    assert.ok(!up.calls[0].url.includes('secret-token'));
    assert.equal(
      (up.calls[0].init.headers as Record<string, string>)[
        'X-Napari-Desktop-Watch'
      ],
      'secret-token'
    );
    assert.equal(up.calls[0].init.redirect, 'manual');
    const down = (async () =>
      new Response(null, {
        status: 302,
        headers: { Location: '/hub/login' }
      })) as unknown as typeof fetch;
    const result = await postStart(link, true, down);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.transient);
    assert.ok(
      !result.ok &&
        /alice's Jupyter server is not running/.test(result.error.message)
    );
  });

  it('retries when the server cannot be reached or a proxy fails', async () => {
    const offline = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    const unreachable = await postStart(config, false, offline);
    assert.equal(unreachable.ok || unreachable.transient, true);
    const gateway = await postStart(
      config,
      false,
      answering(502, undefined).fake
    );
    assert.equal(gateway.ok || gateway.transient, true);
  });

  it('gives up after the timeout and retries later', async () => {
    const hanging = ((_url: string, init: RequestInit) =>
      new Promise((_resolve, reject) => {
        init.signal?.addEventListener('abort', () =>
          reject(new DOMException('aborted', 'AbortError'))
        );
      })) as unknown as typeof fetch;
    const result = await postStart(config, false, hanging, 10);
    assert.equal(result.ok || result.transient, true);
  });

  it('explains an answer it cannot read (page and server of other versions)', async () => {
    const result = await postStart(
      config,
      false,
      answering(200, 'not a start answer').fake
    );
    assert.equal(result.ok, false);
    assert.ok(!result.ok && !result.transient);
    assert.match(!result.ok ? result.error.fix : '', /different versions/);
  });
  it('asks whether a stopped desktop runs again with GET status, never POST start', async () => {
    const up = answering(200, { running: true, display: ':1' });
    assert.equal(await desktopRunning(config, up.fake), true);
    assert.equal(up.calls[0].url, '/napari-desktop/api/status');
    assert.equal(up.calls[0].init.method ?? 'GET', 'GET');
    const down = answering(200, { running: false });
    assert.equal(await desktopRunning(config, down.fake), false);
    assert.equal(
      await desktopRunning(config, answering(500, null).fake),
      false
    );
    const offline = (async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    assert.equal(await desktopRunning(config, offline), false);
  });
});
