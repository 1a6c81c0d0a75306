#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need (nginx, tmux, curl,
# carbon, Prometheus with promtool, and the Python tools: uwsgitop, uWSGI, a MongoDB wire server), then checks
# formatting, lints, and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# carbon-cache and whisper-fetch: the real Graphite receiver of the carbon pusher tests
command -v carbon-cache >/dev/null 2>&1 || need_apt+=(graphite-carbon)
command -v whisper-fetch >/dev/null 2>&1 || need_apt+=(python3-whisper)
# prometheus and promtool: the real scraper of the /metrics tests (it ships promtool)
{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Debian starts nginx and prometheus on install where it can; the tests run their own on
  # loopback ports.
  (service nginx stop || systemctl stop nginx || true) >/dev/null 2>&1
  (service prometheus stop || systemctl stop prometheus || true) >/dev/null 2>&1
fi
python3 -m pip install -q --disable-pip-version-check -r scripts/test-requirements.txt
# Under pyenv, new console scripts (uwsgitop) get their shims only after a rehash.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace "$@"
