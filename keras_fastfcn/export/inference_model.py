"""The inference-only view of a segmentation model (logits, no aux/SE)."""

from __future__ import annotations

import keras


def require_tensorflow_backend(what: str = "Export") -> None:
    """Raise a `RuntimeError` unless Keras runs on TensorFlow."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            f"{what} needs the TensorFlow backend, but Keras uses "
            f"{keras.backend.backend()!r}. Set KERAS_BACKEND=tensorflow "
            "before Python starts (or before `import keras`)."
        )


def inference_model(model: keras.Model) -> keras.Model:
    """A model from the same inputs to the logits only.

    A model built with `aux=True` or `se_loss=True` returns a dict; the
    auxiliary and SE branches only help training, so they are dropped here
    (and with them their weights, from every exported file).

    Args:
        model: a `SegmentationModel` (or any functional model whose output
            is the logits tensor or a dict holding `"logits"`).

    Returns:
        A functional `keras.Model` sharing `model`'s layers: images
        `(batch, height, width, 3)` -> logits `(batch, height, width,
        classes)`.
    """
    output = model.output
    if isinstance(output, dict):
        if "logits" not in output:
            raise ValueError(
                f"Model {model.name!r} returns a dict without 'logits' "
                f"(keys: {sorted(output)}); cannot tell which output to "
                "export."
            )
        output = output["logits"]
    elif isinstance(output, (list, tuple)):
        raise ValueError(
            f"Model {model.name!r} returns {len(output)} outputs; export "
            "needs one logits tensor or a dict with 'logits'."
        )
    return keras.Model(model.inputs, output, name=f"{model.name}_inference")
