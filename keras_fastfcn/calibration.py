"""Per-class logit offsets fitted for mIoU after training (`fastfcn
calibrate`).

Class-weighted cross-entropy (ENet or median-frequency weights) and OHEM
teach a model to over-predict rare classes. Adding a constant offset
`bias[c]` to the logits of class `c` moves those decision boundaries
back without retraining ("post-hoc logit adjustment", Menon et al.,
ICLR 2021). The offsets are fitted on training images (never on the
split you report), by coordinate ascent on the dataset mIoU of a random
sample of labelled pixels, and then live in the model as a `ClassBias`
layer, so evaluation, prediction and every export apply them.

TensorFlow-only (reads the data with `tf.data`).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from keras_fastfcn.inference import predict_multi_scale
from keras_fastfcn.metrics import ConfusionMatrix

# offset steps tried per class in each round: k * step for k in -8 ... 8
DEFAULT_STEPS = (0.25, 0.125, 0.0625)
STEPS_PER_SIDE = 8


@dataclasses.dataclass(frozen=True)
class LogitBiasFit:
    """The result of `fit_logit_bias`.

    Attributes:
        bias: `(num_classes,)` offsets, mean zero.
        iou_before: `(num_classes,)` IoU of the sample without offsets.
        iou_after: `(num_classes,)` IoU of the sample with them.
        pixels: number of sampled pixels the offsets were fitted on.
    """

    bias: np.ndarray
    iou_before: np.ndarray
    iou_after: np.ndarray
    pixels: int

    def to_dict(self) -> dict:
        """JSON values (the preset metadata's `calibration` entry)."""
        return {
            "logit_bias": [round(float(v), 6) for v in self.bias],
            "pixels": int(self.pixels),
            "mean_iou_before": float(np.mean(self.iou_before)),
            "mean_iou_after": float(np.mean(self.iou_after)),
            "iou_before": [float(v) for v in self.iou_before],
            "iou_after": [float(v) for v in self.iou_after],
        }


def sampled_iou(
    log_probs: np.ndarray, labels: np.ndarray, bias: np.ndarray
) -> np.ndarray:
    """Per-class IoU of `argmax(log_probs + bias)` against `labels`.

    Args:
        log_probs: `(pixels, num_classes)` scores (logits or log
            probabilities: the arg-max is the same).
        labels: `(pixels,)` int class ids, no ignored pixels.
        bias: `(num_classes,)` offsets.

    Returns:
        `(num_classes,)` IoU, 0 where a class is neither labelled nor
        predicted (`ConfusionMatrix.iou`).
    """
    matrix = ConfusionMatrix(log_probs.shape[1])
    matrix.update(np.argmax(log_probs + bias, axis=1), labels)
    return matrix.iou()


def fit_logit_bias(
    log_probs: np.ndarray,
    labels: np.ndarray,
    steps: tuple[float, ...] = DEFAULT_STEPS,
) -> LogitBiasFit:
    """Per-class offsets that maximise the mIoU of a pixel sample.

    Coordinate ascent: in each round (one per step size) every class in
    turn gets the offset among `bias[c] + k * step`, `k` in -8 ... 8, that
    gives the highest mean IoU with the other offsets fixed (the middle
    one where several tie); a change is kept only when it raises the mean
    IoU. The result is shifted to mean zero (a common offset changes no
    arg-max).

    Args:
        log_probs: `(pixels, num_classes)` float scores.
        labels: `(pixels,)` int class ids in `[0, num_classes)`.
        steps: step size of each round. Default `(0.25, 0.125, 0.0625)`:
            offsets within +-3.5 in steps of 1/16.

    Returns:
        `LogitBiasFit`.
    """
    log_probs = np.asarray(log_probs, np.float32)
    labels = np.asarray(labels)
    if log_probs.ndim != 2 or labels.shape != log_probs.shape[:1]:
        raise ValueError(
            "fit_logit_bias needs scores (pixels, num_classes) and labels "
            f"(pixels,), got {log_probs.shape} and {labels.shape}."
        )
    num_classes = log_probs.shape[1]
    if labels.size == 0:
        raise ValueError("fit_logit_bias got no labelled pixels.")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must be class ids in [0, {num_classes}); got values "
            f"{labels.min()} ... {labels.max()} (drop ignored pixels first)."
        )
    bias = np.zeros(num_classes, np.float32)
    before = sampled_iou(log_probs, labels, bias)
    best = float(np.mean(before))
    offsets = np.arange(-STEPS_PER_SIDE, STEPS_PER_SIDE + 1)
    offsets = offsets[offsets != 0]
    codes = labels.astype(np.int64) * num_classes
    for step in steps:
        for c in range(num_classes):
            # with the other offsets fixed, pixel i is predicted c exactly
            # when its class-c score beats the best other class (ties go to
            # the lower index, as argmax)
            shifted = log_probs + bias
            shifted[:, c] = -np.inf
            other = np.argmax(shifted, axis=1)
            best_other = np.take_along_axis(shifted, other[:, None], 1)[:, 0]
            own = log_probs[:, c]
            candidates = bias[c] + offsets * step
            scores = []
            for value in candidates:
                score = own + value
                wins = (score > best_other) | (
                    (score == best_other) & (c < other)
                )
                scores.append(
                    _mean_iou(codes + np.where(wins, c, other), num_classes)
                )
            top = max(scores)
            if top > best + 1e-9:
                # the middle of the best offsets, not the edge of a plateau
                winners = np.flatnonzero(np.asarray(scores) >= top - 1e-12)
                best, bias[c] = top, candidates[winners[len(winners) // 2]]
    bias -= bias.mean()
    after = sampled_iou(log_probs, labels, bias)
    return LogitBiasFit(bias, before, after, int(labels.size))


def _mean_iou(codes: np.ndarray, num_classes: int) -> float:
    """Mean IoU (`ConfusionMatrix.mean_iou`) from `label * num_classes +
    prediction` codes of valid pixels (no per-call checks: hot loop)."""
    matrix = ConfusionMatrix(num_classes)
    matrix.matrix += np.bincount(
        codes, minlength=num_classes * num_classes
    ).reshape(num_classes, num_classes)
    return matrix.mean_iou()


def sample_log_probabilities(
    logits_fn: Callable[[np.ndarray], np.ndarray],
    spec,
    *,
    fraction: float = 0.1,
    base_size: int = 520,
    crop_size: int = 480,
    max_images: int | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Log class probabilities of a random sample of labelled pixels.

    Each image of `spec` goes through the single-scale evaluation path
    (`predict_multi_scale(scales=(1.0,), flip=False)`, as `fastfcn
    evaluate`), and each labelled pixel is kept with probability
    `fraction`.

    Args:
        logits_fn: callable `(1, height, width, 3)` normalised images ->
            logits (`keras_fastfcn.evaluate.compiled_logits(model)`).
        spec: a `DatasetSpec` split (the training split: offsets fitted
            on the split you report overfit it).
        fraction: share of labelled pixels kept, in `(0, 1]`. Memory is
            `4 * num_classes` bytes per kept pixel.
        base_size: long side of the image at scale 1.
        crop_size: window size (`predict_multi_scale`).
        max_images: use only the first N images.
        seed: seed of the pixel sample.
        progress: show a tqdm progress bar.

    Returns:
        `(log_probs, labels)`: float32 `(pixels, num_classes)` and uint8 /
        int `(pixels,)`.
    """
    from tqdm import tqdm

    from keras_fastfcn.data import make_eval_dataset

    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}.")
    rng = np.random.default_rng(seed)
    if max_images is not None:
        spec = spec.take(max_images)
    total = len(spec.pairs)
    dataset = make_eval_dataset(spec, mode="full", batch_size=1)
    scores_kept, labels_kept = [], []
    for image, label in tqdm(
        dataset, total=total, disable=not progress, desc="sample"
    ):
        scores, _ = predict_multi_scale(
            logits_fn,
            image.numpy(),
            spec.num_classes,
            base_size=base_size,
            crop_size=crop_size,
            scales=(1.0,),
            flip=False,
        )
        label = label.numpy().reshape(-1)
        keep = (label != spec.ignore_label) & (
            rng.random(label.shape) < fraction
        )
        probabilities = scores.reshape(-1, spec.num_classes)[keep]
        scores_kept.append(
            np.log(np.maximum(probabilities, 1e-30)).astype(np.float32)
        )
        labels_kept.append(label[keep])
    return np.concatenate(scores_kept), np.concatenate(labels_kept)
