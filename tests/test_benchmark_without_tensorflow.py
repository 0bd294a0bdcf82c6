"""The GPU suite's code path: the benchmark on Keras-JAX, bfloat16, in a
process where TensorFlow cannot be imported (the GPU machine has none)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("jax")

BLOCK_TENSORFLOW_AND_RUN = textwrap.dedent(
    """
    import runpy, sys
    sys.modules["tensorflow"] = None  # every import of TensorFlow fails
    sys.argv = ["benchmark"] + sys.argv[1:]
    runpy.run_module("keras_fastfcn.benchmark", run_name="__main__")
    """
)


def test_jax_bfloat16_benchmark_runs_without_tensorflow(tmp_path):
    path = tmp_path / "jax.json"
    env = dict(os.environ, KERAS_BACKEND="jax")
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_TENSORFLOW_AND_RUN]
        + ["--models", "fcn,fcn_jpu", "--backbone", "resnet18"]
        + ["--num-classes", "3", "--size", "64", "--batch", "2"]
        + ["--runs", "2", "--warmup", "1"]
        + ["--dtype-policy", "mixed_bfloat16", "--json", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(path.read_text())["inference"]
    assert [row["model"] for row in rows] == ["fcn", "fcn_jpu"]
    for row in rows:
        assert len(row["latency_s"]) == 2
        # XLA's cost analysis of the jitted bfloat16 forward pass
        assert row["gflops_per_image"] > 0.1
    assert "dtype policy mixed_bfloat16" in result.stdout
