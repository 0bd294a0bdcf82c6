"""Name and layout mapping between Keras variables and official keys.

Keras layer names follow the official FastFCN modules with "-" where the
official module path has "." (PyTorch-backend parameter names cannot hold
dots), so the official key of a variable is its layer path joined with ".",
"-" read as ".", plus the PyTorch name of the variable:
`jpu/dilation1-0/conv1/kernel` is `jpu.dilation1.0.conv1.weight` and the
backbone's `layer3-2-bn1/moving_mean` is
`pretrained.layer3.2.bn1.running_mean`. Layouts: Conv2D kernels
`(kh, kw, I, O)` <- `(O, I, kh, kw)`; DepthwiseConv2D kernels
`(kh, kw, C, 1)` <- `(C, 1, kh, kw)`; Dense kernels `(I, O)` <- `(O, I)`;
everything else (norm parameters, biases, Encoding codewords and scale) is
copied as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

#: Keras variable name -> PyTorch parameter / buffer name.
VARIABLE_NAMES = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
    "codewords": "codewords",
    "scale": "scale",
}
#: Keras layer name of the backbone -> official module name.
MODULE_NAMES = {"backbone": "pretrained"}
LAYOUTS = ("conv", "depthwise", "dense", "copy")


@dataclass(frozen=True)
class TensorMapping:
    """One Keras variable and the official tensor it comes from.

    Attributes:
        key: official state-dict key, e.g. `"head.conv6.1.weight"`.
        variable: the `keras.Variable`.
        layout: `"conv"`, `"depthwise"`, `"dense"` or `"copy"`.
    """

    key: str
    variable: keras.Variable
    layout: str

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the Keras variable."""
        return tuple(self.variable.shape)

    @property
    def official_shape(self) -> tuple[int, ...]:
        """Shape the official tensor must have."""
        return torch_shape(self.shape, self.layout)


def to_keras_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """Rearrange an official (PyTorch) tensor into the Keras layout."""
    if layout == "conv" and array.ndim == 4:
        return np.transpose(array, (2, 3, 1, 0))
    if layout == "depthwise" and array.ndim == 4:
        return np.transpose(array, (2, 3, 0, 1))
    if layout == "dense" and array.ndim == 2:
        return np.transpose(array)
    return array


def to_torch_layout(array: np.ndarray, layout: str) -> np.ndarray:
    """Rearrange a Keras variable value into the official layout."""
    if layout == "conv" and array.ndim == 4:
        return np.transpose(array, (3, 2, 0, 1))
    if layout == "depthwise" and array.ndim == 4:
        return np.transpose(array, (2, 3, 0, 1))
    if layout == "dense" and array.ndim == 2:
        return np.transpose(array)
    return array


def torch_shape(shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
    """Official tensor shape for a Keras variable of `shape`."""
    return to_torch_layout(np.empty(shape, dtype=np.uint8), layout).shape


def _layout(layer: keras.layers.Layer, variable: keras.Variable) -> str:
    if variable.name != "kernel":
        return "copy"
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        return "depthwise"
    if isinstance(layer, keras.layers.Conv2D):
        return "conv"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
    raise ValueError(
        f"No official layout for the kernel of {type(layer).__name__} "
        f"layer {layer.name!r}."
    )


def _children(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    return list(layer._flatten_layers(include_self=False, recursive=False))


def _walk(layer: keras.layers.Layer, prefix: str):
    """Yield `TensorMapping`s of `layer` and its sublayers, depth first."""
    owned_by_children = set()
    for child in _children(layer):
        owned_by_children.update(id(v) for v in child.weights)
        name = (
            child.name if prefix else MODULE_NAMES.get(child.name, child.name)
        )
        name = name.replace("-", ".")
        child_prefix = f"{prefix}.{name}" if prefix else name
        yield from _walk(child, child_prefix)
    for variable in layer.weights:
        if id(variable) in owned_by_children:
            continue
        if variable.name not in VARIABLE_NAMES:
            raise ValueError(
                f"Variable {variable.path!r} has no official counterpart "
                f"(unknown variable name {variable.name!r})."
            )
        key = f"{prefix}.{VARIABLE_NAMES[variable.name]}"
        yield TensorMapping(key, variable, _layout(layer, variable))


def tensor_mappings(
    model: keras.layers.Layer, prefix: str = ""
) -> list[TensorMapping]:
    """Official key, variable and layout of every weight of `model`.

    For a `SegmentationModel` the keys are those of the official
    segmentation `state_dict` (`pretrained.*`, `jpu.*`, `head.*`,
    `auxlayer.*`); for a bare `ResNetBackbone` they are the ImageNet
    checkpoint keys (`conv1.0.weight`, `layer1.0.bn1.running_mean`, ...),
    or with `prefix="pretrained"` those of the backbone inside a
    segmentation checkpoint.

    Args:
        model: a built `keras.Model` or layer.
        prefix: str, prepended to every key (joined with ".").

    Returns:
        list of `TensorMapping`, one per variable of `model`.

    Raises:
        ValueError: two variables map to the same key, or a variable has
            no official counterpart.
    """
    mappings = list(_walk(model, prefix))
    seen = {}
    for mapping in mappings:
        if mapping.key in seen:
            raise ValueError(
                f"Variables {seen[mapping.key].path!r} and "
                f"{mapping.variable.path!r} both map to {mapping.key!r}."
            )
        seen[mapping.key] = mapping.variable
    return mappings
