"""Segmentation metrics: pixel accuracy and mean IoU.

Official definitions (`encoding/utils/metrics.py`), accumulated over the
whole dataset, never averaged per image:

- pixel accuracy = correct / labeled pixels (ignored pixels excluded);
- IoU of class c = intersection / union, where pixels predicted on ignored
  labels count for nothing; mean IoU averages over **all** classes, a class
  with zero union counting as IoU 0.

`ConfusionMatrix` is the exact NumPy accumulator for offline evaluation;
`PixelAccuracy` and `MeanIoU` are stateful Keras metrics from logits for
`model.fit` / `model.evaluate` (TensorFlow, JAX, `tf.distribute`), both
`keras.metrics.MeanIoU` subclasses (exact integer confusion matrix).
"""

from __future__ import annotations

import warnings
from typing import Mapping
from typing import Sequence

import keras
import numpy as np
from keras import ops

from keras_fastfcn.utils.files import atomic_path

_PACKAGE = "keras_fastfcn"


class ConfusionMatrix:
    """Dataset-level confusion matrix of integer predictions vs labels.

    `matrix[t, p]` counts pixels of true class `t` predicted as `p`; pixels
    labelled `ignore_label` are skipped. Counts are int64 (exact).

    Args:
        num_classes: int, number of classes.
        ignore_label: int, label value of pixels to skip. Default `255`.
    """

    def __init__(self, num_classes: int, ignore_label: int = 255):
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; got {num_classes}.")
        self.num_classes = int(num_classes)
        self.ignore_label = int(ignore_label)
        self.matrix = np.zeros((num_classes, num_classes), dtype=np.int64)

    def reset(self) -> None:
        """Zero all counts."""
        self.matrix[:] = 0

    def update(self, pred, label) -> None:
        """Add a batch of predictions.

        Args:
            pred: int class indices, any shape (e.g. `(batch, height,
                width)`); take `argmax(logits, -1)` first.
            label: int labels of the same shape, `ignore_label` for void.
        """
        pred = np.asarray(pred)
        label = np.asarray(label)
        if pred.shape != label.shape:
            raise ValueError(
                f"pred shape {pred.shape} != label shape {label.shape}; pass "
                "class indices (argmax over the class axis), not scores."
            )
        valid = label != self.ignore_label
        label = label[valid].astype(np.int64)
        pred = pred[valid].astype(np.int64)
        for name, values in (("label", label), ("pred", pred)):
            if values.size and (
                values.min() < 0 or values.max() >= self.num_classes
            ):
                raise ValueError(
                    f"{name} values must be in [0, {self.num_classes}) or the "
                    f"ignore label {self.ignore_label}; found "
                    f"[{values.min()}, {values.max()}]. Check num_classes and "
                    "the label mapping."
                )
        counts = np.bincount(
            label * self.num_classes + pred,
            minlength=self.num_classes * self.num_classes,
        )
        self.matrix += counts.reshape(self.num_classes, self.num_classes)

    def merge(self, other: "ConfusionMatrix") -> None:
        """Add the counts of another accumulator (e.g. another worker)."""
        if other.matrix.shape != self.matrix.shape:
            raise ValueError(
                f"Cannot merge a {other.num_classes}-class confusion matrix "
                f"into a {self.num_classes}-class one."
            )
        self.matrix += other.matrix

    @property
    def labeled(self) -> int:
        """Number of non-ignored pixels seen."""
        return int(self.matrix.sum())

    def pixel_accuracy(self) -> float:
        """Correct / labeled pixels (0 before any labeled pixel)."""
        labeled = self.matrix.sum()
        return float(np.trace(self.matrix) / labeled) if labeled else 0.0

    def intersection_union(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-class intersection and union pixel counts `(num_classes,)`."""
        intersection = np.diag(self.matrix)
        union = self.matrix.sum(0) + self.matrix.sum(1) - intersection
        return intersection, union

    def iou(self) -> np.ndarray:
        """Per-class IoU `(num_classes,)`; 0 where the union is empty."""
        intersection, union = self.intersection_union()
        return np.divide(
            intersection,
            union,
            out=np.zeros(self.num_classes, dtype=np.float64),
            where=union > 0,
        )

    def present_classes(self) -> np.ndarray:
        """Boolean `(num_classes,)`: class labelled or predicted (union>0)."""
        return self.intersection_union()[1] > 0

    def mean_iou(self, present_only: bool = False) -> float:
        """Mean IoU.

        Args:
            present_only: `False` (official): mean over all classes, empty
                classes counting 0. `True`: mean over classes with a
                non-empty union only (labelled or predicted at least once;
                the `nanmean` convention of other toolkits).
        """
        iou = self.iou()
        if present_only:
            present = self.present_classes()
            return float(iou[present].mean()) if present.any() else 0.0
        return float(iou.mean())

    def results(self) -> dict[str, float]:
        """`pixel_accuracy`, `mean_iou` (official) and `mean_iou_present`."""
        return {
            "pixel_accuracy": self.pixel_accuracy(),
            "mean_iou": self.mean_iou(),
            "mean_iou_present": self.mean_iou(present_only=True),
        }


def _labels_and_predictions(y_true, y_pred):
    """Flat int32 labels and argmax predictions from a label map + logits."""
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
    predictions = ops.reshape(
        ops.cast(ops.argmax(y_pred, axis=-1), "int32"), (-1,)
    )
    return labels, predictions


def _pixel_weights(sample_weight, y_true, labels):
    """float32 per-pixel weights, flat like `labels`."""
    if sample_weight is None:
        return ops.ones(ops.shape(labels), dtype="float32")
    weight = ops.cast(sample_weight, "float32")
    label_shape = ops.shape(y_true)[:3]
    while len(weight.shape) < 3:
        weight = ops.expand_dims(weight, -1)
    if len(weight.shape) == 4:
        weight = ops.squeeze(weight, -1)
    return ops.reshape(ops.broadcast_to(weight, label_shape), (-1,))


def _count_dtype() -> str:
    """int64 confusion counts; int32 on JAX without x64 (which has no int64
    and would truncate with a warning): exact up to 2**31 - 1 pixels per
    cell."""
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            return "int32"
    return "int64"


class _ConfusionMetric(keras.metrics.MeanIoU):
    """`keras.metrics.MeanIoU`'s exact integer confusion matrix of logits
    (argmax) vs labels, skipping `ignore_label`, plus a count of labels
    outside `[0, num_classes)` that are not `ignore_label`: any makes the
    result NaN rather than being dropped silently (as Keras does).

    `sample_weight` (per image or per pixel) is counted as integers, e.g. a
    0/1 mask. `dtype` is accepted for configs of earlier versions; results
    are float32.
    """

    def __init__(
        self, num_classes: int, ignore_label: int, name: str, dtype=None
    ):
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; got {num_classes}.")
        super().__init__(
            num_classes=int(num_classes),
            name=name,
            dtype=_count_dtype(),
            ignore_class=int(ignore_label),
            sparse_y_true=True,
            sparse_y_pred=True,
        )
        self.ignore_label = int(ignore_label)
        self.invalid_pixels = self.add_variable(
            shape=(), initializer="zeros", dtype=self.dtype, name="invalid"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.convert_to_tensor(y_true)
        y_pred = ops.convert_to_tensor(y_pred)
        if (
            y_pred.shape[-1] is not None
            and y_pred.shape[-1] != self.num_classes
        ):
            raise ValueError(
                f"{self.name}: logits have {y_pred.shape[-1]} classes but the "
                f"metric was built with num_classes={self.num_classes}."
            )
        labels, predictions = _labels_and_predictions(y_true, y_pred)
        weights = None
        if sample_weight is not None:
            weights = ops.cast(
                _pixel_weights(sample_weight, y_true, labels), self.dtype
            )
        invalid = ops.logical_and(
            ops.not_equal(labels, self.ignore_label),
            ops.logical_or(
                ops.less(labels, 0),
                ops.greater_equal(labels, self.num_classes),
            ),
        )
        self.invalid_pixels.assign_add(ops.sum(ops.cast(invalid, self.dtype)))
        with warnings.catch_warnings():
            # Keras' confusion_matrix casts indices to int64, which JAX
            # without x64 truncates to int32 (exact here) with a warning.
            warnings.filterwarnings(
                "ignore", "Explicitly requested dtype int64", UserWarning
            )
            return super().update_state(labels, predictions, weights)

    def reset_state(self):
        super().reset_state()
        self.invalid_pixels.assign(ops.zeros((), self.dtype))

    def confusion_matrix(self):
        """Integer tensor `(num_classes, num_classes)`: `[true, predicted]`
        pixel counts."""
        return self.total_cm

    def _checked(self, value):
        value = ops.cast(value, "float32")
        return ops.where(ops.greater(self.invalid_pixels, 0), np.nan, value)

    def pixel_accuracy(self):
        """Correct / labelled pixels (0 before any), float32 scalar."""
        correct = ops.cast(ops.trace(self.total_cm), "float32")
        labelled = ops.cast(ops.sum(self.total_cm), "float32")
        return self._checked(ops.divide_no_nan(correct, labelled))

    def _intersection_union(self):
        intersection = ops.diagonal(self.total_cm)
        union = (
            ops.sum(self.total_cm, axis=0)
            + ops.sum(self.total_cm, axis=1)
            - intersection
        )  # exact integers
        return ops.cast(intersection, "float32"), ops.cast(union, "float32")

    def per_class_iou(self):
        """float32 `(num_classes,)` IoU values (0 for empty unions)."""
        intersection, union = self._intersection_union()
        return ops.divide_no_nan(intersection, union)

    def get_config(self):
        return {
            "name": self.name,
            "num_classes": self.num_classes,
            "ignore_label": self.ignore_label,
        }


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PixelAccuracy(_ConfusionMetric):
    """Dataset-level pixel accuracy from logits, skipping `ignore_label`.

    `y_true`: int labels `(batch, height, width)`; `y_pred`: logits
    `(batch, height, width, num_classes)`. Result: correct / labeled pixels
    over everything seen since the last reset (0 before any labeled pixel),
    from an exact integer confusion matrix (`keras.metrics.MeanIoU`'s).

    Args:
        num_classes: int, number of classes.
        ignore_label: int, label value of pixels to skip. Default `255`.
        name: str. Default `"pixel_accuracy"`.
        dtype: ignored (configs of earlier versions); the result is float32.
    """

    def __init__(
        self,
        num_classes: int,
        ignore_label: int = 255,
        name: str = "pixel_accuracy",
        dtype=None,
    ):
        super().__init__(num_classes, ignore_label, name=name)

    def result(self):
        return self.pixel_accuracy()


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MeanIoU(_ConfusionMetric):
    """Dataset-level mean IoU from logits, skipping `ignore_label`.

    A `keras.metrics.MeanIoU` (its exact int64 confusion matrix, summed over
    `tf.distribute` replicas) whose result is the official mean over **all**
    classes, zero-union classes counting 0 (Keras' own result averages over
    the classes with a non-empty union only: `present_classes_only=True`).
    `per_class_iou()` and `pixel_accuracy()` read the same matrix.

    `y_true`: int labels `(batch, height, width)`; `y_pred`: logits
    `(batch, height, width, num_classes)`.

    Args:
        num_classes: int, number of classes.
        ignore_label: int, label value of pixels to skip. Default `255`.
        present_classes_only: bool. Default `False` (official).
        name: str. Default `"mean_iou"`.
        dtype: ignored (configs of earlier versions); the result is float32.
    """

    def __init__(
        self,
        num_classes: int,
        ignore_label: int = 255,
        present_classes_only: bool = False,
        name: str = "mean_iou",
        dtype=None,
    ):
        super().__init__(num_classes, ignore_label, name=name)
        self.present_classes_only = bool(present_classes_only)

    def result(self):
        intersection, union = self._intersection_union()
        iou = ops.divide_no_nan(intersection, union)
        if self.present_classes_only:
            present = ops.cast(ops.greater(union, 0.0), "float32")
            value = ops.divide_no_nan(ops.sum(iou), ops.sum(present))
        else:
            value = ops.mean(iou)
        return self._checked(value)

    def get_config(self):
        config = super().get_config()
        config["present_classes_only"] = self.present_classes_only
        return config


def segmentation_metrics(
    num_classes: int, ignore_label: int = 255
) -> list[keras.metrics.Metric]:
    """`[PixelAccuracy, MeanIoU]` for `model.compile(metrics=...)`.

    For a dict-output model use `metrics={"logits": segmentation_metrics(
    num_classes)}`; Keras then logs `logits_pixel_accuracy` and
    `logits_mean_iou`.
    """
    return [
        PixelAccuracy(num_classes, ignore_label),
        MeanIoU(num_classes, ignore_label),
    ]


def format_iou_table(
    class_names: Sequence[str],
    ious: Sequence[float],
    summary: Mapping[str, float] | None = None,
) -> str:
    """A plain-text table of per-class IoU (in percent).

    Args:
        class_names: names, one per class.
        ious: IoU values in [0, 1], one per class.
        summary: optional extra rows below the table, e.g.
            `{"pixel accuracy": 0.91, "mean IoU": 0.55}`; by default one
            row with the mean IoU over all classes.

    Returns:
        The table as a string (lines separated by "\\n").
    """
    ious = np.asarray(ious, dtype=np.float64)
    if len(class_names) != ious.shape[0] or ious.ndim != 1:
        raise ValueError(
            f"Got {len(class_names)} class names but IoU values of shape "
            f"{ious.shape}; pass one IoU per class."
        )
    if summary is None:
        summary = {"mean IoU": float(ious.mean()) if ious.size else 0.0}
    width = max([len("class")] + [len(str(n)) for n in class_names])
    width = max([width] + [len(k) for k in summary])
    index_width = max(1, len(str(len(class_names) - 1)))
    header = f"{'#':>{index_width}}  {'class':<{width}}  {'IoU %':>7}"
    rule = "-" * len(header)
    lines = [header, rule]
    for index, (name, value) in enumerate(zip(class_names, ious)):
        lines.append(
            f"{index:>{index_width}}  {str(name):<{width}}  {value * 100:7.2f}"
        )
    lines.append(rule)
    for key, value in summary.items():
        lines.append(
            f"{'':>{index_width}}  {key:<{width}}  {float(value) * 100:7.2f}"
        )
    return "\n".join(lines)


def _row_normalised(cm: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (recall per true class); 0 rows stay 0."""
    rows = cm.sum(axis=1, keepdims=True).astype(np.float64)
    return np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)


def row_percentages(cm) -> np.ndarray:
    """Row-normalised confusion matrix in percent `(C, C)` float64: each
    row of a true class with pixels sums to 100; empty rows are 0."""
    if isinstance(cm, ConfusionMatrix):
        cm = cm.matrix
    return 100.0 * _row_normalised(np.asarray(cm, dtype=np.float64))


# The most classes whose cells get their percentages written in.
CELL_NUMBERS_MAX_CLASSES = 30


def cell_text(percent: float) -> str:
    """Text of a confusion-matrix cell: whole percent, `""` for 0 and
    `"<1"` for a share below 1% (which would otherwise read as 0)."""
    if percent <= 0.0:
        return ""
    if percent < 1.0:
        return "<1"
    return f"{percent:.0f}"


def _plot_matplotlib(values, class_names, title, tmp_path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot

    count = len(class_names)
    size = min(4 + 0.35 * count, 40)
    figure, axes = pyplot.subplots(figsize=(size, size))
    image = axes.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    names_shown = count <= 80
    axes.set_xticks(range(count) if names_shown else [])
    axes.set_yticks(range(count) if names_shown else [])
    if names_shown:
        axes.set_xticklabels(class_names, rotation=90)
        axes.set_yticklabels(class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if count <= CELL_NUMBERS_MAX_CLASSES:
        for t in range(count):
            for p in range(count):
                axes.text(
                    p,
                    t,
                    cell_text(100 * values[t, p]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if values[t, p] > 0.5 else "black",
                )
    figure.tight_layout()
    figure.savefig(tmp_path, format="png", dpi=100)
    pyplot.close(figure)


def _blues(value: float) -> tuple[int, int, int]:
    """White (0) to dark blue (1)."""
    value = min(max(float(value), 0.0), 1.0)
    low, high = np.array([247, 251, 255]), np.array([8, 48, 107])
    return tuple(int(round(c)) for c in low + (high - low) * value)


def pil_confusion_layout(count: int) -> dict[str, int]:
    """Cell size (px), font size and whether names / numbers are drawn for a
    `count`-class matrix: 40 px cells with numbers up to
    `CELL_NUMBERS_MAX_CLASSES` classes, then smaller cells without numbers
    (names while a cell is at least 8 px; the grid stays within ~1200 px)."""
    if count <= CELL_NUMBERS_MAX_CLASSES:
        cell = 40 if count <= 16 else 32
    else:
        cell = max(2, min(24, 1200 // count))
    return {
        "cell": cell,
        "font": 13 if cell >= 32 else max(6, min(12, cell - 1)),
        "names": int(cell >= 8),
        "numbers": int(count <= CELL_NUMBERS_MAX_CLASSES),
    }


def _plot_pil(values, class_names, title, tmp_path) -> None:
    from PIL import Image
    from PIL import ImageDraw

    from keras_fastfcn.visualize import font

    count = len(class_names)
    layout = pil_confusion_layout(count)
    cell = layout["cell"]
    face, title_face = font(layout["font"]), font(15)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    def text_width(text, used_face):
        box = measure.textbbox((0, 0), text, font=used_face)
        return box[2] - box[0]

    names = [str(n) for n in class_names] if layout["names"] else []
    name_w = max([text_width(n, face) for n in names], default=0) + 8
    axis = 22  # room for the "true" / "predicted" axis titles
    margin = 8
    left = margin + axis + name_w
    top = margin + 26 + axis + name_w
    width = max(left + cell * count + margin, text_width(title, title_face))
    height = top + cell * count + margin
    canvas = Image.new("RGB", (width + margin, height), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((margin, margin), title, fill="black", font=title_face)
    grid = cell * count
    label_face = font(13)
    predicted_w = text_width("predicted", label_face)
    draw.text(
        (left + (grid - predicted_w) // 2, margin + 26),
        "predicted",
        fill="black",
        font=label_face,
    )
    # "true", written along the left edge (rotated).
    true_w = text_width("true", label_face)
    strip = Image.new("RGB", (true_w + 4, 18), "white")
    ImageDraw.Draw(strip).text((2, 0), "true", fill="black", font=label_face)
    canvas.paste(strip.rotate(90, expand=True), (margin, top + grid // 2))
    for index, name in enumerate(names):
        y = top + index * cell + cell // 2
        draw.text((left - 4, y), name, fill="black", font=face, anchor="rm")
        # column names, rotated to read bottom-up above their column
        w = text_width(name, face) + 4
        column = Image.new("RGB", (w, layout["font"] + 6), "white")
        ImageDraw.Draw(column).text((2, 0), name, fill="black", font=face)
        column = column.rotate(90, expand=True)
        x = left + index * cell + (cell - column.width) // 2
        canvas.paste(column, (x, top - 4 - column.height))
    for t in range(count):
        for p in range(count):
            x, y = left + p * cell, top + t * cell
            value = values[t, p]
            draw.rectangle(
                [x, y, x + cell - 1, y + cell - 1],
                fill=_blues(value),
                outline=(210, 210, 210) if cell >= 16 else None,
            )
            text = cell_text(100 * value) if layout["numbers"] else ""
            if text:
                draw.text(
                    (x + cell // 2, y + cell // 2),
                    text,
                    fill="white" if value > 0.5 else "black",
                    font=face,
                    anchor="mm",
                )
    canvas.save(tmp_path, format="PNG")


def plot_confusion_matrix(
    cm,
    class_names: Sequence[str],
    path: str,
    normalize: bool = True,
    title: str = "Confusion matrix, % of each true class",
    renderer: str = "auto",
) -> str:
    """Write a confusion-matrix heatmap PNG to `path`.

    Both axes are labelled with the class names and, up to
    `CELL_NUMBERS_MAX_CLASSES` classes, each cell shows its row-normalised
    percentage (`row_percentages`, `cell_text`); larger matrices are drawn
    without numbers (and, past ~150 classes, without names). Drawn with
    matplotlib (with a colour bar) when it is installed, else with Pillow.
    The file is written atomically.

    Args:
        cm: `(num_classes, num_classes)` counts, rows = true class, or a
            `ConfusionMatrix`.
        class_names: names, one per class.
        path: output PNG path; its directory must exist.
        normalize: bool, divide each row by its sum. Default `True`.
        title: str, figure title.
        renderer: `"auto"` (matplotlib if installed), `"pil"` or
            `"matplotlib"`.

    Returns:
        `path`.
    """
    if isinstance(cm, ConfusionMatrix):
        cm = cm.matrix
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be square (C, C); got shape {cm.shape}.")
    if len(class_names) != cm.shape[0]:
        raise ValueError(
            f"Got {len(class_names)} class names for a {cm.shape[0]}-class "
            "confusion matrix; pass one name per class."
        )
    if normalize:
        values = _row_normalised(cm)
    else:
        peak = cm.max() if cm.size else 0.0
        values = cm / peak if peak > 0 else np.zeros_like(cm)
    if renderer not in ("auto", "pil", "matplotlib"):
        raise ValueError(
            f"renderer must be 'auto', 'pil' or 'matplotlib'; got {renderer!r}."
        )
    draw = _plot_pil
    if renderer != "pil":
        try:
            import matplotlib  # noqa: F401

            draw = _plot_matplotlib
        except ImportError:
            if renderer == "matplotlib":
                raise
    with atomic_path(path) as tmp:
        draw(values, list(class_names), title, str(tmp))
    return path
