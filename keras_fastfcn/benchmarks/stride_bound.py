"""How well can a model that predicts at stride `s` draw each class?

The FastFCN heads predict logits at stride 8 that are bilinearly upsampled
(align corners) to the image. Feeding that upsampling the best stride-`s`
"logits" there are without a model, the labels' class fractions in each
`s x s` cell, gives per-class IoU that a stride-`s` prediction can reach
(a bound in spirit, not a proof: a model may sharpen its logits, which
`class_scales` imitates by multiplying one class's fractions at a time).

    labels = np.stack([...])  # (images, height, width) uint8 train ids
    iou = stride_iou(labels, num_classes=11, ignore_label=11, stride=8)
"""

from __future__ import annotations

from typing import Iterable
from typing import Sequence

import numpy as np

from keras_fastfcn.ops.interpolation import interpolation_matrix_numpy


def cell_fractions(label: np.ndarray, num_classes: int, stride: int):
    """The share of each class among the labelled pixels of each cell.

    Args:
        label: `(height, width)` int train ids; values outside
            `0 .. num_classes - 1` (the ignore label) count for no class.
        num_classes: int.
        stride: int, cell side; `height` and `width` are cut down to
            multiples of it.

    Returns:
        float32 `(height // stride, width // stride, num_classes)`.
    """
    h, w = (d // stride * stride for d in label.shape)
    cut = label[:h, :w].astype(np.int64)
    onehot = np.zeros((h, w, num_classes), np.float32)
    rows, cols = np.nonzero((cut >= 0) & (cut < num_classes))
    onehot[rows, cols, cut[rows, cols]] = 1.0
    cells = onehot.reshape(h // stride, stride, w // stride, stride, -1)
    return cells.mean(axis=(1, 3))


def upsampled_fractions(
    label: np.ndarray, num_classes: int, stride: int
) -> np.ndarray:
    """`cell_fractions` resized back to the label's size as the model's
    logits are (bilinear, align corners): `(height, width, num_classes)`."""
    small = cell_fractions(label, num_classes, stride)
    rows = interpolation_matrix_numpy(small.shape[0], label.shape[0], True)
    cols = interpolation_matrix_numpy(small.shape[1], label.shape[1], True)
    tall = np.einsum("Hh,hwc->Hwc", rows, small)
    return np.einsum("Hwc,Ww->HWc", tall, cols)


def stride_iou(
    labels: Iterable[np.ndarray],
    num_classes: int,
    ignore_label: int,
    stride: int,
    class_scales: Sequence[float] = (1.0,),
) -> np.ndarray:
    """Per-class IoU (percent) of the argmax of `upsampled_fractions`.

    Args:
        labels: `(height, width)` label maps (train ids, `ignore_label`
            for unlabelled pixels).
        num_classes: int.
        ignore_label: int, pixels skipped as by the evaluation.
        stride: int, the prediction's stride (`1`: the labels themselves).
        class_scales: factors tried on each class's fractions, one class
            at a time; each class's best IoU over them is returned
            (`(1.0,)`: the plain argmax).

    Returns:
        float64 `(num_classes,)` IoU in percent (NaN for absent classes).
    """
    scales = tuple(class_scales)
    inter = np.zeros((len(scales), num_classes))
    union = np.zeros((len(scales), num_classes))
    for label in labels:
        fractions = upsampled_fractions(label, num_classes, stride)
        valid = label != ignore_label
        truth = label[valid]
        for i, scale in enumerate(scales):
            for c in range(num_classes) if scale != 1.0 else [None]:
                scaled = fractions
                if c is not None:
                    scaled = fractions.copy()
                    scaled[..., c] *= scale
                pred = scaled.argmax(-1)[valid]
                for k in range(num_classes) if c is None else [c]:
                    p, t = pred == k, truth == k
                    inter[i, k] += np.count_nonzero(p & t)
                    union[i, k] += np.count_nonzero(p | t)
    iou = np.full_like(inter, -np.inf)
    np.divide(100.0 * inter, union, out=iou, where=union > 0)
    best = iou.max(axis=0)
    return np.where(np.isfinite(best), best, np.nan)
