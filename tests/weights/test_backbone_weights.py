"""ImageNet ResNet `.pth` files load into `build_model(backbone_weights=)`.

The reference is the compact PyTorch ResNet of `torch_fastfcn.py` (see
`test_parity.py` for why): the official deep-stem layout (bare
`conv1.0.weight`, ..., plus the unused `fc`) and the torchvision layout
(7x7 `conv1`, basic blocks) for the standard stem.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keras_fastfcn  # noqa: E402
from keras_fastfcn.weights import WeightMismatchError  # noqa: E402
from keras_fastfcn.weights import load_backbone_weights  # noqa: E402
from tests.helpers import to_numpy  # noqa: E402
from tests.weights import torch_fastfcn  # noqa: E402

RELATIVE_BOUND = 1e-4


def imagenet_resnet(deep_stem=True, block=None, layers=(3, 4, 6, 3)):
    block = block or torch_fastfcn.Bottleneck
    net = torch_fastfcn.ResNet(
        block, layers, width=8, deep_stem=deep_stem, num_classes=10
    )
    return torch_fastfcn.randomize(net, seed=3)


def stage_outputs(net, images):
    x = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        features = net(x)
    return [f.numpy().transpose(0, 2, 3, 1) for f in features]


def assert_backbone_matches(backbone, net, images):
    got = to_numpy(backbone(images, training=False))
    want = stage_outputs(net, images)
    for stage, expected in zip((2, 3, 4, 5), want):
        actual = got[f"stage{stage}"]
        error = np.abs(actual - expected).max() / np.abs(expected).max()
        assert error <= RELATIVE_BOUND, (stage, error)


def images(size=64):
    rng = np.random.default_rng(1)
    return rng.normal(size=(1, size, size, 3)).astype("float32")


def test_official_deep_stem_pth_loads_through_build_model(tmp_path):
    net = imagenet_resnet()
    path = tmp_path / "resnet50-tiny.pth"
    torch.save(net.state_dict(), path)
    model = keras_fastfcn.build_model(
        "encnet_jpu",
        "resnet50",
        5,
        backbone_weights=str(path),
        base_width=8,
        neck_width=16,
    )
    assert_backbone_matches(model.backbone, net, images())


def test_backbone_from_segmentation_checkpoint_skips_the_rest():
    seg = torch_fastfcn.randomize(
        torch_fastfcn.Segmenter("fcn", 5, "JPU", base_width=8, neck_width=64)
    )
    backbone = keras_fastfcn.ResNetBackbone(50, base_width=8)
    report = load_backbone_weights(
        backbone, torch_fastfcn.state_dict_numpy(seg)
    )
    assert report.skipped["pretrained.fc.weight"].startswith("unused")
    assert (
        report.skipped["jpu.conv5.0.weight"] == "tensors outside the backbone"
    )
    assert report.skipped["auxlayer.conv5.4.bias"] == (
        "tensors outside the backbone"
    )
    assert len(report.loaded) == len(backbone.weights)
    assert_backbone_matches(backbone, seg.pretrained, images())


def test_torchvision_layout_loads_into_the_standard_stem(tmp_path):
    net = imagenet_resnet(
        deep_stem=False, block=torch_fastfcn.BasicBlock, layers=(2, 2, 2, 2)
    )
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": net.state_dict()}, path)
    backbone = keras_fastfcn.ResNetBackbone(18, stem="standard", base_width=8)
    report = load_backbone_weights(backbone, path)
    assert set(report.skipped) >= {"fc.weight", "fc.bias"}
    assert_backbone_matches(backbone, net, images())


def test_wrong_depth_is_one_line_error_naming_both(tmp_path):
    net = imagenet_resnet(layers=(3, 4, 23, 3))  # a ResNet-101
    path = tmp_path / "resnet101.pth"
    torch.save(net.state_dict(), path)
    backbone = keras_fastfcn.ResNetBackbone(50, base_width=8)
    before = [to_numpy(v) for v in backbone.weights]
    with pytest.raises(WeightMismatchError) as info:
        load_backbone_weights(backbone, path)
    message = str(info.value)
    assert "\n" not in message
    assert "resnet101.pth" in message and "resnet50" in message
    assert "looks like resnet101" in message
    assert "layer3.6.conv1.weight" in info.value.unexpected
    # All or nothing: no variable changed.
    for old, variable in zip(before, backbone.weights):
        np.testing.assert_array_equal(old, to_numpy(variable))
