#!/usr/bin/env bash
# Stage, as wheels in .whl/, the Python packages bench/gpu_check.py needs that the lent GPU machine lacks (it has
# PyTorch, transformers, accelerate, safetensors, tokenizers and sentencepiece, and reaches no package registry).
# Run once, here, in the root of the checkout that the device tool sends; .whl/ is kept out of git through
# .git/info/exclude, and a run carries it with carry=[".whl"] (docs/benchmarks.md, "GPU check").
#
#   bash bench/gpu_check_wheels.sh            # the versions below; override with DIFFUSERS=0.42.1 etc.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
exclude="$(git rev-parse --git-path info/exclude)"
grep -qxF '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >>"$exclude"
rm -rf .whl && mkdir -p .whl
# One version of each: the machine's python3 is CPython 3.12 on x86-64 (these are pure-Python wheels).
packages=(
    "diffusers==${DIFFUSERS:-0.42.1}"          # the pipelines; not on the machine
    "importlib_metadata==${IMPORTLIB_METADATA:-10.2.0}"  # a declared need of diffusers
    "sacremoses==${SACREMOSES:-0.2.0}"         # MarianMT's punctuation normaliser (the translator)
)
"${PYTHON:-python3}" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${packages[@]}"
ls -la .whl
