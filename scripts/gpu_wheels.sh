#!/usr/bin/env bash
# Fetch, into .whl/ (git-ignored), the cp312 x86-64 wheels that the GPU image lacks and
# benchmarks/gpu_session.sh installs there: trl and datasets with their missing dependencies,
# srft's own pydantic and ijson, and pyarrow 26 (datasets 5.2 needs >= 24). About 58 MiB; the
# device tool carries at most 64 MiB, so nothing else fits beside them.
#
#   bash scripts/gpu_wheels.sh        # then: run(command="bash benchmarks/gpu_session.sh", carry=[".whl"])
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
rm -rf .whl && mkdir .whl
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
  -d .whl \
  trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 pyarrow==26.0.1 \
  pydantic==2.14.4 pydantic_core==2.50.5 annotated-types typing-inspection typing_extensions ijson
du -sh .whl
