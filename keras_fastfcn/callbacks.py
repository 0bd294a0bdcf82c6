"""Keras callbacks for training runs: checkpoints, backups, images.

`EpochCheckpoint` commits every epoch into the run folder (whole model with
optimizer state, the best one by a monitored metric, the history) in one
atomic step (`keras_fastfcn/run_folder.py`), so a crash (even SIGKILL)
resumes exactly. `PredictionImages` logs image | ground truth | prediction
strips to TensorBoard.
"""

from __future__ import annotations

import json
import os

import keras
import numpy as np

from keras_fastfcn.run_folder import RunFolder
from keras_fastfcn.utils import files
from keras_fastfcn.utils.files import atomic_path
from keras_fastfcn.utils.files import atomic_write_text
from keras_fastfcn.visualize import colorize

BACKUP_WEIGHTS = "latest.weights.h5"
BACKUP_STATE = "backup.json"


class EpochCheckpoint(keras.callbacks.Callback):
    """Commit each epoch into `folder` (`RunFolder.commit_epoch`): the
    model, the best one when `monitor` improves, and the history.

    Args:
        folder: the run's `RunFolder`.
        monitor: metric in the epoch logs, e.g. `"val_mean_iou"`.
        mode: `"max"` or `"min"`.
        best: best value reached before (when resuming).
        extra: more values for the manifest (checked on resume).
    """

    def __init__(
        self,
        folder: RunFolder,
        monitor: str,
        mode: str = "max",
        best: float | None = None,
        extra: dict | None = None,
    ):
        super().__init__()
        self.folder = folder
        self.monitor = monitor
        self.mode = mode
        self.best = best
        self.extra = extra

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        value = logs.get(self.monitor)
        improved = value is not None and self._improved(float(value))
        if improved:
            self.best = float(value)
        self.folder.commit_epoch(
            self.model,
            epoch + 1,
            logs,
            self.monitor,
            improved,
            self.best,
            self.extra,
        )


class EpochBackup(keras.callbacks.Callback):
    """Back up weights, optimizer state and the epoch count at every epoch
    end in one atomic step (the weights under a new name, then the state
    file that names them renamed into place, then older weights deleted),
    so a restarted multi-worker job continues exactly (`restore_backup`).
    Every worker must run it, since reading distributed variables can be a
    collective operation; workers other than the chief pass a temporary
    ``backup_dir``.
    """

    def __init__(self, backup_dir: str | os.PathLike):
        super().__init__()
        self.backup_dir = str(backup_dir)

    def on_epoch_end(self, epoch, logs=None):
        name = f"epoch-{epoch + 1:04d}.{BACKUP_WEIGHTS}"
        with atomic_path(files.join(self.backup_dir, name)) as tmp:
            self.model.save_weights(tmp)
        atomic_write_text(
            files.join(self.backup_dir, BACKUP_STATE),
            json.dumps({"epoch": epoch + 1, "weights": name}),
        )
        for other in files.listdir(self.backup_dir):
            if other.endswith(f".{BACKUP_WEIGHTS}") and other != name:
                files.remove(files.join(self.backup_dir, other))


def _backup_state(backup_dir: str) -> dict | None:
    state = files.join(backup_dir, BACKUP_STATE)
    if not files.isfile(state):
        return None
    try:
        values = json.loads(files.read_text(state))
        values["epoch"] = int(values["epoch"])
        weights = files.join(backup_dir, values["weights"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"Corrupt backup state {state}: {error}. Delete {backup_dir} to "
            "start over."
        ) from None
    if not files.isfile(weights):
        raise ValueError(
            f"{state} names {values['weights']}, which is missing. Delete "
            f"{backup_dir} to start over."
        )
    values["weights"] = weights
    return values


def read_backup(backup_dir: str | os.PathLike) -> int | None:
    """Epochs completed by the backed-up run, or None without a backup."""
    state = _backup_state(str(backup_dir))
    return None if state is None else state["epoch"]


def restore_backup(model: keras.Model, backup_dir: str | os.PathLike) -> int:
    """Loads the backup into a compiled ``model`` (optimizer included);
    returns the epochs it had completed. Call inside the strategy scope."""
    state = _backup_state(str(backup_dir))
    if state is None:
        raise FileNotFoundError(f"No backup in {backup_dir}.")
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(state["weights"])
    return state["epoch"]


class PredictionImages(keras.callbacks.Callback):
    """Log image | label | prediction strips to TensorBoard every epoch.

    Args:
        log_dir: TensorBoard directory.
        images: uint8 `(n, height, width, 3)` pictures to show.
        normalized: float32 `(n, height, width, 3)` model inputs.
        labels: int `(n, height, width)` ground truth (ignore -> black).
        palette: uint8 `(num_classes, 3)`.
    """

    def __init__(self, log_dir, images, normalized, labels, palette):
        super().__init__()
        self.log_dir = str(log_dir)
        self.images = np.asarray(images)
        self.normalized = np.asarray(normalized, np.float32)
        self.labels = np.asarray(labels)
        self.palette = np.asarray(palette, np.uint8)

    def strips(self) -> np.ndarray:
        """uint8 `(n, height, 3 * width, 3)` strips for the current model."""
        output = self.model.predict(self.normalized, verbose=0)
        logits = output["logits"] if isinstance(output, dict) else output
        predictions = np.argmax(logits, axis=-1)
        rows = []
        for image, label, prediction in zip(
            self.images, self.labels, predictions
        ):
            known = np.where(label < len(self.palette), label, 0)
            truth = colorize(known, self.palette)
            truth[label >= len(self.palette)] = 0
            rows.append(
                np.concatenate(
                    [image, truth, colorize(prediction, self.palette)], axis=1
                )
            )
        return np.stack(rows)

    def on_train_begin(self, logs=None):
        import tensorflow as tf

        # One writer (one event file) for the whole run, not one per epoch.
        self._writer = tf.summary.create_file_writer(
            os.path.join(self.log_dir, "images")
        )

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf

        if getattr(self, "_writer", None) is None:
            self.on_train_begin()
        with self._writer.as_default():
            tf.summary.image(
                "image | label | prediction",
                self.strips(),
                step=epoch,
                max_outputs=len(self.images),
            )
        self._writer.flush()

    def on_train_end(self, logs=None):
        if getattr(self, "_writer", None) is not None:
            self._writer.close()
            self._writer = None


class LearningRateLogger(keras.callbacks.Callback):
    """Add the optimizer's current learning rate to the epoch logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            lr = self.model.optimizer.learning_rate
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(lr))


def _duration(seconds: float) -> str:
    """`"9.8s"`, `"12m05s"`, `"3h07m"`."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


class EpochLine(keras.callbacks.Callback):
    """Print one line of at most `width` characters per epoch:

        epoch  3/50  loss 0.8123  val mIoU 41.27  lr 8.74e-03  12.3s

    the training loss, the validation mean IoU in percent (`-` in epochs
    without validation), the learning rate (`learning_rate` in the logs, see
    `LearningRateLogger`; place this callback after it) and the epoch's wall
    time. The logs themselves are untouched, so TensorBoard and
    `history.csv` keep every metric. Use with `model.fit(verbose=0)`.

    Args:
        epochs: total number of epochs (for the `3/50` counter).
        val_metric: key of the validation mean IoU in the logs, e.g.
            `"val_logits_mean_iou"`.
        width: maximum line length. Default `80`.
    """

    def __init__(self, epochs: int, val_metric: str, width: int = 80):
        super().__init__()
        self.epochs = int(epochs)
        self.val_metric = val_metric
        self.width = int(width)
        self._start = None

    def on_epoch_begin(self, epoch, logs=None):
        import time

        self._start = time.monotonic()

    def line(self, epoch: int, logs: dict, seconds: float) -> str:
        """The line of `epoch` (0-based) for these epoch-end `logs`."""
        digits = len(str(self.epochs))
        parts = [f"epoch {epoch + 1:>{digits}}/{self.epochs}"]
        if "loss" in logs:
            parts.append(f"loss {float(logs['loss']):.4f}")
        value = logs.get(self.val_metric)
        shown = "    -" if value is None else f"{float(value) * 100:5.2f}"
        parts.append(f"val mIoU {shown}")
        if "learning_rate" in logs:
            parts.append(f"lr {float(logs['learning_rate']):.2e}")
        parts.append(_duration(seconds))
        return "  ".join(parts)[: self.width]

    def on_epoch_end(self, epoch, logs=None):
        import time

        now = time.monotonic()
        seconds = now - (self._start if self._start is not None else now)
        print(self.line(epoch, logs or {}, seconds), flush=True)
