"""Class weights for the cross-entropy, from the training labels (issue #20).

Two rules, from the pixel counts of the training split (labels mapped with
the dataset's lookup table; `ignore_label` pixels are not counted):

- ``"enet"`` (ENet, Paszke et al. 2016): ``w_c = 1 / ln(1.02 + p_c)``, with
  ``p_c`` the share of class ``c`` among the labelled pixels.
- ``"median_frequency"`` (Eigen & Fergus 2015, SegNet):
  ``w_c = median(freq) / freq_c``, with ``freq_c`` the pixels of ``c``
  divided by all pixels (ignored ones included) of the images where ``c``
  occurs, and the median over the classes that occur.

A class without a single training pixel gets weight 0 under both rules: no
training pixel carries its label, so its weight never enters the loss, and
0 says so (a warning names it).

Counting reads every training label once, so the counts are cached as JSON
(``output_dir/class_pixel_counts.json``) with a key naming the dataset,
split, classes, ignore label, lookup table and files; a different key is
counted again.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import Any
from typing import Sequence

import numpy as np

from keras_fastfcn.data.spec import DatasetSpec

METHODS = ("enet", "median_frequency")
CACHE_NAME = "class_pixel_counts.json"
ENET_C = 1.02
_FORMAT = 1


def count_class_pixels(
    spec: DatasetSpec, progress: bool = True
) -> dict[str, Any]:
    """Per-class pixel counts of every label of ``spec`` (tf.data, once).

    Labels are decoded and mapped exactly as in training (files, TFRecord
    or TFDS shards).

    Args:
        spec: The split to count, usually ``"train"``.
        progress: Show a tqdm progress bar.

    Returns:
        dict with ``pixels`` (``num_classes`` ints: pixels of each class),
        ``image_pixels`` (``num_classes`` ints: all pixels of the images
        where the class occurs), ``ignored`` (pixels with the ignore label)
        and ``images``.
    """
    import tensorflow as tf
    from tqdm import tqdm

    from keras_fastfcn.data.decode import decode_label_values
    from keras_fastfcn.data.decode import map_label_values
    from keras_fastfcn.data.tfrecord import make_record_decoder

    num_classes = spec.num_classes

    def histogram(label):
        label = tf.reshape(label, [-1])
        valid = (label >= 0) & (label < num_classes)
        bins = tf.where(valid, label, num_classes)  # last bin: ignored
        return tf.math.bincount(
            bins,
            minlength=num_classes + 1,
            maxlength=num_classes + 1,
            dtype=tf.int64,
        )

    if spec.records:
        decode = make_record_decoder(spec)
        examples = tf.data.TFRecordDataset(list(spec.records)).take(len(spec))
        counts = examples.map(
            lambda record: histogram(decode(record)[1]), tf.data.AUTOTUNE
        )
    else:

        def read(path):
            raw = decode_label_values(
                tf.io.read_file(path), path, spec.label_color_codes
            )
            return histogram(map_label_values(raw, path, spec))

        counts = tf.data.Dataset.from_tensor_slices(spec.label_paths).map(
            read, tf.data.AUTOTUNE
        )
    pixels = np.zeros(num_classes, np.int64)
    image_pixels = np.zeros(num_classes, np.int64)
    ignored = images = 0
    bar = tqdm(
        counts.prefetch(tf.data.AUTOTUNE).as_numpy_iterator(),
        total=len(spec),
        desc=f"counting class pixels of {spec.name}/{spec.split}",
        unit="label",
        disable=not progress,
    )
    for count in bar:
        pixels += count[:num_classes]
        image_pixels[count[:num_classes] > 0] += int(count.sum())
        ignored += int(count[num_classes])
        images += 1
    return {
        "pixels": pixels.tolist(),
        "image_pixels": image_pixels.tolist(),
        "ignored": ignored,
        "images": images,
    }


def counts_key(spec: DatasetSpec) -> dict[str, Any]:
    """What the counts of ``spec`` depend on: names and a fingerprint of
    the lookup table and label files (or TFRecord shards)."""
    fingerprint = hashlib.sha256()
    fingerprint.update(np.asarray(spec.label_lut, np.int32).tobytes())
    for name in (*spec.label_paths, "|", *spec.records):
        fingerprint.update(name.encode("utf-8") + b"\0")
    return {
        "format": _FORMAT,
        "dataset": spec.name,
        "split": spec.split,
        "num_classes": spec.num_classes,
        "ignore_label": spec.ignore_label,
        "examples": len(spec),
        "fingerprint": fingerprint.hexdigest(),
    }


def cached_class_pixel_counts(
    spec: DatasetSpec, cache_path: str | Path, progress: bool = True
) -> dict[str, Any]:
    """`count_class_pixels`, read from ``cache_path`` when it holds the
    counts of the same split (`counts_key`), else counted and written."""
    from keras_fastfcn.utils import files

    cache_path = str(cache_path)
    key = counts_key(spec)
    if files.isfile(cache_path):
        try:
            cached = json.loads(files.read_text(cache_path))
        except (OSError, ValueError):
            cached = None
        if isinstance(cached, dict) and cached.get("key") == key:
            print(f"class pixel counts: reusing {cache_path}")
            return cached["counts"]
        print(f"class pixel counts: {cache_path} is for other data; recounting")
    counts = count_class_pixels(spec, progress=progress)
    files.atomic_write_text(
        cache_path, json.dumps({"key": key, "counts": counts}, indent=1)
    )
    return counts


def _join(folder, name: str) -> str:
    from keras_fastfcn.utils.files import join

    return join(folder, name)


def enet_weights(pixels: Sequence[int], c: float = ENET_C) -> np.ndarray:
    """ENet weights ``1 / ln(c + p_c)``; 0 for classes without pixels.

    Args:
        pixels: ``(num_classes,)`` labelled pixels per class.
        c: The constant of ENet. Default 1.02.

    Returns:
        float64 ``(num_classes,)``.
    """
    pixels = np.asarray(pixels, np.float64)
    share = pixels / max(pixels.sum(), 1.0)
    return np.where(pixels > 0, 1.0 / np.log(c + share), 0.0)


def median_frequency_weights(
    pixels: Sequence[int], image_pixels: Sequence[int]
) -> np.ndarray:
    """Median-frequency weights ``median(freq) / freq_c``; 0 without pixels.

    Args:
        pixels: ``(num_classes,)`` pixels per class.
        image_pixels: ``(num_classes,)`` all pixels of the images where the
            class occurs.

    Returns:
        float64 ``(num_classes,)``; ``freq_c = pixels / image_pixels`` and
        the median (NumPy's: the mean of the middle two for an even count)
        over the classes with pixels.
    """
    pixels = np.asarray(pixels, np.float64)
    image_pixels = np.asarray(image_pixels, np.float64)
    present = pixels > 0
    if not present.any():
        return np.zeros_like(pixels)
    freq = np.where(present, pixels / np.maximum(image_pixels, 1.0), 1.0)
    return np.where(present, np.median(freq[present]) / freq, 0.0)


def weights_from_counts(method: str, counts: dict[str, Any]) -> list[float]:
    """The weights of ``method`` (one of `METHODS`) from `count_class_pixels`
    counts."""
    if method == "enet":
        weights = enet_weights(counts["pixels"])
    elif method == "median_frequency":
        weights = median_frequency_weights(
            counts["pixels"], counts["image_pixels"]
        )
    else:
        raise ValueError(
            f"class_weights method must be one of {METHODS}; got {method!r}."
        )
    return [float(w) for w in weights]


def format_weights(
    class_names: Sequence[str], counts: dict[str, Any], weights: Sequence[float]
) -> str:
    """A table: class, pixels, share of the labelled pixels, weight."""
    total = max(sum(counts["pixels"]), 1)
    width = max([len(name) for name in class_names] + [5])
    lines = [f"{'class':<{width}}  {'pixels':>12}  {'share':>7}  weight"]
    for name, pixels, weight in zip(class_names, counts["pixels"], weights):
        lines.append(
            f"{name:<{width}}  {pixels:>12d}  {pixels / total:>7.2%}  "
            f"{weight:.4f}"
        )
    lines.append(
        f"({counts['images']} label images, {counts['ignored']} ignored pixels)"
    )
    return "\n".join(lines)


def class_weights_for(
    method: str,
    spec: DatasetSpec,
    cache_dir: str | Path,
    progress: bool = True,
) -> list[float]:
    """Weights of ``method`` for ``spec``, counting once per ``cache_dir``.

    Prints the counts and weights; warns about classes without pixels.

    Args:
        method: ``"enet"`` or ``"median_frequency"``.
        spec: The training split.
        cache_dir: Folder of the cache file `CACHE_NAME` (the run folder).
        progress: Show a progress bar while counting.

    Returns:
        ``spec.num_classes`` floats.
    """
    if method not in METHODS:
        raise ValueError(
            f"class_weights method must be one of {METHODS}; got {method!r}."
        )
    counts = cached_class_pixel_counts(
        spec, _join(cache_dir, CACHE_NAME), progress=progress
    )
    weights = weights_from_counts(method, counts)
    print(f"class weights ({method}):")
    print(format_weights(spec.class_names, counts, weights))
    empty = [
        name
        for name, pixels in zip(spec.class_names, counts["pixels"])
        if pixels == 0
    ]
    if empty:
        warnings.warn(
            f"classes without a training pixel get class weight 0: {empty}",
            stacklevel=2,
        )
    return weights


def training_class_weights(config: Any, num_classes: int) -> list[float] | None:
    """The ``class_weights`` of a `TrainConfig`, resolved to floats.

    ``None`` stays ``None``; a list is returned as floats; ``"enet"`` /
    ``"median_frequency"`` are computed from ``config``'s training split,
    cached in ``config.output_dir``.
    """
    value = config.class_weights
    if value is None:
        return None
    if not isinstance(value, str):
        weights = [float(w) for w in value]
    else:
        from keras_fastfcn.data import load_dataset

        spec = load_dataset(
            config.dataset,
            config.data_dir,
            split="train",
            data_format=config.data_format,
        )
        weights = class_weights_for(value, spec, config.output_dir)
    if len(weights) != num_classes or not all(map(math.isfinite, weights)):
        raise ValueError(
            f"class_weights: got {len(weights)} weights for {num_classes} "
            "classes; give one finite weight per class."
        )
    return weights
