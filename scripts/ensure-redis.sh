#!/usr/bin/env bash
# Makes sure redis-server is installed (Debian/Ubuntu via apt-get; as root or with sudo). Sourced by the other scripts.
set -euo pipefail

if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi

echo "redis-server not found; installing it with apt-get..." >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: redis-server is missing and apt-get is not available. Install Redis (e.g. 'brew install redis') and retry." >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: run as root or install sudo, or install redis-server yourself." >&2
    exit 1
  fi
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
command -v redis-server >/dev/null
