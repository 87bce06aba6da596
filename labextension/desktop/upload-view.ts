/**
 * The desktop page's uploads: files dropped anywhere on the page (or chosen
 * with the bar's Upload button) go into the upload folder and open in napari
 * (upload.ts does the transfer). Shows a progress bar and a Cancel button per
 * file, asks before an existing file is replaced, and keeps errors on screen
 * until dismissed. In a JupyterLab tab the page is an iframe of the same
 * origin, so a drop on the tab lands here too.
 */
import type { IDesktopConfig } from './page-config';
import {
  ConflictChoice,
  formatBytes,
  IUploadSource,
  UploadResult,
  uploadFile
} from './upload';
import { button, el } from './view';

/** A browser File as upload.ts reads it: base64 of a slice, natively. */
export function fileSource(file: File): IUploadSource {
  return {
    name: file.name,
    size: file.size,
    read: (start, end) =>
      new Promise<string>((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => {
          const url = String(reader.result);
          resolve(url.slice(url.indexOf(',') + 1));
        };
        reader.onerror = () =>
          reject(reader.error ?? new Error(`could not read ${file.name}`));
        reader.readAsDataURL(file.slice(start, end));
      })
  };
}

/** Whether a drag carries files (not text or a link from the page itself). */
function carriesFiles(event: DragEvent): boolean {
  return Array.from(event.dataTransfer?.types ?? []).includes('Files');
}

/** One row of the upload panel. */
class UploadRow {
  readonly node: HTMLDivElement;
  readonly controller = new AbortController();
  private readonly _bar: HTMLProgressElement;
  private readonly _text: HTMLSpanElement;
  private readonly _fix: HTMLSpanElement;
  private readonly _cancel: HTMLButtonElement;
  private readonly _started = Date.now();

  constructor(name: string, dismiss: (row: UploadRow) => void) {
    this.node = el('div', 'jp-NapariDesktop-upload');
    this.node.dataset.state = 'waiting';
    const title = el('span', 'jp-NapariDesktop-uploadName', name);
    this._bar = el('progress', 'jp-NapariDesktop-uploadBar');
    this._bar.max = 1;
    this._bar.value = 0;
    this._text = el('span', 'jp-NapariDesktop-uploadText', 'Waiting…');
    this._fix = el('span', 'jp-NapariDesktop-uploadFix');
    this._fix.hidden = true;
    this._cancel = button('Cancel', `Stop uploading ${name}`);
    this._cancel.classList.add('jp-NapariDesktop-uploadCancel');
    this._cancel.addEventListener('click', () => {
      if (
        this.node.dataset.state === 'uploading' ||
        this.node.dataset.state === 'waiting'
      ) {
        this.controller.abort();
        this._text.textContent = 'Cancelling…';
      } else {
        dismiss(this);
      }
    });
    this.node.append(title, this._bar, this._text, this._fix, this._cancel);
  }

  progress(sent: number, total: number): void {
    this.node.dataset.state = 'uploading';
    this._bar.value = total > 0 ? sent / total : 1;
    const seconds = (Date.now() - this._started) / 1000;
    const rate = seconds > 0.5 ? ` · ${formatBytes(sent / seconds)}/s` : '';
    this._text.textContent = `${formatBytes(sent)} of ${formatBytes(total)}${rate}`;
  }

  retrying(attempt: number, attempts: number): void {
    this._text.textContent = `Connection lost; trying again (${attempt} of ${attempts})…`;
  }

  finish(result: UploadResult): void {
    this.node.dataset.state = result.status;
    this._cancel.textContent = 'Dismiss';
    this._cancel.title = 'Hide this line';
    if (result.status === 'uploaded') {
      this._bar.value = 1;
      const layers = result.opened.length
        ? ` as ${result.opened.map(name => `"${name}"`).join(', ')}`
        : '';
      this._text.textContent = `Uploaded to ${result.path}, opened in napari${layers}`;
    } else if (result.status === 'cancelled') {
      this._text.textContent = `Cancelled; nothing was written to ${result.path}`;
    } else {
      this._text.textContent = result.message;
      this._fix.textContent = `Fix: ${result.fix}`;
      this._fix.hidden = result.fix.length === 0;
      this.node.setAttribute('role', 'alert');
    }
  }
}

/** The drop zone, the hidden file input, the upload panel and the conflict question. */
export class UploadView {
  /** Every finished upload, for tests and the curious (window.napariDesktop.uploads). */
  readonly results: UploadResult[] = [];
  private readonly _config: IDesktopConfig;
  private readonly _input: HTMLInputElement;
  private readonly _dropZone: HTMLDivElement;
  private readonly _panel: HTMLDivElement;
  private readonly _question: HTMLDivElement;
  private readonly _questionText: HTMLParagraphElement;
  private _queue: Promise<void> = Promise.resolve();
  private _dragDepth = 0;

  constructor(
    config: IDesktopConfig,
    body: HTMLElement,
    chooser: HTMLButtonElement
  ) {
    this._config = config;
    const folder = config.uploadDir
      ? `"${config.uploadDir}"`
      : 'your Jupyter folder';

    this._input = el('input', 'jp-NapariDesktop-uploadInput');
    this._input.id = 'jp-NapariDesktop-uploadInput';
    this._input.type = 'file';
    this._input.multiple = true;
    this._input.hidden = true;
    this._input.addEventListener('change', () => {
      this.add(Array.from(this._input.files ?? []));
      this._input.value = '';
    });
    chooser.addEventListener('click', () => this._input.click());

    this._dropZone = el('div', 'jp-NapariDesktop-dropZone');
    this._dropZone.hidden = true;
    this._dropZone.append(
      el(
        'p',
        'jp-NapariDesktop-dropZoneText',
        `Drop to upload to ${folder} and open in napari`
      )
    );

    this._panel = el('div', 'jp-NapariDesktop-uploads');
    this._panel.id = 'jp-NapariDesktop-uploads';
    this._panel.setAttribute('aria-live', 'polite');
    this._panel.hidden = true;

    this._question = el('div', 'jp-NapariDesktop-conflict');
    this._question.id = 'jp-NapariDesktop-conflict';
    this._question.setAttribute('role', 'alertdialog');
    this._question.hidden = true;
    this._questionText = el('p', 'jp-NapariDesktop-conflictText');
    this._question.append(this._questionText);

    body.append(this._input, this._dropZone, this._panel, this._question);

    document.addEventListener('dragenter', event => {
      if (carriesFiles(event)) {
        event.preventDefault();
        this._dragDepth++;
        this._dropZone.hidden = false;
      }
    });
    document.addEventListener('dragover', event => {
      if (carriesFiles(event)) {
        event.preventDefault();
        if (event.dataTransfer) {
          event.dataTransfer.dropEffect = 'copy';
        }
      }
    });
    document.addEventListener('dragleave', () => {
      this._dragDepth = Math.max(0, this._dragDepth - 1);
      if (this._dragDepth === 0) {
        this._dropZone.hidden = true;
      }
    });
    document.addEventListener('drop', event => {
      this._dragDepth = 0;
      this._dropZone.hidden = true;
      if (!carriesFiles(event)) {
        return;
      }
      event.preventDefault();
      this.add(Array.from(event.dataTransfer?.files ?? []));
    });
  }

  /** Upload `files` one after another. */
  add(files: File[]): void {
    for (const file of files) {
      const row = new UploadRow(file.name, done => {
        done.node.remove();
        this._panel.hidden = this._panel.childElementCount === 0;
      });
      this._panel.append(row.node);
      this._panel.hidden = false;
      this._queue = this._queue.then(async () => {
        const result = await uploadFile(fileSource(file), {
          baseUrl: this._config.baseUrl,
          apiUrl: this._config.apiUrl,
          uploadDir: this._config.uploadDir,
          xsrfToken: this._config.xsrfToken,
          signal: row.controller.signal,
          progress: (sent, total) => row.progress(sent, total),
          retrying: (attempt, attempts) => row.retrying(attempt, attempts),
          resolveConflict: path => this._ask(path)
        });
        row.finish(result);
        this.results.push(result);
      });
    }
  }

  /** Ask what to do about an existing file. */
  private _ask(path: string): Promise<ConflictChoice> {
    return new Promise(resolve => {
      this._questionText.textContent = `${path} already exists. Replace it, keep both (the new one gets a number), or cancel this upload?`;
      const choices: [ConflictChoice, string, string][] = [
        ['replace', 'Replace', `Replace ${path} with the dropped file`],
        [
          'keep-both',
          'Keep both',
          'Upload under a new name, e.g. "name (1).tif"'
        ],
        ['cancel', 'Cancel', 'Do not upload this file']
      ];
      const buttons = choices.map(([choice, label, title]) => {
        const node = button(label, title);
        node.dataset.choice = choice;
        node.addEventListener('click', () => {
          this._question.hidden = true;
          for (const other of buttons) {
            other.remove();
          }
          resolve(choice);
        });
        return node;
      });
      buttons[0].classList.add('jp-mod-warn');
      this._question.append(...buttons);
      this._question.hidden = false;
      buttons[2].focus();
    });
  }
}
