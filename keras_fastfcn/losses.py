"""Segmentation losses of the official FastFCN training code.

The official total loss (`encoding.nn.SegmentationLosses`) is

    CE(logits) + aux_weight * CE(aux_logits) + se_weight * BCE(se_logits)

where CE is softmax cross-entropy averaged over the non-ignored pixels of
the whole batch and BCE is the sigmoid binary cross-entropy between the
EncNet class-presence logits and a multi-hot "class occurs in this image"
target. Every loss here takes the integer label map as `y_true`, so one
label tensor serves all model outputs (see `replicate_targets`).

Labels use `ignore_label` (default 255) for "void" pixels; the official code
uses -1, which works here as well.

Two options of the issue-#20 recipe, both off by default: per-class weights
of the cross-entropy (`class_weights`, e.g. from
`keras_fastfcn.data.class_weights`) and online hard example mining
(`ohem_thresh`, `ohem_min_kept`) with the pixel selection of mmseg's
`OHEMPixelSampler`.
"""

from __future__ import annotations

import math
from typing import Iterable
from typing import Mapping
from typing import Sequence

import keras
from keras import ops

_PACKAGE = "keras_fastfcn"
_MEAN_REDUCTIONS = ("sum_over_batch_size", "mean")


def _label_map(y_true, name: str):
    """Int32 label map `(batch, height, width)` from `y_true`.

    Accepts `(batch, height, width)` or `(batch, height, width, 1)`.
    """
    rank = len(y_true.shape)
    if rank == 4 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    elif rank != 3:
        raise ValueError(
            f"{name} expects an integer label map of shape (batch, height, "
            f"width) or (batch, height, width, 1); got shape {y_true.shape}. "
            "Pass the dataset's label map as y_true for this output."
        )
    return ops.cast(y_true, "int32")


def _check_reduction(reduction, name: str) -> None:
    if reduction not in _MEAN_REDUCTIONS:
        raise ValueError(
            f"{name} supports reduction in {_MEAN_REDUCTIONS} (its value is "
            f"already a mean over valid pixels); got reduction={reduction!r}."
        )


def _checked_class_weights(
    class_weights: Sequence[float] | None, name: str
) -> list[float] | None:
    """`class_weights` as a list of finite floats >= 0, or None."""
    if class_weights is None:
        return None
    try:
        weights = [float(w) for w in class_weights]
    except (TypeError, ValueError):
        raise ValueError(
            f"{name}: class_weights must be a list of floats, one per class; "
            f"got {class_weights!r}."
        ) from None
    if not weights or not all(math.isfinite(w) and w >= 0 for w in weights):
        raise ValueError(
            f"{name}: class_weights must be a non-empty list of finite "
            f"floats >= 0, one per class; got {weights}."
        )
    return weights


def ohem_keep_mask(true_probs, valid, thresh: float, min_kept: int):
    """Pixels kept by online hard example mining (mmseg's OHEM sampler).

    The selection of mmseg's `OHEMPixelSampler(thresh, min_kept)`: with
    `p` the predicted probability of the true class and `n` the number of
    non-ignored pixels of the batch, sorted ascending `p_(0) <= p_(1) <=
    ...`, a pixel is kept when

        p < max(thresh, p_(min(min_kept * batch, n - 1)))

    (strictly less). So every non-ignored pixel with `p < thresh` is kept
    and, when fewer than `min_kept * batch` are, the threshold rises to keep
    the `min_kept * batch` hardest ones (fewer on ties; when the batch has
    at most `min_kept * batch` valid pixels, all but those tied with the
    largest `p`, unless that is below `thresh`). `min_kept` counts per
    image, as mmseg does.

    Args:
        true_probs: float `(batch, height, width)`, probability of the label.
        valid: bool `(batch, height, width)`, the non-ignored pixels.
        thresh: float, probability under which a pixel is hard.
        min_kept: int >= 1, pixels kept at least, per image.

    Returns:
        bool `(batch, height, width)`, a subset of `valid`.
    """
    true_probs = ops.stop_gradient(ops.cast(true_probs, "float32"))
    flat_valid = ops.reshape(valid, (-1,))
    num_valid = ops.sum(ops.cast(flat_valid, "int32"))
    # Ignored pixels sort after every probability (all are <= 1).
    ordered = ops.sort(
        ops.where(flat_valid, ops.reshape(true_probs, (-1,)), 2.0)
    )
    batch_kept = ops.cast(ops.shape(true_probs)[0], "int32") * int(min_kept)
    index = ops.maximum(ops.minimum(batch_kept, num_valid - 1), 0)
    kth = ops.where(ops.greater(num_valid, 0), ops.take(ordered, index), 0.0)
    threshold = ops.maximum(kth, float(thresh))
    return ops.logical_and(valid, ops.less(true_probs, threshold))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SegmentationCrossEntropy(keras.losses.Loss):
    """Softmax cross-entropy over pixels, skipping `ignore_label` pixels.

    Equals PyTorch `CrossEntropyLoss(weight=class_weights,
    ignore_index=ignore_label, reduction="mean")`: with `w_y` the weight of
    a pixel's label (1 without `class_weights`), the loss is
    `sum(w_y * ce) / sum(w_y)` over the non-ignored pixels of the whole
    batch (0, not NaN, when every pixel is ignored or the weights sum to
    0). Always computed in float32, whatever the dtype of the logits. A
    label outside `[0, num_classes)` that is not `ignore_label` makes the
    loss NaN (PyTorch raises an error), so that it cannot go unnoticed.

    With `ohem_thresh`, only the hard pixels of `ohem_keep_mask` count:
    the sums run over the kept pixels (as if the others were ignored; mmseg
    instead divides the kept pixels' sum by the pixel count of the batch).
    Under `tf.distribute` each replica mines its own part of the batch, as
    mmseg's sampler does on each GPU.

    Without class weights and OHEM this is exactly
    `keras.losses.SparseCategoricalCrossentropy(from_logits=True,
    ignore_class=ignore_label)`, and the per-pixel term is Keras'
    `sparse_categorical_crossentropy` in every case. The class stays
    because Keras has no equivalent for the rest: its `sample_weight`
    mean divides by the number of pixels, not by `sum(w_y)` as PyTorch's
    weighted mean; OHEM needs the per-pixel probabilities before the
    reduction; and an out-of-range label is an error (or silently wrong on
    GPU) there rather than NaN here.

    `y_true`: int labels `(batch, height, width)` (or with a trailing 1).
    `y_pred`: logits `(batch, height, width, num_classes)`.

    Args:
        ignore_label: int, label value of pixels to skip. Default `255`.
        name: str, loss name. Default `"segmentation_cross_entropy"`.
        reduction: `"sum_over_batch_size"` (default) or `"mean"`; both give
            the mean over non-ignored pixels.
        class_weights: optional list of `num_classes` floats >= 0, the
            weight of each class. Default `None` (all 1).
        ohem_thresh: optional float in (0, 1], the OHEM probability
            threshold; `None` (default) turns OHEM off.
        ohem_min_kept: int >= 1, OHEM's minimum number of kept pixels per
            image. Default `100000` (mmseg's default).
    """

    def __init__(
        self,
        ignore_label: int = 255,
        name: str = "segmentation_cross_entropy",
        reduction: str = "sum_over_batch_size",
        class_weights: Sequence[float] | None = None,
        ohem_thresh: float | None = None,
        ohem_min_kept: int = 100000,
    ):
        _check_reduction(reduction, type(self).__name__)
        if ohem_thresh is not None and not 0.0 < float(ohem_thresh) <= 1.0:
            raise ValueError(
                f"ohem_thresh must be in (0, 1] or None; got {ohem_thresh}."
            )
        if int(ohem_min_kept) < 1:
            raise ValueError(
                f"ohem_min_kept must be >= 1; got {ohem_min_kept}."
            )
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.ignore_label = int(ignore_label)
        self.class_weights = _checked_class_weights(
            class_weights, type(self).__name__
        )
        self.ohem_thresh = None if ohem_thresh is None else float(ohem_thresh)
        self.ohem_min_kept = int(ohem_min_kept)

    def call(self, y_true, y_pred):
        labels = _label_map(y_true, type(self).__name__)
        logits = ops.cast(y_pred, "float32")
        num_classes = ops.shape(logits)[-1]
        if self.class_weights is not None and logits.shape[-1] not in (
            None,
            len(self.class_weights),
        ):
            raise ValueError(
                f"{len(self.class_weights)} class_weights for logits of "
                f"{logits.shape[-1]} classes; give one weight per class."
            )
        valid = ops.not_equal(labels, self.ignore_label)
        in_range = ops.logical_and(
            ops.greater_equal(labels, 0), ops.less(labels, num_classes)
        )
        safe_labels = ops.where(in_range, labels, 0)
        bad_label = ops.logical_and(valid, ops.logical_not(in_range))
        # Keras' per-pixel cross-entropy (0 on `ignore_label` pixels); an
        # out-of-range label becomes class 0 here and NaN below.
        ce = keras.losses.sparse_categorical_crossentropy(
            ops.where(valid, safe_labels, self.ignore_label),
            logits,
            from_logits=True,
            ignore_class=self.ignore_label,
        )
        pixel_loss = ops.where(bad_label, float("nan"), ce)
        if self.ohem_thresh is not None:
            valid = ops.logical_or(
                ohem_keep_mask(
                    ops.exp(-ce),
                    valid,
                    self.ohem_thresh,
                    self.ohem_min_kept,
                ),
                bad_label,
            )
        weight = ops.cast(valid, "float32")
        if self.class_weights is not None:
            table = ops.convert_to_tensor(self.class_weights, "float32")
            weight = weight * ops.where(
                bad_label, 1.0, ops.take(table, safe_labels)
            )
        # The default reduction divides the sum by the number of pixels; a
        # factor total / sum(weight) turns that into the weighted mean over
        # the counted pixels (the trick of Keras' own loss masking).
        total = ops.cast(ops.size(weight), "float32")
        scale = ops.divide_no_nan(total, ops.sum(weight))
        return ops.where(
            ops.greater(weight, 0.0), pixel_loss * (weight * scale), 0.0
        )

    def get_config(self):
        config = super().get_config()
        config["ignore_label"] = self.ignore_label
        config["class_weights"] = (
            None if self.class_weights is None else list(self.class_weights)
        )
        config["ohem_thresh"] = self.ohem_thresh
        config["ohem_min_kept"] = self.ohem_min_kept
        return config


def se_targets(labels, num_classes: int, ignore_label: int = 255):
    """Multi-hot "class occurs in the image" targets of EncNet's SE loss.

    The official `torch.histc(label, bins=num_classes, min=0,
    max=num_classes - 1) > 0`: pixels with `ignore_label` or any value
    outside `[0, num_classes)` are not counted.

    Args:
        labels: int labels `(batch, height, width)` (or with a trailing 1).
        num_classes: int, number of classes.
        ignore_label: int, label value of pixels to skip. Default `255`.

    Returns:
        float32 tensor `(batch, num_classes)` of 0/1 values.
    """
    labels = _label_map(ops.convert_to_tensor(labels), "se_targets")
    batch = ops.shape(labels)[0]
    labels = ops.reshape(labels, (batch, -1))
    counted = ops.logical_and(
        ops.logical_and(
            ops.greater_equal(labels, 0), ops.less(labels, num_classes)
        ),
        ops.not_equal(labels, ignore_label),
    )
    # Uncounted pixels go to an extra bin `num_classes`, dropped below.
    bins = ops.where(counted, labels, num_classes)
    rows = ops.broadcast_to(
        ops.expand_dims(ops.arange(batch, dtype="int32"), 1), ops.shape(bins)
    )
    flat_index = ops.reshape(rows * (num_classes + 1) + bins, (-1, 1))
    ones = ops.ones(ops.shape(flat_index)[:1], dtype="float32")
    counts = ops.scatter(flat_index, ones, (batch * (num_classes + 1),))
    counts = ops.reshape(counts, (batch, num_classes + 1))[:, :num_classes]
    return ops.cast(ops.greater(counts, 0.0), "float32")


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SELoss(keras.losses.Loss):
    """Binary cross-entropy of EncNet's class-presence (SE) logits.

    The target of image `b` and class `c` is 1 when `c` occurs in the label
    map of image `b` (`se_targets`), so this loss takes the same label map as
    the segmentation losses. Mean over `batch * num_classes` entries, as the
    official `BCELoss(sigmoid(se_logits), target)`.

    `y_true`: int labels `(batch, height, width)` (or with a trailing 1).
    `y_pred`: SE logits `(batch, num_classes)`.

    Args:
        ignore_label: int, label value of pixels to skip. Default `255`.
        name: str, loss name. Default `"se_loss"`.
        reduction: `"sum_over_batch_size"` (default) or `"mean"`.
    """

    def __init__(
        self,
        ignore_label: int = 255,
        name: str = "se_loss",
        reduction: str = "sum_over_batch_size",
    ):
        _check_reduction(reduction, type(self).__name__)
        super().__init__(name=name, reduction=reduction, dtype="float32")
        self.ignore_label = int(ignore_label)

    def call(self, y_true, y_pred):
        logits = ops.cast(y_pred, "float32")
        if len(logits.shape) != 2 or logits.shape[-1] is None:
            raise ValueError(
                "SELoss expects se_logits of shape (batch, num_classes) with a "
                f"known num_classes; got shape {logits.shape}."
            )
        targets = se_targets(y_true, logits.shape[-1], self.ignore_label)
        # Numerically stable sigmoid cross-entropy with logits.
        return (
            ops.maximum(logits, 0.0)
            - logits * targets
            + ops.log1p(ops.exp(-ops.abs(logits)))
        )

    def get_config(self):
        config = super().get_config()
        config["ignore_label"] = self.ignore_label
        return config


def _output_names(outputs) -> list[str]:
    """Output names of a model, an output dict or a list of names."""
    if isinstance(outputs, keras.Model):
        outputs = outputs.output
        if not isinstance(outputs, Mapping):
            return ["logits"]  # a single-output model predicts the logits.
    if isinstance(outputs, Mapping):
        return list(outputs.keys())
    if isinstance(outputs, str):
        return [outputs]
    if isinstance(outputs, Iterable):
        names = list(outputs)
        if all(isinstance(name, str) for name in names):
            return names
    raise ValueError(
        "outputs must be a keras.Model, its output dict or a list of output "
        f"names; got {type(outputs).__name__}."
    )


def segmentation_losses(
    outputs,
    num_classes: int,
    aux_weight: float = 0.2,
    se_weight: float = 0.2,
    ignore_label: int = 255,
    class_weights: Sequence[float] | None = None,
    ohem_thresh: float | None = None,
    ohem_min_kept: int = 100000,
) -> tuple[dict, dict]:
    """`loss` and `loss_weights` for `model.compile`, as the official total.

    Total = `CE(logits) + aux_weight * CE(aux_logits) + se_weight *
    BCE(se_logits)`; the terms of outputs the model does not have are left
    out. The official defaults are `aux_weight=0.2` (EncNet; the official
    PSP / DeepLabV3 scripts use 0.4) and `se_weight=0.2`.

    Fit a dict-output model with `y = replicate_targets(labels, loss)` (the
    same label map for every output). A single-output model gets only the
    `"logits"` entry; if its output layer is named `"logits"` (as in
    `build_model`) the dicts work as they are with plain labels as `y`,
    otherwise compile it with `loss=loss["logits"]`.

    Args:
        outputs: the model, its output dict, or the output names; names out
            of `{"logits", "aux_logits", "se_logits"}`.
        num_classes: int, number of classes (checked against the model's
            outputs when known).
        aux_weight: float, weight of the auxiliary head loss.
        se_weight: float, weight of the SE loss.
        ignore_label: int, label value of pixels to skip. Default `255`.
        class_weights: optional `num_classes` floats, the class weights of
            the main and auxiliary cross-entropies. Default `None`.
        ohem_thresh: optional float, OHEM threshold of the main
            cross-entropy (as mmseg, which samples the decode head only);
            `None` (default): off. See `ohem_keep_mask`.
        ohem_min_kept: int, OHEM's minimum kept pixels per image.

    Returns:
        `(loss, loss_weights)`: dicts keyed by output name.
    """
    names = _output_names(outputs)
    known = {"logits", "aux_logits", "se_logits"}
    unknown = [name for name in names if name not in known]
    if unknown or "logits" not in names:
        raise ValueError(
            f"Expected model outputs named among {sorted(known)} including "
            f"'logits'; got {names}. Build the model with "
            "keras_fastfcn.build_model or name the outputs accordingly."
        )
    if isinstance(outputs, keras.Model) and isinstance(outputs.output, dict):
        found = outputs.output["logits"].shape[-1]
        if found is not None and found != num_classes:
            raise ValueError(
                f"num_classes={num_classes} but the model predicts {found} "
                "classes; pass the model's number of classes."
            )
    if class_weights is not None and len(class_weights) != num_classes:
        raise ValueError(
            f"Got {len(class_weights)} class_weights for num_classes="
            f"{num_classes}; give one weight per class."
        )
    loss = {}
    loss_weights = {}
    for name in names:
        if name == "se_logits":
            loss[name] = SELoss(ignore_label=ignore_label)
            loss_weights[name] = float(se_weight)
        else:
            main = name == "logits"
            loss[name] = SegmentationCrossEntropy(
                ignore_label=ignore_label,
                name=f"{name}_cross_entropy",
                class_weights=class_weights,
                ohem_thresh=ohem_thresh if main else None,
                ohem_min_kept=ohem_min_kept,
            )
            loss_weights[name] = float(
                aux_weight if name == "aux_logits" else 1
            )
    return loss, loss_weights


def replicate_targets(labels, output_names) -> dict:
    """The label map once per output: the `y` of a multi-output model.

    Args:
        labels: int labels `(batch, height, width)`.
        output_names: names of the model outputs (e.g. the keys of the
            `loss` dict of `segmentation_losses`).

    Returns:
        dict `{name: labels}`; for `tf.data`:
        `ds.map(lambda x, y: (x, replicate_targets(y, loss)))`.
    """
    return {name: labels for name in output_names}
