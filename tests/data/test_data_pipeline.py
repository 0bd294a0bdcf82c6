"""tf.data pipelines: shapes, order, determinism, resuming, eval modes."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from keras_fastfcn.benchmarks.input_pipeline import measure_throughput
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data import make_eval_dataset
from keras_fastfcn.data import make_train_dataset
from keras_fastfcn.data.pipeline import _file_order
from tests.data import fakes


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """Five 6x8 pairs; example k's label is filled with class k."""
    root = tmp_path_factory.mktemp("folder")
    for k in range(5):
        fakes.write_image(root / "images/train" / f"{k}.png", seed=k)
        fakes.write_label(
            root / "labels/train" / f"{k}.png", np.full((6, 8), k)
        )
    return load_dataset("folder", root, num_classes=5)


def _batches(dataset, count):
    return [tuple(t.numpy() for t in batch) for batch in dataset.take(count)]


def _example_ids(batches):
    """Class of each example (labels are constant per file, ignoring pad)."""
    ids = []
    for _, labels in batches:
        for label in labels:
            ids.append(int(np.min(label)))
    return ids


def test_train_batches_shapes_and_epochs(spec):
    dataset = make_train_dataset(spec, 5, crop_size=4, base_size=6, seed=1)
    assert dataset.element_spec[0].shape == (5, 4, 4, 3)
    assert dataset.element_spec[1].shape == (5, 4, 4)
    batches = _batches(dataset, 3)
    images, labels = batches[0]
    assert images.dtype == np.float32 and labels.dtype == np.int32
    assert set(np.unique(labels)) <= {0, 1, 2, 3, 4, 255}
    ids = _example_ids(batches)
    for epoch in range(3):  # every epoch visits every file once
        assert sorted(ids[epoch * 5 : epoch * 5 + 5]) == [0, 1, 2, 3, 4]
    assert ids[:5] != ids[5:10] or ids[5:10] != ids[10:15]
    speed = measure_throughput(dataset, 2, 1, progress=False)
    assert speed.images == 10 and speed.images_per_second > 0
    assert "images/s" in str(speed)


def test_file_order_is_a_fresh_permutation_per_epoch():
    order = list(_file_order(50, seed=0, start_epoch=0).take(150))
    epochs = np.reshape([int(i) for i in order], (3, 50))
    for epoch in epochs:
        assert sorted(epoch) == list(range(50))
    assert len({tuple(epoch) for epoch in epochs}) == 3


def _stream(spec, seed, cache, start_example=0, parallel=tf.data.AUTOTUNE):
    return make_train_dataset(
        spec,
        2,
        crop_size=8,
        base_size=8,
        seed=seed,
        cache=cache,
        num_parallel_calls=parallel,
        start_example=start_example,
    )


@pytest.mark.parametrize("cache", [False, True])
def test_stream_is_a_function_of_seed_and_resumable(spec, cache):
    full = _batches(_stream(spec, 5, cache), 6)
    # A resumed run (3 batches of 2 consumed), decoding serially, sees
    # exactly the batches the uninterrupted parallel run saw.
    resumed = _batches(_stream(spec, 5, cache, start_example=6, parallel=1), 3)
    for a, b in zip(full[3:], resumed):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    if not cache:
        other = _batches(_stream(spec, 6, cache), 3)
        assert any(not np.array_equal(a[0], c[0]) for a, c in zip(full, other))


def test_bad_arguments(spec):
    with pytest.raises(ValueError, match="batch_size"):
        make_train_dataset(spec, 0)
    with pytest.raises(ValueError, match="start_example"):
        make_train_dataset(spec, 1, start_example=-1)
    with pytest.raises(ValueError, match="valid modes: val, full"):
        make_eval_dataset(spec, mode="test")
    with pytest.raises(ValueError, match="no examples"):
        make_train_dataset(spec.take(0), 1)


def test_eval_val_mode(spec):
    dataset = make_eval_dataset(spec, crop_size=4, mode="val", batch_size=2)
    batches = _batches(dataset, 10)
    assert [len(b[0]) for b in batches] == [2, 2, 1]
    assert batches[0][0].shape == (2, 4, 4, 3)
    # In file order, without randomness: example k holds class k.
    assert _example_ids(batches) == [0, 1, 2, 3, 4]


def test_eval_full_mode_with_paths(spec):
    dataset = make_eval_dataset(spec, mode="full", with_paths=True)
    images, labels, paths = next(iter(dataset))
    assert images.shape == (1, 6, 8, 3) and labels.shape == (1, 6, 8)
    assert paths.numpy()[0].decode() == spec.image_paths[0]
    pixels = np.asarray(Image.open(spec.image_paths[0]))  # lossless PNG
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    np.testing.assert_allclose(
        images[0].numpy(), (pixels / 255.0 - mean) / std, atol=1e-5
    )
