#!/usr/bin/env bash
# The soak (issue 16): rwsgi under kills, harakiri, a reload, stats bursts and garbage for a
# few minutes, every response checked; see scripts/soak.py for what it does and prints.
#
#   scripts/soak.sh                 # 240 s
#   scripts/soak.sh --duration 20   # a smoke run
#   RWSGI=path/to/rwsgi scripts/soak.sh
#
# Without RWSGI it takes the release build if there is one, else the debug build (of
# $CARGO_TARGET_DIR, else target/). Not part of the test suite: it takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
if [ -z "${RWSGI:-}" ]; then
  for b in "$target/release/rwsgi" "$target/debug/rwsgi"; do
    if [ -x "$b" ]; then RWSGI="$b"; break; fi
  done
fi
if [ -z "${RWSGI:-}" ]; then
  echo "no rwsgi binary: run 'cargo build' (or --release) first, or set RWSGI" >&2
  exit 2
fi
export RWSGI
exec python3 scripts/soak.py "$@"
