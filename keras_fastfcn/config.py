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
from typing import Sequence

import yaml

from keras_fastfcn.constants import OFFICIAL_BASE_LR

# Official epochs and base learning rates (lr = base / 16 * batch size).
DATASET_EPOCHS = {
    "ade20k": 120,
    "pascal_context": 80,
    "pascal_voc": 50,
    "cityscapes": 240,
}
DEFAULT_BASE_LR = 0.01


def official_base_lr(dataset: str) -> float:
    """The official code's learning rate for batch size 16 (its `--lr`
    defaults); `DEFAULT_BASE_LR` for other datasets."""
    return OFFICIAL_BASE_LR.get(dataset, DEFAULT_BASE_LR)


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


def _field(default, help: str, group: str, choices=None):
    """A `TrainConfig` field with its `--help` text, group and choices."""
    return dataclasses.field(
        default=default,
        metadata={"help": help, "group": group, "choices": choices},
    )


GROUPS = ("data", "model", "optimisation", "distribution", "output")
VALIDATE_DATA = ("auto", "full", "sample", "off")


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs; `None` means "derive a default".

    Each field's `help`, group and allowed values (`dataclasses.fields`
    metadata) are what `--help` shows.
    """

    # data
    dataset: str = _field(
        "ade20k",
        "dataset name (see list_datasets(); 'tfds:NAME' for TFDS)",
        "data",
    )
    data_dir: str | None = _field(
        None, "folder of the dataset (default: the dataset's own)", "data"
    )
    data_format: str = _field(
        "files", "how the data is stored", "data", DATA_FORMATS
    )
    num_classes: int | None = _field(
        None, "classes of the model (default: the dataset's)", "data"
    )
    crop_size: int = _field(480, "training crop, pixels", "data")
    base_size: int = _field(
        520, "short side before the random scale, pixels", "data"
    )
    blur: bool = _field(True, "random Gaussian blur augmentation", "data")
    jitter: bool = _field(False, "random colour jitter augmentation", "data")
    copy_paste_classes: list[str] | None = _field(
        None,
        "classes (names or train ids) whose pixels are pasted from a second "
        "training example, e.g. '[pole, signsymbol]' (null: off)",
        "data",
    )
    copy_paste_probability: float = _field(
        0.5, "chance that a training example gets a copy-paste", "data"
    )
    cache: bool = _field(False, "cache decoded images in memory", "data")
    validate_data: str = _field(
        "auto",
        "check the splits' files before building the model: every pair "
        f"(full), {2000} pairs (sample), full up to 2000 pairs else sample "
        "(auto), or not at all (off)",
        "data",
        VALIDATE_DATA,
    )
    # model
    model: str = _field("encnet_jpu", "model name (list_models())", "model")
    backbone: str = _field("resnet50", "backbone name", "model")
    backbone_weights: str | None = _field(
        None,
        "ImageNet backbone weights file (.pth, .npz, .weights.h5)",
        "model",
    )
    base_width: int = _field(64, "ResNet stem width (64 in the paper)", "model")
    neck_width: int = _field(512, "JPU / FPN branch width", "model")
    decoder_width: int = _field(
        0,
        "width of a stride-4 decoder refining the head's logits with the "
        "backbone's stage-2 features (not in the paper; 0: off)",
        "model",
    )
    aux: bool = _field(True, "add the auxiliary FCN head on stage 4", "model")
    aux_weight: float = _field(0.2, "weight of the auxiliary loss", "model")
    se_loss: bool | None = _field(
        None,
        "class-presence (SE) loss; default: on for heads that have it (EncNet)",
        "model",
    )
    se_weight: float = _field(0.2, "weight of the SE loss", "model")
    class_weights: str | list[float] | None = _field(
        None,
        "class-balanced cross-entropy: enet (1 / ln(1.02 + p)), "
        "median_frequency, or a list of floats '[1.0, 2.5, ...]', computed "
        "from the training labels once (cached in the run folder)",
        "model",
    )
    ohem_thresh: float | None = _field(
        None,
        "online hard example mining of the main loss: keep pixels whose "
        "true-class probability is below this (e.g. 0.7; default: off)",
        "model",
    )
    ohem_min_kept: int = _field(
        100000, "OHEM: keep at least this many pixels per image", "model"
    )
    dropout: float = _field(
        0.1,
        "spatial dropout before the classifiers (masks are not replayed on "
        "resume)",
        "model",
    )
    # optimisation
    batch_size: int = _field(
        16, "images per step (all replicas)", "optimisation"
    )
    epochs: int | None = _field(
        None,
        "epochs (default: the official count for the dataset)",
        "optimisation",
    )
    steps_per_epoch: int | None = _field(
        None,
        "steps per epoch (default: training images // batch size)",
        "optimisation",
    )
    lr: float | None = _field(
        None,
        "base learning rate (default: the official one / 16 * batch size)",
        "optimisation",
    )
    head_lr_multiplier: float = _field(
        10.0, "learning-rate factor of the neck and heads", "optimisation"
    )
    momentum: float = _field(0.9, "SGD momentum", "optimisation")
    weight_decay: float = _field(
        1e-4, "L2 weight decay (coupled, as PyTorch SGD)", "optimisation"
    )
    warmup_steps: int = _field(
        0,
        "linear learning-rate warmup steps before the poly decay",
        "optimisation",
    )
    warmup_ratio: float = _field(
        0.1, "learning-rate factor at step 0 of the warmup", "optimisation"
    )
    mixed_precision: str | None = _field(
        None, "Keras mixed-precision policy", "optimisation", MIXED_PRECISION
    )
    seed: int = _field(
        1, "random seed of weights and data order", "optimisation"
    )
    # distribution
    devices: int | None = _field(
        None,
        "replicas (on CPU: logical devices); default: all GPUs",
        "distribution",
    )
    strategy: str = _field(
        "auto",
        "distribution strategy (keras_fastfcn.distribute)",
        "distribution",
        STRATEGIES,
    )
    tpu: str | None = _field(
        None, "TPU name or address for --strategy tpu", "distribution"
    )
    sync_bn: bool = _field(
        False,
        "synchronise BatchNorm statistics across replicas",
        "distribution",
    )
    # validation and output
    val_every: int = _field(1, "validate every N epochs", "output")
    val_steps: int | None = _field(
        None, "validation batches (default: the whole split)", "output"
    )
    eval_multi_scale: bool = _field(
        False, "final evaluation multi-scale + flip", "output"
    )
    require_evaluation: bool = _field(
        False,
        "make a failed final evaluation the run's error (default: report it "
        "and keep the run)",
        "output",
    )
    num_visualizations: int = _field(
        4, "prediction pictures in TensorBoard and the evaluation", "output"
    )
    output_dir: str = _field("runs/experiment", "the run folder", "output")
    verbose: bool = _field(
        False,
        "Keras' progress bar with every metric, and TensorFlow's C++ logs "
        "(default: one short line per epoch; all metrics go to TensorBoard "
        "and history.csv)",
        "output",
    )
    resume: bool = _field(
        False, "continue the run in --output-dir from its last epoch", "output"
    )
    overwrite: bool = _field(
        False, "delete the run in --output-dir and start over", "output"
    )

    def resolved(self) -> "TrainConfig":
        """A copy with dataset-dependent defaults filled in and every value
        checked (`ValueError` naming the key and what it accepts)."""
        config = dataclasses.replace(self)
        head = _head_of(config.model)  # an unknown model name fails here
        if config.se_loss is None:
            config.se_loss = head.se_output
        if config.epochs is None:
            config.epochs = DATASET_EPOCHS.get(config.dataset, 50)
        if config.lr is None:
            config.lr = (
                official_base_lr(config.dataset) / 16 * config.batch_size
            )
        for name, field in _fields().items():
            choices = field.metadata.get("choices")
            value = getattr(config, name)
            if choices is not None and value not in choices:
                shown = ", ".join(str(c) for c in choices)
                raise ValueError(
                    f"{name} must be one of {shown}; got {value!r}."
                )
        for name in ("batch_size", "epochs", "crop_size", "base_size"):
            if getattr(config, name) < 1:
                raise ValueError(
                    f"{name} must be >= 1, got {getattr(config, name)}."
                )
        for name in ("steps_per_epoch", "val_steps", "devices", "num_classes"):
            value = getattr(config, name)
            if value is not None and value < 1:
                raise ValueError(
                    f"{name} must be >= 1 (or unset), got {value}."
                )
        if config.devices and config.batch_size % config.devices:
            raise ValueError(
                f"batch_size {config.batch_size} does not split evenly over "
                f"{config.devices} devices; use a multiple of "
                f"{config.devices} (e.g. {config.devices * 2})."
            )
        config.class_weights = _checked_class_weights(config.class_weights)
        config.copy_paste_classes = _checked_copy_paste_classes(
            config.copy_paste_classes
        )
        if not 0 <= config.copy_paste_probability <= 1:
            raise ValueError(
                "copy_paste_probability must be in [0, 1], got "
                f"{config.copy_paste_probability!r}."
            )
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
        if config.decoder_width < 0:
            raise ValueError(
                "decoder_width must be an int >= 0 (0 = no decoder, the "
                f"paper), got {config.decoder_width!r}."
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
        if config.resume and config.overwrite:
            raise ValueError(
                "resume and overwrite contradict each other; pass one."
            )
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checked_copy_paste_classes(value: Any) -> list[str | int] | None:
    """`copy_paste_classes` checked; a CLI string ('[pole, sign]' or
    'pole,sign') is parsed. Names are matched to the dataset's classes
    when training starts (`resolve_class_ids`)."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = yaml.safe_load(
                text if text.startswith("[") else f"[{text}]"
            )
        except yaml.YAMLError:
            value = None
    if value is None or value == []:
        return None
    if isinstance(value, (list, tuple)) and all(
        isinstance(c, (str, int)) and not isinstance(c, bool) for c in value
    ):
        return list(value)
    raise ValueError(
        "copy_paste_classes must be null or a list of class names or train "
        f"ids, e.g. [pole, signsymbol] (CLI: 'pole,signsymbol'); got {value!r}."
    )


def resolve_class_ids(
    classes: Sequence[str | int], class_names: Sequence[str]
) -> list[int]:
    """Train ids of `classes` (names of `class_names` or ids).

    Raises:
        ValueError: naming the unknown class and the known ones.
    """
    ids = []
    for item in classes:
        if isinstance(item, int):
            if not 0 <= item < len(class_names):
                raise ValueError(
                    f"class id {item} is outside 0..{len(class_names) - 1}."
                )
            ids.append(item)
        elif item in class_names:
            ids.append(list(class_names).index(item))
        else:
            raise ValueError(
                f"unknown class {item!r}; the dataset's classes are "
                f"{list(class_names)}."
            )
    return ids


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


def _head_of(model: str):
    """The `HeadSpec` of a model name (`ValueError` for unknown names)."""
    from keras_fastfcn.heads.registry import get_head
    from keras_fastfcn.models.registry import parse_model_name

    return get_head(parse_model_name(model)[0])


def _fields() -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(TrainConfig)}


CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def find_config(name: str | Path) -> Path:
    """A config file: a path, or the name of a shipped config
    (`"camvid"` is `keras_fastfcn/configs/camvid.yaml`)."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{path.name.removesuffix('.yaml')}.yaml"
    if path.parent == Path(".") and shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
    raise FileNotFoundError(
        f"Config file not found: {path}. Pass a YAML file or a shipped "
        f"config name ({known})."
    )


def _check_value_type(path, name: str, value, field: dataclasses.Field):
    """YAML values must have the field's type: a quoted "false" is a
    string, not a boolean, and is refused rather than read as true."""
    annotation = str(field.type)
    if value is None:
        if "None" in annotation:
            return value
        raise ValueError(f"{path}: {name} cannot be empty (null).")
    if "list" in annotation and isinstance(value, list):
        return value  # checked with the field's own rule in `resolved`
    if annotation.startswith("bool"):
        ok = isinstance(value, bool)
        expected = "true or false (unquoted)"
    elif annotation.startswith("int"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        expected = "a whole number"
    elif annotation.startswith("float"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        expected = "a number"
    else:
        ok = isinstance(value, str)
        expected = "a string"
    if not ok:
        raise ValueError(
            f"{path}: {name} must be {expected}, got {value!r} "
            f"({type(value).__name__})."
        )
    return float(value) if annotation.startswith("float") else value


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config (a path or a shipped config's name); unknown
    keys and values of the wrong type are errors naming them."""
    path = find_config(path)
    with open(path) as handle:
        try:
            values = yaml.safe_load(handle) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping of config keys.")
    fields = _fields()
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(
            f"{path}: unknown config keys {unknown}. "
            f"Valid keys: {sorted(fields)}."
        )
    return {
        name: _check_value_type(path, name, value, fields[name])
        for name, value in values.items()
    }


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


def _describe_default(field: dataclasses.Field) -> str:
    if field.default is None:
        return "derived"
    return (
        str(field.default).lower()
        if isinstance(field.default, bool)
        else (str(field.default))
    )


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add `--config` and one `--field-name` flag per `TrainConfig` field,
    grouped (data, model, optimisation, distribution, output), each with
    its description, default and allowed values."""
    parser.add_argument(
        "--config",
        help="YAML file of config values, or a shipped config's name "
        f"({', '.join(sorted(p.stem for p in CONFIG_DIR.glob('*.yaml')))}); "
        "default: the shipped config named like --dataset, if any",
    )
    groups = {name: parser.add_argument_group(name) for name in GROUPS}
    for name, field in _fields().items():
        group = groups[field.metadata["group"]]
        flag = "--" + name.replace("_", "-")
        kind = _argument_type(field)
        choices = field.metadata.get("choices")
        help_text = (
            f"{field.metadata['help']} (default: {_describe_default(field)})"
        )
        if kind is _parse_bool:
            # `--resume` as a plain switch, `--resume false` too.
            group.add_argument(
                flag,
                nargs="?",
                const=True,
                type=_parse_bool,
                default=argparse.SUPPRESS,
                metavar="{true,false}",
                help=help_text,
            )
        else:
            shown = [c for c in choices if c is not None] if choices else None
            group.add_argument(
                flag,
                type=kind,
                default=argparse.SUPPRESS,
                metavar="{" + ",".join(shown) + "}" if shown else name.upper(),
                help=help_text,
            )


def config_values(
    args: argparse.Namespace, default_config: str | Path | None = None
) -> dict[str, Any]:
    """Config values from YAML (`--config`, `default_config`, or the
    shipped config named like `--dataset`) overridden by CLI flags; not
    yet resolved (no TensorFlow import)."""
    values: dict[str, Any] = {}
    path = args.config or default_config
    if path:
        values.update(load_config_file(path))
    elif getattr(args, "dataset", None):
        shipped = CONFIG_DIR / f"{args.dataset}.yaml"
        if shipped.is_file():
            values.update(load_config_file(shipped))
    # Flags left out are absent from `args` (argparse.SUPPRESS), so that an
    # explicit `--class-weights null` switches off a value the YAML sets.
    for name in _fields():
        if hasattr(args, name):
            values[name] = getattr(args, name)
    return values


def config_from_args(
    args: argparse.Namespace, default_config: str | Path | None = None
) -> TrainConfig:
    """Defaults <- YAML <- CLI flags (`config_values`), resolved."""
    return TrainConfig(**config_values(args, default_config)).resolved()
