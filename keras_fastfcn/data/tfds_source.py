"""TensorFlow Datasets (TFDS) builders as segmentation data: ``tfds:NAME``.

A `TfdsRecipe` says where the image and the per-pixel mask of a TFDS
builder's examples are, what the classes are, and how mask values become
train ids. `load_tfds` prepares the builder (downloading it when TFDS can)
and returns a `DatasetSpec` whose ``records`` are the builder's own
TFRecord shards, so the examples take the TFRecord path of
`keras_fastfcn.data.pipeline`: the same decoding checks, augmentation,
batching, seeded shuffle with exact resume (``start_example``), and one set
of shards per worker. Only the record parsing differs: `TfdsSource`
deserialises TFDS examples with the builder's feature spec, keeping the
image and mask encoded so they go through `keras_fastfcn.data.decode`.

    spec = load_dataset("tfds:oxford_iiit_pet", split="train")

Built-in recipes: `RECIPES`. Builders without usable semantic masks are
refused with the reason (`REFUSED`). Other builders: `register_recipe`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from keras_fastfcn.data import palettes
from keras_fastfcn.data.labels import cityscapes_lut
from keras_fastfcn.data.labels import identity_lut
from keras_fastfcn.data.labels import lut_from_mapping
from keras_fastfcn.data.spec import DatasetSpec

PREFIX = "tfds:"
IGNORE_LABEL = 255
TRAINVAL = "trainval"


@dataclasses.dataclass(frozen=True)
class TfdsRecipe:
    """How to read one TFDS builder as semantic segmentation.

    Attributes:
        builder: TFDS name with config, e.g. ``"oxford_iiit_pet"`` or
            ``"cityscapes/semantic_segmentation"`` (optionally
            ``":VERSION"``).
        image_key: Feature holding the RGB image (a TFDS ``Image``).
        mask_key: Feature holding the per-pixel mask (a TFDS ``Image``).
        class_names: Train id -> name; or a function of the builder's
            ``info.features`` returning them (classes stored with the data).
        label_lut: ``(256,)`` int32 mask value -> train id, ignore label or
            ``labels.INVALID_LABEL`` (an error if it occurs).
        palette: ``(num_classes, 3)`` uint8 colours (default: generated).
        splits: Split names of `load_tfds` -> TFDS split names
            (``"trainval"`` is the union of ``train`` and ``val``).
        name_key: Optional string feature naming an example in messages.
        mask_to_raw: Optional ``f(example, name) -> (height, width) int32``
            raw values replacing the decoding of ``mask_key`` (``example``:
            the deserialised features, images still encoded).
        manual_files: Files the user downloads by hand into TFDS's manual
            folder (``<data_dir>/downloads/manual``) before preparing.
        source: Where the data comes from (for messages and the README).
        ignore_label: Ignored mask value after mapping.
    """

    builder: str
    image_key: str
    mask_key: str
    class_names: tuple[str, ...] | Callable[[Any], tuple[str, ...]]
    label_lut: np.ndarray
    palette: np.ndarray | None = None
    splits: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: {"train": "train", "val": "validation"}
    )
    name_key: str | None = None
    mask_to_raw: Callable[[dict, Any], Any] | None = None
    manual_files: tuple[str, ...] = ()
    source: str = ""
    ignore_label: int = IGNORE_LABEL

    def classes(self, features: Any = None) -> tuple[str, ...]:
        """The class names (read from ``features`` when they are stored
        with the data)."""
        if callable(self.class_names):
            return tuple(self.class_names(features))
        return tuple(self.class_names)


def _coco_panoptic_names(features: Any) -> tuple[str, ...]:
    return tuple(features["panoptic_objects"].feature["label"].names)


def coco_panoptic_to_raw(example: dict, name: Any) -> Any:
    """COCO panoptic PNG -> contiguous category ids (things + stuff).

    Each pixel's segment id is ``R + 256 G + 65536 B``; the segment's
    ``panoptic_objects/label`` (0..132, TFDS's contiguous ids of the 80
    thing and 53 stuff categories) becomes the class. Id 0 (unlabelled)
    and crowd segments become the ignore label; an id that no segment
    lists becomes -1 (an error naming the example).

    Args:
        example: Deserialised features, ``panoptic_image`` still encoded.
        name: Scalar string naming the example (unused).

    Returns:
        int32 ``(height, width)``.
    """
    import tensorflow as tf

    rgb = tf.cast(
        tf.io.decode_png(example["panoptic_image"], channels=3), tf.int32
    )
    ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    objects = example["panoptic_objects"]
    segment_ids = tf.cast(objects["id"], tf.int32)
    classes = tf.where(
        tf.cast(objects["is_crowd"], tf.bool),
        IGNORE_LABEL,
        tf.cast(objects["label"], tf.int32),
    )
    # id 0 is "unlabelled": a segment of its own that maps to ignore
    segment_ids = tf.concat([[0], segment_ids], 0)
    classes = tf.concat([[IGNORE_LABEL], classes], 0)
    order = tf.argsort(segment_ids)
    sorted_ids = tf.gather(segment_ids, order)
    flat = tf.reshape(ids, [-1])
    position = tf.searchsorted(sorted_ids, flat, out_type=tf.int32)
    position = tf.minimum(position, tf.size(sorted_ids) - 1)
    found = tf.equal(tf.gather(sorted_ids, position), flat)
    raw = tf.where(found, tf.gather(tf.gather(classes, order), position), -1)
    return tf.reshape(raw, tf.shape(ids))


RECIPES: dict[str, TfdsRecipe] = {}
"""Built-in recipes by builder name (without version)."""


def register_recipe(recipe: TfdsRecipe) -> None:
    """Makes ``tfds:<recipe.builder>`` loadable (replacing a recipe of the
    same builder)."""
    RECIPES[recipe.builder.split(":")[0]] = recipe


register_recipe(
    TfdsRecipe(
        builder="oxford_iiit_pet",
        image_key="image",
        mask_key="segmentation_mask",
        # the trimap 1/2/3 minus 1, as in the Keras segmentation tutorial
        class_names=("pet", "background", "border"),
        label_lut=lut_from_mapping({1: 0, 2: 1, 3: 2, 255: IGNORE_LABEL}),
        palette=np.array([[200, 60, 60], [0, 0, 0], [240, 240, 240]]),
        splits={"train": "train", "val": "test"},
        name_key="file_name",
        source="downloaded by TFDS (Oxford-IIIT Pet, robots.ox.ac.uk/~vgg)",
    )
)
register_recipe(
    TfdsRecipe(
        builder="cityscapes/semantic_segmentation",
        image_key="image_left",
        mask_key="segmentation_label",
        class_names=palettes.CITYSCAPES_CLASSES,
        label_lut=cityscapes_lut(IGNORE_LABEL),
        palette=palettes.CITYSCAPES_PALETTE,
        name_key="image_id",
        manual_files=(
            "leftImg8bit_trainvaltest.zip",
            "gtFine_trainvaltest.zip",
        ),
        source="manual download from cityscapes-dataset.com (registration)",
    )
)
register_recipe(
    TfdsRecipe(
        builder="coco/2017_panoptic",
        image_key="image",
        mask_key="panoptic_image",
        class_names=_coco_panoptic_names,
        label_lut=identity_lut(133, IGNORE_LABEL),
        name_key="image/filename",
        mask_to_raw=coco_panoptic_to_raw,
        source="downloaded by TFDS (COCO 2017 images + panoptic annotations)",
    )
)

REFUSED: dict[str, str] = {
    "scene_parse150": (
        "TFDS 'scene_parse150' downloads the ADE20K 2017 release with "
        "instance-level annotations, not the ADEChallengeData2016 semantic "
        "labels (150 classes, 0 = other) that FastFCN is trained and "
        "evaluated on. Download ADEChallengeData2016 and use --dataset "
        "ade20k --data-dir <folder>."
    ),
    "voc": (
        "TFDS 'voc' holds detection boxes and labels only, no segmentation "
        "masks. Download VOC2012 (and SBD for train_aug) and use --dataset "
        "pascal_voc --data-dir <folder>."
    ),
}
"""Builders that look like segmentation data sets but are not, and why."""


def _base_name(name: str) -> str:
    return name.split(":")[0]


def get_recipe(name: str) -> TfdsRecipe:
    """The recipe of ``name`` (``"oxford_iiit_pet"``, ``"tfds:..."``).

    Raises:
        ValueError: A refused builder (with the reason), or an unknown one
            (listing the known recipes).
    """
    if name.startswith(PREFIX):
        name = name[len(PREFIX) :]
    base = _base_name(name)
    family = base.split("/")[0]
    for refused in (base, family):
        if refused in REFUSED:
            raise ValueError(f"tfds:{base}: refused. {REFUSED[refused]}")
    if base not in RECIPES:
        raise ValueError(
            f"No TFDS recipe for {base!r}; known recipes: "
            f"{', '.join('tfds:' + n for n in sorted(RECIPES))}. For another "
            "builder with image + mask features, register a "
            "keras_fastfcn.data.tfds_source.TfdsRecipe."
        )
    return RECIPES[base]


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(
            "tfds: data sets need tensorflow-datasets; pip install "
            "tensorflow-datasets (it is a dependency of keras-fastfcn)."
        ) from None
    return tfds


@dataclasses.dataclass(frozen=True, eq=False)
class TfdsSource:
    """Parses the TFRecord examples of one prepared TFDS builder.

    Attributes:
        recipe: The recipe used.
        features: The builder's ``info.features`` (a TFDS FeaturesDict).
        label: Prefix of example names in messages, e.g.
            ``"tfds:oxford_iiit_pet/train"``.
    """

    recipe: TfdsRecipe
    features: Any
    label: str

    def record_decoder(
        self, spec: DatasetSpec
    ) -> Callable[[Any], tuple[Any, Any, Any]]:
        """Returns ``decode(serialized) -> (image, label, name)``: uint8
        ``(height, width, 3)``, int32 ``(height, width)`` train ids, scalar
        string."""
        import tensorflow as tf

        from keras_fastfcn.data.decode import check_same_size
        from keras_fastfcn.data.decode import decode_image
        from keras_fastfcn.data.decode import decode_label_values
        from keras_fastfcn.data.decode import map_label_values

        tfds = _import_tfds()
        recipe = self.recipe
        skip = tfds.decode.SkipDecoding()
        decoders = {recipe.image_key: skip, recipe.mask_key: skip}
        features = self.features

        def decode(serialized):
            example = features.deserialize_example(
                serialized, decoders=decoders
            )
            name = tf.constant(self.label)
            if recipe.name_key is not None:
                key = example[recipe.name_key]
                if key.dtype != tf.string:
                    key = tf.strings.as_string(key)
                name = tf.strings.join([name, ":", key])
            image = decode_image(example[recipe.image_key], name)
            if recipe.mask_to_raw is not None:
                raw = recipe.mask_to_raw(example, name)
            else:
                raw = decode_label_values(example[recipe.mask_key], name)
            label = map_label_values(raw, name, spec)
            label = check_same_size(image, label, name, name)
            return image, label, name

        return decode


def _manual_dir(builder) -> Path:
    return Path(str(builder.data_dir_root)) / "downloads" / "manual"


def _prepare(builder, recipe: TfdsRecipe, name: str, download: bool):
    """Prepares ``builder`` unless it is; raises naming what is missing."""
    if builder.is_prepared():
        return
    where = builder.data_dir
    if recipe.manual_files:
        manual = _manual_dir(builder)
        missing = [f for f in recipe.manual_files if not (manual / f).is_file()]
        if missing:
            raise FileNotFoundError(
                f"tfds:{name} is not prepared in {where} and needs a manual "
                f"download: put {', '.join(recipe.manual_files)} in {manual} "
                f"(missing: {', '.join(missing)}; {recipe.source}), then run "
                "again (or pass --data-dir with the TFDS data_dir holding "
                "them)."
            )
    if not download:
        raise FileNotFoundError(
            f"tfds:{name} is not prepared in {where}; run "
            f"tfds.builder({name!r}).download_and_prepare() or pass the TFDS "
            "data_dir that holds it."
        )
    tfds = _import_tfds()
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(_manual_dir(builder))
        )
    )


def _tfds_splits(recipe: TfdsRecipe, split: str, available) -> list[str]:
    if split == TRAINVAL and TRAINVAL not in recipe.splits:
        parts = [recipe.splits.get(s, s) for s in ("train", "val")]
    else:
        parts = [recipe.splits.get(split, split)]
    for part in parts:
        if part not in available:
            known = sorted(set(recipe.splits) | set(available) | {TRAINVAL})
            raise ValueError(
                f"tfds:{recipe.builder}: unknown split {split!r} (TFDS split "
                f"{part!r}); valid splits: {', '.join(known)}. Slices such as "
                "'train[:10%]' are not supported: whole shards are read."
            )
    return parts


def _spec(
    name: str,
    recipe: TfdsRecipe,
    features: Any,
    split: str,
    pairs,
    root: str,
    records=(),
    source: TfdsSource | None = None,
) -> DatasetSpec:
    class_names = recipe.classes(features)
    palette = recipe.palette
    if palette is None:
        palette = palettes.default_palette(len(class_names))
    return DatasetSpec(
        name=PREFIX + name,
        split=split,
        num_classes=len(class_names),
        class_names=class_names,
        palette=palette,
        pairs=tuple(pairs),
        label_lut=recipe.label_lut,
        ignore_label=recipe.ignore_label,
        root=root,
        records=tuple(records),
        tfds_source=source,
    )


def tfds_classes(name: str, data_dir: str | Path | None = None) -> DatasetSpec:
    """Classes, palette and label mapping of ``tfds:NAME`` without its data
    (class names stored with the data are read when it is prepared)."""
    recipe = get_recipe(name)
    name = recipe.builder
    features = None
    if callable(recipe.class_names):
        tfds = _import_tfds()
        builder = tfds.builder(name, data_dir=_data_dir(data_dir))
        features = builder.info.features
    return _spec(name, recipe, features, "", (), "")


def _data_dir(data_dir) -> str | None:
    return None if data_dir is None else str(Path(data_dir).expanduser())


def load_tfds(
    name: str,
    data_dir: str | Path | None = None,
    split: str = "train",
    *,
    download: bool = True,
    recipe: TfdsRecipe | None = None,
) -> DatasetSpec:
    """One split of a TFDS builder as a `DatasetSpec` read from its shards.

    Args:
        name: Builder name with config (and optional ``:VERSION``), with or
            without the ``tfds:`` prefix, e.g. ``"oxford_iiit_pet"``.
        data_dir: TFDS data folder (default: TFDS's, ``~/tensorflow_datasets``
            or ``$TFDS_DATA_DIR``).
        split: ``train``, ``val``, ``trainval`` or a TFDS split name.
        download: Prepare the builder when it is not (downloads; builders
            with ``manual_files`` need them in ``<data_dir>/downloads/manual``).
        recipe: Recipe to use instead of the registered one.

    Returns:
        A `DatasetSpec` whose ``records`` are the TFDS TFRecord shards and
        whose ``pairs`` name the examples by position.

    Raises:
        ValueError: Unknown or refused builder, unknown split, or data
            prepared in a format other than TFRecord.
        FileNotFoundError: Not prepared and cannot be (manual download
            missing, or ``download=False``).
    """
    if name.startswith(PREFIX):
        name = name[len(PREFIX) :]
    if recipe is None:
        recipe = get_recipe(name)
        if ":" not in name:
            name = recipe.builder
    tfds = _import_tfds()
    builder = tfds.builder(name, data_dir=_data_dir(data_dir))
    base = _base_name(name)
    _prepare(builder, recipe, base, download)
    info = builder.info
    file_format = str(getattr(info.file_format, "value", info.file_format))
    if file_format != "tfrecord":
        raise ValueError(
            f"tfds:{base} in {builder.data_dir} was prepared as "
            f"{file_format}; the pipeline reads TFRecord shards. Prepare it "
            "again with download_and_prepare(file_format='tfrecord') in a "
            "separate data_dir."
        )
    parts = _tfds_splits(recipe, split, info.splits.keys())
    records, pairs = [], []
    for part in parts:
        split_info = info.splits[part]
        records += [str(path) for path in split_info.filepaths]
        pairs += [
            (f"{PREFIX}{base}/{part}[{i}]",) * 2
            for i in range(split_info.num_examples)
        ]
    if not pairs:
        raise ValueError(f"tfds:{base}: split {split!r} has no examples.")
    source = TfdsSource(recipe, info.features, f"{PREFIX}{base}/{split}")
    return _spec(
        base,
        recipe,
        info.features,
        split,
        pairs,
        str(builder.data_dir),
        records,
        source,
    )
