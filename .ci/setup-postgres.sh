#!/usr/bin/env bash
# Installs PostgreSQL (Debian package, 15 on Debian 12) for the tests of
# @pepperpy/storage-postgres, which initdb and start a throw-away cluster in a temp directory as
# the non-root `postgres` user the package creates (no service is started here). Idempotent.
set -euo pipefail
have_pg() { ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; }
if ! have_pg; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq postgresql >/dev/null
fi
have_pg || { echo "setup-postgres: pg_ctl not found under /usr/lib/postgresql/*/bin" >&2; exit 1; }
id postgres >/dev/null 2>&1 || { echo "setup-postgres: the postgres user is missing" >&2; exit 1; }
ls -d /usr/lib/postgresql/*/bin
