"""A training run's output folder: never overwritten by accident, and
committed one epoch at a time.

Layout of `output_dir`:

    config.json            the resolved configuration
    checkpoints/
      state.json           the manifest: epoch, files, best value, history
      epoch-0007.keras     the last committed epoch (weights + optimizer)
      best-0005.keras      the best epoch by the monitored metric
    history.csv            one row per committed epoch (from the manifest)
    logs/                  TensorBoard
    evaluation/            the final evaluation
    summary.json

An epoch is committed by writing its checkpoint (and the best one when it
improved) under new names, then renaming the manifest that names them into
place, then deleting the files it no longer names. A kill at any instant
leaves either the old manifest and its files or the new ones: `--resume`
continues from exactly the epoch the manifest names. Temporary files of
interrupted writes are removed when the next run starts.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal

import keras

from keras_fastfcn.utils import files
from keras_fastfcn.utils.cli import UserError
from keras_fastfcn.utils.files import atomic_path
from keras_fastfcn.utils.files import atomic_write_text

MANIFEST = "state.json"
CHECKPOINTS = "checkpoints"
HISTORY = "history.csv"
# What a run writes into its folder; `--overwrite` removes only these.
RUN_ENTRIES = (
    CHECKPOINTS,
    HISTORY,
    "config.json",
    "summary.json",
    "logs",
    "evaluation",
    "class_pixel_counts.json",
)
_COMMITTED = re.compile(r"^(epoch|best)-\d{4,}\.keras$")
_TEMPORARY = re.compile(r"^\..*\.tmp")
# Fault injection for the kill tests: "POINT:EPOCH" kills the process with
# SIGKILL when epoch EPOCH's commit reaches POINT (`COMMIT_POINTS`).
CRASH_VARIABLE = "KERAS_FASTFCN_CRASH_AT"
COMMIT_POINTS = (
    "checkpoint_written",  # the checkpoint's temporary file, not renamed
    "checkpoint_renamed",  # new checkpoint in place, manifest still old
    "best_written",  # new best too, manifest still old
    "manifest_renamed",  # committed, old files not yet deleted
)


def _crash_point(point: str, epoch: int) -> None:
    if os.environ.get(CRASH_VARIABLE) == f"{point}:{epoch}":
        os.kill(os.getpid(), signal.SIGKILL)


class RunFolder:
    """The output folder of one training run.

    Args:
        root: the run's `output_dir`.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = str(root)
        self.checkpoints = files.join(self.root, CHECKPOINTS)

    def path(self, *parts: str) -> str:
        """A path inside the run folder (any filesystem: a string)."""
        return files.join(self.root, *parts)

    def checkpoint(self, name: str) -> str:
        """A path inside `checkpoints/`."""
        return files.join(self.checkpoints, name)

    # === Starting a run ===

    def existing_entries(self) -> list[str]:
        """Names in the folder that a run writes (empty for a new run)."""
        if not files.isdir(self.root):
            return []
        return sorted(e for e in RUN_ENTRIES if files.exists(self.path(e)))

    def check_can_start(self, resume: bool, overwrite: bool) -> None:
        """Refuse to reuse a folder that holds a run, unless `resume` or
        `overwrite` says what to do with it.

        Raises:
            UserError: naming the folder and the ways out.
        """
        if files.exists(self.root) and not files.isdir(self.root):
            raise UserError(
                f"--output-dir {self.root} is a file; pass a folder."
            )
        entries = self.existing_entries()
        if not entries or resume or overwrite:
            return
        raise UserError(
            f"{self.root} already holds a run ({', '.join(entries)}); "
            "nothing was changed. Continue it with --resume, start over "
            "with --overwrite (deletes those entries), or pass a new "
            "--output-dir."
        )

    def clear(self) -> None:
        """Delete what an earlier run wrote (for `--overwrite`)."""
        for entry in self.existing_entries():
            files.remove(self.path(entry))

    def remove_leftovers(self, manifest: dict | None = None) -> list[str]:
        """Delete temporary files of interrupted writes and checkpoints
        that the manifest (`manifest`, else the committed one) does not
        name; returns their names."""
        if not files.isdir(self.checkpoints):
            return []
        if manifest is None:
            manifest = self.read_manifest() or {}
        named = {manifest.get("last"), manifest.get("best_file")}
        removed = []
        for name in files.listdir(self.checkpoints):
            stray = _COMMITTED.match(name) and name not in named
            if _TEMPORARY.match(name) or stray:
                files.remove(self.checkpoint(name))
                removed.append(name)
        return sorted(removed)

    # === The manifest ===

    def read_manifest(self) -> dict | None:
        """The committed state, or `None` when no epoch was committed.

        Raises:
            UserError: the manifest or a file it names is damaged.
        """
        path = self.checkpoint(MANIFEST)
        if not files.isfile(path):
            return None
        try:
            manifest = json.loads(files.read_text(path))
            last = self.checkpoint(manifest["last"])
            epoch = int(manifest["epoch"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise UserError(
                f"Corrupt training state {path}: {e}. Start over with "
                "--overwrite or a new --output-dir."
            ) from None
        if not files.isfile(last):
            raise UserError(
                f"{path} names {manifest['last']}, which is missing: the run "
                "folder was changed by hand. Start over with --overwrite."
            )
        manifest["epoch"] = epoch
        return manifest

    def last_checkpoint(self) -> str | None:
        """The committed checkpoint of the last epoch, or `None`."""
        manifest = self.read_manifest()
        return self.checkpoint(manifest["last"]) if manifest else None

    def best_checkpoint(self) -> str | None:
        """The best committed checkpoint (else the last one), or `None`."""
        manifest = self.read_manifest()
        if not manifest:
            return None
        return self.checkpoint(manifest.get("best_file") or manifest["last"])

    # === Committing an epoch ===

    def commit_epoch(
        self,
        model: keras.Model,
        epoch: int,
        logs: dict,
        monitor: str,
        improved: bool,
        best: float | None,
        extra: dict | None = None,
    ) -> dict:
        """Commit completed epoch `epoch` (1-based); returns the manifest.

        Args:
            model: the model (its optimizer state is saved too).
            logs: the epoch's metrics, added to the history.
            monitor: the metric that picks the best epoch.
            improved: this epoch is the new best.
            best: the best value so far (this epoch's when `improved`).
            extra: more JSON values for the manifest (e.g. the data
                position's inputs, to check them on resume).
        """
        files.makedirs(self.checkpoints)
        previous = self.read_manifest() or {}
        last = f"epoch-{epoch:04d}.keras"
        with atomic_path(self.checkpoint(last)) as tmp:
            model.save(tmp)
            _crash_point("checkpoint_written", epoch)
        _crash_point("checkpoint_renamed", epoch)
        best_file = previous.get("best_file")
        if improved:
            best_file = f"best-{epoch:04d}.keras"
            files.copy(self.checkpoint(last), self.checkpoint(best_file))
            _crash_point("best_written", epoch)
        history = [
            row for row in previous.get("history", []) if row["epoch"] < epoch
        ]
        history.append(
            {"epoch": epoch, **{k: float(v) for k, v in logs.items()}}
        )
        manifest = {
            **(extra or {}),
            "epoch": epoch,
            "last": last,
            "best_file": best_file,
            "monitor": monitor,
            "best": best,
            "history": history,
        }
        atomic_write_text(
            self.checkpoint(MANIFEST), json.dumps(manifest, indent=2)
        )
        _crash_point("manifest_renamed", epoch)
        self.remove_leftovers(manifest)
        atomic_write_text(self.path(HISTORY), history_csv(history))
        return manifest


def history_csv(history: list[dict]) -> str:
    """CSV text of the manifest's history rows (one per epoch)."""
    columns = ["epoch"] + sorted(
        {k for row in history for k in row} - {"epoch"}
    )
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, restval="")
    writer.writeheader()
    writer.writerows(history)
    return out.getvalue()
