"""Build-time check of the napari-gpu image: torch, Cellpose and the napari plugin import,
and napari's plugin manager lists the plugin. Needs no GPU (the build has none)."""

import sys
from importlib.metadata import version

import cellpose.models  # noqa: F401 - the import is the check
import napari_cellposesam  # noqa: F401
import torch
from npe2 import PluginManager

PLUGIN = "napari-cellposesam"

manager = PluginManager.instance()
manager.discover()
names = sorted(manifest.name for manifest in manager.iter_manifests())
if PLUGIN not in names:
    sys.exit(f"napari does not list the plugin {PLUGIN}; it lists: {', '.join(names)}")
print(
    f"torch {torch.__version__} (CUDA {torch.version.cuda}),",
    f"cellpose {version('cellpose')},",
    f"{PLUGIN} {version(PLUGIN)}: napari lists it",
)
