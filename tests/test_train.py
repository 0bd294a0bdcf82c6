"""End-to-end training runs in subprocesses (TensorFlow backend).

Each run trains a tiny JPU model on the bundled CamVid sample for a few
steps. Subprocesses are needed because logical CPU devices (the
2-replica MirroredStrategy run) must be configured before TensorFlow
starts, and to kill a run mid-training.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

import keras_fastfcn  # noqa: F401  (registers the classes for loading)

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="training uses tf.data"
)

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "--dataset",
    "sample",
    "--backbone",
    "resnet18",
    "--base-width",
    "8",
    "--neck-width",
    "16",
    "--crop-size",
    "64",
    "--base-size",
    "72",
    "--batch-size",
    "2",
    "--steps-per-epoch",
    "3",
    "--val-steps",
    "1",
    "--num-visualizations",
    "2",
    "--lr",
    "0.01",
]


def _command(output_dir, *extra):
    return [
        sys.executable,
        str(ROOT / "train.py"),
        *TINY,
        "--output-dir",
        str(output_dir),
        *extra,
    ]


def _run(output_dir, *extra, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    result = subprocess.run(
        _command(output_dir, *extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _weights(path):
    model = keras.models.load_model(path, compile=False)
    return [np.asarray(keras.ops.convert_to_numpy(v)) for v in model.weights]


def test_two_replica_mirrored_training_writes_everything(tmp_path):
    out = tmp_path / "run"
    stdout = _run(out, "--epochs", "2", "--devices", "2", "--sync-bn")
    checkpoints = out / "checkpoints"
    state = json.loads((checkpoints / "state.json").read_text())
    assert state["epoch"] == 2
    assert state["monitor"] == "val_logits_mean_iou"
    assert (checkpoints / "last.keras").is_file()
    assert (checkpoints / "best.keras").is_file()
    assert list((out / "logs").rglob("events.out.tfevents.*"))
    assert list((out / "logs" / "images").rglob("events.out.tfevents.*"))
    evaluation = out / "evaluation"
    metrics = json.loads((evaluation / "metrics.json").read_text())
    assert 0.0 <= metrics["mean_iou"] <= 1.0 and metrics["images"] == 5
    assert (evaluation / "confusion_matrix.png").is_file()
    assert len(list(evaluation.glob("prediction_*.png"))) == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps_per_epoch"] == 3
    assert "mIoU" in stdout and "best checkpoint" in stdout
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 3  # header + 2 epochs
    # the 2-replica run really used a synchronised BatchNorm
    model = keras.models.load_model(checkpoints / "last.keras", compile=False)
    assert model.backbone.get_layer("bn1").synchronized


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    # Dropout masks come from TensorFlow's stateful RNG, which a checkpoint
    # cannot replay; without dropout the resumed run must be exact.
    epochs = ["--epochs", "3", "--num-visualizations", "0", "--dropout", "0"]
    reference = tmp_path / "reference"
    _run(reference, *epochs)

    crashed = tmp_path / "crashed"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    process = subprocess.Popen(
        _command(crashed, *epochs),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    state_path = crashed / "checkpoints" / "state.json"
    deadline = time.time() + 600
    try:
        while time.time() < deadline and process.poll() is None:
            if state_path.is_file():
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    state = json.loads(state_path.read_text())
    assert state["epoch"] < 3, "the run finished before it could be killed"

    stdout = _run(crashed, *epochs, "--resume")
    assert f"after epoch {state['epoch']}" in stdout
    assert json.loads(state_path.read_text())["epoch"] == 3
    expected = _weights(reference / "checkpoints" / "last.keras")
    actual = _weights(crashed / "checkpoints" / "last.keras")
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
