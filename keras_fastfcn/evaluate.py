"""Evaluate a segmentation model: pixAcc, mIoU, per-class IoU, pictures.

    fastfcn evaluate \\
        --model-file runs/x/checkpoints/best-0040.keras \\
        --dataset camvid --data-dir ../shared/data/camvid \\
        [--multi-scale] [--flip]

Single scale follows the official `testval` protocol: the image is resized
so its long side is `--base-size`, run whole if it fits in `--crop-size`
and with sliding windows (stride 2/3 crop) otherwise, and the scores are
resized back. `--multi-scale` uses scales 0.5-1.75 (with `--flip`, the
official MS+flip). Results are accumulated in one confusion matrix over the
split (ignored pixels excluded); the confusion matrix plot, a few
prediction figures (image | ground truth | prediction with a legend of the
classes present) and `metrics.json` are written to `--output-dir`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from keras_fastfcn.constants import IMAGENET_MEAN
from keras_fastfcn.constants import IMAGENET_STD
from keras_fastfcn.inference import MULTI_SCALES
from keras_fastfcn.inference import predict_multi_scale
from keras_fastfcn.metrics import ConfusionMatrix
from keras_fastfcn.metrics import format_iou_table
from keras_fastfcn.metrics import plot_confusion_matrix
from keras_fastfcn.utils import files
from keras_fastfcn.utils.files import atomic_write_text


def denormalize(image: np.ndarray) -> np.ndarray:
    """ImageNet-normalised float `(h, w, 3)` -> uint8 RGB `(h, w, 3)`."""
    mean = np.asarray(IMAGENET_MEAN, np.float32)
    std = np.asarray(IMAGENET_STD, np.float32)
    pixels = (image * std + mean) * 255.0
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def compiled_logits(model, jit_compile: bool = False):
    """A fast `images -> logits` callable for the active Keras backend
    (`jit_compile` asks TensorFlow for XLA)."""
    import keras

    def logits_of(output):
        return output["logits"] if isinstance(output, dict) else output

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        def infer(x):
            return logits_of(model(x, training=False))

        # no autograph: `infer` has no tensor-dependent Python control flow
        function = tf.function(
            infer,
            reduce_retracing=True,
            jit_compile=jit_compile,
            autograph=False,
        )
        return lambda x: function(x).numpy()
    return lambda x: np.asarray(logits_of(model.predict_on_batch(x)))


def _figure(image, label, prediction, spec, index: int) -> np.ndarray:
    """Image | ground truth | prediction of one evaluated image, titled with
    its file name and pixel accuracy (`comparison_figure`)."""
    from keras_fastfcn.visualize import comparison_figure

    labelled = label != spec.ignore_label
    correct = np.sum((prediction == label) & labelled)
    accuracy = correct / max(int(labelled.sum()), 1)
    name = Path(str(spec.pairs[index][0])).name
    return comparison_figure(
        denormalize(image),
        prediction,
        spec.palette,
        spec.class_names,
        label=label,
        ignore_label=spec.ignore_label,
        title=f"{name}   pixel accuracy {accuracy * 100:.1f}%",
    )


def evaluate_model(
    model,
    spec,
    *,
    multi_scale: bool = False,
    flip: bool = False,
    base_size: int = 520,
    crop_size: int = 480,
    max_images: int | None = None,
    output_dir: str | os.PathLike | None = None,
    num_visualizations: int = 4,
    progress: bool = True,
    logits_fn=None,
) -> dict:
    """Evaluate `model` on every image of `spec` (a `DatasetSpec` split).

    Args:
        model: a model mapping normalised images to logits (or a dict with
            `"logits"`); `None` when `logits_fn` is given.
        spec: the split to evaluate (`keras_fastfcn.data.load_dataset`).
        multi_scale: use the official scales (0.5 ... 1.75).
        flip: add horizontally flipped predictions.
        base_size: long side of the image at scale 1.
        crop_size: window size; larger images use sliding windows.
        max_images: evaluate only the first `max_images` images.
        output_dir: where to write `metrics.json`, the confusion-matrix
            plot and prediction overlays (`None`: nothing written).
        num_visualizations: number of overlays to save.
        progress: show a tqdm progress bar.
        logits_fn: instead of `model`, a callable mapping normalised
            float32 images `(1, height, width, 3)` to NumPy logits, e.g. an
            exported model in its runtime
            (`keras_fastfcn.export.runtimes.TFLiteRunner`).

    Returns:
        dict with `pixel_accuracy`, `mean_iou` (over all classes, as the
        official code), `mean_iou_present`, `iou` (per class) and the run
        settings.
    """
    from tqdm import tqdm

    from keras_fastfcn.data import make_eval_dataset
    from keras_fastfcn.visualize import save_png

    if logits_fn is None:
        logits_fn = compiled_logits(model)
    scales = MULTI_SCALES if multi_scale else (1.0,)
    matrix = ConfusionMatrix(spec.num_classes, spec.ignore_label)
    if max_images is not None:
        spec = spec.take(max_images)
    total = len(spec.pairs)
    dataset = make_eval_dataset(spec, mode="full", batch_size=1)
    out = str(output_dir) if output_dir else None
    for index, (image, label) in enumerate(
        tqdm(dataset, total=total, disable=not progress, desc="eval")
    ):
        image, label = image.numpy(), label.numpy()
        _, prediction = predict_multi_scale(
            logits_fn,
            image,
            spec.num_classes,
            base_size=base_size,
            crop_size=crop_size,
            scales=scales,
            flip=flip,
        )
        matrix.update(prediction[0], label[0])
        if out is not None and index < num_visualizations:
            save_png(
                files.join(out, f"prediction_{index:03d}.png"),
                _figure(image[0], label[0], prediction[0], spec, index),
            )
    results = matrix.results()
    results.update(
        iou=[float(v) for v in matrix.iou()],
        class_names=list(spec.class_names),
        images=total,
        multi_scale=multi_scale,
        flip=flip,
        base_size=base_size,
        crop_size=crop_size,
    )
    if out is not None:
        atomic_write_text(
            files.join(out, "metrics.json"), json.dumps(results, indent=2)
        )
        plot_confusion_matrix(
            matrix.matrix,
            spec.class_names,
            files.join(out, "confusion_matrix.png"),
        )
    return results


def format_results(results: dict) -> str:
    """Per-class IoU table followed by the summary line."""
    table = format_iou_table(results["class_names"], results["iou"])
    return (
        f"{table}\n\npixAcc {results['pixel_accuracy'] * 100:.2f}  "
        f"mIoU {results['mean_iou'] * 100:.2f}  "
        f"({results['images']} images, "
        f"{'multi-scale' if results['multi_scale'] else 'single scale'}"
        f"{' + flip' if results['flip'] else ''})"
    )
