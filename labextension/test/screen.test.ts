import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  IScreenAnswer,
  parseScreenAnswer,
  ScreenScaleReporter
} from '../desktop/screen';

interface ICall {
  url: string;
  init: RequestInit;
}

/** A fetch that records requests and answers with `status` and `body`. */
function fakeFetch(
  calls: ICall[],
  answer: () => { status: number; body: unknown }
): typeof fetch {
  return (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    const { status, body } = answer();
    return new Response(JSON.stringify(body), { status });
  }) as unknown as typeof fetch;
}

const OK = (scale: number) => ({
  status: 200,
  body: { scale, dpi: Math.round(96 * scale), scaling: true, message: null }
});

async function settled(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

describe('ScreenScaleReporter', () => {
  it('PUTs each new scale once, with the XSRF token, in order', async () => {
    const calls: ICall[] = [];
    const answers: IScreenAnswer[] = [];
    let next = 2;
    const reporter = new ScreenScaleReporter(
      '/user/a/napari-desktop/api/',
      'xsrf-1',
      answer => answers.push(answer),
      fakeFetch(calls, () => OK(next))
    );
    reporter.report(2);
    reporter.report(2);
    reporter.report(2);
    await settled();
    next = 1.5;
    reporter.report(1.5);
    await settled();
    assert.equal(calls.length, 2);
    assert.equal(calls[0].url, '/user/a/napari-desktop/api/screen');
    assert.equal(calls[0].init.method, 'PUT');
    assert.equal(calls[0].init.body, '{"scale":2}');
    assert.equal(
      (calls[0].init.headers as Record<string, string>)['X-XSRFToken'],
      'xsrf-1'
    );
    assert.deepEqual(
      answers.map(a => a.dpi),
      [192, 144]
    );
  });

  it('sends again after reset (a new connection) and after a failure', async () => {
    const calls: ICall[] = [];
    let status = 503;
    const reporter = new ScreenScaleReporter(
      '/api/',
      't',
      () => undefined,
      fakeFetch(calls, () =>
        status === 200 ? OK(2) : { status, body: { error: {} } }
      )
    );
    reporter.report(2);
    await settled();
    status = 200;
    reporter.report(2); // the failed one is sent again
    await settled();
    reporter.report(2);
    await settled();
    assert.equal(calls.length, 2);
    reporter.reset();
    reporter.report(2);
    await settled();
    assert.equal(calls.length, 3);
  });
});

describe('parseScreenAnswer', () => {
  it('reads the answer and refuses anything else', () => {
    assert.deepEqual(
      parseScreenAnswer({
        scale: 2,
        dpi: 192,
        scaling: false,
        message: 'another XSETTINGS manager'
      }),
      {
        scale: 2,
        dpi: 192,
        scaling: false,
        message: 'another XSETTINGS manager'
      }
    );
    assert.equal(parseScreenAnswer(null), null);
    assert.equal(parseScreenAnswer({ scale: '2', scaling: true }), null);
    assert.equal(parseScreenAnswer('<html>'), null);
  });
});
