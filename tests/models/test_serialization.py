import keras
import numpy as np
import pytest

import keras_fastfcn
from tests.helpers import assert_nested_close
from tests.helpers import randomize_weights
from tests.helpers import to_numpy


@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("encnet_jpu", {"aux": True, "se_loss": True}),
        ("psp", {}),
        ("deeplabv3_jpux", {"neck_width": 64}),
        ("fcn_bilinear", {"aux": True}),
        ("psp_fpn", {}),
        ("encnet_jpu", {"aux": True, "se_loss": True, "decoder_width": 8}),
        ("fcn_jpu", {"aux": True, "logit_bias": [0.5, -1.0, 0.25, 0.25]}),
    ],
)
def test_keras_file_round_trip_gives_identical_outputs(name, kwargs, tmp_path):
    options = {"base_width": 8, "neck_width": 32}
    options.update(kwargs)
    model = keras_fastfcn.build_model(name, "resnet18", 4, **options)
    randomize_weights(model, seed=3)
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
    expected = to_numpy(model(x, training=False))

    config = model.get_config()
    clone = keras_fastfcn.SegmentationModel.from_config(config)
    assert clone.get_config() == config

    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored, keras_fastfcn.SegmentationModel)
    assert restored.name == name
    assert_nested_close(to_numpy(restored(x, training=False)), expected, 1e-5)


def test_weights_file_round_trip(tmp_path):
    model = keras_fastfcn.build_model(
        "encnet_jpu", "resnet18", 3, base_width=8, neck_width=16
    )
    randomize_weights(model, seed=1)
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    other = keras_fastfcn.build_model(
        "encnet_jpu", "resnet18", 3, base_width=8, neck_width=16
    )
    other.load_weights(path)
    x = np.random.default_rng(1).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(other(x)), to_numpy(model(x)), atol=1e-6
    )
