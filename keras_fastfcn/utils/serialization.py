"""Registration of the package's Keras objects for `.keras` saving."""

from __future__ import annotations

import keras


def serializable(cls):
    """Register `cls` for `.keras` saving under the `keras_fastfcn` package
    (as `"keras_fastfcn>ClassName"`: moving a class between modules keeps
    saved files loadable)."""
    return keras.saving.register_keras_serializable(package="keras_fastfcn")(
        cls
    )
