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
    assert state["last"] == "epoch-0002.keras"
    assert (checkpoints / "epoch-0002.keras").is_file()
    assert (checkpoints / state["best_file"]).is_file()
    assert sorted(p.name for p in checkpoints.iterdir()) == sorted(
        {"state.json", "epoch-0002.keras", state["best_file"]}
    )
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
    model = keras.models.load_model(
        checkpoints / "epoch-0002.keras", compile=False
    )
    assert model.backbone.get_layer("bn1").synchronized


NO_DROPOUT = ["--epochs", "3", "--num-visualizations", "0", "--dropout", "0"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """A 3-epoch run without dropout: its weights are what every resumed
    run must end with (dropout masks come from TensorFlow's stateful RNG,
    which a checkpoint cannot replay)."""
    out = tmp_path_factory.mktemp("uninterrupted")
    _run(out, *NO_DROPOUT)
    return out


def _final_weights(out):
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 3
    return _weights(out / "checkpoints" / state["last"])


@pytest.mark.parametrize(
    "point",
    [
        "checkpoint_written",  # inside the checkpoint write (temp file)
        "checkpoint_renamed",  # between the checkpoint and the manifest
        "best_written",  # between the best copy and the manifest
        "manifest_renamed",  # committed, old files not deleted yet
    ],
)
def test_kill_at_any_commit_point_resumes_exactly(
    uninterrupted, tmp_path, point
):
    """SIGKILL at each point of epoch 2's commit, then `--resume`: the run
    ends with the uninterrupted run's weights, bit for bit, and no stray
    file is left."""
    out = tmp_path / "run"
    env = {"KERAS_FASTFCN_CRASH_AT": f"{point}:2"}
    result = subprocess.run(
        _command(out, *NO_DROPOUT),
        cwd=ROOT,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    committed = 2 if point == "manifest_renamed" else 1
    assert state["epoch"] == committed
    stdout = _run(out, *NO_DROPOUT, "--resume")
    assert f"after epoch {committed}" in stdout
    for actual, expected in zip(
        _final_weights(out), _final_weights(uninterrupted)
    ):
        np.testing.assert_array_equal(actual, expected)
    names = {p.name for p in (out / "checkpoints").iterdir()}
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert names == {"state.json", state["last"], state["best_file"]}
    history = (out / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history] == ["epoch", "1", "2", "3"]


def test_reusing_a_run_folder_is_refused_and_changes_nothing(tmp_path):
    out = tmp_path / "run"
    _run(out, "--epochs", "1", "--num-visualizations", "0")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = subprocess.run(
        _command(out, "--epochs", "1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith(f"train.py: error: {out} already holds a run")
    assert "--resume" in error and "--overwrite" in error
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    _run(out, "--epochs", "1", "--num-visualizations", "0", "--overwrite")
    state = json.loads((out / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 1


def test_resume_with_another_batch_size_is_refused(tmp_path):
    out = tmp_path / "run"
    _run(out, "--epochs", "1", "--num-visualizations", "0")
    result = subprocess.run(
        _command(out, "--epochs", "2", "--resume", "--steps-per-epoch", "2"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2
    assert "trained with steps_per_epoch 3, not 2" in result.stderr
