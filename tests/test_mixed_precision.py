"""A training step under mixed precision keeps float32 weights and outputs."""

import keras
import numpy as np
import pytest

import keras_fastfcn
from keras_fastfcn.losses import replicate_targets
from keras_fastfcn.losses import segmentation_losses
from keras_fastfcn.schedules import build_optimizer

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="mixed_float16 loss scaling is exercised on TensorFlow",
)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_fit_under_mixed_precision(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = keras_fastfcn.build_model(
            "encnet_jpu",
            "resnet18",
            4,
            base_width=8,
            neck_width=16,
            aux=True,
            se_loss=True,
        )
        loss, weights = segmentation_losses(model, 4)
        # compile wraps the optimizer in a LossScaleOptimizer for float16
        model.compile(
            optimizer=build_optimizer(model, 0.01),
            loss=loss,
            loss_weights=weights,
        )
        rng = np.random.default_rng(0)
        images = rng.normal(size=(2, 64, 64, 3)).astype("float32")
        labels = rng.integers(0, 4, size=(2, 64, 64)).astype("int32")
        labels[:, :8] = 255
        before = [np.array(v) for v in model.trainable_variables]
        history = model.fit(
            images,
            replicate_targets(labels, list(model.output)),
            epochs=12,
            batch_size=2,
            verbose=0,
        )
        assert all(np.isfinite(history.history["loss"]))
        assert all(v.dtype == "float32" for v in model.trainable_variables)
        moved = [
            np.abs(np.array(v) - b).max()
            for v, b in zip(model.trainable_variables, before)
        ]
        # float16 skips the first steps while the loss scale (2**15) adapts
        assert max(moved) > 0
        out = model(images, training=False)
        for name in ("logits", "aux_logits", "se_logits"):
            dtype = keras.backend.standardize_dtype(out[name].dtype)
            assert dtype == "float32", name
    finally:
        keras.mixed_precision.set_global_policy("float32")
