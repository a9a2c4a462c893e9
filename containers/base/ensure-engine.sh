#!/usr/bin/env bash
# Make sure a Docker engine answers. On a Debian machine without one (CI, a fresh VM) install
# Debian's engine, compose v1 and debootstrap, and start dockerd in the background.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "No Docker engine answers. Install and start Docker, then run make again." >&2
    exit 1
  fi
  echo "installing Debian's Docker engine (docker.io, docker-compose, debootstrap)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io docker-compose debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  if [[ $(id -u) != 0 ]]; then
    echo "dockerd is installed but not running; start it (sudo systemctl start docker)." >&2
    exit 1
  fi
  log="${DOCKERD_LOG:-/tmp/mpg-dockerd.log}"
  echo "starting dockerd (log: $log)..."
  nohup dockerd >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 1
  done
  echo "dockerd did not come up within 60 s; see $log" >&2
  exit 1
fi
