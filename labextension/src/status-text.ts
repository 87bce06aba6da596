/**
 * The words of the status bar item, from the desktop status.
 *
 * Pure functions; test/status-text.test.ts runs them under Node.
 */
import type { DesktopApp, IApiError, IDesktopStatus } from './tokens';

/** What the status bar says while a command runs. */
export type BusyAction = 'opening' | 'restarting' | 'stopping';

/** "42 s", "5 min", "2 h 5 min", "3 d 4 h". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  const minutes = Math.floor(s / 60);
  if (minutes < 60) {
    return `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    const rest = minutes % 60;
    return rest > 0 ? `${hours} h ${rest} min` : `${hours} h`;
  }
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest > 0 ? `${days} d ${rest} h` : `${days} d`;
}

function napariPart(status: IDesktopStatus): string {
  const napari = status.napari;
  if (!napari.available) {
    return 'napari not installed';
  }
  if (!napari.running) {
    return 'napari not running';
  }
  const n = napari.layers.length;
  return `napari: ${n} layer${n === 1 ? '' : 's'}`;
}

/**
 * The status bar text.
 *
 * @param status - the last status, null before the first answer
 * @param error - why the last status request failed, or null
 * @param busy - the command running now, or null
 */
export function statusText(
  status: IDesktopStatus | null,
  error: IApiError | null,
  busy: BusyAction | null
): string {
  if (busy !== null) {
    return `napari desktop: ${busy}…`;
  }
  if (error !== null) {
    return 'napari desktop: unknown';
  }
  if (status === null) {
    return 'napari desktop: …';
  }
  if (!status.running) {
    return 'napari desktop: stopped';
  }
  return `napari desktop: running, ${napariPart(status)}`;
}

/** The status bar item's tooltip: the details, then what a click does. */
export function statusTooltip(
  status: IDesktopStatus | null,
  error: IApiError | null
): string {
  const lines: string[] = [];
  if (error !== null) {
    lines.push(`Could not read the desktop status: ${error.message}`);
    if (error.fix) {
      lines.push(`Fix: ${error.fix}`);
    }
  } else if (status === null) {
    lines.push('Reading the desktop status…');
  } else if (!status.running) {
    lines.push('The napari desktop is not running.');
  } else {
    const about = [
      status.display !== null ? `display ${status.display}` : '',
      status.session !== null ? `${status.session} session` : '',
      status.uptimeS !== null ? `up ${formatDuration(status.uptimeS)}` : '',
      status.memoryMb !== null ? `${Math.round(status.memoryMb)} MB` : ''
    ].filter(part => part.length > 0);
    lines.push(
      `The napari desktop is running${about.length > 0 ? ` (${about.join(', ')})` : ''}.`
    );
    const napari = status.napari;
    if (napari.running) {
      const version = napari.version !== null ? ` ${napari.version}` : '';
      lines.push(`napari${version} is running.`);
      for (const layer of napari.layers.slice(0, 10)) {
        const shape = layer.shape.length > 0 ? ` ${layer.shape.join('×')}` : '';
        const kind = layer.type ? ` (${layer.type}${shape})` : '';
        lines.push(`  • ${layer.name}${kind}`);
      }
      if (napari.layers.length > 10) {
        lines.push(`  • … and ${napari.layers.length - 10} more`);
      }
    } else {
      lines.push(
        napari.available
          ? 'napari is not running.'
          : 'napari is not installed for the desktop.'
      );
    }
    if (napari.message !== null) {
      lines.push(napari.message);
    }
  }
  lines.push('Click to open the desktop.');
  return lines.join('\n');
}

/**
 * What a click on the status bar item shows: the plain desktop when napari
 * is not installed, or when the desktop runs without napari (napari was
 * closed on purpose); else napari.
 */
export function clickTarget(status: IDesktopStatus | null): DesktopApp {
  if (status === null) {
    return 'napari';
  }
  const napari = status.napari;
  return !napari.available || (status.running && !napari.running)
    ? 'desktop'
    : 'napari';
}
