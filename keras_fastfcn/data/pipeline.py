"""tf.data pipelines for training and evaluation.

Training order and augmentation are pure functions of ``seed``: epoch ``e``
visits the files in the order of a stateless shuffle keyed by
``(seed, e)``, and example number ``i`` (counted from the start of training)
is augmented with a stateless seed derived from ``(seed, i)``. A resumed run
that passes ``start_example`` therefore sees exactly the batches the
uninterrupted run would have seen.

A spec with TFRecord ``records`` (`keras_fastfcn.data.tfrecord`) is read
from its shards instead: each epoch visits the shards in a new seeded order,
interleaved, through a seeded shuffle buffer; with ``shard`` a worker reads
only its own shards (multi-worker training with auto-sharding off).
"""

from typing import Sequence

import tensorflow as tf

from keras_fastfcn.data import augment
from keras_fastfcn.data.decode import make_example_loader
from keras_fastfcn.data.spec import DatasetSpec
from keras_fastfcn.data.tfrecord import make_record_decoder

EVAL_MODES = ("val", "full")
_ORDER_STREAM = 0
_AUGMENT_STREAM = 1
_PASTE_STREAM = 2
_DONOR_SEED_OFFSET = 7919
"""Seed offset of the second example stream that copy-paste draws from."""
DEFAULT_RECORD_SHUFFLE_BUFFER = 1024
"""Shuffle buffer of TFRecord training data without ``cache``."""


def _positive(name: str, value: int) -> None:
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def _check_not_empty(spec: DatasetSpec) -> None:
    if len(spec) == 0:
        raise ValueError(f"Dataset {spec!r} has no examples.")


def _stream_seed(seed: int, stream: int, counter: tf.Tensor) -> tf.Tensor:
    """Independent ``(2,)`` stateless seed per (stream, counter)."""
    base = tf.constant([seed, stream], tf.int64)
    return tf.random.experimental.stateless_fold_in(
        base, tf.cast(counter, tf.int64)
    )


def _file_order(num_files: int, seed: int, start_epoch: int):
    """Endless dataset of file indices, reshuffled (statelessly) per epoch."""

    def epoch_order(epoch):
        order = tf.range(num_files, dtype=tf.int64)
        return tf.random.experimental.stateless_shuffle(
            order, _stream_seed(seed, _ORDER_STREAM, epoch)
        )

    epochs = tf.data.Dataset.counter(start=start_epoch)
    return epochs.map(epoch_order).unbatch()


def _read_records(files: tf.data.Dataset, num_files: int) -> tf.data.Dataset:
    return files.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(num_files, 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def _record_stream(
    spec: DatasetSpec,
    seed: int,
    cache: bool,
    shuffle_buffer: int | None,
    num_parallel_calls: int,
    shard: tuple[int, int] | None,
) -> tf.data.Dataset:
    """Endless ``(index, image, label)`` stream from TFRecord shards (this
    worker's share of them with ``shard``)."""
    decode = make_record_decoder(spec)
    records = list(spec.records)
    if shard is not None:
        count, index = shard
        if not 0 <= index < count <= len(records):
            raise ValueError(
                f"shard {shard}: need 0 <= index < workers <= "
                f"{len(records)} TFRecord shards; write at least one shard "
                "per worker (to_tfrecord --shards)."
            )
        records = records[index::count]
    files = tf.data.Dataset.from_tensor_slices(records)
    num_shards = len(records)
    if shuffle_buffer is None:
        shuffle_buffer = (
            len(spec)
            if cache
            else min(len(spec), DEFAULT_RECORD_SHUFFLE_BUFFER)
        )
    _positive("shuffle_buffer", shuffle_buffer)
    if cache:
        examples = (
            _read_records(files, num_shards)
            .map(lambda record: decode(record)[:2], num_parallel_calls)
            .cache()
            .shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
            .repeat()
        )
    else:
        files = files.shuffle(
            num_shards, seed=seed, reshuffle_each_iteration=True
        ).repeat()
        examples = (
            _read_records(files, num_shards)
            .shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
            .map(lambda record: decode(record)[:2], num_parallel_calls)
        )
    # workers number their examples in disjoint ranges (distinct
    # augmentation seeds)
    start = 0 if shard is None else shard[1] << 40
    return examples.enumerate(start).map(lambda i, pair: (i, *pair))


def make_train_dataset(
    spec: DatasetSpec,
    batch_size: int,
    crop_size: int = 480,
    base_size: int = 520,
    seed: int = 0,
    blur: bool = True,
    jitter: bool = False,
    cache: bool = False,
    shuffle_buffer: int | None = None,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    start_example: int = 0,
    shard: tuple[int, int] | None = None,
    copy_paste_classes: Sequence[int] | None = None,
    copy_paste_probability: float = 0.5,
) -> tf.data.Dataset:
    """Endless, shuffled, augmented, batched training data.

    Args:
        spec: Training split (e.g. ``load_dataset("ade20k", d, "train")``).
        batch_size: Examples per batch (the last partial batch of the
            stream never occurs: batches use ``drop_remainder=True``).
        crop_size: Output height and width (official 480).
        base_size: The random short side is uniform in
            ``[base_size / 2, 2 * base_size]`` (official 520).
        seed: Seeds the file order and all augmentation.
        blur: Random Gaussian blur (p = 0.5), as in the official recipe.
        jitter: Random brightness/contrast/saturation (not official).
        cache: Keep decoded examples in memory (all of them: for small
            datasets). Without cache, every epoch is a full stateless
            reshuffle of the file list; with cache, decoded examples are
            shuffled by a tf.data buffer of ``shuffle_buffer`` examples
            seeded with ``seed`` (reproducible as long as TensorFlow's
            global seed is unchanged), and the first batch waits until the
            buffer is full.
        shuffle_buffer: Buffer size when ``cache`` (default: all examples)
            or when reading TFRecords (default: all examples with cache,
            else `DEFAULT_RECORD_SHUFFLE_BUFFER`). Ignored for files without
            ``cache`` (the file list is fully shuffled).
        num_parallel_calls: Parallelism of decoding and augmentation.
        start_example: Examples already consumed (``steps * batch_size``)
            when resuming; the stream continues exactly where it stopped.
        shard: ``(num_workers, worker_index)``: read only this worker's
            TFRecord shards (every ``num_workers``-th one), for multi-worker
            training with auto-sharding off. TFRecord specs only.
        copy_paste_classes: train ids whose pixels are pasted from a
            second, independently shuffled example before the other
            augmentation (`augment.copy_paste`); `None` or empty: off.
            With ``cache`` the donor stream holds its own in-memory copy
            of the decoded examples (twice the memory).
        copy_paste_probability: chance that an example gets a paste.

    Returns:
        A dataset of ``(images, labels)``: float32
        ``(batch_size, crop_size, crop_size, 3)`` ImageNet-normalised images
        and int32 ``(batch_size, crop_size, crop_size)`` train ids with
        ``spec.ignore_label`` for ignored pixels.
    """
    _check_not_empty(spec)
    for name, value in (
        ("batch_size", batch_size),
        ("crop_size", crop_size),
        ("base_size", base_size),
    ):
        _positive(name, value)
    if not isinstance(start_example, int) or start_example < 0:
        raise ValueError(
            f"start_example must be a non-negative integer, got "
            f"{start_example!r}."
        )
    if shard is not None and not spec.records:
        raise ValueError(
            "shard applies to TFRecord data; files read by path are split "
            "across workers by tf.distribute (DATA auto-sharding)."
        )
    load = make_example_loader(spec)
    paths = tf.constant(spec.image_paths), tf.constant(spec.label_paths)
    num_files = len(spec)

    def load_file(index, file_index):
        image, label = load(
            tf.gather(paths[0], file_index), tf.gather(paths[1], file_index)
        )
        return index, image, label

    def transform(index, image, label):
        return augment.train_transform(
            image,
            label,
            _stream_seed(seed, _AUGMENT_STREAM, index),
            crop_size=crop_size,
            base_size=base_size,
            ignore_label=spec.ignore_label,
            blur=blur,
            jitter=jitter,
        )

    def example_stream(stream_seed: int) -> tf.data.Dataset:
        """Endless ``(index, image, label)`` examples, from
        ``start_example`` on."""
        if spec.records:
            return _record_stream(
                spec,
                stream_seed,
                cache,
                shuffle_buffer,
                num_parallel_calls,
                shard,
            ).skip(start_example)
        if cache:
            decoded = tf.data.Dataset.range(num_files).map(
                lambda i: load_file(i, i)[1:], num_parallel_calls
            )
            buffer = num_files if shuffle_buffer is None else shuffle_buffer
            _positive("shuffle_buffer", buffer)
            return (
                decoded.cache()
                .shuffle(
                    buffer, seed=stream_seed, reshuffle_each_iteration=True
                )
                .repeat()
                .enumerate()
                .skip(start_example)
                .map(lambda i, pair: (i, *pair))
            )
        start_epoch, offset = divmod(start_example, num_files)
        return (
            _file_order(num_files, stream_seed, start_epoch)
            .enumerate(start=start_epoch * num_files)
            .skip(offset)
            .map(load_file, num_parallel_calls)
        )

    stream = example_stream(seed)
    if copy_paste_classes:
        class_ids = [int(c) for c in copy_paste_classes]
        if not 0.0 <= copy_paste_probability <= 1.0:
            raise ValueError(
                "copy_paste_probability must be in [0, 1], got "
                f"{copy_paste_probability!r}."
            )

        def paste(example, donor):
            index, image, label = example
            image, label = augment.copy_paste(
                image,
                label,
                donor[1],
                donor[2],
                _stream_seed(seed, _PASTE_STREAM, index),
                class_ids,
                copy_paste_probability,
            )
            return index, image, label

        donors = example_stream(seed + _DONOR_SEED_OFFSET)
        stream = tf.data.Dataset.zip((stream, donors)).map(
            paste, num_parallel_calls
        )
    return (
        stream.map(transform, num_parallel_calls)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def make_eval_dataset(
    spec: DatasetSpec,
    crop_size: int = 480,
    mode: str = "val",
    batch_size: int = 1,
    num_parallel_calls: int = tf.data.AUTOTUNE,
    with_paths: bool = False,
) -> tf.data.Dataset:
    """One pass over a split, in file order, without randomness.

    Args:
        spec: Evaluation split.
        crop_size: Short side and centre-crop size in ``"val"`` mode.
        mode: ``"val"``: the official in-training validation transform
            (short side resized to ``crop_size``, centre crop), batchable.
            ``"full"``: the whole image at its own resolution, for the
            evaluator (``batch_size > 1`` needs equally sized images).
        batch_size: Examples per batch (the last batch may be smaller).
        num_parallel_calls: Parallelism of decoding and transforms.
        with_paths: Also yield the image paths.

    Returns:
        A dataset of ``(images, labels)`` (plus ``image_paths``, string
        ``(batch,)``, when ``with_paths``): float32 ``(batch, height, width,
        3)`` normalised images and int32 ``(batch, height, width)`` labels.
    """
    _check_not_empty(spec)
    _positive("batch_size", batch_size)
    _positive("crop_size", crop_size)
    if mode not in EVAL_MODES:
        raise ValueError(
            f"Unknown eval mode {mode!r}; valid modes: {', '.join(EVAL_MODES)}."
        )

    def transform(image, label, name):
        if mode == "val":
            image, label = augment.val_transform(
                image, label, crop_size, spec.ignore_label
            )
        else:
            image, label = augment.eval_transform(image, label)
        if with_paths:
            return image, label, name
        return image, label

    if spec.records:
        decode = make_record_decoder(spec)

        def read(record):
            return transform(*decode(record))

        examples = tf.data.TFRecordDataset(list(spec.records)).take(len(spec))
    else:
        load = make_example_loader(spec)

        def read(image_path, label_path):
            return transform(*load(image_path, label_path), image_path)

        examples = tf.data.Dataset.from_tensor_slices(
            (spec.image_paths, spec.label_paths)
        )
    return (
        examples.map(read, num_parallel_calls)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def pad_batches(
    dataset: tf.data.Dataset, multiple: int, ignore_label: int = 255
) -> tf.data.Dataset:
    """Pads every batch of ``(images, labels)`` to a multiple of
    ``multiple`` examples: zero images whose labels are all
    ``ignore_label``, so metrics and losses that skip the ignore label are
    unchanged. For data-parallel evaluation, where every device needs an
    equal share of each batch (a partial last batch would fail)."""
    _positive("multiple", multiple)

    def pad(images, labels):
        size = tf.shape(images)[0]
        missing = (multiple - size % multiple) % multiple
        images = tf.concat(
            [
                images,
                tf.zeros(
                    tf.concat([[missing], tf.shape(images)[1:]], 0),
                    images.dtype,
                ),
            ],
            axis=0,
        )
        labels = tf.concat(
            [
                labels,
                tf.fill(
                    tf.concat([[missing], tf.shape(labels)[1:]], 0),
                    tf.constant(ignore_label, labels.dtype),
                ),
            ],
            axis=0,
        )
        return images, labels

    return dataset.map(pad)
