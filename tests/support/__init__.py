"""What tests and benchmarks share and that is not the product.

- ``paths``: the checkout's ``ROOT`` and ``ARTIFACTS``, where screenshots and logs go.
- ``waiting``: ``wait_for`` (poll a condition with a deadline).
- ``procs``: process trees, environments, memory (psutil; the page-map footprint and the
  peak RSS psutil lacks), stopping by pid, free ports and X displays.
- ``jupyter``: a real ``jupyter lab``/``server`` process on 127.0.0.1 with its own HOME.
- ``rfb``: an RFB (VNC) client over a unix socket or the desktop websocket that negotiates
  like noVNC and counts Tight/JPEG bytes.
- ``stats``: percentiles and summaries (``statistics``), one method for every report.
- ``pattern``: napari's four-colour test image, how to find it in a screenshot, Chromium.
- ``pages``: what a person does on JupyterLab's and the desktop's pages (Playwright).
- ``hub``: a real JupyterHub with real Unix users (the hub tests and ``benchmarks/hub_scale.py``).
- ``layers``: the marker of each test's folder (a pytest plugin, from tests/conftest.py).
- ``playwright``: pytest-jupyter's loop fixtures stepping aside for Playwright's sync API.

Benchmarks import from here, never from test modules; tests never import benchmarks.
"""
