"""The GPU suite's code path, through `examples/gpu/benchmark.sh`: carried
wheels installed offline, then the benchmark on Keras-JAX in bfloat16, in a
process where TensorFlow cannot be imported (the GPU machine has none)."""

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("jax")

SCRIPT = Path(__file__).parents[1] / "examples" / "gpu" / "benchmark.sh"


def write_wheel(folder: Path, name: str) -> None:
    """A minimal pure-Python wheel `name` 0.1 holding `name/__init__.py`."""
    info = f"{name}-0.1.dist-info"
    with zipfile.ZipFile(folder / f"{name}-0.1-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{name}/__init__.py", "CARRIED = True\n")
        wheel.writestr(
            f"{info}/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n",
        )
        wheel.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
            "Tag: py3-none-any\n",
        )
        wheel.writestr(f"{info}/RECORD", "")


def test_gpu_script_installs_wheels_and_runs_jax_bfloat16(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "carried_probe")
    no_tensorflow = tmp_path / "no_tensorflow" / "tensorflow"
    no_tensorflow.mkdir(parents=True)
    (no_tensorflow / "__init__.py").write_text(
        "raise ImportError('no TensorFlow on the GPU machine')\n"
    )
    env = dict(
        os.environ,
        PYTHON=os.environ.get("PYTHON", "python"),
        WHEELS=str(wheels),
        OUT=str(tmp_path),
        PYTHONPATH=str(no_tensorflow.parent),
    )
    result = subprocess.run(
        ["bash", str(SCRIPT)]
        + ["--models", "fcn,fcn_jpu", "--backbone", "resnet18"]
        + ["--num-classes", "3", "--size", "64", "--batch", "2"]
        + ["--runs", "2", "--warmup", "1", "--dtype-policy", "mixed_bfloat16"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (wheels / "site" / "carried_probe" / "__init__.py").exists()
    rows = json.loads((tmp_path / "gpu.json").read_text())["inference"]
    assert [row["model"] for row in rows] == ["fcn", "fcn_jpu"]
    for row in rows:
        assert len(row["latency_s"]) == 2
        # XLA's cost analysis of the jitted bfloat16 forward pass
        assert row["gflops_per_image"] > 0.1
    assert "dtype policy mixed_bfloat16" in result.stdout
    assert '"inference"' in result.stdout  # the JSON is printed too
