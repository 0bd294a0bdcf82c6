"""Evaluation-time inference: whole image, sliding window, multi-scale.

A re-implementation of the official `MultiEvalModule` (`encoding/models/
base.py`) for one normalised image `(1, height, width, 3)` and any callable
`model(images) -> logits (batch, h, w, num_classes)` (or a dict with a
`"logits"` entry, as `keras_fastfcn` models with auxiliary outputs return).

Official behaviour reproduced here:

- images are padded at the bottom / right with the normalised value of a
  *black* pixel, `-mean / std` per channel (`OFFICIAL_PAD_VALUE`); pass
  `pad_value=0.0` to pad with the mean pixel instead. Padded areas are
  cropped away from the outputs, so the value only matters through the
  receptive field of the pixels next to the border;
- sliding windows of `crop_size` with stride `int(crop_size * 2 / 3)`,
  `ceil((padded - crop) / stride) + 1` windows per axis; the last window of
  an axis may stick out and is padded; overlaps are averaged with a count
  map;
- multi-scale: per scale, the long side is resized to
  `ceil(base_size * scale)` (bilinear, align corners), one padded pass if it
  fits in `crop_size`, sliding windows otherwise; each window's output is
  `exp(logits + flipped-image logits)` (the official `module_inference`);
  the per-scale score maps are resized back (bilinear, align corners) and
  summed, and the prediction is their argmax. This is a sum of `exp(logit
  sums)`, not of probabilities; `fusion="softmax"` sums softmax
  probabilities instead (each pass separately, flip included).

All functions return NumPy arrays. The multi-scale `exp` fusion never
overflows: every score map is kept as `mantissa * exp(log_scale)` with a
per-pixel `log_scale` (the running maximum of the logit sums), so windows,
resizes and scales are summed in log-sum-exp form (the official float32
overflows for logit sums above ~88, plain float64 above ~709, which
untrained and very confident models reach). It returns the fused class
probabilities (the official exp sum divided by its per-pixel total), whose
arg-max is the official one. The image resize uses
`keras_fastfcn.layers.resize_bilinear`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterator
from typing import Sequence

import keras
import numpy as np

from keras_fastfcn.constants import IMAGENET_MEAN
from keras_fastfcn.constants import IMAGENET_STD
from keras_fastfcn.layers.resize import resize_bilinear
from keras_fastfcn.ops.interpolation import interpolation_weights

# Normalised value of a black pixel: what the official code pads with.
OFFICIAL_PAD_VALUE = tuple(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD))
MULTI_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)
OUTPUTS = ("logits", "exp", "softmax")


def _as_image(image) -> np.ndarray:
    """float32 NumPy `(1, height, width, 3)`; ValueError otherwise."""
    image = np.asarray(keras.ops.convert_to_numpy(image), dtype=np.float32)
    if image.ndim != 4 or image.shape[0] != 1 or image.shape[-1] != 3:
        raise ValueError(
            "Expected one normalised RGB image of shape (1, height, width, 3); "
            f"got shape {image.shape}. Add the batch axis with "
            "image[None] and evaluate images one at a time."
        )
    return image


def _check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}; got {output!r}.")


def _logits(model, images: np.ndarray) -> np.ndarray:
    """Run `model` and return its logits as float32 NumPy."""
    if isinstance(model, keras.Layer):
        outputs = model(images, training=False)
    else:
        outputs = model(images)
    if isinstance(outputs, dict):
        if "logits" not in outputs:
            raise ValueError(
                "The model returned a dict without a 'logits' entry (keys: "
                f"{sorted(outputs)})."
            )
        outputs = outputs["logits"]
    logits = np.asarray(keras.ops.convert_to_numpy(outputs), dtype=np.float32)
    if logits.ndim != 4 or logits.shape[:3] != images.shape[:3]:
        raise ValueError(
            f"The model must map images {images.shape} to logits (batch, "
            f"height, width, classes) of the same height and width; got "
            f"{logits.shape}."
        )
    return logits


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


@dataclasses.dataclass
class ExpScores:
    """Non-negative scores `mantissa * exp(log_scale)` that cannot overflow.

    The official multi-scale fusion sums `exp(logit sums)`, which overflows
    float64 for sums above ~709. Here every pixel carries its own
    `log_scale`, and sums are formed in log-sum-exp form: the terms are
    rescaled to the largest (weighted) scale before they are added, and the
    result is renormalised so that its largest class mantissa is 1.

    Attributes:
        mantissa: float64 `(batch, height, width, classes)`, largest class
            `1` at every pixel (after `normalized`).
        log_scale: float64 `(batch, height, width, 1)`.
    """

    mantissa: np.ndarray
    log_scale: np.ndarray

    @classmethod
    def from_logits(cls, logits: np.ndarray) -> "ExpScores":
        """`exp(logits)` of `(..., classes)` logits, stably."""
        logits = np.asarray(logits, np.float64)
        if not np.all(np.isfinite(logits)):
            raise ValueError(
                "The model returned NaN or infinite logits; check its "
                "weights (a diverged training run) and inputs."
            )
        shift = logits.max(axis=-1, keepdims=True)
        return cls(np.exp(logits - shift), shift)

    def values(self) -> np.ndarray:
        """The plain float64 scores (`inf` where they exceed float64)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self.mantissa * np.exp(self.log_scale)

    def probabilities(self) -> np.ndarray:
        """Scores divided by their per-pixel sum over classes (float64)."""
        return self.mantissa / self.mantissa.sum(axis=-1, keepdims=True)

    def normalized(self) -> "ExpScores":
        """The same scores with the largest class mantissa 1 per pixel
        (pixels that are all zero keep their mantissa and scale)."""
        peak = self.mantissa.max(axis=-1, keepdims=True)
        safe = np.where(peak > 0, peak, 1.0)
        return ExpScores(self.mantissa / safe, self.log_scale + np.log(safe))


def _weighted_log(log_scale: np.ndarray, weight) -> np.ndarray:
    """`log_scale + log(weight)`, `-inf` where `weight` is 0."""
    with np.errstate(divide="ignore"):
        return log_scale + np.log(weight)


def _rescale(log_scale: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`exp(log_scale - target)`, 0 where `log_scale` is `-inf`."""
    with np.errstate(invalid="ignore"):
        factor = np.exp(log_scale - target)
    return np.where(np.isneginf(log_scale), 0.0, factor)


def weighted_exp_sum(terms) -> ExpScores:
    """`sum(weight * scores)` of `(weight, ExpScores)` pairs in log-sum-exp
    form. Weights are non-negative scalars or arrays broadcasting against
    `log_scale` (e.g. `(batch, height, width, 1)` bilinear weights)."""
    terms = [(_weighted_log(t.log_scale, w), t.mantissa) for w, t in terms]
    top = terms[0][0]
    for log_scale, _ in terms[1:]:
        top = np.maximum(top, log_scale)
    top = np.where(np.isneginf(top), 0.0, top)  # all weights 0: sum is 0
    mantissa = sum(m * _rescale(s, top) for s, m in terms)
    return ExpScores(mantissa, top).normalized()


def _forward_exp(model, images: np.ndarray, flip: bool) -> ExpScores:
    """`exp(logits [+ flipped logits])` (the official `module_inference`)
    as `ExpScores`."""
    passes = [_logits(model, images)]
    if flip:
        mirrored = _logits(model, np.ascontiguousarray(images[:, :, ::-1]))
        passes.append(mirrored[:, :, ::-1])
    return ExpScores.from_logits(sum(passes))


def _forward(model, images: np.ndarray, flip: bool, output: str):
    """Outputs of one pass (+ the mirrored pass when `flip`).

    `"logits"`: logits [+ flipped logits] (float32); `"exp"`: float64 exp of
    that sum (the official `module_inference`; `inf` beyond float64, see
    `ExpScores` for the form that does not overflow); `"softmax"`: softmax
    of each pass, summed (float32).
    """
    if output == "exp":
        return _forward_exp(model, images, flip).values()
    passes = [_logits(model, images)]
    if flip:
        mirrored = _logits(model, np.ascontiguousarray(images[:, :, ::-1]))
        passes.append(mirrored[:, :, ::-1])
    if output == "softmax":
        return sum(_softmax(p) for p in passes)
    return sum(passes)


def pad_image(
    image: np.ndarray, height: int, width: int, pad_value=OFFICIAL_PAD_VALUE
) -> np.ndarray:
    """Pad `(batch, h, w, channels)` at the bottom / right to at least
    `(height, width)` with `pad_value` (scalar or one value per channel)."""
    pad_h = max(height - image.shape[1], 0)
    pad_w = max(width - image.shape[2], 0)
    if pad_h == 0 and pad_w == 0:
        return image
    padded = np.empty(
        (image.shape[0], image.shape[1] + pad_h, image.shape[2] + pad_w)
        + image.shape[3:],
        dtype=image.dtype,
    )
    padded[...] = np.asarray(pad_value, dtype=image.dtype)
    padded[:, : image.shape[1], : image.shape[2]] = image
    return padded


def predict_single_scale(
    model,
    image,
    crop_size: int | None = None,
    size_divisor: int = 1,
    flip: bool = False,
    output: str = "logits",
    pad_value=OFFICIAL_PAD_VALUE,
) -> np.ndarray:
    """One pass over the whole image (the official path when it fits).

    The image is padded at the bottom / right to at least `crop_size` (if
    given) and to a multiple of `size_divisor`, run through the model and
    the output cropped back to the image size.

    Args:
        model: callable `images -> logits` (or dict with `"logits"`).
        image: normalised image `(1, height, width, 3)`.
        crop_size: optional int, minimum padded height and width.
        size_divisor: int, pad height and width to a multiple of it (e.g. 32
            for stride-32 backbones). Default `1`.
        flip: bool, add the logits of the mirrored image. Default `False`.
        output: `"logits"`, `"exp"` or `"softmax"` (see `_forward`).
        pad_value: normalised padding value(s). Default: a black pixel.

    Returns:
        `(1, height, width, num_classes)`, float64 for `output="exp"`,
        float32 otherwise.
    """
    _check_output(output)
    image = _as_image(image)
    padded = _pad_single(image, crop_size, size_divisor, pad_value)
    height, width = image.shape[1:3]
    return _forward(model, padded, flip, output)[:, :height, :width]


def _pad_single(image, crop_size, size_divisor, pad_value) -> np.ndarray:
    """Pad to at least `crop_size` and to a multiple of `size_divisor`."""
    _, height, width, _ = image.shape
    target_h = max(height, crop_size or 0)
    target_w = max(width, crop_size or 0)
    target_h = -(-target_h // size_divisor) * size_divisor
    target_w = -(-target_w // size_divisor) * size_divisor
    return pad_image(image, target_h, target_w, pad_value)


def _single_scale_exp(
    model, image, crop_size, flip, pad_value, num_classes
) -> ExpScores:
    """`predict_single_scale(output="exp")` as `ExpScores`."""
    height, width = image.shape[1:3]
    padded = _pad_single(image, crop_size, 1, pad_value)
    scores = _forward_exp(model, padded, flip)
    _check_classes(scores.mantissa, num_classes)
    return ExpScores(
        scores.mantissa[:, :height, :width],
        scores.log_scale[:, :height, :width],
    )


def sliding_window_grid(
    height: int, width: int, crop_size: int, stride: int
) -> list[tuple[int, int, int, int]]:
    """Official window boxes `(h0, h1, w0, w1)` over a padded image.

    `height` and `width` must be at least `crop_size` (pad first). Window
    `(i, j)` starts at `(i * stride, j * stride)` and ends at the start plus
    `crop_size`, clipped to the image; there are `ceil((height - crop_size)
    / stride) + 1` rows of windows (columns likewise).
    """
    if height < crop_size or width < crop_size:
        raise ValueError(
            f"Image {height}x{width} is smaller than crop_size {crop_size}; "
            "pad it to at least the crop size first."
        )
    if stride < 1:
        raise ValueError(f"stride must be >= 1; got {stride}.")
    rows = math.ceil((height - crop_size) / stride) + 1
    cols = math.ceil((width - crop_size) / stride) + 1
    boxes = []
    for row in range(rows):
        for col in range(cols):
            h0, w0 = row * stride, col * stride
            boxes.append(
                (
                    h0,
                    min(h0 + crop_size, height),
                    w0,
                    min(w0 + crop_size, width),
                )
            )
    return boxes


def window_count_map(
    height: int, width: int, crop_size: int, stride: int
) -> np.ndarray:
    """int32 `(height, width)`: how many windows cover each pixel."""
    counts = np.zeros((height, width), dtype=np.int32)
    for h0, h1, w0, w1 in sliding_window_grid(height, width, crop_size, stride):
        counts[h0:h1, w0:w1] += 1
    return counts


def _check_classes(scores: np.ndarray, num_classes: int) -> None:
    if scores.shape[-1] != num_classes:
        raise ValueError(
            f"The model predicts {scores.shape[-1]} classes but "
            f"num_classes={num_classes}."
        )


def predict_sliding_window(
    model,
    image,
    num_classes: int,
    crop_size: int = 480,
    stride_ratio: float = 2 / 3,
    flip: bool = False,
    output: str = "logits",
    pad_value=OFFICIAL_PAD_VALUE,
    batch_size: int = 1,
) -> np.ndarray:
    """Sliding-window inference, overlapping outputs averaged.

    The image is padded to at least `crop_size` per side; windows of
    `crop_size` with stride `int(crop_size * stride_ratio)` (official grid,
    see `sliding_window_grid`) are padded to `crop_size`, run through the
    model `batch_size` windows at a time, and their outputs averaged where
    they overlap; the result is cropped back to the image size. Every model
    call sees a `(n, crop_size, crop_size, 3)` batch.

    Args:
        model: callable `images -> logits` (or dict with `"logits"`).
        image: normalised image `(1, height, width, 3)`.
        num_classes: int, number of classes the model predicts.
        crop_size: int, window size. Default `480`.
        stride_ratio: float, stride / crop size. Default `2 / 3`.
        flip: bool, add the mirrored-window logits. Default `False`.
        output: what is averaged: `"logits"` (default), `"exp"` (official
            multi-scale) or `"softmax"`.
        pad_value: normalised padding value(s). Default: a black pixel.
        batch_size: int, windows per model call. Default `1`.

    Returns:
        `(1, height, width, num_classes)`, float64 for `output="exp"`,
        float32 otherwise.
    """
    _check_output(output)
    image = _as_image(image)
    if output == "exp":
        return _sliding_window_exp(
            model,
            image,
            num_classes,
            crop_size,
            stride_ratio,
            flip,
            pad_value,
            batch_size,
        ).values()
    _, height, width, _ = image.shape
    padded = pad_image(image, crop_size, crop_size, pad_value)
    ph, pw = padded.shape[1:3]
    total = np.zeros((1, ph, pw, num_classes), dtype=np.float32)
    counts = np.zeros((1, ph, pw, 1), dtype=np.float32)
    for chunk, crops in _window_batches(
        padded, crop_size, stride_ratio, pad_value, batch_size
    ):
        scores = _forward(model, crops, flip, output)
        _check_classes(scores, num_classes)
        for index, (h0, h1, w0, w1) in enumerate(chunk):
            total[0, h0:h1, w0:w1] += scores[index, : h1 - h0, : w1 - w0]
            counts[0, h0:h1, w0:w1] += 1.0
    return (total / counts)[:, :height, :width]


def _window_batches(
    padded: np.ndarray,
    crop_size: int,
    stride_ratio: float,
    pad_value,
    batch_size: int,
) -> Iterator[tuple[list, np.ndarray]]:
    """`(boxes, crops)` per model call: up to `batch_size` official window
    boxes of `padded` and the windows `(n, crop_size, crop_size, 3)`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}.")
    stride = int(crop_size * stride_ratio)
    ph, pw = padded.shape[1:3]
    boxes = sliding_window_grid(ph, pw, crop_size, stride)
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start : start + batch_size]
        crops = np.concatenate(
            [
                pad_image(
                    padded[:, h0:h1, w0:w1], crop_size, crop_size, pad_value
                )
                for h0, h1, w0, w1 in chunk
            ]
        )
        yield chunk, crops


def _sliding_window_exp(
    model,
    image: np.ndarray,
    num_classes: int,
    crop_size: int,
    stride_ratio: float,
    flip: bool,
    pad_value,
    batch_size: int,
) -> ExpScores:
    """`predict_sliding_window(output="exp")` as `ExpScores`: the windows'
    `exp` scores are summed in log-sum-exp form and divided by the count
    of windows at each pixel."""
    _, height, width, _ = image.shape
    padded = pad_image(image, crop_size, crop_size, pad_value)
    ph, pw = padded.shape[1:3]
    total = ExpScores(
        np.zeros((1, ph, pw, num_classes)), np.full((1, ph, pw, 1), -np.inf)
    )
    counts = np.zeros((1, ph, pw, 1))
    for chunk, crops in _window_batches(
        padded, crop_size, stride_ratio, pad_value, batch_size
    ):
        scores = _forward_exp(model, crops, flip)
        _check_classes(scores.mantissa, num_classes)
        for index, (h0, h1, w0, w1) in enumerate(chunk):
            area = (0, slice(h0, h1), slice(w0, w1))
            window = (index, slice(0, h1 - h0), slice(0, w1 - w0))
            summed = weighted_exp_sum(
                [
                    (
                        1.0,
                        ExpScores(total.mantissa[area], total.log_scale[area]),
                    ),
                    (
                        1.0,
                        ExpScores(
                            scores.mantissa[window], scores.log_scale[window]
                        ),
                    ),
                ]
            )
            total.mantissa[area] = summed.mantissa
            total.log_scale[area] = summed.log_scale
            counts[area] += 1.0
    return ExpScores(
        (total.mantissa / counts)[:, :height, :width],
        total.log_scale[:, :height, :width],
    ).normalized()


def scaled_size(height: int, width: int, long_size: int) -> tuple[int, int]:
    """Official resize: long side -> `long_size`, short side rounded."""
    if height > width:
        return long_size, int(width * long_size / height + 0.5)
    return int(height * long_size / width + 0.5), long_size


def _resize_image(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Official image resize: bilinear, align corners (`resize_bilinear`)."""
    if image.shape[1:3] == (height, width):
        return image
    resized = resize_bilinear(image, (height, width), align_corners=True)
    return np.asarray(keras.ops.convert_to_numpy(resized), dtype=np.float32)


def _resize_scores(scores: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear (align corners) resize of `(1, h, w, C)` score maps.

    The same interpolation as `resize_bilinear`, in float64 NumPy so that
    `exp` scores beyond the float32 range survive (JAX has no float64 by
    default).
    """
    scores = scores[0].astype(np.float64)
    h, w = scores.shape[:2]
    if (h, w) == (height, width):
        return scores[None]
    with np.errstate(invalid="ignore"):  # inf scores (official exp maps)
        low, high, frac = interpolation_weights(h, height, True)
        frac = frac[:, None, None]
        scores = scores[low] * (1.0 - frac) + scores[high] * frac
        low, high, frac = interpolation_weights(w, width, True)
        frac = frac[None, :, None]
        scores = scores[:, low] * (1.0 - frac) + scores[:, high] * frac
    return scores[None]


def _resize_exp(scores: ExpScores, height: int, width: int) -> ExpScores:
    """`_resize_scores` of `ExpScores`: each output pixel is the weighted
    sum of its two source rows, then of its two source columns, formed in
    log-sum-exp form (weights of 0 take no part)."""
    h, w = scores.mantissa.shape[1:3]
    if (h, w) == (height, width):
        return scores
    low, high, frac = interpolation_weights(h, height, True)
    frac = frac[None, :, None, None]
    scores = weighted_exp_sum(
        [
            (1.0 - frac, _take(scores, 1, low)),
            (frac, _take(scores, 1, high)),
        ]
    )
    low, high, frac = interpolation_weights(w, width, True)
    frac = frac[None, None, :, None]
    return weighted_exp_sum(
        [
            (1.0 - frac, _take(scores, 2, low)),
            (frac, _take(scores, 2, high)),
        ]
    )


def _take(scores: ExpScores, axis: int, index: np.ndarray) -> ExpScores:
    """Rows (`axis=1`) or columns (`axis=2`) `index` of `scores`."""
    return ExpScores(
        np.take(scores.mantissa, index, axis=axis),
        np.take(scores.log_scale, index, axis=axis),
    )


def predict_multi_scale(
    model,
    image,
    num_classes: int,
    base_size: int = 520,
    crop_size: int = 480,
    scales: Sequence[float] = MULTI_SCALES,
    flip: bool = True,
    fusion: str = "exp",
    stride_ratio: float = 2 / 3,
    pad_value=OFFICIAL_PAD_VALUE,
    batch_size: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Official multi-scale (+ flip) evaluation of one image.

    For each scale the image is resized (bilinear, align corners) so that
    its long side is `ceil(base_size * scale)`; if that is at most
    `crop_size` the image is padded to `crop_size` and run once, otherwise
    it goes through `predict_sliding_window`. Per window the output is
    `exp(logits + flipped logits)` (`fusion="exp"`, official) or the sum of
    the softmax probabilities of both passes (`fusion="softmax"`); each
    scale's map is resized back to the image size and the maps are summed.

    The `exp` sums are formed in log-sum-exp form (`ExpScores`), so they
    never overflow, whatever the logits; the returned scores are the
    official exp sums divided by their per-pixel total over classes (the
    fused class probabilities), with the official arg-max wherever the
    official float64 sum is finite.

    The official single-scale evaluation is `scales=(1.0,), flip=False`
    (long side resized to `base_size`, 480 windows).

    Args:
        model: callable `images -> logits` (or dict with `"logits"`).
        image: normalised image `(1, height, width, 3)`.
        num_classes: int, number of classes the model predicts.
        base_size: int, long side at scale 1. Default `520`.
        crop_size: int, window size. Default `480`.
        scales: scale factors. Default `(0.5, 0.75, 1.0, 1.25, 1.5, 1.75)`.
        flip: bool, add mirrored-image passes. Default `True`.
        fusion: `"exp"` (official) or `"softmax"`.
        stride_ratio: float, window stride / crop size. Default `2 / 3`.
        pad_value: normalised padding value(s). Default: a black pixel.
        batch_size: int, windows per model call. Default `1`.

    Returns:
        `(scores, prediction)`: float64 `(1, height, width, num_classes)`
        scores (`"exp"`: the fused class probabilities, summing to 1 per
        pixel; `"softmax"`: the summed probability maps, summing to the
        number of passes) and int32 `(1, height, width)` argmax classes.
    """
    if fusion not in ("exp", "softmax"):
        raise ValueError(f"fusion must be 'exp' or 'softmax'; got {fusion!r}.")
    if not scales:
        raise ValueError("scales must contain at least one scale factor.")
    image = _as_image(image)
    _, height, width, _ = image.shape
    scores = np.zeros((1, height, width, num_classes), dtype=np.float64)
    exp_terms = []
    for scale in scales:
        long_size = int(math.ceil(base_size * scale))
        scaled_h, scaled_w = scaled_size(height, width, long_size)
        scaled = _resize_image(image, scaled_h, scaled_w)
        if fusion == "exp":
            if long_size <= crop_size:
                outputs = _single_scale_exp(
                    model, scaled, crop_size, flip, pad_value, num_classes
                )
            else:
                outputs = _sliding_window_exp(
                    model,
                    scaled,
                    num_classes,
                    crop_size,
                    stride_ratio,
                    flip,
                    pad_value,
                    batch_size,
                )
            exp_terms.append((1.0, _resize_exp(outputs, height, width)))
            continue
        if long_size <= crop_size:
            outputs = predict_single_scale(
                model,
                scaled,
                crop_size=crop_size,
                flip=flip,
                output=fusion,
                pad_value=pad_value,
            )
            _check_classes(outputs, num_classes)
        else:
            outputs = predict_sliding_window(
                model,
                scaled,
                num_classes,
                crop_size=crop_size,
                stride_ratio=stride_ratio,
                flip=flip,
                output=fusion,
                pad_value=pad_value,
                batch_size=batch_size,
            )
        scores += _resize_scores(outputs, height, width)
    if exp_terms:
        scores = weighted_exp_sum(exp_terms).probabilities()
    prediction = np.argmax(scores, axis=-1).astype(np.int32)
    return scores, prediction
