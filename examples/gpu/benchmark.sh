#!/usr/bin/env bash
# The GPU speed check of issue "Speed" on a machine with JAX (CUDA) but no
# TensorFlow and no network: installs the carried wheels of what is missing
# (keras and its small dependencies) into .whl/site, then runs
# `fastfcn benchmark` on Keras-JAX and prints its JSON.
#
# Here, once, for the GPU machine's Python (3.12 on this project's device):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --platform manylinux_2_28_x86_64 -d .whl keras==3.15.1 namex optree
# There (from the repository root; $OUT, if set, receives gpu.json):
#   examples/gpu/benchmark.sh              # --suite gpu: bf16, batch 16
#   examples/gpu/benchmark.sh --models encnet_jpu --batch 32   # any options
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python3}
wheels=${WHEELS:-.whl}
case $wheels in /*) ;; *) wheels=$PWD/$wheels ;; esac
if compgen -G "$wheels/*.whl" >/dev/null; then
    "$python" -m pip install --quiet --no-index --no-deps --upgrade \
        --target "$wheels/site" "$wheels"/*.whl
fi
export PYTHONPATH="$wheels/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax
"$python" -c 'import jax, keras; print("keras", keras.__version__, "jax", jax.__version__, jax.devices())'
if [ $# -eq 0 ]; then
    set -- --suite gpu
fi
json="${OUT:-.}/gpu.json"
"$python" -m keras_fastfcn.benchmarks.inference "$@" --json "$json"
cat "$json"
