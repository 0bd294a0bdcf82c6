"""Sharded TFRecord copies of a dataset split, and reading them back.

A split becomes ``<out>/<split>-00000-of-00008.tfrecord`` ... plus
``<out>/<split>.json``. Each record holds the original image and label
files byte for byte (so decoding a record gives exactly what decoding the
files gives), their names and the image size. The JSON holds the classes,
palette and label lookup table of the dataset, the record count of each
shard and the example names in record order, so a TFRecord folder is
self-describing: `load_tfrecord_split` needs no access to the original
files. ``out`` may be any path `tf.io.gfile` writes (local, ``gs://``).
Shards are written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from keras_fastfcn.data.decode import make_example_decoder
from keras_fastfcn.data.spec import DatasetSpec

FORMAT = "keras_fastfcn.tfrecord"
VERSION = 1
RECORD_FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/filename": tf.io.FixedLenFeature([], tf.string),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "label/encoded": tf.io.FixedLenFeature([], tf.string),
    "label/filename": tf.io.FixedLenFeature([], tf.string),
}


def shard_name(split: str, index: int, count: int) -> str:
    """``train-00003-of-00008.tfrecord``."""
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


def _join(directory: str, name: str) -> str:
    return directory.rstrip("/") + "/" + name


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def serialize_example(
    image_bytes: bytes,
    label_bytes: bytes,
    image_name: str,
    label_name: str,
    height: int,
    width: int,
) -> bytes:
    """One record: encoded files, their names, the image size."""
    features = {
        "image/encoded": _bytes_feature(image_bytes),
        "image/filename": _bytes_feature(image_name.encode()),
        "image/height": _int_feature(height),
        "image/width": _int_feature(width),
        "label/encoded": _bytes_feature(label_bytes),
        "label/filename": _bytes_feature(label_name.encode()),
    }
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString()


def _checked_files(spec: DatasetSpec, order: np.ndarray) -> tf.data.Dataset:
    """Reads and decodes every pair (catching bad files before writing).

    Yields ``(image_bytes, label_bytes, image_path, label_path, height,
    width)`` in ``order``.
    """
    decode = make_example_decoder(spec)
    images = [spec.pairs[i][0] for i in order]
    labels = [spec.pairs[i][1] for i in order]

    def read(image_path, label_path):
        image_bytes = tf.io.read_file(image_path)
        label_bytes = tf.io.read_file(label_path)
        image, _ = decode(image_bytes, label_bytes, image_path, label_path)
        height, width = tf.unstack(tf.shape(image, out_type=tf.int64)[:2])
        return image_bytes, label_bytes, image_path, label_path, height, width

    return (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .map(read, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )


def _relative_name(path: str, root: str) -> str:
    if root and path.startswith(root.rstrip("/") + "/"):
        return path[len(root.rstrip("/")) + 1 :]
    return path


@contextlib.contextmanager
def _written_atomically(path: str) -> Iterator[str]:
    """Yields a temporary name beside ``path`` (any `tf.io.gfile` path) to
    write to; renames it to ``path`` when the block succeeds, removes it
    otherwise. (`utils.files.atomic_path` is the local-disk twin; this one
    also works on ``gs://``.)"""
    temporary = path + ".incomplete"
    try:
        yield temporary
    except BaseException:
        if tf.io.gfile.exists(temporary):
            tf.io.gfile.remove(temporary)
        raise
    tf.io.gfile.rename(temporary, path, overwrite=True)


def _write_shard(path, files, count, root, examples, bar) -> None:
    """Writes the next ``count`` examples of ``files`` to ``path``."""
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(count):
            image, label, image_path, label_path, height, width = next(files)
            image_name = _relative_name(image_path.decode(), root)
            label_name = _relative_name(label_path.decode(), root)
            writer.write(
                serialize_example(
                    image, label, image_name, label_name, height, width
                )
            )
            examples.append([image_name, label_name])
            if bar is not None:
                bar.update()


def write_tfrecords(
    spec: DatasetSpec,
    out_dir: str,
    num_shards: int,
    shuffle_seed: int | None = 0,
    progress: bool = True,
) -> dict:
    """Writes ``spec`` as ``num_shards`` TFRecord files plus metadata.

    Args:
        spec: The split to convert (from `load_dataset`).
        out_dir: Output folder (created; local or any `tf.io.gfile` path).
        num_shards: Number of shard files (at most one per example). Use
            at least as many as there will be training workers, so each
            worker reads its own files.
        shuffle_seed: Examples are written in a random order drawn with
            this seed (so a small shuffle buffer mixes them well when
            training); ``None`` keeps the split's order.
        progress: Show a tqdm progress bar.

    Returns:
        The metadata written to ``<out_dir>/<split>.json``.

    Raises:
        ValueError: ``num_shards`` < 1, or the split has no examples.
        tf.errors.InvalidArgumentError: A bad file (the message names it);
            nothing is left under the final shard names.
    """
    if spec.tfds_source is not None:
        raise ValueError(
            f"{spec!r} is read from its TFDS TFRecord shards already; train "
            f"on it directly with --dataset {spec.name}."
        )
    if spec.records:
        raise ValueError(f"{spec!r} is already a TFRecord dataset.")
    if not isinstance(num_shards, int) or num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards!r}.")
    if len(spec) == 0:
        raise ValueError(f"{spec!r} has no examples to write.")
    num_shards = min(num_shards, len(spec))
    order = np.arange(len(spec))
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(spec))
    bounds = [round(i * len(spec) / num_shards) for i in range(num_shards + 1)]
    tf.io.gfile.makedirs(out_dir)
    files = _checked_files(spec, order).as_numpy_iterator()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(spec), desc=f"{spec.name}/{spec.split}", unit="ex")
    shards, examples = [], []
    for index in range(num_shards):
        name = shard_name(spec.split, index, num_shards)
        final = _join(out_dir, name)
        count = bounds[index + 1] - bounds[index]
        with _written_atomically(final) as temporary:
            _write_shard(temporary, files, count, spec.root, examples, bar)
        shards.append({"file": name, "count": count})
    if bar is not None:
        bar.close()
    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "dataset": spec.name,
        "split": spec.split,
        "num_examples": len(spec),
        "num_classes": spec.num_classes,
        "class_names": list(spec.class_names),
        "palette": spec.palette.tolist(),
        "ignore_label": spec.ignore_label,
        "label_lut": spec.label_lut.tolist(),
        "label_color_codes": None
        if spec.label_color_codes is None
        else spec.label_color_codes.tolist(),
        "shards": shards,
        "examples": examples,
    }
    with _written_atomically(_join(out_dir, f"{spec.split}.json")) as path:
        with tf.io.gfile.GFile(path, "w") as handle:
            handle.write(json.dumps(metadata))
    return metadata


def read_metadata(data_dir: str, split: str) -> dict:
    """The ``<split>.json`` of a TFRecord folder, checked."""
    path = _join(str(data_dir), f"{split}.json")
    if not tf.io.gfile.exists(path):
        found = sorted(
            name[: -len(".json")]
            for name in (
                tf.io.gfile.listdir(str(data_dir))
                if tf.io.gfile.isdir(str(data_dir))
                else []
            )
            if name.endswith(".json")
        )
        raise FileNotFoundError(
            f"No TFRecord split {split!r} in {data_dir}: {path} is missing "
            f"(splits found: {', '.join(found) or 'none'}). Write it with "
            f"fastfcn to-tfrecord --splits {split} "
            f"--out {data_dir} ..."
        )
    with tf.io.gfile.GFile(path) as handle:
        try:
            metadata = json.loads(handle.read())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}.") from None
    if metadata.get("format") != FORMAT or metadata.get("version") != VERSION:
        raise ValueError(
            f"{path} is not a {FORMAT} v{VERSION} metadata file; re-create the "
            "folder with fastfcn to-tfrecord."
        )
    return metadata


def count_records(path: str) -> int:
    """Records in one shard, reading every record (CRC-checked).

    Raises:
        ValueError: The shard is corrupt or cut off; the message names it.
    """
    count = 0
    try:
        for _ in tf.data.TFRecordDataset(path):
            count += 1
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        raise ValueError(
            f"TFRecord shard {path} is corrupt after {count} good records "
            f"({error.message.splitlines()[0]}); re-create it with "
            "fastfcn to-tfrecord."
        ) from None
    return count


def verify_shards(records: tuple[str, ...], counts: tuple[int, ...]) -> None:
    """Reads every shard once; raises `ValueError` naming a corrupt,
    truncated or missing shard, or one whose count differs from the
    metadata (``counts``)."""
    for path, expected in zip(records, counts):
        if not tf.io.gfile.exists(path):
            raise FileNotFoundError(f"TFRecord shard {path} is missing.")
        found = count_records(path)
        if found != expected:
            raise ValueError(
                f"TFRecord shard {path} holds {found} records but its "
                f"metadata says {expected}; it was changed or cut off. "
                "Re-create it with fastfcn to-tfrecord."
            )


def load_tfrecord_split(
    data_dir: str,
    split: str,
    name: str | None = None,
    verify: bool = True,
) -> DatasetSpec:
    """A `DatasetSpec` reading the TFRecords of one split.

    Args:
        data_dir: Folder written by `write_tfrecords`.
        split: Split name, e.g. ``"train"``.
        name: Expected dataset name (checked against the metadata); None
            accepts any.
        verify: Read every shard once now, so a corrupt or truncated shard
            is reported by name before training starts.

    Raises:
        FileNotFoundError: No such split, or a shard is missing.
        ValueError: Wrong dataset, or a corrupt shard.
    """
    metadata = read_metadata(data_dir, split)
    if name is not None and metadata["dataset"] != name:
        raise ValueError(
            f"{data_dir} holds TFRecords of dataset {metadata['dataset']!r}, "
            f"not {name!r}; pass --dataset {metadata['dataset']}."
        )
    records = tuple(_join(str(data_dir), s["file"]) for s in metadata["shards"])
    counts = tuple(int(s["count"]) for s in metadata["shards"])
    codes = metadata["label_color_codes"]
    if codes is not None:
        codes = np.asarray(codes, np.uint8)
    spec = DatasetSpec(
        name=metadata["dataset"],
        split=metadata["split"],
        num_classes=metadata["num_classes"],
        class_names=tuple(metadata["class_names"]),
        palette=np.asarray(metadata["palette"], np.uint8),
        pairs=tuple(tuple(pair) for pair in metadata["examples"]),
        label_lut=np.asarray(metadata["label_lut"], np.int32),
        ignore_label=metadata["ignore_label"],
        root=str(data_dir),
        label_color_codes=codes,
        records=records,
    )
    if sum(counts) != len(spec):
        raise ValueError(
            f"{data_dir}/{split}.json lists {len(spec)} examples but its "
            f"shards add up to {sum(counts)}; re-create the folder."
        )
    if verify:
        verify_shards(records, counts)
    return spec


def make_record_decoder(
    spec: DatasetSpec,
) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]:
    """Returns ``decode(serialized) -> (image, label, image_name)``:
    uint8 ``(height, width, 3)``, int32 ``(height, width)`` train ids,
    scalar string. The decoded size is checked against the stored one.
    TFDS shards (``spec.tfds_source``) are parsed with the builder's
    feature spec instead."""
    if spec.tfds_source is not None:
        return spec.tfds_source.record_decoder(spec)
    decode_pair = make_example_decoder(spec)

    def decode(serialized):
        record = tf.io.parse_single_example(serialized, RECORD_FEATURES)
        image, label = decode_pair(
            record["image/encoded"],
            record["label/encoded"],
            record["image/filename"],
            record["label/filename"],
        )
        stored = tf.stack([record["image/height"], record["image/width"]])
        same = tf.reduce_all(tf.equal(tf.shape(image, tf.int64)[:2], stored))
        check = tf.debugging.Assert(
            same,
            [
                tf.strings.join(
                    [
                        "TFRecord example ",
                        record["image/filename"],
                        " decodes to a different size than stored; the "
                        "record is corrupt, re-create the shards",
                    ]
                )
            ],
        )
        with tf.control_dependencies([check] if check is not None else []):
            image = tf.identity(image)
        return image, label, record["image/filename"]

    return decode
