#!/usr/bin/env bash
# The whole pipeline and the benchmarks on a GPU machine that has JAX (with CUDA) but
# not keras/dvc: carry their wheels in .whl/ (made as below). It works on a
# copy of the repo in a temporary folder (the copy gets a fresh git repo so that `dvc
# metrics diff` compares the GPU's results with the committed CPU ones); your checkout
# is not touched. Every step has its own time limit, so a hang costs minutes, not the
# whole lease.  Usage, from the repo root:  OUT=/some/dir bash benchmarks/gpu_run.sh
#
# The wheels (Python 3.12, x86-64): each `name==version` of requirements.lock that the GPU
# machine lacks (dvc and its dependencies, keras, namex, optree, ...; about 67 wheels, 22 MB),
# never numpy, jax, jaxlib, ml-dtypes, optax, pandas or matplotlib (the GPU's builds stay):
#   echo /.whl/ >> .git/info/exclude
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl "name==version"    # one package at a time
#   pip wheel --no-deps -w .whl antlr4-python3-runtime==4.9.3     # it ships only a source archive
set -u
OUT=${OUT:-/tmp/nnreg-gpu}; mkdir -p "$OUT"
step() { local limit=$1; shift; echo "+ $*"; timeout "$limit" "$@"; local rc=$?; [ $rc = 124 ] && echo "TIMED OUT after ${limit}s: $*"; return $rc; }

PY3=$(python3 -c "import sys; print(sys.executable)")
step 120 "$PY3" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
# The copy leaves out what it must not carry: git (a fresh repo is made below), the venv,
# the wheels (installed above) and the DVC-cached data and models. Stop if it fails,
# so nothing below ever runs in your checkout.
work=$(mktemp -d) || exit 1
tar -C . --exclude=./.git --exclude=./.venv --exclude=./.whl --exclude=./data --exclude=./models -cf - . \
    | tar -C "$work" -xf - || exit 1
cd "$work" || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax DVC_NO_ANALYTICS=1 PYTHONUNBUFFERED=1
mkdir -p /tmp/bin && printf '#!/bin/sh\nexec %s "$@"\n' "$PY3" > /tmp/bin/python && chmod +x /tmp/bin/python
export PATH=/tmp/bin:$PATH
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
step 60 python -c "import jax; print('jax', jax.__version__)" || exit 1
step 60 python -c "import jax; print(jax.devices())" || exit 1
step 60 python -c "import keras, optax, dvc.version as v; print('keras', keras.__version__, 'optax', optax.__version__, 'dvc', v.__version__)" || exit 1
git init -q && git add -A && git -c user.email=gpu@nnreg -c user.name=gpu commit -qm "committed (CPU) results"
step 300 python -m dvc repro 2>&1 | tee "$OUT/repro.log" | grep -vE "^(gd|optax_sgd|optax_adam|keras): epoch"
step 60 python -m dvc metrics diff --precision 8 2>&1 | tee "$OUT/metrics_diff.txt"
cp plots/summary.md "$OUT/summary.md"
step 120 python benchmarks/bench.py --repeats 7 --json "$OUT/bench.json"
step 120 python benchmarks/determinism.py --runs 5 --json "$OUT/det_default.json"
XLA_FLAGS=--xla_gpu_deterministic_ops=true step 120 python benchmarks/determinism.py --runs 5 --json "$OUT/det_flag.json"
