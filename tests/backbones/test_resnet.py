import numpy as np
import pytest

from keras_fastfcn.backbones.resnet import ResNetBackbone
from keras_fastfcn.backbones.resnet import block_dilations
from tests.helpers import randomize_weights
from tests.helpers import to_numpy


def _dilation(model, layer_name):
    return model.get_layer(layer_name).dilation_rate[0]


@pytest.mark.parametrize(
    "output_stride,strides",
    [(32, (2, 4, 8, 16, 32)), (16, (2, 4, 8, 16, 16)), (8, (2, 4, 8, 8, 8))],
)
def test_feature_strides_and_channels(output_stride, strides):
    model = ResNetBackbone(depth=50, output_stride=output_stride, base_width=8)
    features = to_numpy(model(np.zeros((1, 64, 96, 3), "float32")))
    for k, stride in enumerate(strides, start=1):
        h, w, c = features[f"stage{k}"].shape[1:]
        assert (h, w) == (64 // stride, 96 // stride)
    channels = [features[f"stage{k}"].shape[-1] for k in range(1, 6)]
    assert channels == [16, 32, 64, 128, 256]


def test_official_dilation_quirk_of_first_dilated_block():
    model = ResNetBackbone(depth=50, output_stride=8, base_width=8)
    assert _dilation(model, "layer3-0-conv2") == 1
    assert _dilation(model, "layer3-1-conv2") == 2
    assert _dilation(model, "layer4-0-conv2") == 2
    assert _dilation(model, "layer4-2-conv2") == 4
    model = ResNetBackbone(depth=50, output_stride=16, base_width=8)
    assert _dilation(model, "layer4-0-conv2") == 1
    assert _dilation(model, "layer4-1-conv2") == 2


def test_basic_block_dilations_follow_official_basic_block():
    model = ResNetBackbone(depth=18, output_stride=8, base_width=8)
    assert _dilation(model, "layer4-0-conv1") == 2
    assert _dilation(model, "layer4-0-conv2") == 4
    assert _dilation(model, "layer4-1-conv1") == 4


def test_multi_grid():
    assert block_dilations(4, 3, (1, 2, 4)) == [4, 8, 16]
    assert block_dilations(4, 3) == [2, 4, 4]
    with pytest.raises(ValueError, match="one rate per block"):
        block_dilations(4, 3, (1, 2))


@pytest.mark.large
@pytest.mark.parametrize(
    "depth,expected",
    [(50, 23_631_808), (101, 42_623_936)],  # official counts without fc
)
def test_deep_stem_parameter_counts_match_official(depth, expected):
    model = ResNetBackbone(depth=depth)
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == (
        expected
    )


def test_official_key_names_of_deep_stem():
    model = ResNetBackbone(depth=18, base_width=8)
    names = {layer.name for layer in model.layers}
    assert {
        "conv1-0",
        "conv1-1",
        "conv1-3",
        "conv1-4",
        "conv1-6",
        "bn1",
    } <= names
    assert {"layer1-0-downsample-0", "layer2-1-conv2", "layer4-1-bn2"} <= names


def test_stride_two_padding_is_symmetric_like_pytorch():
    # A 3x3 stride-2 conv with PyTorch padding 1 on an 8x8 input reads
    # rows -1..1 for output row 0; Keras "same" would read rows 0..2.
    model = ResNetBackbone(depth=18, base_width=8)
    conv = model.get_layer("conv1-0")
    kernel = np.zeros(conv.kernel.shape, "float32")
    kernel[0, 0, 0, 0] = 1.0  # top-left tap reads input (2i-1, 2j-1)
    conv.kernel.assign(kernel)
    image = np.arange(64, dtype="float32").reshape(1, 8, 8, 1)
    image = np.repeat(image, 3, axis=-1)
    pad = model.get_layer("conv1-0_pad")
    out = to_numpy(conv(pad(image)))[0, :, :, 0]
    assert out[0, 0] == 0.0  # padding
    assert out[1, 1] == image[0, 1, 1, 0]


def test_standard_stem_and_round_trip(tmp_path):
    model = ResNetBackbone(depth=34, stem="standard", base_width=8)
    randomize_weights(model)
    x = np.random.default_rng(0).normal(size=(1, 64, 64, 3)).astype("float32")
    expected = to_numpy(model(x))
    path = tmp_path / "backbone.keras"
    model.save(path)
    import keras

    restored = keras.models.load_model(path)
    assert isinstance(restored, ResNetBackbone)
    assert restored.get_config() == model.get_config()
    actual = to_numpy(restored(x))
    for key in expected:
        np.testing.assert_allclose(actual[key], expected[key], atol=1e-5)
    assert set(model.pyramid_outputs) == {"P2", "P3", "P4", "P5"}


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"depth": 42}, "depth must be one of"),
        ({"output_stride": 4}, "output_stride must be one of"),
        ({"stem": "wide"}, "stem must be one of"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ResNetBackbone(**kwargs)
