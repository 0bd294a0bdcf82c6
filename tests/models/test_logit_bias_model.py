"""`SegmentationModel(logit_bias=...)`: a constant offset per class on the
main logits only, with the same weights as the model without it."""

import numpy as np
import pytest

import keras_fastfcn
from keras_fastfcn.weights.saving import copy_weights_by_path
from tests.helpers import to_numpy

OPTIONS = {"base_width": 8, "neck_width": 16, "aux": True}


def test_logit_bias_shifts_only_the_main_logits():
    bias = [1.5, -0.5, 0.0]
    plain = keras_fastfcn.build_model("fcn_jpu", "resnet18", 3, **OPTIONS)
    # (freshly initialised: randomised BatchNorm statistics would make
    # logits so large that float32 cannot show a 0.5 offset on them)
    shifted = keras_fastfcn.build_model(
        "fcn_jpu", "resnet18", 3, logit_bias=bias, **OPTIONS
    )
    # the offsets are no weights: the same variables fit both models
    copy_weights_by_path(plain, shifted)
    x = np.random.default_rng(0).normal(size=(1, 40, 56, 3)).astype("float32")
    expected = to_numpy(plain(x, training=False))
    actual = to_numpy(shifted(x, training=False))
    assert actual["logits"].shape == (1, 40, 56, 3)
    np.testing.assert_allclose(
        actual["logits"] - expected["logits"],
        np.broadcast_to(np.float32(bias), (1, 40, 56, 3)),
        atol=1e-4,
    )
    np.testing.assert_allclose(
        actual["aux_logits"], expected["aux_logits"], atol=1e-6
    )
    assert shifted.get_config()["logit_bias"] == bias


def test_logit_bias_needs_one_value_per_class():
    with pytest.raises(ValueError, match="2 values for 3 classes"):
        keras_fastfcn.build_model(
            "fcn_jpu", "resnet18", 3, logit_bias=[0.0, 1.0], base_width=8
        )


def test_copy_weights_by_path_refuses_another_architecture():
    small = keras_fastfcn.build_model("fcn_jpu", "resnet18", 3, base_width=8)
    other = keras_fastfcn.build_model("fcn_jpu", "resnet18", 3, **OPTIONS)
    with pytest.raises(ValueError, match="different variables"):
        copy_weights_by_path(small, other)
    wide = keras_fastfcn.build_model("fcn_jpu", "resnet18", 3, base_width=16)
    with pytest.raises(ValueError, match="shape"):
        copy_weights_by_path(small, wide)
