#!/usr/bin/env bash
# Build the offline base image: a minimal Debian bookworm with Python 3.11, made from Debian
# packages with debootstrap and imported into the local engine. This is the base for machines
# that cannot pull from a registry (air-gapped builds, CI); real users get python:3.11-slim-bookworm.
#
# usage: build-offline-base.sh [TAG]          (default TAG: mpg-base:bookworm)
# env:   DEBIAN_MIRROR (default http://deb.debian.org/debian), REBUILD=1 to replace an existing tag
set -euo pipefail

tag="${1:-mpg-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [[ "${REBUILD:-0}" != 1 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
  echo "offline base $tag already present (REBUILD=1 to rebuild)"
  exit 0
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT

debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" "$mirror"

# Keep the image small: package lists, docs and caches are not needed at run time.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log

tar -C "$root" -c . | docker import \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  - "$tag"
echo "built offline base $tag"
