"""The Encoding layer of EncNet (Zhang et al., 2018)."""

from __future__ import annotations

import math

import keras
from keras import ops

from keras_fastfcn.utils.serialization import serializable


@serializable
class Encoding(keras.layers.Layer):
    """Residual encoding with learnable codewords and smoothing factors.

    For descriptors `x_i` (the `N = H * W` pixels of a feature map),
    codewords `c_k` and scales `s_k`:
    `a_ik = softmax_k(s_k * ||x_i - c_k||^2)` and
    `e_k = sum_i a_ik * (x_i - c_k)`.
    Computed in the factored form `A^T X - (sum_i a_ik) c_k`, which never
    materialises the `(batch, N, K, D)` residual tensor. Runs in float32
    unless another `dtype` is passed.

    Input `(batch, height, width, D)`; output `(batch, num_codes, D)`.

    Args:
        num_codes: int, number of codewords `K`. Default `32`.

    Reference:
        - [Context Encoding for Semantic Segmentation](
          https://arxiv.org/abs/1803.08904)
    """

    def __init__(self, num_codes: int = 32, **kwargs):
        # Distances and the softmax overflow in float16: keep float32.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.num_codes = num_codes

    def build(self, input_shape):
        channels = input_shape[-1]
        bound = 1.0 / math.sqrt(self.num_codes * channels)
        self.codewords = self.add_weight(
            name="codewords",
            shape=(self.num_codes, channels),
            initializer=keras.initializers.RandomUniform(-bound, bound),
        )
        self.scale = self.add_weight(
            name="scale",
            shape=(self.num_codes,),
            initializer=keras.initializers.RandomUniform(-1.0, 0.0),
        )

    def call(self, x):
        shape = ops.shape(x)
        x = ops.reshape(x, (shape[0], -1, shape[3]))  # (B, N, D)
        codewords = ops.convert_to_tensor(self.codewords)
        x_sq = ops.sum(ops.square(x), axis=-1, keepdims=True)  # (B, N, 1)
        c_sq = ops.sum(ops.square(codewords), axis=-1)  # (K,)
        cross = ops.einsum("bnd,kd->bnk", x, codewords)
        distances = x_sq - 2.0 * cross + c_sq
        assignment = ops.softmax(distances * self.scale, axis=-1)  # (B, N, K)
        weighted = ops.einsum("bnk,bnd->bkd", assignment, x)
        mass = ops.sum(assignment, axis=1)[..., None]  # (B, K, 1)
        return weighted - mass * codewords

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_codes, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config["num_codes"] = self.num_codes
        return config
