#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: set-up, format, lints, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test
# The same llama.cpp build settings as the release build (setup.sh ran in a child).
source scripts/llama-cpu.sh
echo "== cargo fmt --check" >&2
cargo fmt --all -- --check
echo "== cargo clippy" >&2
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test" >&2
cargo test --workspace
