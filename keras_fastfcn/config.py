"""Training configuration: typed defaults, YAML files, CLI overrides.

Every field of `TrainConfig` can be set in a YAML file (loaded with
`yaml.safe_load`) and overridden on the command line as `--field-name
VALUE` (e.g. `--batch-size 8`, `--mixed-precision mixed_bfloat16`).
Defaults follow the official FastFCN recipe.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path
from typing import Any

import yaml

# Official epochs and base learning rates (lr = base / 16 * batch size).
DATASET_EPOCHS = {
    "ade20k": 120,
    "pascal_context": 80,
    "pascal_voc": 50,
    "cityscapes": 240,
}
DATASET_BASE_LR = {
    "ade20k": 0.01,
    "pascal_context": 0.001,
    "pascal_voc": 0.001,
    "cityscapes": 0.01,
}
MIXED_PRECISION = (None, "mixed_float16", "mixed_bfloat16")
DATA_FORMATS = ("files", "tfrecord")
STRATEGIES = (
    "auto",
    "mirrored",
    "multi_worker",
    "tpu",
    "one_device",
    "data_parallel",
)
CLASS_WEIGHT_METHODS = ("enet", "median_frequency")


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; `None` means "derive a default"."""

    # data
    dataset: str = "ade20k"
    data_dir: str | None = None
    data_format: str = "files"  # or "tfrecord" (data_dir from to_tfrecord)
    num_classes: int | None = None  # from the dataset
    crop_size: int = 480
    base_size: int = 520
    blur: bool = True
    jitter: bool = False
    cache: bool = False
    # model
    model: str = "encnet_jpu"
    backbone: str = "resnet50"
    backbone_weights: str | None = None
    base_width: int = 64
    neck_width: int = 512
    aux: bool = True
    aux_weight: float = 0.2
    se_loss: bool | None = None  # True for EncNet models
    se_weight: float = 0.2
    # class-balanced CE: null | enet | median_frequency | [floats]
    class_weights: str | list[float] | None = None
    ohem_thresh: float | None = None  # OHEM of the main CE; null = off
    ohem_min_kept: int = 100000  # OHEM: at least this many pixels per image
    dropout: float = (
        0.1  # before the classifiers; masks are not replayed on resume
    )
    # optimisation
    batch_size: int = 16
    epochs: int | None = None  # from the dataset
    steps_per_epoch: int | None = None  # len(train set) // batch_size
    lr: float | None = None  # base / 16 * batch_size
    head_lr_multiplier: float = 10.0
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_steps: int = 0  # linear warmup before the poly decay; 0 = off
    warmup_ratio: float = 0.1  # warmup start factor (mmseg "linear")
    mixed_precision: str | None = None
    devices: int | None = None  # replicas; on CPU: logical devices
    strategy: str = "auto"  # see keras_fastfcn.distribute.make_strategy
    tpu: str | None = None  # TPU name or address for strategy "tpu"
    sync_bn: bool = False
    seed: int = 1
    # validation and output
    val_every: int = 1
    val_steps: int | None = None
    eval_multi_scale: bool = False
    num_visualizations: int = 4
    output_dir: str = "runs/experiment"
    resume: bool = False

    def resolved(self) -> "TrainConfig":
        """A copy with dataset-dependent defaults filled in and checked."""
        config = dataclasses.replace(self)
        if config.se_loss is None:
            config.se_loss = config.model.startswith("encnet")
        if config.epochs is None:
            config.epochs = DATASET_EPOCHS.get(config.dataset, 50)
        if config.lr is None:
            base = DATASET_BASE_LR.get(config.dataset, 0.01)
            config.lr = base / 16 * config.batch_size
        if config.mixed_precision not in MIXED_PRECISION:
            raise ValueError(
                f"mixed_precision must be one of {MIXED_PRECISION}, "
                f"got {config.mixed_precision!r}."
            )
        for name, valid in (
            ("data_format", DATA_FORMATS),
            ("strategy", STRATEGIES),
        ):
            if getattr(config, name) not in valid:
                raise ValueError(
                    f"{name} must be one of {', '.join(valid)}, got "
                    f"{getattr(config, name)!r}."
                )
        for name in ("batch_size", "epochs", "crop_size", "base_size"):
            if getattr(config, name) < 1:
                raise ValueError(
                    f"{name} must be >= 1, got {getattr(config, name)}."
                )
        config.class_weights = _checked_class_weights(config.class_weights)
        if config.ohem_thresh is not None and not (0 < config.ohem_thresh <= 1):
            raise ValueError(
                "ohem_thresh must be null (OHEM off) or a probability in "
                f"(0, 1], e.g. 0.7; got {config.ohem_thresh!r}."
            )
        if config.ohem_min_kept < 1:
            raise ValueError(
                "ohem_min_kept must be an int >= 1 (pixels per image), got "
                f"{config.ohem_min_kept!r}."
            )
        if config.warmup_steps < 0:
            raise ValueError(
                "warmup_steps must be an int >= 0 (0 = no warmup), got "
                f"{config.warmup_steps!r}."
            )
        if not 0 <= config.warmup_ratio <= 1:
            raise ValueError(
                "warmup_ratio must be in [0, 1] (the learning-rate factor at "
                f"step 0), got {config.warmup_ratio!r}."
            )
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checked_class_weights(value: Any) -> str | list[float] | None:
    """`class_weights` checked; a string list (from the CLI) is parsed."""
    allowed = (
        "class_weights must be null, "
        + ", ".join(repr(m) for m in CLASS_WEIGHT_METHODS)
        + " or a list of floats >= 0, one per class (on the command line:"
        + " '[1.0, 2.5, ...]')"
    )
    if value is None or value in CLASS_WEIGHT_METHODS:
        return value
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ValueError(f"{allowed}; got {value!r}.") from None
    if (
        isinstance(value, (list, tuple))
        and value
        and all(
            isinstance(w, (int, float))
            and not isinstance(w, bool)
            and math.isfinite(w)
            and w >= 0
            for w in value
        )
    ):
        return [float(w) for w in value]
    raise ValueError(f"{allowed}; got {value!r}.")


def _fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(TrainConfig)}


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config; unknown keys are an error naming them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file not found: {path}")
    with open(path) as handle:
        values = yaml.safe_load(handle) or {}
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of config keys.")
    unknown = sorted(set(values) - set(_fields()))
    if unknown:
        raise ValueError(
            f"{path}: unknown config keys {unknown}. "
            f"Valid keys: {sorted(_fields())}."
        )
    return values


def _parse_bool(text: str) -> bool:
    lowered = str(text).lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _parse_optional(kind):
    def parse(text: str):
        if str(text).lower() in ("none", "null", ""):
            return None
        return kind(text)

    return parse


def _argument_type(field: dataclasses.Field):
    annotation = str(field.type)
    kind = str
    if annotation.startswith("bool"):
        kind = _parse_bool
    elif annotation.startswith("int"):
        kind = int
    elif annotation.startswith("float"):
        kind = float
    return _parse_optional(kind) if "None" in annotation else kind


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--config` and one `--field-name` flag per `TrainConfig` field."""
    parser.add_argument("--config", help="YAML file with config values.")
    for name, field in _fields().items():
        flag = "--" + name.replace("_", "-")
        kind = _argument_type(field)
        if kind is _parse_bool and field.default is False:
            # `--resume` / `--cache` as plain switches, `--resume false` too.
            parser.add_argument(
                flag, nargs="?", const=True, type=_parse_bool, default=None
            )
        else:
            parser.add_argument(
                flag, type=kind, default=None, metavar=name.upper()
            )


def config_from_args(
    args: argparse.Namespace, default_config: str | Path | None = None
) -> TrainConfig:
    """Defaults <- YAML (`--config` or `default_config`) <- CLI flags."""
    values: dict[str, Any] = {}
    path = args.config or default_config
    if path:
        values.update(load_config_file(path))
    for name in _fields():
        value = getattr(args, name, None)
        if value is not None:
            values[name] = value
    return TrainConfig(**values).resolved()
