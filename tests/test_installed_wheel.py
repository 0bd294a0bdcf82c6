"""The installed wheel, outside the checkout: `fastfcn train` writes a
preset, `fastfcn predict --preset` names the classes, `fastfcn export
--preset` stores them with the SavedModel.

The wheel is built from a copy of the package sources and installed with
`--no-deps` into a venv that sees this interpreter's packages
(`--system-site-packages`, so TensorFlow is not installed again); every
command runs from a folder outside the checkout without `PYTHONPATH`, so
only the wheel's files are used.
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
TINY_TRAINING = [
    "--dataset", "sample",
    "--epochs", "1",
    "--steps-per-epoch", "1",
    "--val-steps", "1",
    "--backbone", "resnet18",
    "--base-width", "8",
    "--neck-width", "16",
    "--crop-size", "32",
    "--base-size", "48",
    "--batch-size", "1",
    "--num-visualizations", "0",
]  # fmt: skip


def _run(command, cwd, timeout=900):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "KERAS_BACKEND", "VIRTUAL_ENV")
    }
    env.update(TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "keras_fastfcn",
        source / "keras_fastfcn",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    dist = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps"]
        + ["--no-build-isolation", "-w", dist, source],
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("keras_fastfcn-*.whl")
    return wheel


def test_installed_wheel_trains_predicts_and_exports_a_preset(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "keras_fastfcn/configs/ade20k.yaml" in names
    assert "keras_fastfcn/data/sample/train.txt" in names
    assert "keras_fastfcn/models/presets.py" in names

    venv = tmp_path / "venv"
    _run(
        [sys.executable, "-m", "venv", "--system-site-packages", venv], tmp_path
    )
    python = venv / "bin" / "python"
    _run(
        [python, "-m", "pip", "install", "--no-deps", "--ignore-installed"]
        + ["--disable-pip-version-check", wheel],
        tmp_path,
    )
    work = tmp_path / "work"
    work.mkdir()
    located = _run(
        [python, "-c", "import keras_fastfcn; print(keras_fastfcn.__file__)"],
        work,
    )
    assert located.strip().startswith(str(venv)), located
    fastfcn = venv / "bin" / "fastfcn"

    run = work / "run"
    stdout = _run([fastfcn, "train", *TINY_TRAINING, "--output-dir", run], work)
    assert f"preset:            {run / 'preset'}" in stdout
    metadata = json.loads((run / "preset" / "metadata.json").read_text())
    assert metadata["dataset"] == "sample" and metadata["num_classes"] == 11
    assert metadata["class_names"][:3] == ["sky", "building", "pole"]
    assert 0.0 <= metadata["metrics"]["mean_iou"] <= 1.0
    assert (metadata["base_size"], metadata["crop_size"]) == (48, 32)

    (package,) = venv.glob("lib/python*/site-packages/keras_fastfcn")
    image = sorted((package / "data" / "sample" / "val").iterdir())[0]
    predicted = _run(
        [fastfcn, "predict", image, "--out", work / "predicted"]
        + ["--preset", run / "preset"],
        work,
    )
    (line,) = [x for x in predicted.splitlines() if x.startswith(str(image))]
    assert any(f"{name} " in line for name in metadata["class_names"]), line
    classes = json.loads((work / "predicted" / "classes.json").read_text())
    assert [c["name"] for c in classes] == metadata["class_names"]

    _run(
        [fastfcn, "export", "--format", "saved_model"]
        + ["--output", work / "serving", "--preset", run / "preset"],
        work,
    )
    exported = json.loads(
        (
            work / "serving" / "1" / "assets.extra" / "keras_fastfcn.json"
        ).read_text()
    )
    assert [c["name"] for c in exported["classes"]] == metadata["class_names"]
    assert exported["resize_policy"] == {
        "mode": "long_side",
        "size": [48],
        "pad_multiple": 32,
    }
    assert not list(ROOT.glob("build")), "the build wrote into the checkout"
