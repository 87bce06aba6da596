/**
 * The icons of the launcher cards and commands.
 */
import { LabIcon } from '@jupyterlab/ui-components';

import desktopSvgstr from '../style/icons/desktop.svg';
import napariSvgstr from '../style/icons/napari.svg';

export const napariIcon = new LabIcon({
  name: 'jupyter-napari-desktop:napari',
  svgstr: napariSvgstr
});

export const desktopIcon = new LabIcon({
  name: 'jupyter-napari-desktop:desktop',
  svgstr: desktopSvgstr
});
