"""Class weights from training label counts (issue #20): hand-computed
weights, counting through the lookup table, and the JSON cache."""

import json

import numpy as np
import pytest
from PIL import Image

from keras_fastfcn.data import class_weights as cw
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data.labels import map_raw_labels
from keras_fastfcn.data.labels import shifted_lut
from keras_fastfcn.data.spec import DatasetSpec

# Two 2x4 label maps, 4 classes, raw 0 = ignored and raw k = class k - 1
# (shifted_lut). In class ids (I = ignored):
#   image a: 0 0 0 0 / 1 1 I I   -> class 0: 4, class 1: 2, ignored: 2
#   image b: 0 0 2 2 / 2 2 2 2   -> class 0: 2, class 2: 6
# class 3 never occurs.
RAW_A = np.array([[1, 1, 1, 1], [2, 2, 0, 0]], np.uint8)
RAW_B = np.array([[1, 1, 3, 3], [3, 3, 3, 3]], np.uint8)
PIXELS = [6, 2, 6, 0]
IMAGE_PIXELS = [16, 8, 8, 0]  # class 0 in a and b; 1 in a; 2 in b
# ENet: p = 6/14, 2/14, 6/14 -> 1 / ln(1.02 + p)
ENET = [2.6984883, 6.6277823, 2.6984883, 0.0]
# freq = 6/16, 2/8, 6/8 = 0.375, 0.25, 0.75; median 0.375
MEDIAN_FREQUENCY = [1.0, 1.5, 0.5, 0.0]


def toy_spec(folder, name="toy", split="train", labels=(RAW_A, RAW_B)):
    folder.mkdir(parents=True, exist_ok=True)
    pairs = []
    for i, raw in enumerate(labels):
        image = folder / f"{i}.jpg"
        label = folder / f"{i}.png"
        Image.fromarray(np.zeros((*raw.shape, 3), np.uint8)).save(image)
        Image.fromarray(raw, mode="L").save(label)
        pairs.append((str(image), str(label)))
    return DatasetSpec(
        name=name,
        split=split,
        num_classes=4,
        class_names=("a", "b", "c", "d"),
        palette=np.zeros((4, 3), np.uint8),
        pairs=tuple(pairs),
        label_lut=shifted_lut(4),
        root=str(folder),
    )


def test_weights_from_a_known_histogram():
    np.testing.assert_allclose(cw.enet_weights(PIXELS), ENET, atol=1e-6)
    np.testing.assert_allclose(
        cw.median_frequency_weights(PIXELS, IMAGE_PIXELS),
        MEDIAN_FREQUENCY,
        atol=1e-12,
    )
    # Even number of present classes: the median is the mean of the middle
    # two. freq = 0.5, 0.25 -> median 0.375 -> 0.75, 1.5.
    np.testing.assert_allclose(
        cw.median_frequency_weights([5, 2], [10, 8]), [0.75, 1.5]
    )
    assert cw.enet_weights([0, 0]).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="enet"):
        cw.weights_from_counts("inverse", {"pixels": PIXELS})


def test_counting_uses_the_lookup_table_and_ignore_label(tmp_path):
    counts = cw.count_class_pixels(toy_spec(tmp_path), progress=False)
    assert counts == {
        "pixels": PIXELS,
        "image_pixels": IMAGE_PIXELS,
        "ignored": 2,
        "images": 2,
    }


def test_class_weights_for_caches_and_recounts(tmp_path, monkeypatch, capsys):
    spec = toy_spec(tmp_path / "data")
    run = tmp_path / "run"
    with pytest.warns(UserWarning, match=r"weight 0: \['d'\]"):
        weights = cw.class_weights_for("median_frequency", spec, run)
    assert weights == pytest.approx(MEDIAN_FREQUENCY)
    printed = capsys.readouterr().out
    assert "class weights (median_frequency)" in printed
    assert "1.5000" in printed  # the weight of class b
    cache = json.loads((run / cw.CACHE_NAME).read_text())
    assert cache["counts"]["pixels"] == PIXELS
    assert cache["key"]["dataset"] == "toy"

    calls = []
    real_count = cw.count_class_pixels

    def counting(spec, progress=True):
        calls.append(spec.split)
        return real_count(spec, progress=progress)

    monkeypatch.setattr(cw, "count_class_pixels", counting)
    with pytest.warns(UserWarning):
        weights = cw.class_weights_for("enet", spec, run)
    assert calls == []  # reused: same split, other method
    assert weights == pytest.approx(ENET, abs=1e-6)

    # Another split (one label only) is counted again and replaces the cache.
    other = toy_spec(tmp_path / "val", split="val", labels=(RAW_B,))
    with pytest.warns(UserWarning):
        weights = cw.class_weights_for("median_frequency", other, run)
    assert calls == ["val"]
    # class 0: 2/8, class 2: 6/8 -> median 0.5 -> 2, 0 (b, d absent)
    assert weights == pytest.approx([2.0, 0.0, 2 / 3, 0.0])
    assert json.loads((run / cw.CACHE_NAME).read_text())["key"]["split"] == (
        "val"
    )
    # Another dataset name with the same files is counted again too.
    renamed = toy_spec(tmp_path / "val", name="toy2", split="val")
    with pytest.warns(UserWarning):
        cw.class_weights_for("enet", renamed, run)
    assert calls == ["val", "val"]


def test_sample_counts_match_numpy_and_tfrecords(sample_records, tmp_path):
    spec = load_dataset("sample", split="train")
    counts = cw.count_class_pixels(spec, progress=False)
    pixels = np.zeros(spec.num_classes, np.int64)
    ignored = 0
    for path in spec.label_paths:
        mapped = map_raw_labels(np.asarray(Image.open(path)), spec.label_lut)
        pixels += np.bincount(
            mapped[mapped != spec.ignore_label], minlength=spec.num_classes
        )
        ignored += int((mapped == spec.ignore_label).sum())
    assert counts["pixels"] == pixels.tolist()
    assert counts["ignored"] == ignored
    assert counts["images"] == len(spec)
    records = load_dataset(
        "sample", str(sample_records), split="train", data_format="tfrecord"
    )
    assert cw.count_class_pixels(records, progress=False) == counts
    assert cw.counts_key(records) != cw.counts_key(spec)


def test_training_class_weights_from_a_config(tmp_path):
    from keras_fastfcn.config import TrainConfig

    config = TrainConfig(dataset="sample", output_dir=str(tmp_path))
    assert cw.training_class_weights(config, 11) is None
    config.class_weights = [1, 2.5]
    assert cw.training_class_weights(config, 2) == [1.0, 2.5]
    with pytest.raises(ValueError, match="one finite weight per class"):
        cw.training_class_weights(config, 11)
    config.class_weights = "enet"
    weights = cw.training_class_weights(config, 11)
    assert (tmp_path / cw.CACHE_NAME).is_file()
    counts = json.loads((tmp_path / cw.CACHE_NAME).read_text())["counts"]
    np.testing.assert_allclose(weights, cw.enet_weights(counts["pixels"]))
