#!/usr/bin/env bash
# run_example.sh [--rm FILE]... PATTERN... -- COMMAND ARGS...
# Runs COMMAND; passes when it exits 0 and its stdout matches every extended-regex PATTERN.
# Each --rm FILE is deleted first (a fresh SQLite database, for instance).
set -uo pipefail
patterns=()
while [[ $# -gt 0 && $1 != -- ]]; do
  if [[ $1 == --rm ]]; then rm -f "$2" "$2-wal" "$2-shm"; shift 2; continue; fi
  patterns+=("$1"); shift
done
[[ $# -gt 1 ]] || { echo "usage: run_example.sh [--rm FILE] PATTERN... -- COMMAND ARGS..." >&2; exit 2; }
shift
out=$("$@")
rc=$?
printf '%s\n' "$out"
if [[ $rc -ne 0 ]]; then echo "FAIL: '$*' exited with status $rc" >&2; exit 1; fi
for p in "${patterns[@]}"; do
  if ! grep -Eq -- "$p" <<<"$out"; then echo "FAIL: output does not match /$p/" >&2; exit 1; fi
done
