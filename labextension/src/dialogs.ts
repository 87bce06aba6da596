/**
 * The dialogs of the napari desktop commands: errors with their fix, and
 * confirmations.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { errorDetails } from './api';

function paragraph(className: string, text: string): HTMLParagraphElement {
  const node = document.createElement('p');
  node.className = className;
  node.textContent = text;
  return node;
}

/**
 * Show what failed and how to fix it.
 *
 * @param title - what the user tried, for example "Could not open cells.tif in napari"
 * @param error - anything thrown; a request error brings the server's message and fix
 */
export async function showRequestError(
  title: string,
  error: unknown
): Promise<void> {
  const details = errorDetails(error);
  console.warn(`[napari-desktop] ${title}: ${details.message}`, error);
  const body = new Widget();
  body.addClass('jp-NapariDesktop-errorBody');
  body.node.appendChild(
    paragraph('jp-NapariDesktop-errorMessage', details.message)
  );
  if (details.fix) {
    body.node.appendChild(
      paragraph('jp-NapariDesktop-errorFix', `Fix: ${details.fix}`)
    );
  }
  await showDialog({
    title,
    body,
    buttons: [Dialog.cancelButton({ label: 'Close' })]
  });
}

/**
 * Ask before doing something that closes the user's windows.
 *
 * @returns whether the user accepted
 */
export async function confirmAction(
  title: string,
  text: string,
  acceptLabel: string
): Promise<boolean> {
  const result = await showDialog({
    title,
    body: text,
    buttons: [
      Dialog.cancelButton({ label: 'Cancel' }),
      Dialog.warnButton({ label: acceptLabel })
    ],
    defaultButton: 0
  });
  return result.button.accept;
}
