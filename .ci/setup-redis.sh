#!/usr/bin/env bash
# Installs redis-server (Debian package) for the tests of @pepperpy/storage-redis, which start
# their own server on 127.0.0.1 (no service is enabled or started here). Idempotent.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  redis-server --version
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq redis-server >/dev/null
redis-server --version
