"""Converted checkpoints reproduce a PyTorch FastFCN, output for output.

Choice of reference: the official code is not a test dependency. Instead,
`tests/weights/torch_fastfcn.py` is a compact PyTorch re-implementation
written for these tests from the description of the official modules
(same module names, so the same state-dict keys; same concatenation orders,
dilated-ResNet quirks, align-corners resizes and Encoding maths), with
every width a parameter. It is instantiated at the official architecture
(ResNet-50 block counts, deep stem, aux and SE branches) with all widths
divided by 8 (`base_width=8, neck_width=64`), given random weights and BN
statistics, and its `state_dict` is converted into the matching tiny Keras
model. A wrong name, layout, transposition or branch order makes the
outputs differ far beyond the bound used here (the issue's: max abs diff
<= 1e-4 * max |reference|). torch (`torch==2.13.0`, a dev dependency) is
required; without it the module is skipped.

Parity of the real official code at full size is measured outside the test
suite (see the weights section of the README).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keras_fastfcn  # noqa: E402
from keras_fastfcn.weights import load_official_weights  # noqa: E402
from tests.helpers import to_numpy  # noqa: E402
from tests.weights import torch_fastfcn  # noqa: E402

NUM_CLASSES = 5
TINY = dict(base_width=8, neck_width=64)
RELATIVE_BOUND = 1e-4
SIZES = ((64, 64), (72, 88))  # a multiple of 32 and an odd size
OFFICIAL_JPU = {"": None, "_jpu": "JPU", "_jpux": "JPU_X"}
# Fast set: every component (dilated / JPU / JPU_X backbone paths, the
# EncNet, PSP and DeepLabV3 heads, EncHead's 1x1 and 3x3 conv5, SE, and the
# FCN head as the aux head of every model; test_conversion runs fcn_jpu).
FAST = ("encnet_jpu", "encnet", "psp_jpux", "deeplabv3")
SLOW = (
    "fcn_jpu",
    "encnet_jpux",
    "psp",
    "psp_jpu",
    "deeplabv3_jpu",
    "deeplabv3_jpux",
    "fcn",
    "fcn_jpux",
)


def split_name(name: str):
    head, _, neck = name.partition("_")
    return head, OFFICIAL_JPU["_" + neck if neck else ""]


def reference_and_keras(name: str, seed: int = 0):
    head, jpu = split_name(name)
    se_loss = head == "encnet"
    torch.manual_seed(seed)
    reference = torch_fastfcn.Segmenter(
        head, NUM_CLASSES, jpu, aux=True, se_loss=se_loss, **TINY
    )
    torch_fastfcn.randomize(reference, seed)
    model = keras_fastfcn.build_model(
        name, "resnet50", NUM_CLASSES, aux=True, se_loss=se_loss, **TINY
    )
    return reference, model


def relative_error(got, want) -> float:
    want = np.asarray(want, np.float64)
    return float(np.abs(np.asarray(got, np.float64) - want).max()) / float(
        np.abs(want).max()
    )


def assert_parity(reference, model, height, width, seed=0):
    images = np.random.default_rng(seed).normal(size=(1, height, width, 3))
    images = images.astype("float32")
    want = torch_fastfcn.run(reference, images)
    got = to_numpy(model(images, training=False))
    assert set(got) == set(want)
    for key in want:
        assert got[key].shape == want[key].shape, key
        error = relative_error(got[key], want[key])
        assert error <= RELATIVE_BOUND, (key, error)
    agree = np.mean(got["logits"].argmax(-1) == want["logits"].argmax(-1))
    assert agree >= 0.999


def check_model(name: str):
    reference, model = reference_and_keras(name)
    report = load_official_weights(
        model, torch_fastfcn.state_dict_numpy(reference)
    )
    assert "pretrained.fc.weight" in report.skipped
    assert all(
        key.endswith("num_batches_tracked") or key.startswith("pretrained.fc.")
        for key in report.skipped
    )
    assert len(report.loaded) == len(model.weights)
    for height, width in SIZES:
        assert_parity(reference, model, height, width)


@pytest.mark.parametrize("name", FAST)
def test_converted_model_matches_pytorch_reference(name):
    check_model(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_converted_model_matches_pytorch_reference_all_variants(name):
    check_model(name)


def test_a_wrong_layout_breaks_parity():
    # Negative control: the same check fails when one 3x3 kernel is
    # mapped with its spatial axes swapped (a plausible conversion bug).
    reference, model = reference_and_keras("encnet_jpu")
    state = torch_fastfcn.state_dict_numpy(reference)
    key = "jpu.conv3.0.weight"
    state[key] = np.ascontiguousarray(state[key].transpose(0, 1, 3, 2))
    load_official_weights(model, state)
    images = np.random.default_rng(0).normal(size=(1, 64, 64, 3))
    images = images.astype("float32")
    want = torch_fastfcn.run(reference, images)["logits"]
    got = to_numpy(model(images, training=False)["logits"])
    assert relative_error(got, want) > 100 * RELATIVE_BOUND
