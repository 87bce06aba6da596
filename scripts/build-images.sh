#!/usr/bin/env bash
# Build the container images of jupyter-napari-desktop, in order: desktop -> napari -> napari-gpu.
#
# Usage: scripts/build-images.sh [OPTION ...] [IMAGE ...]
#
#   IMAGE              desktop, napari, napari-gpu or all (default: desktop napari).
#                      Each is built FROM the one before, which must exist or be built too.
#   --engine NAME      docker or podman (default: docker if its engine answers, else podman)
#   --name NAME        image name (default: jupyter-napari-desktop; tags NAME:desktop, ...)
#   --base IMAGE       base of the desktop image (default: debian:trixie-slim; also built
#                      here: debian:bookworm-slim; ubuntu:24.04 should work too, untested)
#   --build-arg K=V    passed to every build (e.g. NAPARI_VERSION=0.9.2, SAMPLE_DATA=yes)
#   --ca-bundle FILE   trust this CA bundle for pip and npm during the build (podman only:
#                      mounted read-only; for builds behind a TLS-inspecting proxy)
#   --make-base        if the base image (debian:bookworm-slim or debian:trixie-slim) is
#                      missing, make it from Debian's archive with mmdebstrap instead of
#                      pulling it (scripts/make-debian-base.sh; needs root)
#   -h, --help         this text
#
# Environment: CONTAINER_BUILD_FLAGS, extra flags for every `ENGINE build` (word-split),
# e.g. "--network host --runtime runc" for podman in a sandbox.
# Prints each image's build time and size at the end. See docs/docker.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${here}"

BASE_IMAGE=debian:trixie-slim
ORDER=(desktop napari napari-gpu)
engine=""
name="jupyter-napari-desktop"
ca_bundle=""
make_base=0
build_args=()
wanted=()

die() {
    echo "build-images: $*" >&2
    exit 2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --engine)
        [[ $# -ge 2 ]] || die "--engine needs a value: docker or podman"
        engine="$2"
        shift 2
        ;;
    --name)
        [[ $# -ge 2 && -n "$2" ]] || die "--name needs a value, e.g. --name ghcr.io/me/jupyter-napari-desktop"
        name="$2"
        shift 2
        ;;
    --base)
        [[ $# -ge 2 && -n "$2" ]] || die "--base needs an image, e.g. --base debian:bookworm-slim"
        BASE_IMAGE="$2"
        shift 2
        ;;
    --build-arg)
        [[ $# -ge 2 && "$2" == ?*=* ]] || die "--build-arg needs KEY=VALUE, e.g. --build-arg NAPARI_VERSION=0.9.2"
        [[ "$2" != BASE_IMAGE=* ]] || die "set the desktop image's base with --base, not --build-arg BASE_IMAGE"
        build_args+=(--build-arg "$2")
        shift 2
        ;;
    --ca-bundle)
        [[ $# -ge 2 ]] || die "--ca-bundle needs the path of a PEM file"
        ca_bundle="$2"
        shift 2
        ;;
    --make-base)
        make_base=1
        shift
        ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option '$1'; see --help" ;;
    all)
        wanted+=("${ORDER[@]}")
        shift
        ;;
    desktop | napari | napari-gpu)
        wanted+=("$1")
        shift
        ;;
    *) die "unknown image '$1'; choose from: ${ORDER[*]} (or all)" ;;
    esac
done
[[ ${#wanted[@]} -gt 0 ]] || wanted=(desktop napari)

if [[ -z "${engine}" ]]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        engine=docker
    elif command -v podman >/dev/null 2>&1; then
        engine=podman
    else
        die "neither a Docker engine nor podman found; install one (Debian/Ubuntu: apt-get install podman) or pass --engine"
    fi
fi
case "${engine}" in
docker | podman) ;;
*) die "--engine must be docker or podman, not '${engine}'" ;;
esac
command -v "${engine}" >/dev/null 2>&1 || die "${engine} not found on PATH; install it or pass --engine with the other one"

engine_flags=()
if [[ "${engine}" == podman ]]; then
    # Docker's image format: the OCI one drops SHELL, which the Dockerfiles rely on.
    engine_flags+=(--format docker)
fi
if [[ -n "${CONTAINER_BUILD_FLAGS:-}" ]]; then
    read -r -a extra <<<"${CONTAINER_BUILD_FLAGS}"
    engine_flags+=("${extra[@]}")
fi
if [[ -n "${ca_bundle}" ]]; then
    [[ -r "${ca_bundle}" ]] || die "--ca-bundle '${ca_bundle}' is not a readable file"
    [[ "${engine}" == podman ]] || die "--ca-bundle works with podman only (docker build mounts no volumes)"
    inside=/run/build-ca-bundle.pem
    engine_flags+=(--volume "$(realpath "${ca_bundle}"):${inside}:ro")
    for var in PIP_CERT NODE_EXTRA_CA_CERTS SSL_CERT_FILE REQUESTS_CA_BUNDLE; do
        build_args+=(--build-arg "${var}=${inside}")
    done
fi

has_image() {
    "${engine}" image inspect "$1" >/dev/null 2>&1
}

ensure_base() {
    has_image "${BASE_IMAGE}" && return 0
    local suite=""
    case "${BASE_IMAGE}" in
    debian:bookworm-slim) suite=bookworm ;;
    debian:trixie-slim) suite=trixie ;;
    esac
    if [[ ${make_base} == 0 || -z "${suite}" ]]; then
        echo "build-images: ${BASE_IMAGE} is not here; the desktop build will pull it" \
            "(where no registry is reachable, pass --make-base)"
        return 0
    fi
    bash scripts/make-debian-base.sh --engine "${engine}" "${suite}" "docker.io/library/${BASE_IMAGE}" ||
        die "making ${BASE_IMAGE} with scripts/make-debian-base.sh failed; see its messages above"
}

# Build in dependency order, whatever order the images were named in.
selected=()
for image in "${ORDER[@]}"; do
    for w in "${wanted[@]}"; do
        if [[ "${w}" == "${image}" ]]; then
            selected+=("${image}")
            break
        fi
    done
done

# Each image is built FROM the one before it in ORDER: that one is built first in this run,
# or must be here already (checked before anything is built).
parent_of() {
    case "$1" in
    napari) echo desktop ;;
    napari-gpu) echo napari ;;
    esac
}
for image in "${selected[@]}"; do
    parent="$(parent_of "${image}")"
    if [[ -n "${parent}" && " ${selected[*]} " != *" ${parent} "* ]] && ! has_image "${name}:${parent}"; then
        die "${image} is built FROM ${name}:${parent}, which is not here; build it too: $0 ${parent} ${selected[*]}"
    fi
done
[[ " ${selected[*]} " == *" desktop "* ]] && ensure_base

report=()
for image in "${selected[@]}"; do
    args=(-f "docker/${image}/Dockerfile" -t "${name}:${image}")
    parent="$(parent_of "${image}")"
    if [[ -n "${parent}" ]]; then
        args+=(--build-arg "BASE_IMAGE=${name}:${parent}")
    else
        args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")
    fi
    echo "== building ${name}:${image} with ${engine}"
    start=${SECONDS}
    if ! "${engine}" build "${engine_flags[@]+"${engine_flags[@]}"}" "${args[@]}" \
        "${build_args[@]+"${build_args[@]}"}" .; then
        die "building ${name}:${image} failed (docker/${image}/Dockerfile); the failing step's output is above"
    fi
    size="$("${engine}" image inspect --format '{{.Size}}' "${name}:${image}")"
    report+=("$(printf '%-12s %6d s %8.2f GB' "${image}" $((SECONDS - start)) "$(awk -v b="${size}" 'BEGIN { print b / 1e9 }')")")
done

echo "== built (image, build time, size):"
printf '  %s\n' "${report[@]}"
