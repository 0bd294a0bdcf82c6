"""Keras-ecosystem backbones: keras.applications and pyramid_outputs."""

import keras
import numpy as np
import pytest

import keras_fastfcn
from keras_fastfcn.backbones.keras_applications import ImageNetToCaffe
from tests.helpers import to_numpy


@pytest.mark.large
def test_keras_application_resnet50_feeds_jpu():
    model = keras_fastfcn.build_model("fcn_jpu", "keras_resnet50", 3)
    out = to_numpy(model(np.zeros((1, 64, 64, 3), "float32")))
    assert out.shape == (1, 64, 64, 3)


@pytest.mark.large
def test_backbone_weights_file_is_loaded(tmp_path):
    # Stand-in for the ImageNet file Keras would download: a weights file
    # of the same application saved locally.
    source = keras.applications.ResNet50(include_top=False, weights=None)
    kernel = source.get_layer("conv1_conv").kernel
    kernel.assign(np.full(kernel.shape, 0.125, "float32"))
    path = tmp_path / "resnet50_notop.weights.h5"
    source.save_weights(path)

    model = keras_fastfcn.build_model(
        "encnet_jpu", "keras_resnet50", 3, backbone_weights=str(path)
    )
    loaded = [
        w
        for w in model.backbone.weights
        if w.path.endswith("conv1_conv/kernel")
    ]
    assert len(loaded) == 1
    np.testing.assert_array_equal(to_numpy(loaded[0]), 0.125)


@pytest.mark.large
def test_keras_application_model_instance_is_accepted():
    app = keras.applications.ResNet50(
        include_top=False, weights=None, input_shape=(None, None, 3)
    )
    model = keras_fastfcn.build_model("psp_jpu", app, 2)
    assert to_numpy(model(np.zeros((1, 64, 64, 3)))).shape == (1, 64, 64, 2)


def test_imagenet_to_caffe_matches_keras_preprocess_input():
    rng = np.random.default_rng(0)
    pixels = rng.uniform(0, 255, size=(1, 4, 4, 3)).astype("float32")
    mean = np.array([0.485, 0.456, 0.406], "float32")
    std = np.array([0.229, 0.224, 0.225], "float32")
    normalised = (pixels / 255.0 - mean) / std
    expected = keras.applications.resnet.preprocess_input(pixels.copy())
    actual = to_numpy(ImageNetToCaffe()(normalised))
    np.testing.assert_allclose(actual, expected, atol=1e-3)


class _PyramidModel(keras.Model):
    """A keras-hub style backbone exposing `pyramid_outputs`."""

    def __init__(self):
        inputs = keras.Input((None, None, 3))
        x, pyramid = inputs, {}
        for level in range(1, 6):
            x = keras.layers.Conv2D(4 * level, 3, strides=2, padding="same")(x)
            pyramid[f"P{level}"] = x
        super().__init__(inputs, x)
        self.pyramid_outputs = pyramid


def test_pyramid_outputs_backbone_feeds_every_non_dilated_neck():
    backbone = _PyramidModel()
    for name in ("encnet_jpu", "psp_jpux", "fcn_fpn", "deeplabv3_bilinear"):
        model = keras_fastfcn.build_model(name, backbone, 3, neck_width=32)
        out = to_numpy(model(np.zeros((1, 64, 64, 3), "float32")))
        assert out.shape == (1, 64, 64, 3)


def test_pyramid_backbone_missing_levels_is_rejected():
    backbone = _PyramidModel()
    backbone.pyramid_outputs = {"P2": backbone.pyramid_outputs["P2"]}
    with pytest.raises(ValueError, match="lacks"):
        keras_fastfcn.build_model("encnet_jpu", backbone, 3)


def test_dilated_models_reject_keras_models():
    with pytest.raises(ValueError, match="no dilation"):
        keras_fastfcn.build_model("encnet", _PyramidModel(), 3)


def test_detail_decoder_reads_the_stride_4_pyramid_level():
    backbone = _PyramidModel()
    model = keras_fastfcn.build_model(
        "fcn_jpu", backbone, 3, neck_width=8, decoder_width=4
    )
    decoder = model.get_layer("decoder")
    assert tuple(decoder.input[1].shape) == (None, None, None, 8)  # P2
    assert to_numpy(model(np.zeros((1, 64, 64, 3)))).shape == (1, 64, 64, 3)


def test_detail_decoder_without_a_stride_4_level_is_refused():
    backbone = _PyramidModel()
    del backbone.pyramid_outputs["P2"]
    with pytest.raises(ValueError, match="stride-4 'stage2' features"):
        keras_fastfcn.build_model("fcn_jpu", backbone, 3, decoder_width=4)
