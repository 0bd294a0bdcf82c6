import keras
import numpy as np
import pytest

import keras_fastfcn
from tests.helpers import to_numpy

TINY = dict(base_width=8, neck_width=32)


def _tiny(name, **kwargs):
    options = dict(TINY)
    options.update(kwargs)
    return keras_fastfcn.build_model(name, "resnet18", 5, **options)


def test_list_models_has_every_paper_configuration():
    names = keras_fastfcn.list_models()
    assert len(names) == 20
    for expected in ("encnet_jpu", "psp", "deeplabv3_jpu", "fcn_jpux"):
        assert expected in names


@pytest.mark.parametrize("name", keras_fastfcn.list_models())
def test_every_model_returns_logits_at_input_resolution(name):
    model = _tiny(name)
    out = to_numpy(model(np.zeros((1, 64, 96, 3), "float32")))
    assert out.shape == (1, 64, 96, 5)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()


@pytest.mark.parametrize("size", [(64, 64), (96, 160), (72, 40), (50, 70)])
def test_dynamic_input_sizes(size):
    model = _tiny("encnet_jpu")
    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    assert to_numpy(model(x)).shape == (2, *size, 5)


def test_aux_and_se_outputs():
    model = _tiny("encnet_jpu", aux=True, se_loss=True)
    out = to_numpy(model(np.zeros((2, 64, 64, 3), "float32")))
    assert set(out) == {"logits", "aux_logits", "se_logits"}
    assert out["aux_logits"].shape == (2, 64, 64, 5)
    assert out["se_logits"].shape == (2, 5)
    assert "auxlayer" in [layer.name for layer in model.layers]


def test_aux_alone_returns_dict_without_se():
    out = to_numpy(_tiny("psp_jpu", aux=True)(np.zeros((1, 64, 64, 3))))
    assert set(out) == {"logits", "aux_logits"}


def test_encnet_head_conv_is_1x1_with_jpu_and_3x3_when_dilated():
    jpu = _tiny("encnet_jpu").get_layer("head")
    dilated = _tiny("encnet").get_layer("head")
    assert jpu.conv5[0].kernel_size == (1, 1)
    assert dilated.conv5[0].kernel_size == (3, 3)


def test_deeplab_rates_halve_at_output_stride_16():
    model = _tiny("deeplabv3", output_stride=16)
    assert model.get_layer("head").rates == (6, 12, 18)
    assert _tiny("deeplabv3_jpu").get_layer("head").rates == (12, 24, 36)


def test_mixed_precision_outputs_float32():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = _tiny("encnet_jpu", se_loss=True)
        out = model(np.zeros((1, 64, 64, 3), "float32"))
        dtype = keras.backend.standardize_dtype
        assert dtype(out["logits"].dtype) == "float32"
        assert dtype(out["se_logits"].dtype) == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: keras_fastfcn.build_model("encnet_jpx"), "Unknown model name"),
        (
            lambda: keras_fastfcn.build_model("encnet_jpu", "resnet51"),
            "Unknown backbone 'resnet51'",
        ),
        (
            lambda: keras_fastfcn.build_model("psp_jpu", se_loss=True),
            "se_loss is a class-presence output that head .psp. does not have",
        ),
        (
            lambda: keras_fastfcn.build_model("psp_jpu", output_stride=8),
            "only for dilated models",
        ),
        (
            lambda: keras_fastfcn.build_model("psp", "keras_resnet50"),
            "has no dilation",
        ),
        (
            lambda: keras_fastfcn.build_model("psp_jpu", num_classes=0),
            "num_classes must be a positive int",
        ),
    ],
)
def test_errors_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    if "Unknown" in message:
        # the message lists the valid choices
        assert "encnet_jpu" in str(info.value) or "resnet50" in str(info.value)


def test_a_head_is_one_registration(monkeypatch):
    """A new head needs a layer and one `HeadSpec`: names, building with
    every neck, and the SE rule then follow from the spec."""
    from keras_fastfcn.heads.fcn_head import FCNHead
    from keras_fastfcn.heads.registry import HEADS
    from keras_fastfcn.heads.registry import HeadSpec

    def build(num_classes, neck, stride, dropout, se_loss):
        return FCNHead(num_classes, dropout=dropout, name="head")

    spec = HeadSpec("plain", build, ("head.plain.weight",), "head.plain.weight")
    monkeypatch.setitem(HEADS, "plain", spec)
    names = set(keras_fastfcn.list_models())
    assert {"plain", "plain_jpu", "plain_fpn"} <= names
    model = keras_fastfcn.build_model(
        "plain_jpux", "resnet18", 3, base_width=8, neck_width=16
    )
    assert model(np.zeros((1, 64, 64, 3), "float32")).shape == (1, 64, 64, 3)
    with pytest.raises(ValueError, match="head 'plain' does not have"):
        keras_fastfcn.build_model("plain", "resnet18", 3, se_loss=True)
