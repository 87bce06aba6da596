/**
 * The part of noVNC's RFB API (docs/API.md of @novnc/novnc 1.7.0) this page
 * uses. noVNC ships no type declarations.
 */
declare module '@novnc/novnc' {
  export interface IRFBOptions {
    shared?: boolean;
    credentials?: { username?: string; password?: string; target?: string };
    repeaterID?: string;
    wsProtocols?: string[];
  }

  export interface IRFBEventMap {
    connect: CustomEvent<Record<string, never>>;
    disconnect: CustomEvent<{ clean: boolean }>;
    clipboard: CustomEvent<{ text: string }>;
    credentialsrequired: CustomEvent<{ types: string[] }>;
    securityfailure: CustomEvent<{ status: number; reason?: string }>;
    desktopname: CustomEvent<{ name: string }>;
    bell: CustomEvent<Record<string, never>>;
  }

  export default class RFB {
    constructor(
      target: HTMLElement,
      urlOrChannel: string | WebSocket,
      options?: IRFBOptions
    );

    viewOnly: boolean;
    focusOnClick: boolean;
    clipViewport: boolean;
    dragViewport: boolean;
    scaleViewport: boolean;
    resizeSession: boolean;
    showDotCursor: boolean;
    background: string;
    qualityLevel: number;
    compressionLevel: number;

    disconnect(): void;
    sendCtrlAltDel(): void;
    focus(options?: FocusOptions): void;
    blur(): void;
    clipboardPasteFrom(text: string): void;

    addEventListener<K extends keyof IRFBEventMap>(
      type: K,
      listener: (event: IRFBEventMap[K]) => void
    ): void;
    removeEventListener<K extends keyof IRFBEventMap>(
      type: K,
      listener: (event: IRFBEventMap[K]) => void
    ): void;
  }
}
