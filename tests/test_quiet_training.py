"""A default training run prints one short line per epoch and no noise.

Runs the tiny sample training of `tests/test_train.py` in a subprocess
without `TF_CPP_MIN_LOG_LEVEL` set, as a person would.
"""

import csv
import os
import re
import subprocess
import sys

import keras
import pytest

from keras_fastfcn.callbacks import EpochLine
from tests.test_train import ROOT
from tests.test_train import TINY

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="training uses tf.data"
)

EPOCH_LINE = re.compile(
    r"^epoch [ \d]+/\d+  loss \d+\.\d{4}  val mIoU +(\d+\.\d\d|-)  "
    r"lr \d\.\d\de[-+]\d\d  [\dhms.]+$"
)


def test_epoch_line_format():
    line = EpochLine(120, "val_logits_mean_iou")
    logs = {
        "loss": 0.81234,
        "val_logits_mean_iou": 0.41266,
        "learning_rate": 0.0087412,
        "logits_pixel_accuracy": 0.5,
    }
    text = line.line(2, logs, 754.2)
    assert text == (
        "epoch   3/120  loss 0.8123  val mIoU 41.27  lr 8.74e-03  12m34s"
    )
    assert EPOCH_LINE.match(text)
    del logs["val_logits_mean_iou"]
    assert "val mIoU     -" in line.line(3, logs, 9.84)
    assert line.line(3, logs, 9.84).endswith("9.8s")
    assert len(EpochLine(10**30, "m").line(0, {"loss": 1e30}, 1e9)) <= 80


def test_default_run_is_quiet(tmp_path):
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *TINY]
        + ["--epochs", "2", "--output-dir", "run"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    lines = result.stdout.splitlines()
    too_long = [line for line in lines if len(line) > 80]
    assert not too_long, too_long
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert len(epoch_lines) == 2, result.stdout
    assert all(EPOCH_LINE.match(line) for line in epoch_lines), epoch_lines
    assert epoch_lines[0].startswith("epoch 1/2  ")
    assert "\x1b[" not in result.stdout  # no progress bar escapes
    for noise in ("shuffle=True", "cuInit", "oneDNN custom operations"):
        assert noise not in result.stderr, result.stderr[-3000:]
    # every metric is still recorded
    with open(tmp_path / "run" / "history.csv") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2
    for key in ("loss", "learning_rate", "val_logits_mean_iou"):
        assert key in rows[0]
    assert "val_logits_pixel_accuracy" in rows[0]
    shown = float(epoch_lines[1].split("val mIoU")[1].split()[0])
    assert shown == pytest.approx(
        float(rows[1]["val_logits_mean_iou"]) * 100, abs=0.006
    )
    # the prediction images of both epochs are in one event file
    events = list((tmp_path / "run" / "logs" / "images").iterdir())
    assert len(events) == 1, events
