#!/usr/bin/env bash
# Make a bare Debian image (what debian:SUITE-slim holds: mmdebstrap --variant=minbase, no
# Python, no Node.js) from Debian's archive, for machines where no registry can be reached.
#
# Usage: scripts/make-debian-base.sh [--engine NAME] [--mirror URL] SUITE IMAGE
#
#   SUITE           a Debian suite with security updates: bookworm (12) or trixie (13)
#   IMAGE           the image to import it as, e.g. docker.io/library/debian:trixie-slim
#   --engine NAME   docker or podman (default: podman if installed, else docker)
#   --mirror URL    Debian mirror (default: http://deb.debian.org/debian); the security
#                   suite comes from the same host's /debian-security
#   -h, --help      this text
#
# Needs root and mmdebstrap (apt-get install mmdebstrap). Used by scripts/build-images.sh
# --make-base and by tests/fresh.
set -euo pipefail

die() {
    echo "make-debian-base: $*" >&2
    exit 2
}

engine=""
mirror="http://deb.debian.org/debian"
positional=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --engine)
        [[ $# -ge 2 ]] || die "--engine needs a value: docker or podman"
        engine="$2"
        shift 2
        ;;
    --mirror)
        [[ $# -ge 2 && "$2" == http*://*/debian ]] || die "--mirror needs a URL ending in /debian, e.g. --mirror http://deb.debian.org/debian"
        mirror="$2"
        shift 2
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option '$1'; see --help" ;;
    *)
        positional+=("$1")
        shift
        ;;
    esac
done
[[ ${#positional[@]} == 2 ]] || die "give SUITE and IMAGE, e.g. trixie docker.io/library/debian:trixie-slim; see --help"
suite="${positional[0]}"
image="${positional[1]}"
case "${suite}" in
bookworm | trixie) ;;
*) die "suite '${suite}' is not supported; use bookworm or trixie" ;;
esac
if [[ -z "${engine}" ]]; then
    if command -v podman >/dev/null 2>&1; then engine=podman; else engine=docker; fi
fi
command -v "${engine}" >/dev/null 2>&1 || die "${engine} not found on PATH; install it or pass --engine"
command -v mmdebstrap >/dev/null 2>&1 || die "mmdebstrap not found; install it: apt-get install mmdebstrap"
[[ "$(id -u)" == 0 ]] || die "needs root (mmdebstrap writes a root file system); rerun with sudo"

tmp="$(mktemp -d)"
trap 'rm -rf "${tmp}"' EXIT
echo "== making ${image} from ${mirror} (mmdebstrap --variant=minbase ${suite})"
# The suites of Debian's slim images: the release, its updates and its security updates.
mmdebstrap --variant=minbase --quiet "${suite}" "${tmp}/rootfs.tar" \
    "deb ${mirror} ${suite} main" \
    "deb ${mirror} ${suite}-updates main" \
    "deb ${mirror}-security ${suite}-security main" ||
    die "mmdebstrap ${suite} from ${mirror} failed; see its messages above"
"${engine}" import --change 'CMD ["bash"]' "${tmp}/rootfs.tar" "${image}"
