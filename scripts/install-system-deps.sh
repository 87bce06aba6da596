#!/usr/bin/env bash
# Install the system packages that jupyter-napari-desktop needs (Xvnc, XFCE, Mesa, the Qt 6
# xcb libraries) on Debian or Ubuntu.
#
# The package names come from ONE list, binder/apt.txt, which is also read by every
# Dockerfile in docker/ and by repo2docker (Binder). Edit that file, not this script.
#
# Usage:
#   scripts/install-system-deps.sh [--check] [APT_LIST]
#
#   APT_LIST   the package list (default: binder/apt.txt next to this script's folder)
#   --check    install nothing; list the missing packages and exit 1 if any are missing
#
# Safe to run again: when every package is already installed it does nothing (and needs
# no network). Run it as root, or as a user who may use sudo.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

check_only=0
apt_list=""
for arg in "$@"; do
    case "${arg}" in
    --check) check_only=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    -*)
        echo "install-system-deps: unknown option '${arg}'; see --help" >&2
        exit 2
        ;;
    *)
        if [[ -n "${apt_list}" ]]; then
            echo "install-system-deps: give one package list, not '${apt_list}' and '${arg}'" >&2
            exit 2
        fi
        apt_list="${arg}"
        ;;
    esac
done

if [[ -z "${apt_list}" ]]; then
    here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
    apt_list="${here}/../binder/apt.txt"
fi
if [[ ! -r "${apt_list}" ]]; then
    echo "install-system-deps: package list '${apt_list}' not found or not readable;" \
        "pass the path of binder/apt.txt as the argument" >&2
    exit 2
fi

# Same parsing as repo2docker: drop everything after '#', trim, skip blank lines.
packages=()
line_no=0
while IFS= read -r line || [[ -n "${line}" ]]; do
    line_no=$((line_no + 1))
    name="${line%%#*}"
    name="${name#"${name%%[![:space:]]*}"}"
    name="${name%"${name##*[![:space:]]}"}"
    [[ -z "${name}" ]] && continue
    if [[ ! "${name}" =~ ^[a-z0-9][a-z0-9.+-]+$ ]]; then
        echo "install-system-deps: ${apt_list}:${line_no}: '${name}' is not a Debian package" \
            "name; write one package per line, comments after '#'" >&2
        exit 2
    fi
    packages+=("${name}")
done <"${apt_list}"

if [[ ${#packages[@]} -eq 0 ]]; then
    echo "install-system-deps: ${apt_list} lists no packages" >&2
    exit 2
fi

missing=()
for pkg in "${packages[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)"
    if [[ "${status}" != "install ok installed" ]]; then
        missing+=("${pkg}")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-system-deps: all ${#packages[@]} packages of ${apt_list} are installed"
    exit 0
fi

if [[ ${check_only} -eq 1 ]]; then
    echo "install-system-deps: ${#missing[@]} of ${#packages[@]} packages missing:" \
        "${missing[*]}" >&2
    echo "install-system-deps: install them with: sudo $0 ${apt_list}" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: apt-get not found; this script supports Debian and Ubuntu." \
        "Install the equivalents of: ${packages[*]}" >&2
    exit 1
fi

as_root=()
if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "install-system-deps: must run as root (no sudo found);" \
            "rerun as root: $0 ${apt_list}" >&2
        exit 1
    fi
fi

echo "install-system-deps: installing ${#missing[@]} packages: ${missing[*]}"
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update
${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${packages[@]}"
