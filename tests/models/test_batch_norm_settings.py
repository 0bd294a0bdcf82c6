"""Every BatchNorm uses PyTorch's defaults (issue #20): momentum 0.1, which
is Keras momentum 0.9, and epsilon 1e-5 (`keras_fastfcn.layers.common`)."""

import keras
import pytest

import keras_fastfcn
from keras_fastfcn.models.registry import list_models


def batch_norms(model):
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


@pytest.mark.parametrize("name", list_models())
def test_every_batch_norm_has_pytorch_momentum_and_epsilon(name):
    model = keras_fastfcn.build_model(
        name,
        "resnet18",
        3,
        base_width=8,
        neck_width=16,
        aux=True,
        se_loss=name.startswith("encnet"),
    )
    layers = batch_norms(model)
    # the backbone's (stem, every block: 20 in ResNet-18) and the others'
    backbone = {id(layer) for layer in batch_norms(model.backbone)}
    assert len(backbone) >= 20
    assert backbone < {id(layer) for layer in layers}
    settings = {(layer.momentum, layer.epsilon) for layer in layers}
    assert settings == {(0.9, 1e-5)}, name
