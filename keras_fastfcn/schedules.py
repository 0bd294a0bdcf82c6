"""Learning-rate schedule and SGD of the official FastFCN training code.

Official recipe (`experiments/segmentation/train.py`): SGD with momentum
0.9 and weight decay 1e-4 on all parameters, "poly" learning rate
`lr = base * (1 - T / N) ** 0.9` per iteration, and the neck / heads
(`jpu`, `head`, `auxlayer`) at 10x the backbone learning rate.

Design: the 10x rule and PyTorch's coupled L2 weight decay are implemented
in one optimizer, `MultiplierSGD`, whose per-variable `update_step` is the
hook every Keras 3 backend calls (TensorFlow eager, `tf.function` and
`tf.distribute` replicas; JAX's stateless apply). Nothing in the model or
its `train_step` changes. Variables are matched to multipliers by their
`variable.path` once, when the optimizer is built, so the optimizer stays
serializable (its config holds path prefixes, not variables).
"""

from __future__ import annotations

import math
import warnings
from typing import Mapping

import keras
from keras import ops

from keras_fastfcn.constants import OFFICIAL_BASE_LR
from keras_fastfcn.constants import OFFICIAL_DATASET_NAMES

_PACKAGE = "keras_fastfcn"


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PolyDecay(keras.optimizers.schedules.PolynomialDecay):
    """The official "poly" schedule, with an optional linear warmup.

    For optimizer step `t` (0 for the first update):

        lr(t) = (base - end) * (1 - min(t, N) / N) ** power + end

    with `base = initial_learning_rate`, `N = decay_steps`,
    `end = end_learning_rate`: Keras' `PolynomialDecay` (`cycle=False`),
    which computes this in the official order of operations, so the values
    are the same float32 numbers as the formula written out. With
    `warmup_steps = W > 0` and `warmup_ratio = r`, `lr(t)` is multiplied
    while `t < W` by

        1 - (1 - r) * (1 - t / W)

    a linear ramp from `r` at step 0 to 1 at step `W`: mmcv / mmseg's
    `warmup="linear"` (which scales the decayed rate of step `t`, as here);
    `r = 0` (the default) is the official `LR_Scheduler`'s `t / W` (whose
    warmup is off by default). Keras has no warmup that scales a decayed
    rate, hence this subclass; it keeps the registered name
    `keras_fastfcn>PolyDecay` and the config keys, so `.keras` files saved
    with the earlier hand-written class load unchanged.

    Args:
        initial_learning_rate: float, base learning rate.
        decay_steps: int > 0, total number of training steps
            (`epochs * steps_per_epoch`).
        power: float, exponent. Default `0.9`.
        end_learning_rate: float, learning rate at and after `decay_steps`.
            Default `0.0`.
        warmup_steps: int >= 0, length of the linear warmup. Default `0`.
        warmup_ratio: float in [0, 1], warmup factor at step 0. Default
            `0.0`.
        name: optional str.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: int,
        power: float = 0.9,
        end_learning_rate: float = 0.0,
        warmup_steps: int = 0,
        name: str | None = None,
        warmup_ratio: float = 0.0,
    ):
        if decay_steps <= 0:
            raise ValueError(
                f"PolyDecay needs decay_steps > 0 (epochs * steps per epoch); "
                f"got {decay_steps}."
            )
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0; got {warmup_steps}.")
        if not 0.0 <= warmup_ratio <= 1.0:
            raise ValueError(
                f"warmup_ratio must be in [0, 1]; got {warmup_ratio}."
            )
        super().__init__(
            initial_learning_rate=float(initial_learning_rate),
            decay_steps=int(decay_steps),
            end_learning_rate=float(end_learning_rate),
            power=float(power),
            cycle=False,
            name=name or "PolyDecay",
        )
        self.warmup_steps = int(warmup_steps)
        self.warmup_ratio = float(warmup_ratio)

    def __call__(self, step):
        decayed = super().__call__(step)
        if self.warmup_steps > 0:
            step = ops.cast(step, "float32")
            ramp = ops.minimum(step / self.warmup_steps, 1.0)
            ratio = self.warmup_ratio
            decayed = decayed * (1.0 - (1.0 - ratio) * (1.0 - ramp))
        return decayed

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "power": self.power,
            "end_learning_rate": self.end_learning_rate,
            "warmup_steps": self.warmup_steps,
            "warmup_ratio": self.warmup_ratio,
            "name": self.name,
        }


def _matches(path: str, prefix: str) -> bool:
    """Whether `prefix` is `path` or a leading run of its `/` components."""
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _multiplier_for(path: str, lr_multipliers: Mapping[str, float]) -> float:
    """Multiplier of the longest prefix of `path` in `lr_multipliers`."""
    best = None
    for prefix in lr_multipliers:
        if _matches(path, prefix) and (best is None or len(prefix) > len(best)):
            best = prefix
    return 1.0 if best is None else float(lr_multipliers[best])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MultiplierSGD(keras.optimizers.Optimizer):
    """SGD with PyTorch semantics and per-variable learning-rate multipliers.

    For each trainable variable `w` with gradient `g`, multiplier `k`
    (from `lr_multipliers`, default 1) and learning rate `lr` (the schedule
    value at this step), exactly as `torch.optim.SGD` (dampening 0):

        g = g + weight_decay * w            # coupled L2, not decoupled
        buf = momentum * buf + g            # buf starts at 0
        d = g + momentum * buf if nesterov else buf
        w = w - k * lr * d

    `weight_decay` here is the L2 term PyTorch adds to the gradient (the
    official code applies it to every parameter, BatchNorm and biases
    included); it is *not* Keras' decoupled `weight_decay`. The momentum
    buffer holds gradients, not `lr * gradient` as `keras.optimizers.SGD`
    does, so a changing learning rate acts as in PyTorch.

    Args:
        learning_rate: float or `LearningRateSchedule` (e.g. `PolyDecay`).
        momentum: float in [0, 1). Default `0.9`.
        nesterov: bool. Default `False`.
        weight_decay: float, coupled L2 coefficient. Default `1e-4`.
        lr_multipliers: dict `{variable path prefix: multiplier}`; the
            longest prefix (whole `/`-separated components) matching
            `variable.path` wins; unmatched variables use 1. See
            `head_lr_multipliers`.
        name: str. Default `"multiplier_sgd"`.
        **kwargs: other `keras.optimizers.Optimizer` arguments (`clipnorm`,
            `global_clipnorm`, `loss_scale_factor`, ...).
    """

    def __init__(
        self,
        learning_rate=0.01,
        momentum: float = 0.9,
        nesterov: bool = False,
        weight_decay: float = 1e-4,
        lr_multipliers: Mapping[str, float] | None = None,
        name: str = "multiplier_sgd",
        **kwargs,
    ):
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1); got {momentum}.")
        if weight_decay is not None and weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0; got {weight_decay}.")
        # Keras' own (decoupled) weight decay stays off: see the docstring.
        super().__init__(
            learning_rate=learning_rate, weight_decay=None, name=name, **kwargs
        )
        self.momentum = float(momentum)
        self.nesterov = bool(nesterov)
        self.l2_weight_decay = float(weight_decay or 0.0)
        self.lr_multipliers = {
            str(prefix): float(value)
            for prefix, value in (lr_multipliers or {}).items()
        }
        self._variable_multipliers = []

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = []
        if self.momentum != 0:
            self.momentums = self.add_optimizer_variables(variables, "momentum")
        paths = [variable.path for variable in variables]
        self._variable_multipliers = [
            _multiplier_for(path, self.lr_multipliers) for path in paths
        ]
        unused = [
            prefix
            for prefix in self.lr_multipliers
            if not any(_matches(path, prefix) for path in paths)
        ]
        if unused:
            warnings.warn(
                f"{self.name}: lr_multipliers prefixes {unused} match no "
                "trainable variable; they have no effect. Check the variable "
                "paths (`[v.path for v in model.trainable_variables]`).",
                stacklevel=2,
            )

    def variable_multiplier(self, variable) -> float:
        """Learning-rate multiplier of a (built) trainable variable."""
        return self._variable_multipliers[self._get_variable_index(variable)]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        multiplier = self._variable_multipliers[index]
        learning_rate = ops.cast(learning_rate, variable.dtype) * multiplier
        gradient = ops.cast(gradient, variable.dtype)
        if self.l2_weight_decay:
            gradient = gradient + ops.multiply(
                ops.convert_to_tensor(variable), self.l2_weight_decay
            )
        if self.momentum == 0:
            self.assign_sub(variable, ops.multiply(gradient, learning_rate))
            return
        buffer = self.momentums[index]
        new_buffer = ops.add(ops.multiply(buffer, self.momentum), gradient)
        self.assign(buffer, new_buffer)
        if self.nesterov:
            direction = ops.add(
                gradient, ops.multiply(new_buffer, self.momentum)
            )
        else:
            direction = new_buffer
        self.assign_sub(variable, ops.multiply(direction, learning_rate))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "momentum": self.momentum,
                "nesterov": self.nesterov,
                "weight_decay": self.l2_weight_decay,
                "lr_multipliers": dict(self.lr_multipliers),
            }
        )
        return config


def head_lr_multipliers(
    model: keras.Model, multiplier: float = 10.0
) -> dict[str, float]:
    """`lr_multipliers` giving everything except `model.backbone` a boost.

    The official rule: the backbone at the base learning rate; the neck
    (`jpu`), `head` and `auxlayer` at `multiplier` (10) times it. Each
    top-level layer of `model` that owns trainable variables and is not the
    backbone is matched by its name when all its variable paths start with
    it (and no backbone path does); otherwise by its exact variable paths.

    Args:
        model: a model with a `backbone` attribute (a `keras.Model`), e.g.
            from `keras_fastfcn.build_model`.
        multiplier: float, head / backbone learning-rate ratio.

    Returns:
        dict `{variable path prefix: multiplier}` for `MultiplierSGD`.
    """
    backbone = getattr(model, "backbone", None)
    if not isinstance(backbone, keras.Model):
        raise ValueError(
            "head_lr_multipliers needs a model whose `backbone` attribute is "
            "the backbone keras.Model (as keras_fastfcn.build_model returns); "
            f"got backbone={type(backbone).__name__}."
        )
    backbone_ids = {id(v) for v in backbone.trainable_variables}
    backbone_paths = [v.path for v in backbone.trainable_variables]
    head_variables = [
        v for v in model.trainable_variables if id(v) not in backbone_ids
    ]
    clash = set(backbone_paths) & {v.path for v in head_variables}
    if clash:
        raise ValueError(
            f"Backbone and head variables share the paths {sorted(clash)[:3]}; "
            "give the layers distinct names so that the learning-rate "
            "multipliers can tell them apart."
        )
    multipliers = {}
    covered = set()
    for layer in model.layers:
        if layer is backbone or not layer.trainable_variables:
            continue
        paths = [v.path for v in layer.trainable_variables]
        prefix = layer.name
        if all(_matches(p, prefix) for p in paths) and not any(
            _matches(p, prefix) for p in backbone_paths
        ):
            multipliers[prefix] = float(multiplier)
            covered.update(id(v) for v in layer.trainable_variables)
    for variable in head_variables:
        if id(variable) not in covered:
            multipliers[variable.path] = float(multiplier)
    return multipliers


def build_optimizer(
    model: keras.Model,
    learning_rate,
    momentum: float = 0.9,
    weight_decay: float = 1e-4,
    head_lr_multiplier: float = 10.0,
    **kwargs,
) -> MultiplierSGD:
    """The official optimizer for a `keras_fastfcn` model.

    Args:
        model: model from `keras_fastfcn.build_model` (has `model.backbone`).
        learning_rate: float or schedule for the backbone, e.g.
            `PolyDecay(0.01, epochs * steps_per_epoch)`.
        momentum: float. Default `0.9`.
        weight_decay: float, coupled L2 on all parameters. Default `1e-4`.
        head_lr_multiplier: float, neck / head learning-rate factor.
            Default `10.0`.
        **kwargs: passed to `MultiplierSGD`.

    Returns:
        A `MultiplierSGD`.
    """
    return MultiplierSGD(
        learning_rate=learning_rate,
        momentum=momentum,
        weight_decay=weight_decay,
        lr_multipliers=head_lr_multipliers(model, head_lr_multiplier),
        **kwargs,
    )


def official_learning_rate(dataset: str, batch_size: int) -> float:
    """The official default base learning rate `base / 16 * batch_size`.

    Args:
        dataset: a key of `constants.OFFICIAL_BASE_LR` (`"ade20k"`,
            `"pascal_context"`, `"pascal_voc"`, `"pascal_aug"`, `"coco"`,
            `"cityscapes"`) or an official name (`"pcontext"`, `"citys"`).
        batch_size: int, total batch size over all replicas.

    Returns:
        float learning rate of the backbone.
    """
    dataset = OFFICIAL_DATASET_NAMES.get(dataset, dataset)
    base = OFFICIAL_BASE_LR
    if dataset not in base:
        raise ValueError(
            f"No official learning rate for dataset {dataset!r}; known: "
            f"{sorted(base)}. Pass the learning rate explicitly."
        )
    if batch_size <= 0 or not math.isfinite(batch_size):
        raise ValueError(f"batch_size must be > 0; got {batch_size}.")
    return base[dataset] / 16 * batch_size
