/**
 * Uploads from the laptop into the Jupyter server's root, then into napari.
 *
 * A file goes through Jupyter's contents API (`PUT api/contents/<path>`) in
 * base64 chunks (jupyter_server's LargeFileManager appends chunk 2..n and
 * closes with chunk -1) to a temporary name next to its target, and is
 * renamed (`PATCH`) once complete; a cancelled or failed upload removes the
 * temporary file, so no partial file is left under the real name. Each chunk
 * is retried with backoff when the network drops, after asking the server how
 * much of the file it already has (a lost answer must not append a chunk
 * twice). Then `POST napari-desktop/api/open` opens it in napari.
 *
 * No DOM access (the bytes come through `IUploadSource.read`), so
 * test/upload.test.ts runs it under Node; upload-view.ts is the page's part.
 */
import { parseApiError, withTrailingSlash } from '../src/api';
import { backoffDelay } from './retry';
import { apiEndpoint } from './urls';
import { readBody } from './start';
import { withXsrf } from './request';

/** Bytes per PUT: 8 MiB (about 11 MB of base64 JSON). */
export const CHUNK_SIZE = 8 * 1024 * 1024;
/** Attempts of one chunk before the upload fails (a brief disconnect). */
export const CHUNK_ATTEMPTS = 6;
/** Longest name kept (in characters) before the extension is kept alone. */
export const MAX_NAME_LENGTH = 200;
/** Extensions that belong together: "cells (1).ome.tif", not "cells.ome (1).tif". */
const DOUBLE_EXTENSIONS = [
  '.ome.tif',
  '.ome.tiff',
  '.ome.zarr',
  '.ome.zarr.zip',
  '.nii.gz',
  '.tar.gz'
];

/** What to do when the target name exists. */
export type ConflictChoice = 'replace' | 'keep-both' | 'cancel';

/** The bytes of one local file, read as base64 by range. */
export interface IUploadSource {
  name: string;
  size: number;
  /** base64 of bytes [start, end). */
  read(start: number, end: number): Promise<string>;
}

/** Where and how to upload; the page fills it from its configuration. */
export interface IUploadOptions {
  /** Jupyter's base URL, ending in "/". */
  baseUrl: string;
  /** The napari-desktop JSON API, ending in "/". */
  apiUrl: string;
  /** Root-relative folder, "" for the root. */
  uploadDir: string;
  xsrfToken: string;
  /** Asked when the target exists. */
  resolveConflict(path: string): Promise<ConflictChoice>;
  /** Bytes on the server so far, of `total`. */
  progress?(sent: number, total: number): void;
  /** A chunk failed for want of the network: try `attempt` of `attempts` comes next. */
  retrying?(attempt: number, attempts: number): void;
  signal?: AbortSignal;
  fetch?: typeof fetch;
  sleep?(ms: number): Promise<void>;
  chunkSize?: number;
  attempts?: number;
  /** Open the file in napari once uploaded (default true). */
  open?: boolean;
}

/** The outcome of one upload. */
export type UploadResult =
  | { status: 'uploaded'; path: string; opened: string[]; seconds: number }
  | { status: 'cancelled'; path: string }
  | {
      status: 'failed';
      path: string;
      message: string;
      fix: string;
      /** Seconds the transfer took, when the file arrived (napari failed to open it). */
      seconds?: number;
    };

/** Raised inside an upload when the user cancels it. */
export class UploadCancelled extends Error {
  constructor() {
    super('The upload was cancelled');
  }
}

/** A failure with what to tell the user. */
export class UploadError extends Error {
  readonly fix: string;
  readonly status: number;
  constructor(message: string, fix: string, status = 0) {
    super(message);
    this.fix = fix;
    this.status = status;
  }
}

// Names ------------------------------------------------------------------------

/**
 * A safe file name from a laptop's file name: its last path part, without
 * control characters or characters that are special on some file system
 * (`/ \ : * ? " < > |`, replaced by "_"), without leading dots (hidden files
 * are not served) or trailing dots and spaces, at most MAX_NAME_LENGTH
 * characters; "upload" when nothing is left.
 */
export function sanitizeName(name: string): string {
  const base = name.split(/[/\\]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  let clean = base.normalize('NFC').replace(/[\u0000-\u001f\u007f]/g, '');
  clean = clean.replace(/[:*?"<>|]/g, '_').replace(/\s+/g, ' ');
  clean = clean.replace(/^[\s.]+/, '').replace(/[\s.]+$/, '');
  if (clean.length > MAX_NAME_LENGTH) {
    const [stem, ext] = splitExtension(clean);
    const keep = ext.length < 20 ? ext : '';
    clean = stem.slice(0, MAX_NAME_LENGTH - keep.length).trimEnd() + keep;
  }
  return clean.length > 0 ? clean : 'upload';
}

/** ["cells", ".ome.tif"] for "cells.ome.tif"; ["notes", ""] for "notes". */
export function splitExtension(name: string): [string, string] {
  const lower = name.toLowerCase();
  for (const ext of DOUBLE_EXTENSIONS) {
    if (lower.endsWith(ext) && lower.length > ext.length) {
      return [name.slice(0, -ext.length), name.slice(-ext.length)];
    }
  }
  const dot = name.lastIndexOf('.');
  return dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
}

/** "cells (n).tif" for "cells.tif". */
export function numberedName(name: string, n: number): string {
  const [stem, ext] = splitExtension(name);
  return `${stem} (${n})${ext}`;
}

/** The first of "name (1).ext", "name (2).ext", ... for which `taken` is false. */
export async function freeName(
  name: string,
  taken: (candidate: string) => Promise<boolean>,
  limit = 1000
): Promise<string> {
  for (let n = 1; n <= limit; n++) {
    const candidate = numberedName(name, n);
    if (!(await taken(candidate))) {
      return candidate;
    }
  }
  throw new UploadError(
    `There are already ${limit} files named like ${name}`,
    'choose "Replace", or rename the file before you drop it'
  );
}

/** The temporary name an upload writes to, next to its target. */
export function temporaryName(name: string, id: string): string {
  return `${name}.${id}.uploading`;
}

/** "dir/sub/name" from a root-relative folder ("" for the root) and a name. */
export function joinPath(folder: string, name: string): string {
  const dir = folder.replace(/^\/+|\/+$/g, '');
  return dir ? `${dir}/${name}` : name;
}

/** The contents API URL of a root-relative path, each part URL-encoded. */
export function contentsUrl(baseUrl: string, path: string): string {
  const encoded = path
    .split('/')
    .filter(part => part.length > 0)
    .map(encodeURIComponent)
    .join('/');
  return `${withTrailingSlash(baseUrl)}api/contents/${encoded}`;
}

// Chunks -----------------------------------------------------------------------

/** One PUT of a chunked upload: the LargeFileManager's chunk number and bytes. */
export interface IChunk {
  /** 1 for the first, 2.. for the middle ones, -1 for the last; null: one plain PUT. */
  number: number | null;
  start: number;
  end: number;
}

/** The PUTs that carry `size` bytes in chunks of `chunkSize`. */
export function chunkPlan(size: number, chunkSize = CHUNK_SIZE): IChunk[] {
  if (!Number.isInteger(chunkSize) || chunkSize <= 0) {
    throw new Error(
      `chunk size must be a positive whole number, not ${chunkSize}`
    );
  }
  if (size <= chunkSize) {
    return [{ number: null, start: 0, end: size }];
  }
  const chunks: IChunk[] = [];
  const count = Math.ceil(size / chunkSize);
  for (let i = 0; i < count; i++) {
    chunks.push({
      number: i === count - 1 ? -1 : i + 1,
      start: i * chunkSize,
      end: Math.min(size, (i + 1) * chunkSize)
    });
  }
  return chunks;
}

/**
 * The JSON body of one PUT, as a Blob: `{"type": "file", "format": "base64",
 * "chunk": n, "content": "..."}` without copying the content into one more
 * string (base64 needs no JSON escaping).
 */
export function chunkBody(content: string, chunk: number | null): Blob {
  const head = chunk === null ? '' : `"chunk":${chunk},`;
  return new Blob([
    `{"type":"file","format":"base64",${head}"content":"`,
    content,
    '"}'
  ]);
}

/** A random id for temporary names. */
export function uploadId(): string {
  return Math.random().toString(16).slice(2, 10).padEnd(8, '0');
}

/** "12.3 MB" (decimal units, as file managers show them). */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) {
    return `${bytes} B`;
  }
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = '';
  for (const next of units) {
    value /= 1000;
    unit = next;
    if (value < 1000) {
      break;
    }
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

// The client -------------------------------------------------------------------

/** Whether a failed request is worth trying again: no answer, or a proxy's 502-504. */
export function isRetryable(status: number): boolean {
  return status === 0 || status === 502 || status === 503 || status === 504;
}

/** The message of a contents API error (`{"message": ..., "reason": ...}`). */
export function contentsErrorMessage(status: number, data: unknown): string {
  if (typeof data === 'object' && data !== null) {
    const record = data as Record<string, unknown>;
    const message = record.message ?? record.reason;
    if (typeof message === 'string' && message.length > 0) {
      return message;
    }
  }
  return typeof data === 'string' && data.length > 0 && data.length < 300
    ? data
    : `HTTP ${status}`;
}

/** What the user can do about a contents API refusal. */
export function contentsFix(status: number, message: string): string {
  if (/no space left|disk quota|quota exceeded/i.test(message)) {
    return 'the server is out of disk space: free some space in your Jupyter folder, then drop the file again';
  }
  if (status === 403) {
    return "you may not write there: ask your administrator about c.NapariDesktop.upload_dir and the folder's permissions";
  }
  if (status === 413) {
    return 'the server refused a chunk as too large: ask your administrator to raise ServerApp.max_body_size';
  }
  if (status === 404 || /outside root/i.test(message)) {
    return 'the upload folder is not inside the Jupyter root folder: ask your administrator to check c.NapariDesktop.upload_dir';
  }
  return 'try again; if it keeps failing, ask your administrator to look at the Jupyter server log';
}

class Uploader {
  private readonly _o: IUploadOptions;
  private readonly _fetch: typeof fetch;
  private readonly _sleep: (ms: number) => Promise<void>;

  constructor(options: IUploadOptions) {
    this._o = options;
    this._fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this._sleep =
      options.sleep ?? (ms => new Promise(resolve => setTimeout(resolve, ms)));
  }

  private _checkCancelled(): void {
    if (this._o.signal?.aborted) {
      throw new UploadCancelled();
    }
  }

  /** One request; status 0 when there was no answer. */
  async request(
    method: string,
    url: string,
    body?: unknown,
    cancellable = true
  ): Promise<{ status: number; data: unknown }> {
    // A Blob goes as it is: Chromium sends one several times faster than a string.
    const payload =
      body === undefined || body instanceof Blob ? body : JSON.stringify(body);
    if (cancellable) {
      this._checkCancelled();
    }
    let response: Response;
    try {
      response = await this._fetch(
        url,
        withXsrf(this._o.xsrfToken, {
          method,
          headers: { 'Content-Type': 'application/json' },
          body: payload,
          signal: cancellable ? this._o.signal : undefined
        })
      );
    } catch (error) {
      if (cancellable && this._o.signal?.aborted) {
        throw new UploadCancelled();
      }
      console.warn(`[napari-desktop] ${method} ${url} failed`, error);
      return { status: 0, data: null };
    }
    try {
      return { status: response.status, data: await readBody(response) };
    } catch (error) {
      if (cancellable && this._o.signal?.aborted) {
        throw new UploadCancelled();
      }
      console.warn(`[napari-desktop] ${method} ${url}: no answer`, error);
      return { status: 0, data: null };
    }
  }

  private _url(path: string): string {
    return contentsUrl(this._o.baseUrl, path);
  }

  private _fail(what: string, status: number, data: unknown): UploadError {
    const message = contentsErrorMessage(status, data);
    return new UploadError(
      status === 0
        ? `${what}: the server did not answer`
        : `${what}: ${message} (HTTP ${status})`,
      status === 0
        ? 'check your network connection and that the Jupyter server still runs, then drop the file again'
        : contentsFix(status, message),
      status
    );
  }

  /** The size of `path` on the server, or null when it does not exist. */
  async size(path: string): Promise<number | null> {
    const { status, data } = await this.request(
      'GET',
      `${this._url(path)}?content=0`
    );
    if (status === 404) {
      return null;
    }
    if (status !== 200) {
      throw this._fail(`Could not look at ${path}`, status, data);
    }
    const size = (data as { size?: unknown } | null)?.size;
    return typeof size === 'number' ? size : -1;
  }

  async exists(path: string): Promise<boolean> {
    return (await this.size(path)) !== null;
  }

  /** Create the upload folder (and its parents) unless it is there. */
  async ensureFolder(folder: string): Promise<void> {
    let path = '';
    for (const part of folder.split('/').filter(p => p.length > 0)) {
      path = joinPath(path, part);
      const { status } = await this.request(
        'GET',
        `${this._url(path)}?content=0`
      );
      if (status === 200) {
        continue;
      }
      const made = await this.request('PUT', this._url(path), {
        type: 'directory'
      });
      if (made.status !== 200 && made.status !== 201) {
        throw this._fail(
          `Could not create the folder ${path}`,
          made.status,
          made.data
        );
      }
    }
  }

  /** PUT one chunk (its base64 `content`), retried while the network is away. */
  async putChunk(
    path: string,
    source: IUploadSource,
    chunk: IChunk,
    content: string
  ): Promise<void> {
    const attempts = this._o.attempts ?? CHUNK_ATTEMPTS;
    const model = chunkBody(content, chunk.number);
    let last = { status: 0, data: null as unknown };
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) {
        this._o.retrying?.(attempt + 1, attempts);
        await this._sleep(backoffDelay(attempt - 1));
        this._checkCancelled();
        // An appended chunk must not be appended twice: ask what arrived.
        if (chunk.number !== null && chunk.number !== 1) {
          let have: number | null;
          try {
            have = await this.size(path);
          } catch (error) {
            if (error instanceof UploadError && isRetryable(error.status)) {
              continue;
            }
            throw error;
          }
          if (have === chunk.end) {
            return; // The lost answer's chunk arrived.
          }
          if (have !== chunk.start) {
            throw new UploadError(
              `The upload of ${source.name} broke off: the server has ${have} bytes, expected ${chunk.start}`,
              'drop the file again'
            );
          }
        }
      }
      last = await this.request('PUT', this._url(path), model);
      if (last.status === 200 || last.status === 201) {
        return;
      }
      if (!isRetryable(last.status)) {
        break;
      }
    }
    throw this._fail(`Could not upload ${source.name}`, last.status, last.data);
  }

  /** Remove a temporary file: emptied first, so a trash keeps no copy of it. */
  async discard(path: string): Promise<void> {
    await this.request(
      'PUT',
      this._url(path),
      { type: 'file', format: 'base64', content: '', chunk: 1 },
      false
    );
    await this.request('DELETE', this._url(path), undefined, false);
  }

  async rename(from: string, to: string): Promise<void> {
    const { status, data } = await this.request(
      'PATCH',
      this._url(from),
      {
        path: to
      },
      false
    );
    if (status !== 200) {
      throw this._fail(`Could not name the uploaded file ${to}`, status, data);
    }
  }

  async remove(path: string): Promise<void> {
    const { status, data } = await this.request('DELETE', this._url(path));
    if (status !== 204 && status !== 404) {
      throw this._fail(`Could not replace ${path}`, status, data);
    }
  }

  /** POST napari-desktop/api/open; the layer names. */
  async open(path: string): Promise<string[]> {
    const url = apiEndpoint(this._o.apiUrl, 'open');
    const { status, data } = await this.request(
      'POST',
      url,
      { paths: [path] },
      false
    );
    if (status !== 200) {
      const error = parseApiError(status, data, url);
      throw new UploadError(
        `${path} was uploaded, but napari did not open it: ${error.message}`,
        error.fix,
        status
      );
    }
    const opened = (data as { opened?: unknown } | null)?.opened;
    return Array.isArray(opened)
      ? opened.filter((name): name is string => typeof name === 'string')
      : [];
  }
}

/**
 * Upload `source` into the upload folder (asking before an existing file is
 * replaced) and open it in napari. Never throws: the result says what happened.
 */
export async function uploadFile(
  source: IUploadSource,
  options: IUploadOptions
): Promise<UploadResult> {
  const client = new Uploader(options);
  const now = () =>
    typeof performance === 'undefined' ? Date.now() : performance.now();
  let target = joinPath(options.uploadDir, sanitizeName(source.name));
  let temporary: string | null = null;
  let complete = false;
  let seconds: number | undefined;
  try {
    await client.ensureFolder(options.uploadDir);
    let replace = false;
    if (await client.exists(target)) {
      const choice = await options.resolveConflict(target);
      if (choice === 'cancel') {
        return { status: 'cancelled', path: target };
      }
      if (choice === 'keep-both') {
        const name = await freeName(sanitizeName(source.name), candidate =>
          client.exists(joinPath(options.uploadDir, candidate))
        );
        target = joinPath(options.uploadDir, name);
      } else {
        replace = true;
      }
    }
    const started = now();
    temporary = joinPath(
      options.uploadDir,
      temporaryName(sanitizeName(source.name), uploadId())
    );
    options.progress?.(0, source.size);
    const plan = chunkPlan(source.size, options.chunkSize);
    // Read (base64-encode) the next chunk while the server takes this one.
    let next = source.read(plan[0].start, plan[0].end);
    for (let i = 0; i < plan.length; i++) {
      const content = await next;
      if (i + 1 < plan.length) {
        next = source.read(plan[i + 1].start, plan[i + 1].end);
        next.catch(() => undefined); // Awaited in the next round, if any.
      }
      await client.putChunk(temporary, source, plan[i], content);
      options.progress?.(plan[i].end, source.size);
    }
    const arrived = await client.size(temporary);
    if (arrived !== source.size) {
      throw new UploadError(
        `${source.name} arrived with ${arrived} of ${source.size} bytes`,
        'drop the file again'
      );
    }
    if (replace) {
      await client.remove(target);
    }
    await client.rename(temporary, target);
    complete = true;
    seconds = (now() - started) / 1000;
    const opened = options.open === false ? [] : await client.open(target);
    return { status: 'uploaded', path: target, opened, seconds };
  } catch (error) {
    if (temporary !== null && !complete) {
      await client.discard(temporary);
    }
    if (error instanceof UploadCancelled) {
      return { status: 'cancelled', path: target };
    }
    if (error instanceof UploadError) {
      return {
        status: 'failed',
        path: target,
        message: error.message,
        fix: error.fix,
        seconds
      };
    }
    return {
      status: 'failed',
      path: target,
      message: `The upload of ${source.name} failed: ${String(error)}`,
      fix: 'reload the page and drop the file again'
    };
  }
}
