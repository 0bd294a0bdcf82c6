import keras
import numpy as np
import pytest

from keras_fastfcn.layers import ClassBias
from tests.helpers import assert_layer_round_trip
from tests.helpers import to_numpy


def test_class_bias_adds_one_offset_per_class():
    logits = np.random.default_rng(0).normal(size=(2, 5, 4, 3))
    logits = logits.astype("float32")
    layer = ClassBias([0.5, -1.25, 2.0])
    actual = to_numpy(layer(logits))
    assert actual.shape == (2, 5, 4, 3)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(
        actual - logits,
        np.broadcast_to(np.float32([0.5, -1.25, 2.0]), logits.shape),
        atol=1e-6,
    )


def test_class_bias_changes_the_argmax_where_scores_are_close():
    # class 1 wins by 0.3 at the first pixel, by 2 at the second: an
    # offset of +0.5 on class 0 flips only the first
    logits = np.float32([[[[0.0, 0.3], [0.0, 2.0]]]])
    out = to_numpy(ClassBias([0.5, 0.0])(logits))
    np.testing.assert_array_equal(np.argmax(out, -1), [[[0, 1]]])


def test_class_bias_refuses_a_wrong_class_count():
    with pytest.raises(ValueError, match="2 biases but its input has 3"):
        ClassBias([0.0, 1.0])(np.zeros((1, 2, 2, 3), "float32"))
    with pytest.raises(ValueError, match="one bias per class"):
        ClassBias([])


def test_class_bias_round_trip(tmp_path):
    x = np.random.default_rng(1).normal(size=(1, 3, 3, 2)).astype("float32")
    layer = ClassBias([0.25, -0.75], name="offsets")
    assert layer.get_config()["bias"] == [0.25, -0.75]
    assert_layer_round_trip(layer, x, tmp_path)
    assert (
        keras.saving.get_registered_object("keras_fastfcn>ClassBias")
        is ClassBias
    )
