"""Sharded TFRecords: exact round trips, shard counts, corrupt shards."""

import json

import numpy as np
import pytest
import tensorflow as tf

from keras_fastfcn.cli.to_tfrecord import main as to_tfrecord
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data import make_eval_dataset
from keras_fastfcn.data import make_train_dataset
from keras_fastfcn.data.tfrecord import RECORD_FEATURES
from keras_fastfcn.data.tfrecord import shard_name
from keras_fastfcn.data.tfrecord import write_tfrecords
from tests.data import fakes


def _decoded_by_name(spec):
    dataset = make_eval_dataset(spec, mode="full", with_paths=True)
    return {
        name.decode().rsplit("/", 1)[-1]: (image, label)
        for image, label, name in dataset.unbatch().as_numpy_iterator()
    }


def assert_same_examples(files_spec, records_spec) -> dict:
    """Decoded images and labels from records equal those from files."""
    from_files = _decoded_by_name(files_spec)
    from_records = _decoded_by_name(records_spec)
    assert sorted(from_files) == sorted(from_records)
    for name, (image, label) in from_files.items():
        np.testing.assert_array_equal(from_records[name][0], image)
        np.testing.assert_array_equal(from_records[name][1], label)
    return from_records


def test_round_trip_keeps_every_byte_and_pixel(sample_records):
    spec = load_dataset("sample", split="train")
    records = load_dataset(
        "sample", sample_records, "train", data_format="tfrecord"
    )
    assert len(records) == len(spec) == 20
    assert records.num_classes == spec.num_classes
    assert records.class_names == spec.class_names
    np.testing.assert_array_equal(records.palette, spec.palette)
    np.testing.assert_array_equal(records.label_lut, spec.label_lut)
    # stored bytes are the files' bytes
    stored = {}
    for path in records.records:
        for serialized in tf.data.TFRecordDataset(path):
            example = tf.io.parse_single_example(serialized, RECORD_FEATURES)
            name = example["image/filename"].numpy().decode()
            stored[name] = example
    assert len(stored) == 20
    for image_path, label_path in spec.pairs:
        name = image_path[len(spec.root) + 1 :]
        example = stored[name]
        with open(image_path, "rb") as handle:
            assert example["image/encoded"].numpy() == handle.read()
        with open(label_path, "rb") as handle:
            assert example["label/encoded"].numpy() == handle.read()
    assert_same_examples(spec, records)


def test_shard_counts_and_names(sample_records):
    metadata = json.loads((sample_records / "train.json").read_text())
    counts = [shard["count"] for shard in metadata["shards"]]
    assert counts == [5, 5, 5, 5]
    assert [shard["file"] for shard in metadata["shards"]] == [
        shard_name("train", i, 4) for i in range(4)
    ]
    for shard in metadata["shards"]:
        path = str(sample_records / shard["file"])
        assert sum(1 for _ in tf.data.TFRecordDataset(path)) == shard["count"]
    # the records are shuffled: not in the split's order
    spec = load_dataset("sample", split="train")
    original = [image[len(spec.root) + 1 :] for image, _ in spec.pairs]
    written = [image for image, _ in metadata["examples"]]
    assert sorted(written) == sorted(original) and written != original
    assert not list(sample_records.glob("*.incomplete"))


def test_more_shards_than_examples_and_cli(tmp_path, capsys):
    assert to_tfrecord(
        ["--dataset", "sample", "--out", str(tmp_path), "--splits", "val",
         "--shards", "9", "--seed", "-1"]
    ) == 0  # fmt: skip
    metadata = json.loads((tmp_path / "val.json").read_text())
    assert [s["count"] for s in metadata["shards"]] == [1] * 5
    spec = load_dataset("sample", split="val")
    assert [image for image, _ in metadata["examples"]] == [
        image[len(spec.root) + 1 :] for image, _ in spec.pairs
    ]  # --seed -1 keeps the order
    assert "5 examples in 5 shards" in capsys.readouterr().out


def test_training_stream_reads_records_deterministically(sample_records):
    records = load_dataset(
        "sample", sample_records, "train", data_format="tfrecord"
    )

    def first_batches(**kwargs):
        dataset = make_train_dataset(
            records, 4, crop_size=48, base_size=56, seed=5, **kwargs
        )
        return [batch for batch in dataset.take(6).as_numpy_iterator()]

    for cache in (False, True):
        first, again = first_batches(cache=cache), first_batches(cache=cache)
        for (x1, y1), (x2, y2) in zip(first, again):
            np.testing.assert_array_equal(x1, x2)
            np.testing.assert_array_equal(y1, y2)
        labels = np.concatenate([y for _, y in first])
        assert set(np.unique(labels)) <= set(range(11)) | {255}
        # resuming after 3 batches continues the same stream
        resumed = make_train_dataset(
            records, 4, crop_size=48, base_size=56, seed=5, cache=cache,
            start_example=12,
        )  # fmt: skip
        for (x1, _), (x2, _) in zip(first[3:], resumed.take(3)):
            np.testing.assert_array_equal(x1, x2.numpy())


def test_worker_shards_split_the_files(sample_records):
    records = load_dataset(
        "sample", sample_records, "train", data_format="tfrecord"
    )
    seen = []
    for index in range(2):
        dataset = make_train_dataset(
            records, 1, crop_size=32, base_size=40, seed=0,
            shard=(2, index), blur=False,
        )  # fmt: skip
        seen.append(
            {x.tobytes() for x, _ in dataset.take(14).as_numpy_iterator()}
        )
    assert not seen[0] & seen[1]
    with pytest.raises(ValueError, match="at least one shard per worker"):
        make_train_dataset(records, 1, shard=(5, 0))
    with pytest.raises(ValueError, match="TFRecord data"):
        make_train_dataset(load_dataset("sample"), 1, shard=(2, 0))


def test_corrupt_shard_is_named(tmp_path):
    spec = load_dataset("sample", split="val")
    write_tfrecords(spec, str(tmp_path), num_shards=2, progress=False)
    shard = tmp_path / shard_name("val", 1, 2)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip bits inside a record
    shard.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"shard {shard} is corrupt after"):
        load_dataset("sample", tmp_path, "val", data_format="tfrecord")
    # a truncated shard too
    shard.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(ValueError, match=f"shard {shard}"):
        load_dataset("sample", tmp_path, "val", data_format="tfrecord")
    shard.unlink()
    with pytest.raises(FileNotFoundError, match="is missing"):
        load_dataset("sample", tmp_path, "val", data_format="tfrecord")


def test_missing_split_and_wrong_dataset(sample_records, tmp_path):
    with pytest.raises(FileNotFoundError, match="splits found: train, val"):
        load_dataset("sample", sample_records, "test", data_format="tfrecord")
    with pytest.raises(ValueError, match="not 'camvid'; pass --dataset sample"):
        load_dataset("camvid", sample_records, "val", data_format="tfrecord")
    with pytest.raises(ValueError, match="needs data_dir"):
        load_dataset("sample", None, "val", data_format="tfrecord")
    with pytest.raises(ValueError, match="Unknown data_format 'csv'"):
        load_dataset("sample", sample_records, "val", data_format="csv")
    (tmp_path / "val.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_dataset("sample", tmp_path, "val", data_format="tfrecord")


def test_bad_file_stops_the_conversion_and_names_it(tmp_path):
    root = fakes.make_camvid(tmp_path / "camvid", [0, 1, 11])
    bad = root / "trainannot" / "0001TP_000001.png"
    fakes.write_label(bad, fakes.label_with([0, 12]))  # 12: not a CamVid id
    spec = load_dataset("camvid", root, "train")
    out = tmp_path / "records"
    with pytest.raises(tf.errors.InvalidArgumentError, match=str(bad)):
        write_tfrecords(spec, str(out), num_shards=1, progress=False)
    assert (
        not list(out.glob("*.incomplete")) and not (out / "train.json").exists()
    )


def test_colour_and_16_bit_labels_survive(tmp_path):
    root = fakes.make_camvid(tmp_path / "camvid", [0, 3, 11])
    fakes.write_label(
        root / "trainannot" / "0001TP_000000.png",
        fakes.label_with([0, 5, 11]),
        mode="I;16",
    )
    spec = load_dataset("camvid", root, "train")
    write_tfrecords(spec, str(tmp_path / "r"), num_shards=2, progress=False)
    records = load_dataset(
        "camvid", tmp_path / "r", "train", data_format="tfrecord"
    )
    from_records = assert_same_examples(spec, records)
    assert 5 in np.concatenate(
        [label.ravel() for _, label in from_records.values()]
    )
