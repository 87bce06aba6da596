"""``python -m jupyter_napari_desktop.supervisor SPEC.json`` (started by the server's manager)."""

import sys

from .process import main

sys.exit(main())
