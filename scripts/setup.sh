#!/usr/bin/env bash
# Installs what Hearth needs on a Debian-like machine and builds the release binary.
# Idempotent: run it again after pulling. Usage: scripts/setup.sh [--test]
#   --test   also install what the test suite needs (nothing extra yet) and skip the release build
set -euo pipefail
cd "$(dirname "$0")/.."

want_release=1
[[ "${1:-}" == "--test" ]] && want_release=0

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# The sandbox: bubblewrap runs every model-issued command in its own namespaces.
if ! command -v bwrap >/dev/null 2>&1; then
  echo "setup: installing bubblewrap (the sandbox for commands the model runs)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi

if [[ $want_release -eq 1 ]]; then
  echo "setup: building hearth (release)" >&2
  cargo build --release --locked -p hearth
  echo "setup: done: $(pwd)/target/release/hearth" >&2
fi
