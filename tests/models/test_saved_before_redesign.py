"""`.keras` files saved before the package redesign still load, with the
same registered layers and the same logits (tests/fixtures/
saved_before_redesign/README.md)."""

from pathlib import Path

import keras
import numpy as np
import pytest

import keras_fastfcn  # noqa: F401  (registers the layers)
from tests.helpers import to_numpy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FOLDER = FIXTURES / "saved_before_redesign"


@pytest.mark.parametrize("name", ["encnet_jpu", "psp_jpux", "deeplabv3_fpn"])
def test_old_keras_file_loads_with_the_same_logits(name):
    expected = np.load(FOLDER / "expected_logits.npz")
    model = keras.models.load_model(FOLDER / f"{name}.keras")
    assert model.name == name
    outputs = model(expected["images"], training=False)
    logits = outputs["logits"] if isinstance(outputs, dict) else outputs
    reference = expected[name]
    scale = np.abs(reference).max()
    assert scale > 0
    assert np.abs(to_numpy(logits) - reference).max() <= 1e-4 * scale
    classes = {type(layer).__name__ for layer in model._flatten_layers()}
    assert "FastConv2D" in classes
