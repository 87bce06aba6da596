import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  chunkBody,
  chunkPlan,
  contentsUrl,
  formatBytes,
  freeName,
  IUploadOptions,
  IUploadSource,
  numberedName,
  sanitizeName,
  splitExtension,
  uploadFile
} from '../desktop/upload';

/**
 * Jupyter's contents API as LargeFileManager answers it, in memory: chunk 1
 * (or no chunk) writes, other chunks append; PATCH refuses an existing target
 * with 409. `hooks.beforeAnswer` can drop the answer of a request that was
 * applied (a lost response) or fail it before it is applied.
 */
class FakeServer {
  files = new Map<string, Buffer>();
  folders = new Set<string>(['']);
  trash: { path: string; size: number }[] = [];
  opened: string[][] = [];
  calls: string[] = [];
  /** Return 'drop' to lose the answer after applying, a status to fail before. */
  hook: (
    method: string,
    path: string,
    body: Record<string, unknown>
  ) => 'drop' | number | null = () => null;
  openAnswer: { status: number; body: unknown } | null = null;

  fetch = (async (input: string, init: RequestInit) => {
    const method = init.method ?? 'GET';
    const text = init.body instanceof Blob ? await init.body.text() : init.body;
    const body = text
      ? (JSON.parse(String(text)) as Record<string, unknown>)
      : {};
    const url = new URL(input, 'http://x');
    this.calls.push(`${method} ${decodeURIComponent(url.pathname)}`);
    if (init.signal?.aborted) {
      throw new DOMException('aborted', 'AbortError');
    }
    if (url.pathname === '/napari-desktop/api/open') {
      this.opened.push(body.paths as string[]);
      const answer = this.openAnswer ?? {
        status: 200,
        body: { opened: ['layer'] }
      };
      return new Response(JSON.stringify(answer.body), {
        status: answer.status
      });
    }
    const path = decodeURIComponent(
      url.pathname.replace(/^\/api\/contents\/?/, '')
    );
    const hooked = this.hook(method, path, body);
    if (typeof hooked === 'number') {
      if (hooked === 0) {
        throw new TypeError('Failed to fetch');
      }
      return new Response(
        JSON.stringify({ message: 'No space left on device' }),
        {
          status: hooked
        }
      );
    }
    const answer = this.apply(method, path, body);
    if (hooked === 'drop') {
      throw new TypeError('Failed to fetch');
    }
    return answer;
  }) as unknown as typeof fetch;

  apply(method: string, path: string, body: Record<string, unknown>): Response {
    const json = (status: number, data: unknown) =>
      new Response(data === null ? null : JSON.stringify(data), { status });
    if (method === 'GET') {
      if (this.folders.has(path)) {
        return json(200, { type: 'directory', size: null });
      }
      const data = this.files.get(path);
      return data
        ? json(200, { type: 'file', size: data.length })
        : json(404, { message: 'No such file' });
    }
    if (method === 'PUT') {
      if (body.type === 'directory') {
        this.folders.add(path);
        return json(201, { type: 'directory' });
      }
      const bytes = Buffer.from(String(body.content), 'base64');
      const existed = this.files.has(path);
      const chunk = body.chunk as number | undefined;
      if (chunk === undefined || chunk === 1) {
        this.files.set(path, bytes);
      } else {
        this.files.set(
          path,
          Buffer.concat([this.files.get(path) ?? Buffer.alloc(0), bytes])
        );
      }
      return json(existed ? 200 : 201, { type: 'file' });
    }
    if (method === 'PATCH') {
      const to = String(body.path);
      if (this.files.has(to)) {
        return json(409, { message: `File already exists: ${to}` });
      }
      this.files.set(to, this.files.get(path)!);
      this.files.delete(path);
      return json(200, { path: to });
    }
    if (method === 'DELETE') {
      const data = this.files.get(path);
      if (!data) {
        return json(404, { message: 'no such file' });
      }
      this.trash.push({ path, size: data.length });
      this.files.delete(path);
      return json(204, null);
    }
    return json(405, null);
  }
}

function source(
  name: string,
  bytes: Buffer
): IUploadSource & { reads: number } {
  const result = {
    name,
    size: bytes.length,
    reads: 0,
    async read(start: number, end: number) {
      result.reads++;
      return bytes.subarray(start, end).toString('base64');
    }
  };
  return result;
}

function options(
  server: FakeServer,
  extra: Partial<IUploadOptions> = {}
): IUploadOptions {
  return {
    baseUrl: '/',
    apiUrl: '/napari-desktop/api/',
    uploadDir: '',
    xsrfToken: 't',
    resolveConflict: async () => 'cancel',
    fetch: server.fetch,
    sleep: async () => undefined,
    chunkSize: 10,
    ...extra
  };
}

function bytes(n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) % 256));
}

describe('sanitizeName', () => {
  it('keeps ordinary names, spaces and non-ASCII letters', () => {
    assert.equal(sanitizeName('cells ü 01.tif'), 'cells ü 01.tif');
  });
  it('keeps only the last path part', () => {
    assert.equal(sanitizeName('../../etc/passwd'), 'passwd');
    assert.equal(sanitizeName('C:\\Users\\me\\cells.tif'), 'cells.tif');
  });
  it('replaces characters special on some file systems and drops control characters', () => {
    assert.equal(sanitizeName('a:b*c?"d<e>f|g.tif'), 'a_b_c__d_e_f_g.tif');
    assert.equal(sanitizeName('a\u0000b\nc.tif'), 'abc.tif');
  });
  it('never makes a hidden name, nor an empty one', () => {
    assert.equal(sanitizeName('.bashrc'), 'bashrc');
    assert.equal(sanitizeName('...'), 'upload');
    assert.equal(sanitizeName('..'), 'upload');
    assert.equal(sanitizeName(' name. '), 'name');
  });
  it('shortens long names but keeps the extension', () => {
    const name = sanitizeName(`${'x'.repeat(500)}.ome.tif`);
    assert.equal(name.length, 200);
    assert.ok(name.endsWith('.ome.tif'));
  });
});

describe('names for "keep both"', () => {
  it('numbers before the extension, double extensions kept together', () => {
    assert.deepEqual(splitExtension('cells.ome.tif'), ['cells', '.ome.tif']);
    assert.equal(numberedName('cells.tif', 1), 'cells (1).tif');
    assert.equal(numberedName('cells.ome.tiff', 2), 'cells (2).ome.tiff');
    assert.equal(numberedName('README', 3), 'README (3)');
  });
  it('takes the first free number', async () => {
    const taken = new Set(['a (1).tif', 'a (2).tif']);
    assert.equal(await freeName('a.tif', async n => taken.has(n)), 'a (3).tif');
  });
});

describe('chunkPlan', () => {
  it('sends a small file in one plain PUT', () => {
    assert.deepEqual(chunkPlan(10, 10), [{ number: null, start: 0, end: 10 }]);
    assert.deepEqual(chunkPlan(0, 10), [{ number: null, start: 0, end: 0 }]);
  });
  it('numbers chunks 1, 2, ..., -1 and covers every byte once', () => {
    assert.deepEqual(chunkPlan(25, 10), [
      { number: 1, start: 0, end: 10 },
      { number: 2, start: 10, end: 20 },
      { number: -1, start: 20, end: 25 }
    ]);
    assert.deepEqual(
      chunkPlan(20, 10).map(c => c.number),
      [1, -1]
    );
  });
  it('refuses a chunk size that is not a positive whole number', () => {
    assert.throws(() => chunkPlan(10, 0), /positive whole number/);
  });
});

describe('helpers', () => {
  it('writes the PUT body as the JSON the contents API reads', async () => {
    assert.deepEqual(JSON.parse(await chunkBody('QUJD', 2).text()), {
      type: 'file',
      format: 'base64',
      chunk: 2,
      content: 'QUJD'
    });
    assert.equal(JSON.parse(await chunkBody('', null).text()).chunk, undefined);
  });
  it('encodes each part of a contents URL', () => {
    assert.equal(
      contentsUrl('/user/a/', 'up loads/ü#1.tif'),
      '/user/a/api/contents/up%20loads/%C3%BC%231.tif'
    );
  });
  it('formats sizes', () => {
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(1_500_000), '1.5 MB');
    assert.equal(formatBytes(2_000_000_000), '2.0 GB');
  });
});

describe('uploadFile', () => {
  it('uploads in chunks to a temporary name, renames it and opens it', async () => {
    const server = new FakeServer();
    const data = bytes(95);
    const seen: number[] = [];
    const result = await uploadFile(
      source('cells.tif', data),
      options(server, {
        uploadDir: 'uploads/new',
        progress: sent => seen.push(sent)
      })
    );
    assert.equal(result.status, 'uploaded');
    assert.equal(result.path, 'uploads/new/cells.tif');
    assert.deepEqual([...server.files.keys()], ['uploads/new/cells.tif']);
    assert.ok(server.files.get('uploads/new/cells.tif')!.equals(data));
    assert.ok(
      server.folders.has('uploads') && server.folders.has('uploads/new')
    );
    assert.deepEqual(seen, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]);
    assert.deepEqual(server.opened, [['uploads/new/cells.tif']]);
    const puts = server.calls.filter(c =>
      c.startsWith('PUT /api/contents/uploads/new/cells.tif.')
    );
    assert.equal(puts.length, 10);
    assert.ok(puts[0].endsWith('.uploading'));
  });

  it('asks before overwriting and cancels without touching the file', async () => {
    const server = new FakeServer();
    server.files.set('cells.tif', Buffer.from('old'));
    const asked: string[] = [];
    const result = await uploadFile(
      source('cells.tif', bytes(30)),
      options(server, {
        resolveConflict: async path => {
          asked.push(path);
          return 'cancel';
        }
      })
    );
    assert.equal(result.status, 'cancelled');
    assert.deepEqual(asked, ['cells.tif']);
    assert.deepEqual(
      [...server.files.entries()],
      [['cells.tif', Buffer.from('old')]]
    );
    assert.deepEqual(server.opened, []);
  });

  it('keeps both under the next free number', async () => {
    const server = new FakeServer();
    server.files.set('cells.tif', Buffer.from('old'));
    server.files.set('cells (1).tif', Buffer.from('older'));
    const result = await uploadFile(
      source('cells.tif', bytes(30)),
      options(server, { resolveConflict: async () => 'keep-both' })
    );
    assert.equal(result.status, 'uploaded');
    assert.equal(result.path, 'cells (2).tif');
    assert.equal(server.files.get('cells.tif')!.toString(), 'old');
    assert.ok(server.files.get('cells (2).tif')!.equals(bytes(30)));
  });

  it('replaces only when asked to, once the new file is complete', async () => {
    const server = new FakeServer();
    server.files.set('cells.tif', Buffer.from('old'));
    const result = await uploadFile(
      source('cells.tif', bytes(30)),
      options(server, { resolveConflict: async () => 'replace' })
    );
    assert.equal(result.status, 'uploaded');
    assert.ok(server.files.get('cells.tif')!.equals(bytes(30)));
    assert.deepEqual(server.trash, [{ path: 'cells.tif', size: 3 }]);
  });

  it('a cancelled upload leaves no file, and the trash only an empty one', async () => {
    const server = new FakeServer();
    const controller = new AbortController();
    let puts = 0;
    server.hook = method => {
      if (method === 'PUT' && ++puts === 3) {
        controller.abort();
      }
      return null;
    };
    const result = await uploadFile(
      source('big.tif', bytes(100)),
      options(server, { signal: controller.signal })
    );
    assert.equal(result.status, 'cancelled');
    assert.deepEqual([...server.files.keys()], []);
    assert.equal(server.trash.length, 1);
    assert.equal(server.trash[0].size, 0);
    assert.ok(server.trash[0].path.endsWith('.uploading'));
    assert.deepEqual(server.opened, []);
  });

  it('survives lost answers and a brief disconnect without appending twice', async () => {
    const server = new FakeServer();
    let n = 0;
    server.hook = (method, path) => {
      if (method !== 'PUT' || !path.endsWith('.uploading')) {
        return null;
      }
      n++;
      if (n === 3) {
        return 'drop'; // chunk 3 arrived, its answer did not
      }
      if (n === 5 || n === 6) {
        return 0; // the network is away for two tries
      }
      if (n === 7) {
        return 503; // a proxy without the server behind it
      }
      return null;
    };
    const data = bytes(55);
    const retries: number[] = [];
    const result = await uploadFile(
      source('x.tif', data),
      options(server, { retrying: attempt => retries.push(attempt) })
    );
    assert.deepEqual(retries, [2, 2, 3, 4]);
    assert.equal(result.status, 'uploaded', JSON.stringify(result));
    assert.ok(server.files.get('x.tif')!.equals(data));
  });

  it('gives up after the attempts, removes the partial file and says why', async () => {
    const server = new FakeServer();
    server.hook = (method, path, body) =>
      method === 'PUT' && path.endsWith('.uploading') && body.chunk === 2
        ? 0
        : null;
    const result = await uploadFile(
      source('x.tif', bytes(30)),
      options(server, { attempts: 3 })
    );
    assert.equal(result.status, 'failed');
    if (result.status === 'failed') {
      assert.match(result.message, /did not answer/);
      assert.match(result.fix, /network/);
    }
    assert.deepEqual([...server.files.keys()], []);
  });

  it('a full disk fails at once with what to do', async () => {
    const server = new FakeServer();
    server.hook = (method, path, body) =>
      method === 'PUT' && body.chunk === 2 ? 500 : null;
    const result = await uploadFile(
      source('x.tif', bytes(30)),
      options(server)
    );
    assert.equal(result.status, 'failed');
    if (result.status === 'failed') {
      assert.match(result.message, /No space left on device \(HTTP 500\)/);
      assert.match(result.fix, /disk space/);
    }
    assert.equal(
      server.calls.filter(c => c.includes('.uploading') && c.startsWith('PUT'))
        .length,
      3
    );
    assert.deepEqual([...server.files.keys()], []);
  });

  it('keeps the file when napari cannot read it, and says so', async () => {
    const server = new FakeServer();
    server.openAnswer = {
      status: 422,
      body: {
        error: {
          message: 'napari cannot read it: no reader',
          fix: 'check the file'
        }
      }
    };
    const result = await uploadFile(
      source('notes.txt', bytes(5)),
      options(server)
    );
    assert.equal(result.status, 'failed');
    if (result.status === 'failed') {
      assert.match(
        result.message,
        /notes.txt was uploaded, but napari did not open it: napari cannot read it/
      );
      assert.equal(result.fix, 'check the file');
    }
    assert.ok(server.files.has('notes.txt'));
  });
});
