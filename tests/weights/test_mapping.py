"""Keras variable <-> official key mapping (no torch needed)."""

import numpy as np
import pytest

import keras_fastfcn
from keras_fastfcn.weights import infer_architecture
from keras_fastfcn.weights import tensor_mappings
from keras_fastfcn.weights.mapping import to_keras_layout
from keras_fastfcn.weights.mapping import to_torch_layout


def _tiny(name, backbone="resnet50", **kwargs):
    return keras_fastfcn.build_model(
        name, backbone, 5, base_width=8, neck_width=64, **kwargs
    )


@pytest.fixture(scope="module")
def encnet_jpux():
    return _tiny("encnet_jpux", aux=True, se_loss=True)


def test_layouts_move_elements_as_pytorch_to_keras():
    conv = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)  # (O, I, kh, kw)
    keras_conv = to_keras_layout(conv, "conv")
    assert keras_conv.shape == (4, 5, 3, 2)
    assert keras_conv[3, 1, 2, 1] == conv[1, 2, 3, 1]
    depthwise = np.arange(6 * 9).reshape(6, 1, 3, 3)  # (C, 1, kh, kw)
    keras_depthwise = to_keras_layout(depthwise, "depthwise")
    assert keras_depthwise.shape == (3, 3, 6, 1)
    assert keras_depthwise[2, 0, 4, 0] == depthwise[4, 0, 2, 0]
    linear = np.arange(6).reshape(2, 3)  # (out, in)
    assert to_keras_layout(linear, "dense")[2, 1] == linear[1, 2]
    codewords = np.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(to_keras_layout(codewords, "copy"), codewords)
    for layout, array in (
        ("conv", conv),
        ("depthwise", depthwise),
        ("dense", linear),
    ):
        back = to_torch_layout(to_keras_layout(array, layout), layout)
        np.testing.assert_array_equal(back, array)


def test_keys_and_layouts_of_an_encnet_jpux_model(encnet_jpux):
    model = encnet_jpux
    by_key = {m.key: m for m in tensor_mappings(model)}
    assert len(by_key) == len(model.weights)
    expected = {
        "pretrained.conv1.0.weight": ("conv", (8, 3, 3, 3)),
        "pretrained.conv1.1.running_var": ("copy", (8,)),
        "pretrained.layer1.0.downsample.0.weight": ("conv", (32, 16, 1, 1)),
        "pretrained.layer4.2.bn3.bias": ("copy", (256,)),
        "jpu.jum_1.dilation1.0.conv1.weight": ("depthwise", (64, 1, 3, 3)),
        "jpu.jum_1.dilation1.0.bn.weight": ("copy", (64,)),
        "jpu.jum_2.conv_h.0.weight": ("conv", (64, 128, 3, 3)),
        "jpu.jum_2.dilation3.1.bias": ("copy", (64,)),
        "head.encmodule.encoding.3.codewords": ("copy", (32, 64)),
        "head.encmodule.encoding.3.scale": ("copy", (32,)),
        "head.encmodule.encoding.4.running_mean": ("copy", (32,)),
        "head.encmodule.fc.0.weight": ("dense", (64, 64)),
        "head.encmodule.selayer.weight": ("dense", (5, 64)),
        "head.conv6.1.bias": ("copy", (5,)),
        "auxlayer.conv5.4.weight": ("conv", (5, 32, 1, 1)),
    }
    for key, (layout, shape) in expected.items():
        assert by_key[key].layout == layout, key
        assert by_key[key].official_shape == shape, key
    # Output layers (logits, aux_logits, se_logits) own no variables.
    assert not [
        k
        for k in by_key
        if k.split(".")[0] not in ("pretrained", "jpu", "head", "auxlayer")
    ]


@pytest.mark.parametrize(
    "name,keys",
    [
        ("psp", ["head.conv5.0.conv4.1.weight", "head.conv5.5.weight"]),
        (
            "deeplabv3_jpu",
            [
                "head.aspp.b4.gap.1.weight",
                "head.aspp.b4.gap.2.running_mean",
                "head.aspp.project.0.weight",
                "head.block.4.bias",
                "jpu.dilation4.0.pointwise.weight",
            ],
        ),
        ("fcn", ["head.conv5.0.weight", "head.conv5.4.bias"]),
    ],
)
def test_head_keys_follow_the_official_modules(name, keys):
    # Head keys do not depend on the backbone: use the light ResNet-18.
    mapped = {m.key for m in tensor_mappings(_tiny(name, "resnet18"))}
    assert set(keys) <= mapped


def test_full_size_key_count_equals_the_official_state_dict():
    # Official EncNet+JPU R50 (aux, se_loss): 431 keys = 359 tensors
    # + 70 num_batches_tracked + pretrained.fc.{weight,bias}.
    model = keras_fastfcn.build_model(
        "encnet_jpu", "resnet50", 150, aux=True, se_loss=True
    )
    mappings = tensor_mappings(model)
    assert len(mappings) == 359
    n_values = sum(int(np.prod(m.shape)) for m in mappings)
    # 49,636,176 elements - 70 counters - 2,049,000 fc.
    assert n_values == 49_636_176 - 70 - 2_049_000


def _zeros_state(model):
    return {m.key: np.zeros(m.official_shape) for m in tensor_mappings(model)}


def test_architecture_is_read_from_keys(encnet_jpux):
    arch = infer_architecture(_zeros_state(encnet_jpux))
    assert (arch.model, arch.backbone, arch.num_classes) == (
        "encnet_jpux",
        "resnet50",
        5,
    )
    assert (arch.aux, arch.se_loss, arch.stem) == (True, True, "deep")
    assert (arch.base_width, arch.neck_width) == (8, 64)
    arch = infer_architecture(_zeros_state(_tiny("deeplabv3", "resnet18")))
    assert (arch.model, arch.aux, arch.se_loss) == ("deeplabv3", False, False)
    backbone = keras_fastfcn.ResNetBackbone(34, stem="standard", base_width=8)
    arch = infer_architecture(_zeros_state(backbone))
    assert (arch.model, arch.backbone, arch.stem) == (
        None,
        "resnet34",
        "standard",
    )
