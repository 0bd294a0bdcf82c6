"""Label lookup tables: raw label-file values -> train ids / ignore.

A lookup table (LUT) is a ``(256,)`` int32 array. Entry ``v`` is the train id
(``0 .. num_classes - 1``) of raw value ``v``, the ignore label, or
``INVALID_LABEL`` for raw values the dataset does not define (a label file
containing one is an error, never silently ignored).
"""

from collections.abc import Iterable
from collections.abc import Mapping

import numpy as np

INVALID_LABEL = -1
"""LUT entry of raw values that must not occur in a dataset's label files."""

LUT_SIZE = 256

CITYSCAPES_LABEL_ID_TO_TRAIN_ID = {
    7: 0, 8: 1, 11: 2, 12: 3, 13: 4, 17: 5, 19: 6, 20: 7, 21: 8, 22: 9,
    23: 10, 24: 11, 25: 12, 26: 13, 27: 14, 28: 15, 31: 16, 32: 17, 33: 18,
}  # fmt: skip
"""Standard Cityscapes ``labelIds`` -> 19 ``trainIds``; all others ignored."""


def lut_from_mapping(
    mapping: Mapping[int, int], default: int = INVALID_LABEL
) -> np.ndarray:
    """Builds a LUT from ``{raw_value: train_id_or_ignore}``.

    Args:
        mapping: Raw values (0..255) and what they map to.
        default: Entry of every raw value missing from ``mapping``.

    Returns:
        A ``(256,)`` int32 array.
    """
    lut = np.full(LUT_SIZE, default, dtype=np.int32)
    for raw, mapped in mapping.items():
        if not 0 <= raw < LUT_SIZE:
            raise ValueError(f"Raw label value {raw} is outside 0..255.")
        lut[raw] = mapped
    return lut


def identity_lut(
    num_classes: int, ignore_label: int = 255, ignore_values: Iterable[int] = ()
) -> np.ndarray:
    """LUT for label files that already hold train ids.

    Args:
        num_classes: Raw values ``0 .. num_classes - 1`` are kept.
        ignore_label: Kept as is (it is also the mapped ignore value).
        ignore_values: Further raw values mapped to ``ignore_label``.

    Returns:
        A ``(256,)`` int32 array; other raw values are ``INVALID_LABEL``.
    """
    mapping = {value: value for value in range(num_classes)}
    for value in (ignore_label, *ignore_values):
        mapping[value] = ignore_label
    return lut_from_mapping(mapping)


def shifted_lut(num_classes: int, ignore_label: int = 255) -> np.ndarray:
    """LUT for files where 0 means "unlabelled" and ``k`` is class ``k - 1``.

    This is the ADE20K (0 = "other") and PASCAL-Context 59 (0 = background)
    convention of the official code (``mask - 1`` with -1 ignored).

    Args:
        num_classes: Raw values ``1 .. num_classes`` become ``0 ..
            num_classes - 1``.
        ignore_label: Value raw 0 maps to.

    Returns:
        A ``(256,)`` int32 array; raw values above ``num_classes`` are
        ``INVALID_LABEL``.
    """
    mapping = {value: value - 1 for value in range(1, num_classes + 1)}
    mapping[0] = ignore_label
    return lut_from_mapping(mapping)


def cityscapes_lut(ignore_label: int = 255) -> np.ndarray:
    """LUT for Cityscapes ``*_gtFine_labelIds.png``: 34 ids -> 19 train ids.

    Args:
        ignore_label: Value of every label id without a train id.

    Returns:
        A ``(256,)`` int32 array (no raw value is invalid).
    """
    return lut_from_mapping(CITYSCAPES_LABEL_ID_TO_TRAIN_ID, ignore_label)


def check_lut(lut: np.ndarray, num_classes: int, ignore_label: int) -> None:
    """Raises ValueError unless ``lut`` is a valid LUT for the classes."""
    lut = np.asarray(lut)
    if lut.shape != (LUT_SIZE,) or not np.issubdtype(lut.dtype, np.integer):
        raise ValueError(
            f"The label lookup table must be a (256,) integer array, got "
            f"shape {lut.shape} and dtype {lut.dtype}."
        )
    allowed = (lut >= 0) & (lut < num_classes)
    allowed |= (lut == ignore_label) | (lut == INVALID_LABEL)
    if not np.all(allowed):
        bad = np.flatnonzero(~allowed)[:10].tolist()
        raise ValueError(
            f"Label lookup table entries for raw values {bad} are neither "
            f"train ids 0..{num_classes - 1}, the ignore label "
            f"{ignore_label}, nor INVALID_LABEL ({INVALID_LABEL})."
        )


def describe_valid_raw_values(lut: np.ndarray) -> str:
    """Returns e.g. ``"0..150"`` or ``"0..10, 255"`` for a LUT."""
    values = np.flatnonzero(np.asarray(lut) != INVALID_LABEL)
    if values.size == 0:
        return "none"
    runs = []
    start = previous = int(values[0])
    for value in values[1:].tolist() + [None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        runs.append(str(start) if start == previous else f"{start}..{previous}")
        if value is not None:
            start = previous = value
    return ", ".join(runs)


def map_raw_labels(raw: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Maps raw label values with a LUT (NumPy); out-of-table -> invalid.

    Args:
        raw: Integer raw values, any shape; values outside 0..255 (16-bit
            files, or -1 for unknown colours) map to ``INVALID_LABEL``.
        lut: ``(256,)`` lookup table.

    Returns:
        int32 array of the same shape.
    """
    raw = np.asarray(raw).astype(np.int64)
    inside = (raw >= 0) & (raw < LUT_SIZE)
    mapped = np.asarray(lut, dtype=np.int32)[np.where(inside, raw, 0)]
    return np.where(inside, mapped, INVALID_LABEL).astype(np.int32)


def colors_to_raw(rgb: np.ndarray, color_codes: np.ndarray) -> np.ndarray:
    """Converts an RGB colour label to raw values with a colour table.

    Args:
        rgb: uint8 colours, shape ``(height, width, 3)``.
        color_codes: ``(num_values, 3)`` colour of each raw value.

    Returns:
        int32 ``(height, width)`` raw values; -1 where the colour is not in
        the table.
    """
    keys = _color_keys(np.asarray(color_codes))
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    query = _color_keys(np.asarray(rgb))
    position = np.clip(np.searchsorted(sorted_keys, query), 0, len(keys) - 1)
    found = sorted_keys[position] == query
    return np.where(found, order[position], -1).astype(np.int32)


def _color_keys(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return rgb[..., 0] * 65536 + rgb[..., 1] * 256 + rgb[..., 2]
