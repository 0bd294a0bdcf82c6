"""`decoder_width`: the stride-4 `DetailDecoder` inside a whole model."""

import numpy as np
import pytest

import keras_fastfcn
from tests.helpers import randomize_weights
from tests.helpers import to_numpy


def _model(decoder_width, **kwargs):
    return keras_fastfcn.build_model(
        "encnet_jpu",
        "resnet18",
        4,
        base_width=8,
        neck_width=8,
        decoder_width=decoder_width,
        **kwargs,
    )


def test_decoder_refines_at_stride_4_before_the_final_upsampling():
    model = _model(6, aux=True, se_loss=True, input_shape=(64, 96, 3))
    decoder = model.get_layer("decoder")
    assert (decoder.num_classes, decoder.width) == (4, 6)
    x = np.zeros((1, 64, 96, 3), "float32")
    outputs = to_numpy(model(x))
    assert outputs["logits"].shape == (1, 64, 96, 4)
    assert outputs["aux_logits"].shape == (1, 64, 96, 4)
    assert outputs["se_logits"].shape == (1, 4)
    # the decoder reads the stride-8 logits and the stride-4 stage 2
    assert tuple(decoder.input[0].shape[1:3]) == (8, 12)
    assert tuple(decoder.input[1].shape[1:3]) == (16, 24)


def test_decoder_adds_only_its_own_weights():
    plain, refined = _model(0), _model(6)
    assert not any(layer.name == "decoder" for layer in plain.layers)
    decoder = refined.get_layer("decoder")
    assert refined.count_params() == (
        plain.count_params() + decoder.count_params()
    )
    # reduce 8 -> 3 (1x1), fuse (4 + 3) -> 6 and 6 -> 6 (3x3), classify 6 -> 4
    convs = 8 * 3 + 9 * 7 * 6 + 9 * 6 * 6 + 6 * 4 + 4
    batch_norms = 4 * (3 + 6 + 6)
    assert decoder.count_params() == convs + batch_norms


def test_trained_decoder_outputs_differ_from_plain_upsampling():
    model = _model(6)
    randomize_weights(model, seed=5)
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
    refined = to_numpy(model(x, training=False))
    model.get_layer("decoder").classifier[1].kernel.assign(
        np.zeros((1, 1, 6, 4), "float32")
    )
    model.get_layer("decoder").classifier[1].bias.assign(
        np.zeros((4,), "float32")
    )
    plain = to_numpy(model(x, training=False))
    assert np.abs(refined - plain).max() > 1e-2


def test_negative_decoder_width_is_refused():
    with pytest.raises(ValueError, match="decoder_width must be 0"):
        _model(-1)


def test_weights_of_a_decoder_model_load_through_the_command_line_options(
    tmp_path,
):
    import argparse

    from keras_fastfcn.cli.model_options import add_model_arguments
    from keras_fastfcn.cli.model_options import model_from_arguments

    model = _model(6)
    randomize_weights(model, seed=2)
    path = tmp_path / "m.weights.h5"
    model.save_weights(path)
    parser = argparse.ArgumentParser()
    add_model_arguments(parser)
    common = ["--weights", str(path), "--num-classes", "4"]
    common += ["--backbone", "resnet18", "--base-width", "8"]
    common += ["--neck-width", "8"]
    args = parser.parse_args(common + ["--decoder-width", "6"])
    x = np.random.default_rng(1).normal(size=(1, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(
        to_numpy(model_from_arguments(args)(x, training=False)),
        to_numpy(model(x, training=False)),
        atol=1e-5,
    )
    with pytest.raises(ValueError, match="--decoder-width"):
        model_from_arguments(parser.parse_args(common))
