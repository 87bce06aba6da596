/**
 * The user's settings (schema/settings.json) as a service for the other plugins.
 *
 * Activation returns at once with the defaults; the values arrive from the
 * settings registry in the background and `changed` tells the plugins.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ISignal, Signal } from '@lumino/signaling';

import { DEFAULT_SETTINGS, parseSettings } from './settings-values';
import {
  INapariDesktopSettings,
  ISettingsValues,
  OpenIn,
  SETTINGS_PLUGIN_ID
} from './tokens';

class NapariDesktopSettings implements INapariDesktopSettings {
  private _values: ISettingsValues = { ...DEFAULT_SETTINGS };
  private _changed = new Signal<INapariDesktopSettings, void>(this);

  get openIn(): OpenIn {
    return this._values.openIn;
  }

  get contextMenu(): boolean {
    return this._values.contextMenu;
  }

  get changed(): ISignal<INapariDesktopSettings, void> {
    return this._changed;
  }

  update(composite: unknown): void {
    this._values = parseSettings(composite);
    this._changed.emit();
  }
}

const plugin: JupyterFrontEndPlugin<INapariDesktopSettings> = {
  id: SETTINGS_PLUGIN_ID,
  description:
    'Reads the napari desktop settings: where the desktop opens, the context menu item.',
  autoStart: true,
  provides: INapariDesktopSettings,
  optional: [ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    registry: ISettingRegistry | null
  ): INapariDesktopSettings => {
    const settings = new NapariDesktopSettings();
    if (registry !== null) {
      // Never block activation: the values arrive in the background.
      void registry
        .load(SETTINGS_PLUGIN_ID)
        .then(loaded => {
          settings.update(loaded.composite);
          loaded.changed.connect(() => settings.update(loaded.composite));
        })
        .catch((reason: unknown) => {
          console.warn(
            `[napari-desktop] could not read the settings of ${SETTINGS_PLUGIN_ID}; ` +
              'using the defaults',
            reason
          );
        });
    }
    return settings;
  }
};

export default plugin;
