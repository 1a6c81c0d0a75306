#!/usr/bin/env bash
# Whole-server benchmark of rwsgi against uWSGI 2.0, Granian and Gunicorn (README "Benchmarks").
#
#   bench/run.sh                         # every scenario, 3 rounds of 10 s runs
#   bench/run.sh --scenario 1            # a subset (repeatable, or 1,3)
#   BENCH_SECONDS=2 BENCH_ROUNDS=1 BENCH_WARMUP=1 bench/run.sh   # a quick smoke run
#   bench/run.sh --scenario 8            # static files (4 KiB, 1 MiB) vs uWSGI, Granian, nginx
#   bench/run.sh --list                  # the scenarios; --help for every setting
#
# Installs what is missing (wrk and nginx-light from apt; uWSGI, Granian and Gunicorn from PyPI
# into bench/.venv), builds rwsgi in release mode (set RWSGI=/path/to/rwsgi to skip the build),
# then runs bench/bench.py, which prints the tables and writes bench/results/<timestamp>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# --list and --help need nothing installed.
for arg in "$@"; do
  case $arg in --list | --help | -h) exec python3 bench/bench.py "$@" ;; esac
done

# --- system tools: wrk, nginx -------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (apt)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian starts nginx on install; the benchmark runs its own on loopback ports.
  ($sudo service nginx stop || $sudo systemctl stop nginx || true) >/dev/null 2>&1
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
WRK=$(command -v wrk)

# --- Python servers, in bench/.venv ---------------------------------------------------------
venv=bench/.venv
if [ ! -x "$venv/bin/uwsgi" ] || [ ! -x "$venv/bin/granian" ] || [ ! -x "$venv/bin/gunicorn" ]; then
  echo "installing uWSGI, Granian and Gunicorn into $venv (pip; uWSGI compiles, ~1 min)" >&2
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r bench/requirements.txt
fi

# --- rwsgi -------------------------------------------------------------------------------
if [ -z "${RWSGI:-}" ]; then
  cargo build --release -p rwsgi >&2
  RWSGI=$root/target/release/rwsgi
fi

export RWSGI NGINX WRK
export BENCH_VENV=$root/$venv
export UWSGI=$root/$venv/bin/uwsgi GRANIAN=$root/$venv/bin/granian GUNICORN=$root/$venv/bin/gunicorn
exec python3 bench/bench.py "$@"
