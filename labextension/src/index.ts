import { JupyterFrontEndPlugin } from '@jupyterlab/application';

import launcherPlugin from './launcher';

const plugins: JupyterFrontEndPlugin<void>[] = [launcherPlugin];

export default plugins;
