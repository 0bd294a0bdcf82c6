"""Trainable parameter counts equal the official PyTorch models'.

Official counts (150 classes, no aux, without the unused backbone `fc`),
from `sum(p.numel() for p in model.parameters())` of wuhuikai/FastFCN.
"""

import numpy as np
import pytest

import keras_fastfcn

OFFICIAL = [
    ("encnet", "resnet50", 33_766_220),
    ("encnet_jpu", "resnet50", 45_113_164),
    ("encnet_jpux", "resnet50", 45_096_780),
    ("encnet_jpu", "resnet101", 64_105_292),
    ("psp_jpu", "resnet50", 66_518_102),
    ("deeplabv3_jpu", "resnet50", 59_531_350),
    ("fcn_jpu", "resnet50", 52_882_518),
    ("psp", "resnet50", 46_782_550),
    ("deeplabv3", "resnet50", 39_795_798),
]


def _count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


pytestmark = pytest.mark.large


@pytest.mark.parametrize("name,backbone,expected", OFFICIAL)
def test_parameter_count_equals_official(name, backbone, expected):
    model = keras_fastfcn.build_model(
        name, backbone, 150, se_loss=name.startswith("encnet")
    )
    assert _count(model) == expected


def test_aux_head_adds_official_count():
    model = keras_fastfcn.build_model("fcn_jpu", "resnet50", 150, aux=True)
    assert _count(model) == 52_882_518 + 2_398_358
