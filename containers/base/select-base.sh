#!/usr/bin/env bash
# Print the base image to build on: $1 when given; else the public python:3.11-slim-bookworm if
# it is present or can be pulled; else the offline debootstrap base $2 (built if missing).
set -euo pipefail
requested="${1:-}"
offline="${2:-mpg-base:bookworm}"
public="python:3.11-slim-bookworm"
here="$(cd "$(dirname "$0")" && pwd)"

if [[ -n "$requested" ]]; then
  if [[ "$requested" == "$offline" ]]; then
    "$here/build-offline-base.sh" "$offline" >&2
  fi
  echo "$requested"
elif docker image inspect "$public" >/dev/null 2>&1 \
    || timeout 60 docker pull -q "$public" >/dev/null 2>&1; then
  echo "$public"
else
  echo "cannot pull $public: building on the offline base $offline" >&2
  "$here/build-offline-base.sh" "$offline" >&2
  echo "$offline"
fi
