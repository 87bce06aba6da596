/**
 * The desktop page's DOM: the bar (status, clipboard, quality, compression,
 * reconnect), the screen noVNC draws into, the notice and the error panel.
 * No behaviour beyond showing and hiding its own parts.
 */
import type { IApiError } from '../src/tokens';
import type { ConnectionState } from './connection';

/** The error panel's heading unless the error gives its own (IApiError.title). */
const ERROR_TITLE = 'The desktop could not start';

const LEVELS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/** A new `tag` element with `className` and, if given, its text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A bar-style button. */
export function button(label: string, title: string): HTMLButtonElement {
  const node = el('button', 'jp-NapariDesktop-button', label);
  node.type = 'button';
  node.title = title;
  return node;
}

/** A 0-9 choice; `ends` names what 0 and 9 mean, e.g. ["fastest", "best"]. */
function levelSelect(
  name: string,
  title: string,
  ends: [string, string]
): { wrapper: HTMLLabelElement; select: HTMLSelectElement } {
  const id = `jp-NapariDesktop-${name.toLowerCase()}`;
  const describe = (level: number) =>
    level === 0
      ? `0 (${ends[0]})`
      : level === 9
        ? `9 (${ends[1]})`
        : String(level);
  const wrapper = el('label', 'jp-NapariDesktop-field', `${name} `);
  wrapper.title = title;
  wrapper.htmlFor = id;
  const select = el('select', 'jp-NapariDesktop-select');
  select.id = id;
  for (const level of LEVELS) {
    const option = el('option', '', describe(level));
    option.value = String(level);
    select.appendChild(option);
  }
  wrapper.appendChild(select);
  return { wrapper, select };
}

/** The page's elements. */
export class PageView {
  readonly status: HTMLSpanElement;
  readonly screen: HTMLElement;
  readonly quality: HTMLSelectElement;
  readonly compression: HTMLSelectElement;
  /** "crisp" or "light" on HiDPI screens (hidpi.ts). */
  readonly hidpi: HTMLSelectElement;
  /** Choose files to upload (upload-view.ts; dropping them works too). */
  readonly upload: HTMLButtonElement;
  /** Holds the screen and the panels over it. */
  readonly body: HTMLDivElement;
  readonly reconnect: HTMLButtonElement;
  /** Shows and hides the stats panel (overlay.ts fills it). */
  readonly statsToggle: HTMLButtonElement;
  readonly statsPanel: HTMLDivElement;
  readonly clipboardToggle: HTMLButtonElement;
  readonly clipboardPanel: HTMLDivElement;
  readonly clipboardText: HTMLTextAreaElement;
  /** Reads an image from the laptop's clipboard into napari (paste-image.ts). */
  readonly pasteImage: HTMLButtonElement;
  /** Makes a view-only link (the owner's page; people.ts). */
  readonly shareView: HTMLButtonElement;
  /** Who else is here, or whose desktop this is (people.ts); buttons for the owner. */
  readonly people: HTMLSpanElement;
  /** What this browser does not let the page do with its clipboard, and the way round it. */
  readonly clipboardNote: HTMLParagraphElement;
  private readonly _root: HTMLElement;
  private readonly _notice: HTMLDivElement;
  private readonly _noticeText: HTMLSpanElement;
  private readonly _error: HTMLDivElement;
  private readonly _errorTitle: HTMLHeadingElement;
  private readonly _errorMessage: HTMLParagraphElement;
  private readonly _errorFix: HTMLParagraphElement;
  readonly tryAgain: HTMLButtonElement;

  constructor(root: HTMLElement, app: string, version: string) {
    this._root = root;
    root.classList.add('jp-NapariDesktop-app');
    root.replaceChildren();

    // Top bar.
    const bar = el('header', 'jp-NapariDesktop-bar');
    const title = el(
      'span',
      'jp-NapariDesktop-title',
      app === 'napari' ? 'napari' : 'Desktop'
    );
    title.title = `jupyter-napari-desktop ${version}`.trim();
    this.status = el('span', 'jp-NapariDesktop-status', 'Starting…');
    this.status.id = 'jp-NapariDesktop-status';
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    this.people = el('span', 'jp-NapariDesktop-people');
    this.people.id = 'jp-NapariDesktop-people';
    this.people.setAttribute('aria-live', 'polite');
    const spacer = el('span', 'jp-NapariDesktop-spacer');

    this.clipboardToggle = button(
      'Clipboard',
      'Show the text copied in the desktop, or type text to paste into it'
    );
    this.clipboardToggle.setAttribute('aria-expanded', 'false');
    this.clipboardToggle.setAttribute(
      'aria-controls',
      'jp-NapariDesktop-clipboard'
    );

    const quality = levelSelect(
      'Quality',
      'Image quality: lower is faster on slow networks (0 = smallest, 9 = best)',
      ['fastest', 'best']
    );
    this.quality = quality.select;
    const compression = levelSelect(
      'Compression',
      'Compression: higher sends less data but uses more CPU (0 = none, 9 = most)',
      ['none', 'most']
    );
    this.compression = compression.select;

    const hidpiWrapper = el('label', 'jp-NapariDesktop-field', 'Screen ');
    hidpiWrapper.title =
      'On HiDPI screens: "crisp" gives the desktop your screen\'s device pixels and draws ' +
      'napari at the same scale (sharp, same size, more data); "light" gives it CSS pixels ' +
      'that the browser enlarges (blurred, less data)';
    hidpiWrapper.htmlFor = 'jp-NapariDesktop-hidpi';
    this.hidpi = el('select', 'jp-NapariDesktop-select');
    this.hidpi.id = 'jp-NapariDesktop-hidpi';
    for (const [value, label] of [
      ['crisp', 'crisp'],
      ['light', 'light']
    ]) {
      const option = el('option', '', label);
      option.value = value;
      this.hidpi.appendChild(option);
    }
    hidpiWrapper.appendChild(this.hidpi);

    this.upload = button(
      'Upload',
      'Upload files from this computer into the Jupyter folder and open them in napari (or drop them on the desktop)'
    );
    this.upload.id = 'jp-NapariDesktop-upload';
    this.shareView = button(
      'View link',
      'Make a link that shows this desktop, view only, to anyone who has it (for an hour); ' +
        'it opens nothing else of this Jupyter server and can be revoked here'
    );
    this.shareView.id = 'jp-NapariDesktop-shareView';
    this.shareView.hidden = true;

    this.statsToggle = button(
      'Stats',
      'Show frames/s, Mbit/s, round-trip time and the quality level in use (Ctrl+Alt+Shift+S)'
    );
    this.statsToggle.id = 'jp-NapariDesktop-statsToggle';
    this.statsToggle.setAttribute('aria-pressed', 'false');
    this.statsPanel = el('div', 'jp-NapariDesktop-stats');
    this.statsPanel.id = 'jp-NapariDesktop-stats';
    this.statsPanel.setAttribute('role', 'status');
    this.statsPanel.hidden = true;

    this.reconnect = button(
      'Reconnect',
      'Close the desktop connection and open it again (the desktop keeps running)'
    );

    bar.append(
      title,
      this.status,
      spacer,
      this.shareView,
      this.upload,
      this.clipboardToggle,
      quality.wrapper,
      compression.wrapper,
      hidpiWrapper,
      this.statsToggle,
      this.reconnect
    );

    // Clipboard panel, over the screen so that the desktop keeps its size.
    this.clipboardPanel = el('div', 'jp-NapariDesktop-clipboard');
    this.clipboardPanel.id = 'jp-NapariDesktop-clipboard';
    this.clipboardPanel.hidden = true;
    const clipboardLabel = el(
      'label',
      'jp-NapariDesktop-clipboardLabel',
      'Text copied in the desktop appears here. Type or paste here to send it to the ' +
        'desktop; an image pasted here opens in napari.'
    );
    clipboardLabel.htmlFor = 'jp-NapariDesktop-clipboardText';
    this.clipboardText = el('textarea', 'jp-NapariDesktop-clipboardText');
    this.clipboardText.id = 'jp-NapariDesktop-clipboardText';
    this.clipboardText.rows = 5;
    this.clipboardText.spellcheck = false;
    this.pasteImage = button(
      'Paste image',
      "Open the image in this computer's clipboard in napari (uploaded into the Jupyter folder)"
    );
    this.pasteImage.id = 'jp-NapariDesktop-pasteImage';
    this.clipboardNote = el('p', 'jp-NapariDesktop-clipboardNote');
    this.clipboardNote.id = 'jp-NapariDesktop-clipboardNote';
    this.clipboardNote.setAttribute('role', 'note');
    this.clipboardNote.hidden = true;
    this.clipboardPanel.append(
      clipboardLabel,
      this.clipboardText,
      this.clipboardNote,
      this.pasteImage
    );

    // Notice (for example "napari is not installed"), dismissible.
    this._notice = el('div', 'jp-NapariDesktop-notice');
    this._notice.setAttribute('role', 'alert');
    this._notice.hidden = true;
    this._noticeText = el('span', 'jp-NapariDesktop-noticeText');
    const dismiss = button('Dismiss', 'Hide this notice');
    dismiss.addEventListener('click', () => {
      this._notice.hidden = true;
    });
    this._notice.append(this._noticeText, dismiss);

    // Error panel.
    this._error = el('div', 'jp-NapariDesktop-error');
    this._error.setAttribute('role', 'alert');
    this._error.hidden = true;
    this._errorTitle = el('h2', 'jp-NapariDesktop-errorTitle', ERROR_TITLE);
    this._errorMessage = el('p', 'jp-NapariDesktop-errorMessage');
    this._errorFix = el('p', 'jp-NapariDesktop-errorFix');
    this.tryAgain = button('Try again', 'Start the desktop and connect again');
    this.tryAgain.classList.add('jp-mod-accept');
    this._error.append(
      this._errorTitle,
      this._errorMessage,
      this._errorFix,
      this.tryAgain
    );

    // The VNC screen; noVNC puts its canvas in here.
    this.screen = el('main', 'jp-NapariDesktop-screen');

    const body = el('div', 'jp-NapariDesktop-body');
    body.append(
      this.screen,
      this.clipboardPanel,
      this._notice,
      this._error,
      this.statsPanel
    );
    this.body = body;
    // Who else is here: a strip under the bar, only while there is something to say.
    root.append(bar, this.people, body);

    this.clipboardToggle.addEventListener('click', () => {
      this.setClipboardOpen(this.clipboardPanel.hidden);
    });
  }

  /**
   * The quality and compression levels act on TigerVNC's Tight pictures only:
   * on the video path (H.264, the server's video_crf) they are shown disabled.
   */
  setVideo(video: boolean): void {
    for (const select of [this.quality, this.compression]) {
      select.disabled = video;
      const wrapper = select.parentElement as HTMLElement;
      if (video) {
        wrapper.dataset.title ??= wrapper.title;
        wrapper.title =
          'The video path (H.264) is in use: its picture quality is set on the ' +
          'server (c.NapariDesktop.video_crf), and the still picture is exact';
      } else if (wrapper.dataset.title !== undefined) {
        wrapper.title = wrapper.dataset.title;
      }
    }
  }

  setState(state: ConnectionState, text: string): void {
    this.status.dataset.state = state;
    this.status.textContent = text;
    this._root.dataset.state = state;
    if (state !== 'error') {
      this._error.hidden = true;
    }
  }

  showError(error: IApiError): void {
    this._errorTitle.textContent = error.title ?? ERROR_TITLE;
    this._errorMessage.textContent = error.message;
    this._errorFix.textContent = error.fix;
    this._errorFix.hidden = error.fix.length === 0;
    this._error.hidden = false;
    this.tryAgain.focus();
  }

  showNotice(text: string): void {
    this._noticeText.textContent = text;
    this._notice.hidden = false;
  }

  /** The people line: `text`, and for the owner a button per visitor. */
  setPeople(
    text: string,
    actions: { label: string; title: string; run: () => void }[]
  ): void {
    const buttons = actions.map(action => {
      const node = button(action.label, action.title);
      node.addEventListener('click', action.run);
      return node;
    });
    this.people.replaceChildren(text, ...buttons);
    this.people.title = text;
  }

  /**
   * Say what the browser refused: reading its clipboard (`read`) or writing the
   * desktop's text into it (`write`), each with what the person can do instead.
   */
  setClipboardLimits(limits: { read: boolean; write: boolean }): void {
    const lines: string[] = [];
    if (limits.read) {
      lines.push(
        'This browser does not let the page read your clipboard: to send text to the desktop, paste it into this box (Ctrl+V).'
      );
    }
    if (limits.write) {
      lines.push(
        "This browser did not let the page copy the desktop's text to your clipboard: select it in this box and copy it (Ctrl+C)."
      );
    }
    this.clipboardNote.textContent = lines.join(' ');
    this.clipboardNote.hidden = lines.length === 0;
  }

  setClipboardOpen(open: boolean): void {
    this.clipboardPanel.hidden = !open;
    this.clipboardToggle.setAttribute('aria-expanded', String(open));
    this.clipboardToggle.classList.toggle('jp-mod-active', open);
    if (open) {
      this.clipboardText.focus();
    }
  }
}
