"""Copy an official state dict into Keras variables, every tensor checked."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Callable
from typing import Mapping

import keras
import numpy as np
from tqdm import tqdm

from keras_fastfcn.weights.mapping import TensorMapping
from keras_fastfcn.weights.mapping import to_keras_layout

BATCH_COUNTER_SUFFIX = ".num_batches_tracked"
MAX_LISTED = 12


class WeightMismatchError(ValueError):
    """A state dict does not fit a Keras model tensor for tensor.

    Attributes:
        missing: official keys the model needs and the state dict lacks.
        unexpected: state-dict keys the model has no variable for.
        mismatched: `(key, checkpoint shape, expected shape)` triples.
    """

    def __init__(self, message, missing=(), unexpected=(), mismatched=()):
        super().__init__(message)
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


@dataclass
class LoadReport:
    """What a state-dict transfer did.

    Attributes:
        loaded: official keys copied into the model.
        skipped: `{key: reason}` for tensors deliberately not copied.
    """

    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line: counts of loaded tensors and skipped ones by reason."""
        text = f"Loaded {len(self.loaded)} tensors"
        if not self.skipped:
            return text + "."
        by_reason: dict[str, list[str]] = {}
        for key, reason in self.skipped.items():
            by_reason.setdefault(reason, []).append(key)
        parts = []
        for reason, keys in by_reason.items():
            listed = ", ".join(keys[:4]) + (", ..." if len(keys) > 4 else "")
            parts.append(f"{len(keys)} {reason} ({listed})")
        return f"{text}; skipped {'; '.join(parts)}."


def _listing(items) -> str:
    items = list(items)
    shown = ", ".join(str(i) for i in items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def mismatch_message(source, target, missing, unexpected, mismatched) -> str:
    """One-line description of a failed transfer."""
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing [{_listing(missing)}]")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected [{_listing(unexpected)}]")
    if mismatched:
        shapes = [
            f"{key}: {got} in the checkpoint, {want} expected"
            for key, got, want in mismatched
        ]
        parts.append(f"{len(mismatched)} mis-shaped [{_listing(shapes)}]")
    return f"{source} does not fit {target}: " + "; ".join(parts) + "."


def assign_state_dict(
    mappings: list[TensorMapping],
    state: Mapping[str, np.ndarray],
    *,
    skip: Callable[[str], str | None] = lambda key: None,
    source: str = "The state dict",
    target: str = "the Keras model",
    hint: str = "",
    progress: bool = False,
) -> LoadReport:
    """Copy `state` into the variables of `mappings`, all or nothing.

    Every key of `state` must feed exactly one variable, except keys for
    which `skip(key)` returns a reason and `num_batches_tracked` counters.
    Nothing is assigned unless every tensor fits.

    Args:
        mappings: from `tensor_mappings(model)`.
        state: `{official key: array}` in the PyTorch layout.
        skip: returns why a key is deliberately ignored, or `None`.
        source: str, names the state dict in messages (e.g. its path).
        target: str, names the model in messages.
        hint: str, appended to the error message.
        progress: bool, show a progress bar while assigning.

    Returns:
        A `LoadReport`.

    Raises:
        WeightMismatchError: missing, unexpected or mis-shaped tensors,
            all listed in one line.
    """
    report = LoadReport()
    expected = {m.key: m for m in mappings}
    unexpected = []
    for key in state:
        if key in expected:
            continue
        if key.endswith(BATCH_COUNTER_SUFFIX):
            report.skipped[key] = "BatchNorm step counters"
        elif (reason := skip(key)) is not None:
            report.skipped[key] = reason
        else:
            unexpected.append(key)
    missing = [key for key in expected if key not in state]
    mismatched = []
    values = {}
    for key, mapping in expected.items():
        if key not in state:
            continue
        value = to_keras_layout(np.asarray(state[key]), mapping.layout)
        if tuple(value.shape) != mapping.shape:
            got = tuple(np.shape(state[key]))
            mismatched.append((key, got, mapping.official_shape))
        else:
            values[key] = value
    if missing or unexpected or mismatched:
        message = mismatch_message(
            source, target, missing, unexpected, mismatched
        )
        raise WeightMismatchError(
            f"{message} {hint}".strip(), missing, unexpected, mismatched
        )
    for key, value in tqdm(
        values.items(), desc="Assigning", unit="tensor", disable=not progress
    ):
        variable = expected[key].variable
        dtype = keras.backend.standardize_dtype(variable.dtype)
        variable.assign(value.astype(dtype))
        report.loaded.append(key)
    return report
