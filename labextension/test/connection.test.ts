import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ConnectionState,
  DesktopConnection,
  IVncConnection,
  IVncEvents,
  StartResult
} from '../desktop/connection';
import type { IApiError, IStartResponse } from '../src/tokens';

const STARTED: IStartResponse = {
  running: true,
  display: ':1',
  generation: 1,
  reason: null,
  napari: { available: true, running: true, message: null }
};

/** A VNC connection that the test connects and drops. */
class FakeVnc implements IVncConnection {
  disconnected = false;
  private readonly _events = new EventTarget();

  addEventListener<K extends keyof IVncEvents>(
    type: K,
    listener: (event: IVncEvents[K]) => void
  ): void {
    this._events.addEventListener(type, event =>
      listener(event as IVncEvents[K])
    );
  }

  dispatchEvent(event: Event): void {
    this._events.dispatchEvent(event);
  }

  disconnect(): void {
    this.disconnected = true;
    this.drop(true);
  }

  connect(): void {
    this.dispatchEvent(new CustomEvent('connect', { detail: {} }));
  }

  drop(clean = false): void {
    this.dispatchEvent(new CustomEvent('disconnect', { detail: { clean } }));
  }

  refuse(reason: string): void {
    this.dispatchEvent(
      new CustomEvent('securityfailure', { detail: { status: 1, reason } })
    );
  }
}

/** The page, as the state machine sees it: records everything, fakes time. */
class FakePage {
  states: [ConnectionState, string][] = [];
  errors: IApiError[] = [];
  starts: boolean[] = [];
  opened: FakeVnc[] = [];
  connected: FakeVnc[] = [];
  timers = new Map<number, { callback: () => void; ms: number }>();
  answers: StartResult[] = [];
  openFails = false;
  private _nextTimer = 1;
  readonly connection = new DesktopConnection<FakeVnc>({
    start: async reconnect => {
      this.starts.push(reconnect);
      return this.answers.shift() ?? { ok: true, response: STARTED };
    },
    open: () => {
      if (this.openFails) {
        throw new Error('ws://h/napari-desktop/websockify: SyntaxError');
      }
      const vnc = new FakeVnc();
      this.opened.push(vnc);
      return vnc;
    },
    showState: (state, text) => this.states.push([state, text]),
    showError: error => this.errors.push(error),
    started: () => undefined,
    connected: vnc => this.connected.push(vnc),
    timers: {
      setTimeout: (callback, ms) => {
        const id = this._nextTimer++;
        this.timers.set(id, { callback, ms });
        return id;
      },
      clearTimeout: id => this.timers.delete(id)
    }
  });

  get state(): ConnectionState {
    return this.states[this.states.length - 1][0];
  }

  get text(): string {
    return this.states[this.states.length - 1][1];
  }

  get vnc(): FakeVnc {
    return this.opened[this.opened.length - 1];
  }

  /** The delays of the pending timers. */
  pending(): number[] {
    return [...this.timers.values()].map(timer => timer.ms);
  }

  /** Let the one pending timer fire. */
  async elapse(): Promise<void> {
    assert.equal(this.timers.size, 1, 'one retry is pending');
    const [[id, timer]] = [...this.timers.entries()];
    this.timers.delete(id);
    timer.callback();
    await settle();
  }
}

const settle = () => new Promise(resolve => setImmediate(resolve));

const transient: StartResult = {
  ok: false,
  transient: true,
  error: { message: 'The Jupyter server did not answer.', fix: '' }
};
const stoppedOnPurpose: StartResult = {
  ok: false,
  transient: false,
  error: { message: 'The desktop was stopped.', fix: 'Click Try again.' }
};

async function connectedPage(): Promise<FakePage> {
  const page = new FakePage();
  page.connection.start();
  await settle();
  page.vnc.connect();
  return page;
}

describe('DesktopConnection', () => {
  it('starts the desktop, then opens the VNC connection', async () => {
    const page = await connectedPage();
    assert.deepEqual(page.starts, [false]);
    assert.deepEqual(
      page.states.map(([, text]) => text),
      ['Starting the desktop…', 'Connecting…', 'Connected']
    );
    assert.equal(page.state, 'connected');
    assert.deepEqual(page.connected, [page.vnc]);
    assert.equal(page.connection.vnc, page.vnc);
  });

  it('reconnects after a lost connection with a doubling delay', async () => {
    const page = await connectedPage();
    page.answers.push(transient, transient);
    page.vnc.drop();
    assert.equal(page.state, 'reconnecting');
    assert.match(page.text, /was lost\. Reconnecting in 0\.5 s \(attempt 1\)/);
    assert.equal(page.connection.vnc, null);
    const delays = [];
    for (let i = 0; i < 3; i++) {
      delays.push(page.pending()[0]);
      await page.elapse();
    }
    assert.deepEqual(delays, [500, 1000, 2000]);
    assert.deepEqual(page.starts, [false, true, true, true], 'reconnect: true');
    assert.equal(page.opened.length, 2, 'a new connection after the start');
    page.vnc.connect();
    assert.equal(page.state, 'connected');
    page.vnc.drop(true);
    assert.match(page.text, /closed\. Reconnecting in 0\.5 s/, 'backoff reset');
  });

  it('says why it reconnected to a new desktop', async () => {
    const page = await connectedPage();
    const fresh = { ...STARTED, generation: 2, reason: 'Xvnc exited (-9)' };
    page.answers.push({ ok: true, response: fresh });
    page.vnc.drop();
    await page.elapse();
    page.vnc.connect();
    assert.equal(page.text, 'Connected to a new desktop (Xvnc exited (-9))');
    page.answers.push({ ok: true, response: fresh });
    page.vnc.drop();
    await page.elapse();
    page.vnc.connect();
    assert.equal(
      page.text,
      'Connected',
      'the same desktop again: nothing to explain'
    );
  });

  it('stays stopped when the desktop was stopped on purpose', async () => {
    const page = await connectedPage();
    page.answers.push(stoppedOnPurpose);
    page.vnc.drop();
    await page.elapse();
    assert.equal(page.state, 'error');
    assert.deepEqual(page.errors, [stoppedOnPurpose.error]);
    assert.deepEqual(page.pending(), [], 'no retry is scheduled');
    assert.equal(page.opened.length, 1, 'no new connection');
  });

  it('starts over at once on restart ("Try again")', async () => {
    const page = new FakePage();
    page.answers.push(stoppedOnPurpose);
    page.connection.start();
    await settle();
    assert.equal(page.state, 'error');
    page.connection.restart();
    await settle();
    assert.deepEqual(page.starts, [false, false]);
    page.vnc.connect();
    assert.equal(page.state, 'connected');
  });

  it('ignores events of a connection it abandoned', async () => {
    const page = await connectedPage();
    const old = page.vnc;
    page.connection.restart();
    assert.ok(old.disconnected, 'the old connection is closed');
    await settle();
    assert.deepEqual(page.pending(), [], 'its disconnect schedules nothing');
    old.connect();
    assert.equal(page.connected.length, 1, 'its connect counts for nothing');
    page.vnc.connect();
    assert.equal(page.connected.length, 2);
  });

  it('does not reconnect while the page closes', async () => {
    const page = await connectedPage();
    page.connection.unload();
    page.vnc.drop();
    assert.deepEqual(page.pending(), []);
    assert.equal(page.state, 'connected', 'nothing shown while closing');
  });

  it('retries at once when the network comes back', async () => {
    const page = await connectedPage();
    page.vnc.drop();
    assert.deepEqual(page.pending(), [500]);
    page.connection.online();
    await settle();
    assert.deepEqual(page.pending(), []);
    assert.deepEqual(page.starts, [false, true]);
  });

  it('shows the VNC server refusing the connection as an error', async () => {
    const page = new FakePage();
    page.connection.start();
    await settle();
    page.vnc.refuse('too many security failures');
    assert.equal(page.state, 'error');
    assert.match(page.errors[0].message, /refused.*too many security failures/);
    assert.ok(page.vnc.disconnected);
    assert.deepEqual(page.pending(), []);
  });

  it('shows an error when the connection cannot be created', async () => {
    const page = new FakePage();
    page.openFails = true;
    page.connection.start();
    await settle();
    assert.equal(page.state, 'error');
    assert.equal(
      page.errors[0].message,
      'Could not open the desktop connection ws://h/napari-desktop/websockify: SyntaxError'
    );
  });

  it('points to the server log after ten failed attempts', async () => {
    const page = await connectedPage();
    page.answers.push(...Array(10).fill(transient));
    page.vnc.drop();
    for (let i = 0; i < 10; i++) {
      await page.elapse();
    }
    assert.match(page.text, /attempt 11\)\. If this goes on, see the Jupyter/);
    assert.equal(page.pending()[0], 5000, 'the delay stays at 5 s');
  });
});
