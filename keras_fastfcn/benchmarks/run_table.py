"""Finished training runs side by side: a markdown table a README can carry.

Each row reads one run folder of `train.py`:

* `summary.json`: train time and training images/s;
* an evaluation folder of `fastfcn evaluate --output-dir` (default
  `eval_whole`, the official whole-image protocol): pixAcc, mIoU and the
  per-class IoU;
* `preset/`: the model, whose inference GFLOPs are counted at a given
  image size (`count_flops`, TensorFlow only).

    rows = [read_run("runs/camvid/a", label="JPU", gflops_size=(360, 480))]
    print(format_run_table(rows, classes=["pole", "signsymbol"]))
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from dataclasses import field
from typing import Sequence

from keras_fastfcn.utils import files


@dataclass
class RunRow:
    """One finished run: its cost and its whole-image evaluation."""

    label: str
    epochs: int
    train_minutes: float
    images_per_second: float
    pixel_accuracy: float  # percent
    mean_iou: float  # percent
    iou: dict[str, float] = field(default_factory=dict)  # percent by class
    gflops: float | None = None


def _read_json(path: str, what: str) -> dict:
    if not files.isfile(path):
        raise FileNotFoundError(f"{path} does not exist: {what}.")
    return json.loads(files.read_text(path))


def read_run(
    folder: str | os.PathLike,
    label: str | None = None,
    evaluation: str = "eval_whole",
    gflops_size: tuple[int, int] | None = None,
) -> RunRow:
    """The `RunRow` of a finished run folder.

    Args:
        folder: the run's `--output-dir`.
        label: the row's name (default: the folder's name).
        evaluation: sub-folder holding the evaluation's `metrics.json`.
        gflops_size: `(height, width)` at which to count the inference
            GFLOPs of `folder/preset` (batch 1); `None`: not counted.
    """
    folder = os.fspath(folder)
    summary = _read_json(
        os.path.join(folder, "summary.json"),
        "is the folder a finished train.py run?",
    )
    metrics = _read_json(
        os.path.join(folder, evaluation, "metrics.json"),
        f"evaluate the run first: fastfcn evaluate --preset "
        f"{folder}/preset --output-dir {folder}/{evaluation}",
    )
    names = metrics["class_names"]
    row = RunRow(
        label=label or os.path.basename(os.path.normpath(folder)),
        epochs=int(summary["epochs"]),
        train_minutes=float(summary["train_seconds"]) / 60.0,
        images_per_second=float(summary["train_images_per_second"]),
        pixel_accuracy=100.0 * float(metrics["pixel_accuracy"]),
        mean_iou=100.0 * float(metrics["mean_iou"]),
        iou={n: 100.0 * float(v) for n, v in zip(names, metrics["iou"])},
    )
    if gflops_size is not None:
        row.gflops = preset_gflops(os.path.join(folder, "preset"), gflops_size)
    return row


def preset_gflops(preset: str, size: tuple[int, int]) -> float:
    """Inference GFLOPs of a saved preset on one `(height, width)` image."""
    from keras_fastfcn.benchmarks.flops import count_flops
    from keras_fastfcn.models.presets import from_preset

    model = from_preset(preset)
    return count_flops(model, (1, size[0], size[1], 3)) / 1e9


def format_run_table(
    rows: Sequence[RunRow], classes: Sequence[str] | None = None
) -> str:
    """A markdown table of `rows`: epochs, train time, images/s, GFLOPs
    (where counted), pixAcc / mIoU and the IoU of `classes` (default: every
    class of the first row). The best mIoU is bold."""
    if not rows:
        raise ValueError("format_run_table needs at least one run.")
    classes = list(rows[0].iou) if classes is None else list(classes)
    for row in rows:
        missing = [c for c in classes if c not in row.iou]
        if missing:
            raise ValueError(
                f"run {row.label!r} has no IoU for {missing}; its classes "
                f"are {list(row.iou)}."
            )
    with_gflops = any(r.gflops is not None for r in rows)
    best = max(r.mean_iou for r in rows)
    header = ["run", "epochs", "train time", "train img/s"]
    header += ["GFLOPs"] if with_gflops else []
    header += ["val pixAcc / mIoU", *classes]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for r in rows:
        score = f"{r.pixel_accuracy:.2f} / {r.mean_iou:.2f}"
        if r.mean_iou == best and len(rows) > 1:
            score = f"**{score}**"
        cells = [
            r.label,
            str(r.epochs),
            f"{r.train_minutes:.1f} min",
            f"{r.images_per_second:.2f}",
        ]
        if with_gflops:
            cells.append("" if r.gflops is None else f"{r.gflops:.2f}")
        cells.append(score)
        cells += [f"{r.iou[c]:.1f}" for c in classes]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
