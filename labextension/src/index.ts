import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import launcherPlugin from './launcher';
import lifecyclePlugin from './lifecycle';
import openPlugin from './open';
import panelPlugin from './panel';
import settingsPlugin from './settings';
import statusPlugin from './status';

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  settingsPlugin,
  panelPlugin,
  launcherPlugin,
  openPlugin,
  lifecyclePlugin,
  statusPlugin
];

export default plugins;
