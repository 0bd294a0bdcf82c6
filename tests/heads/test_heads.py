import numpy as np
import pytest

from keras_fastfcn.heads.deeplabv3_head import DeepLabV3Head
from keras_fastfcn.heads.enc_head import EncHead
from keras_fastfcn.heads.fcn_head import FCNHead
from keras_fastfcn.heads.psp_head import PSPHead
from tests import numpy_reference as ref
from tests.helpers import assert_layer_round_trip
from tests.helpers import bn_params
from tests.helpers import randomize_weights
from tests.helpers import to_numpy
from tests.helpers import weights_by_path

X = np.random.default_rng(0).normal(size=(2, 6, 5, 32)).astype("float32")


def _count(layer):
    return sum(int(np.prod(v.shape)) for v in layer.trainable_weights)


@pytest.mark.parametrize(
    "head",
    [
        FCNHead(7),
        PSPHead(7),
        DeepLabV3Head(7, rates=(1, 2, 3)),
        EncHead(7, se_loss=False, num_codes=4),
    ],
    ids=["fcn", "psp", "deeplabv3", "encnet"],
)
def test_head_shapes_and_round_trip(head, tmp_path):
    assert to_numpy(head(X)).shape == (2, 6, 5, 7)
    randomize_weights(head)
    assert_layer_round_trip(head, X, tmp_path)


def test_enc_head_with_se_returns_logits_and_se(tmp_path):
    head = EncHead(7, conv_kernel_size=1, num_codes=4)
    logits, se = to_numpy(head(X))
    assert logits.shape == (2, 6, 5, 7) and se.shape == (2, 7)
    assert weights_by_path(head)["conv5-0/kernel"].shape == (1, 1, 32, 8)
    assert_layer_round_trip(head, X, tmp_path)


def test_fcn_head_matches_numpy_reference():
    head = FCNHead(3)
    head(X)
    randomize_weights(head, seed=1)
    w = weights_by_path(head)
    y = ref.conv2d(X, w["conv5-0/kernel"])
    y = ref.relu(ref.batch_norm(y, *bn_params(w, "conv5-1")))
    y = ref.conv2d(y, w["conv5-4/kernel"], w["conv5-4/bias"])
    np.testing.assert_allclose(
        to_numpy(head(X, training=False)), y, atol=1e-4, rtol=1e-4
    )


@pytest.mark.large
@pytest.mark.parametrize(
    "head,expected",
    [
        # Official component counts at 150 classes on 2048 channels.
        (FCNHead(150), 9_515_158),
        (PSPHead(150), 23_150_742),
        (DeepLabV3Head(150), 16_163_990),
        (EncHead(150, conv_kernel_size=3), 10_134_412),
        (EncHead(150, conv_kernel_size=1), 1_745_804),
    ],
    ids=["fcn", "psp", "deeplabv3", "encnet_dilated", "encnet_jpu"],
)
def test_head_parameter_counts_match_official(head, expected):
    head(np.zeros((1, 4, 4, 2048), "float32"))
    assert _count(head) == expected


def test_aux_head_parameter_count_matches_official():
    head = FCNHead(150)
    head(np.zeros((1, 4, 4, 1024), "float32"))
    assert _count(head) == 2_398_358


@pytest.mark.parametrize("training", [False, True])
def test_psp_head_folds_the_pyramid_into_its_fusion_convolution(
    training, monkeypatch
):
    """With known sizes, PSPHead never builds the `(batch, h, w, 2C)`
    concatenation (PyramidPooling.call is not run) and gives the same
    logits, in inference and training (BatchNorm on batch statistics), as
    the straightforward pyramid + 3x3 convolution that `"direct"` runs."""
    from keras_fastfcn.fast import fast_paths
    from keras_fastfcn.layers import PyramidPooling

    head = PSPHead(5, dropout=0.0)
    x = np.random.default_rng(4).normal(size=(2, 13, 10, 32)).astype("f4")
    head(x)
    randomize_weights(head, seed=2)
    with fast_paths("portable"):
        expected = to_numpy(head(x, training=training))

    def concatenation_built(self, *args, **kwargs):
        raise AssertionError("PyramidPooling.call ran")

    monkeypatch.setattr(PyramidPooling, "call", concatenation_built)
    actual = to_numpy(head(x, training=training))
    scale = np.abs(expected).max()
    assert np.abs(actual - expected).max() <= 1e-5 * scale
