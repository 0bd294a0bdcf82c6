"""Copy-paste of rare classes (`augment.copy_paste`, `copy_paste_classes`)."""

import numpy as np
import pytest
import tensorflow as tf

from keras_fastfcn.config import resolve_class_ids
from keras_fastfcn.data import augment
from keras_fastfcn.data import load_dataset
from keras_fastfcn.data import make_train_dataset
from tests.data import fakes


def _example(seed, height=6, width=8):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return image


def _donor():
    """A 6x8 donor: class 2 in column 1, class 5 in column 6, 0 elsewhere."""
    label = np.zeros((6, 8), np.int32)
    label[:, 1] = 2
    label[2:4, 6] = 5
    return _example(1), label


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_pastes_exactly_the_chosen_class_pixels(seed):
    image, label = _example(0), np.full((6, 8), 3, np.int32)
    donor_image, donor_label = _donor()
    out_image, out_label = augment.copy_paste(
        image, label, donor_image, donor_label, tf.constant([seed, 7]), [2], 1.0
    )
    out_image, out_label = out_image.numpy(), out_label.numpy()
    # the donor is mirrored or not; its class-2 column lands in column 1
    # or 6, and nothing of class 5 or 0 is pasted
    column = 1 if out_label[0, 1] == 2 else 6
    expected = np.full((6, 8), 3)
    expected[:, column] = 2
    np.testing.assert_array_equal(out_label, expected)
    source = donor_image if column == 1 else donor_image[:, ::-1]
    np.testing.assert_array_equal(out_image[:, column], source[:, column])
    keep = expected == 3
    np.testing.assert_array_equal(out_image[keep], image[keep])
    assert out_image.dtype == np.uint8 and out_label.dtype == np.int32


def test_both_mirror_choices_occur_and_probability_zero_is_identity():
    image, label = _example(0), np.full((6, 8), 3, np.int32)
    donor_image, donor_label = _donor()
    columns = set()
    for seed in range(20):

        def paste(probability):
            out = augment.copy_paste(
                image,
                label,
                donor_image,
                donor_label,
                tf.constant([seed, 0]),
                [2, 5],
                probability,
            )
            return [t.numpy() for t in out]

        out = paste(1.0)[1]
        columns.add(int(np.flatnonzero(out[0] == 2)[0]))
        assert np.sum(out == 5) == 2
        off_image, off_label = paste(0.0)
        np.testing.assert_array_equal(off_image, image)
        np.testing.assert_array_equal(off_label, label)
    assert columns == {1, 6}


def test_a_donor_of_another_size_is_resized_to_the_target():
    image, label = _example(0, 12, 16), np.zeros((12, 16), np.int32)
    donor_image, donor_label = _donor()  # 6x8: column 1 -> columns 2..3
    _, out = augment.copy_paste(
        image, label, donor_image, donor_label, tf.constant([0, 0]), [2], 1.0
    )
    out = out.numpy()
    assert out.shape == (12, 16)
    assert np.sum(out == 2) == 24  # a 2-wide, 12-high column
    assert set(np.unique(np.flatnonzero(out[5] == 2))) in ({2, 3}, {12, 13})


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """Four 6x8 pairs: example k is class 0 with a class-3 column at k."""
    root = tmp_path_factory.mktemp("folder")
    for k in range(4):
        label = np.zeros((6, 8))
        label[:, k] = 3
        fakes.write_image(root / "images/train" / f"{k}.png", seed=k)
        fakes.write_label(root / "labels/train" / f"{k}.png", label)
    return load_dataset("folder", root, num_classes=4)


def _labels(dataset, count=6):
    return np.stack([y.numpy() for _, y in dataset.take(count)])


@pytest.mark.parametrize("cache", [False, True])
def test_pipeline_pastes_deterministically_and_off_is_unchanged(spec, cache):
    def stream(**kwargs):
        return make_train_dataset(
            spec, 4, crop_size=6, base_size=6, seed=3, cache=cache, **kwargs
        )

    plain = _labels(stream())
    pasted = _labels(stream(copy_paste_classes=[3], copy_paste_probability=1))
    again = _labels(stream(copy_paste_classes=[3], copy_paste_probability=1))
    off = _labels(stream(copy_paste_classes=None))
    np.testing.assert_array_equal(pasted, again)
    np.testing.assert_array_equal(plain, off)
    # each example keeps its own column and usually gains the donor's
    assert np.sum(pasted == 3) > np.sum(plain == 3)
    assert set(np.unique(pasted)) <= {0, 3, 255}


def test_pipeline_rejects_a_bad_probability(spec):
    with pytest.raises(ValueError, match="copy_paste_probability"):
        make_train_dataset(
            spec, 1, copy_paste_classes=[3], copy_paste_probability=1.5
        )


def test_class_names_resolve_to_train_ids():
    names = ("sky", "building", "pole", "road", "signsymbol")
    assert resolve_class_ids(["pole", "signsymbol", 0], names) == [2, 4, 0]
    with pytest.raises(ValueError, match="unknown class 'lamp'.*'pole'"):
        resolve_class_ids(["lamp"], names)
    with pytest.raises(ValueError, match="class id 7 is outside 0..4"):
        resolve_class_ids([7], names)


def test_a_resumed_stream_pastes_what_the_full_stream_pasted(spec):
    def stream(start_example):
        return make_train_dataset(
            spec,
            2,
            crop_size=6,
            base_size=6,
            seed=5,
            start_example=start_example,
            copy_paste_classes=[3],
            copy_paste_probability=0.5,
        )

    full = [(x.numpy(), y.numpy()) for x, y in stream(0).take(6)]
    resumed = [(x.numpy(), y.numpy()) for x, y in stream(6).take(3)]
    for (a_image, a_label), (b_image, b_label) in zip(full[3:], resumed):
        np.testing.assert_array_equal(a_image, b_image)
        np.testing.assert_array_equal(a_label, b_label)
