#!/usr/bin/env bash
# Tools the FileStorage proofs use on real data folders (packages/fs/test/backup-copies.test.ts):
# cp and tar ship with the base system; rsync may not. Installed when missing (root only;
# otherwise it must already be there).
set -euo pipefail
if ! command -v rsync >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ]; then
    (apt-get install -y rsync >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y rsync >/dev/null 2>&1; }) || { echo "setup-fs: could not install rsync" >&2; exit 1; }
  else
    echo "setup-fs: rsync is missing and this user cannot install it (apt-get install rsync)" >&2
    exit 1
  fi
fi
command -v cp tar rsync >/dev/null
echo "setup-fs: cp, tar and rsync present ($(rsync --version | head -1))"
