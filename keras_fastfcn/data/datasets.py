"""Dataset layouts as downloaded, and `load_dataset` / `list_datasets`.

Each layout function finds the ``(image, label)`` pairs of one split and
returns a `DatasetSpec` with the dataset's classes, palette and label lookup
table. Paths in errors are the ones searched, with the expected layout.
"""

import inspect
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_fastfcn.data import palettes
from keras_fastfcn.data.file_lists import IMAGE_EXTENSIONS
from keras_fastfcn.data.file_lists import check_pairs_exist
from keras_fastfcn.data.file_lists import match_by_stem
from keras_fastfcn.data.file_lists import name_some
from keras_fastfcn.data.file_lists import pairs_from_ids
from keras_fastfcn.data.file_lists import read_id_list
from keras_fastfcn.data.file_lists import read_pair_list
from keras_fastfcn.data.file_lists import require_dir
from keras_fastfcn.data.file_lists import require_file
from keras_fastfcn.data.labels import cityscapes_lut
from keras_fastfcn.data.labels import identity_lut
from keras_fastfcn.data.labels import shifted_lut
from keras_fastfcn.data.spec import DatasetSpec

logger = logging.getLogger(__name__)

IGNORE_LABEL = 255
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"

ADE20K_LAYOUT = """\
  <data_dir>/ADEChallengeData2016/   (or data_dir = that folder)
    images/training/*.jpg       annotations/training/*.png
    images/validation/*.jpg     annotations/validation/*.png"""

PASCAL_CONTEXT_LAYOUT = """\
  <data_dir>/VOCdevkit/VOC2010/   (or data_dir = VOCdevkit or VOC2010)
    JPEGImages/<id>.jpg
    SegmentationClassContext/<id>.png   (values 0..59, 0 = background)
    ImageSets/SegmentationContext/{train,val}.txt"""

PASCAL_VOC_LAYOUT = """\
  <data_dir>/VOCdevkit/VOC2012/   (or data_dir = VOCdevkit or VOC2012)
    JPEGImages/<id>.jpg
    SegmentationClass/<id>.png      (palette PNG, 0..20, 255 = border)
    ImageSets/Segmentation/{train,val,trainval}.txt
  split "train_aug" (SBD augmented set, optional):
    SegmentationClassAug/<id>.png   (grayscale, 0..20, 255)
    ImageSets/Segmentation/train_aug.txt (or VOC2012/train_aug.txt):
      '<id>' or '/JPEGImages/<id>.jpg /SegmentationClassAug/<id>.png' lines"""

CITYSCAPES_LAYOUT = """\
  <data_dir>/
    leftImg8bit/{train,val}/<city>/<name>_leftImg8bit.png
    gtFine/{train,val}/<city>/<name>_gtFine_labelIds.png"""

CAMVID_LAYOUT = """\
  <data_dir>/  (SegNet CamVid)
    train.txt, val.txt (test.txt): 'image_path label_path' per line,
      relative to <data_dir>, e.g. 'train/a.png trainannot/a.png'"""

FOLDER_LAYOUT = """\
  any of (labels hold train ids 0..num_classes-1 or ignore_label):
    image_dir=..., label_dir=...   labels named '<image stem>.png'
    list_file=...                  'image_path label_path' lines
    <data_dir>/<split>.txt         'image_path label_path' lines
    <data_dir>/images/<split>/ + <data_dir>/labels/<split>/"""


_KNOWN_CLASSES = {
    "ade20k": dict(
        num_classes=150,
        class_names=palettes.ADE20K_CLASSES,
        palette=palettes.ADE20K_PALETTE,
        label_lut=shifted_lut(150, IGNORE_LABEL),
    ),
    "pascal_context": dict(
        num_classes=59,
        class_names=palettes.PASCAL_CONTEXT_CLASSES,
        palette=palettes.PASCAL_CONTEXT_PALETTE,
        label_lut=shifted_lut(59, IGNORE_LABEL),
    ),
    "pascal_voc": dict(
        num_classes=21,
        class_names=palettes.PASCAL_VOC_CLASSES,
        palette=palettes.PASCAL_VOC_PALETTE,
        label_lut=identity_lut(21, IGNORE_LABEL),
        label_color_codes=palettes.pascal_color_map(256),
    ),
    "cityscapes": dict(
        num_classes=19,
        class_names=palettes.CITYSCAPES_CLASSES,
        palette=palettes.CITYSCAPES_PALETTE,
        label_lut=cityscapes_lut(IGNORE_LABEL),
    ),
    "camvid": dict(
        num_classes=11,
        class_names=palettes.CAMVID_CLASSES,
        palette=palettes.CAMVID_PALETTE,
        label_lut=identity_lut(11, IGNORE_LABEL, ignore_values=(11,)),
    ),
}
"""Classes, palette and label mapping of the datasets with fixed classes."""
_KNOWN_CLASSES["sample"] = _KNOWN_CLASSES["camvid"]


def _known_spec(
    name: str,
    split: str,
    pairs,
    root: Path | str,
    classes: str | None = None,
) -> DatasetSpec:
    """A `DatasetSpec` with the classes of ``classes`` (default: ``name``)."""
    return DatasetSpec(
        name=name,
        split=split,
        pairs=tuple(pairs),
        ignore_label=IGNORE_LABEL,
        root=str(root),
        **_KNOWN_CLASSES[classes or name],
    )


def _check_split(dataset: str, split: str, splits: tuple[str, ...]) -> None:
    if split not in splits:
        raise ValueError(
            f"{dataset}: unknown split {split!r}; valid splits: "
            f"{', '.join(splits)}."
        )


def _find_root(
    data_dir: Path, dataset: str, layout: str, candidates: tuple[str, ...]
) -> Path:
    """Returns the first of ``data_dir / c`` (c in candidates) that exists."""
    require_dir(data_dir, dataset, layout)
    for candidate in candidates:
        path = data_dir / candidate
        if path.is_dir():
            return path
    searched = ", ".join(str(data_dir / c) for c in candidates)
    raise FileNotFoundError(
        f"{dataset}: no dataset folder found under {data_dir} (searched "
        f"{searched}). Expected layout:\n{layout}"
    )


def _require_data_dir(data_dir: str | Path | None, dataset: str) -> Path:
    if data_dir is None:
        raise ValueError(
            f"{dataset}: data_dir is required (the folder you downloaded the "
            f"dataset to)."
        )
    return Path(data_dir).expanduser()


def ade20k(data_dir: str | Path | None, split: str = "train") -> DatasetSpec:
    """ADE20K (ADEChallengeData2016, 150 classes, raw 0 "other" ignored).

    Splits: ``train``, ``val``, ``trainval``.
    """
    _check_split("ade20k", split, ("train", "val", "trainval"))
    data_dir = _require_data_dir(data_dir, "ade20k")
    root = _find_root(
        data_dir, "ade20k", ADE20K_LAYOUT, ("ADEChallengeData2016", ".")
    )
    folders = {"train": ["training"], "val": ["validation"]}
    folders["trainval"] = folders["train"] + folders["val"]
    pairs = []
    for folder in folders[split]:
        image_dir = require_dir(
            root / "images" / folder, "ade20k", ADE20K_LAYOUT
        )
        label_dir = require_dir(
            root / "annotations" / folder, "ade20k", ADE20K_LAYOUT
        )
        pairs += match_by_stem(image_dir, label_dir, strict=True)
    return _known_spec("ade20k", split, pairs, root)


def _voc_root(data_dir: Path, dataset: str, year: str, layout: str) -> Path:
    return _find_root(
        data_dir,
        dataset,
        layout,
        (f"VOCdevkit/VOC{year}", f"VOC{year}", "."),
    )


def pascal_context(
    data_dir: str | Path | None, split: str = "train"
) -> DatasetSpec:
    """PASCAL-Context, 59 classes (background 0 ignored, k -> k - 1).

    Splits: ``train``, ``val``, ``trainval``.
    """
    _check_split("pascal_context", split, ("train", "val", "trainval"))
    data_dir = _require_data_dir(data_dir, "pascal_context")
    layout = PASCAL_CONTEXT_LAYOUT
    root = _voc_root(data_dir, "pascal_context", "2010", layout)
    lists = root / "ImageSets" / "SegmentationContext"
    image_dir = require_dir(root / "JPEGImages", "pascal_context", layout)
    label_dir = require_dir(
        root / "SegmentationClassContext", "pascal_context", layout
    )
    pairs = []
    for part in ("train", "val") if split == "trainval" else (split,):
        list_file = require_file(
            lists / f"{part}.txt", "pascal_context", layout
        )
        pairs += pairs_from_ids(
            read_id_list(list_file),
            image_dir,
            ".jpg",
            label_dir,
            ".png",
            f"listed in {list_file}",
        )
    return _known_spec("pascal_context", split, pairs, root)


def _find_train_aug_list(root: Path) -> Path:
    candidates = (
        root / "ImageSets" / "Segmentation" / "train_aug.txt",
        root / "train_aug.txt",
        root / "SegmentationClassAug" / "train_aug.txt",
        root.parent / "train_aug.txt",
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        "pascal_voc: split 'train_aug' needs the SBD list train_aug.txt; "
        f"searched:\n{name_some(candidates)}\nExpected layout:\n"
        f"{PASCAL_VOC_LAYOUT}"
    )


def _train_aug_pairs(root: Path) -> list[tuple[str, str]]:
    layout = PASCAL_VOC_LAYOUT
    label_dir = require_dir(root / "SegmentationClassAug", "pascal_voc", layout)
    list_file = _find_train_aug_list(root)
    pairs = []
    for number, line in enumerate(list_file.read_text().splitlines(), 1):
        fields = line.split()
        if len(fields) == 1:
            image_id = fields[0]
            pairs.append(
                (
                    str(root / "JPEGImages" / f"{image_id}.jpg"),
                    str(label_dir / f"{image_id}.png"),
                )
            )
        elif len(fields) == 2:
            pairs.append(tuple(str(root / f.lstrip("/")) for f in fields))
        elif fields:
            raise ValueError(
                f"{list_file}, line {number}: expected '<id>' or "
                f"'image_path label_path', got {line.strip()!r}."
            )
    check_pairs_exist(pairs, f"listed in {list_file}")
    val_list = root / "ImageSets" / "Segmentation" / "val.txt"
    if val_list.is_file():
        val_ids = set(read_id_list(val_list))
        overlap = [p for p, _ in pairs if Path(p).stem in val_ids]
        if overlap:
            logger.warning(
                "pascal_voc: %d train_aug images are also in %s; validation "
                "scores will be optimistic. First ones:\n%s",
                len(overlap),
                val_list,
                name_some(overlap, 5),
            )
    return pairs


def pascal_voc(
    data_dir: str | Path | None, split: str = "train"
) -> DatasetSpec:
    """PASCAL VOC 2012, 21 classes (255 = border, ignored).

    Splits: ``train``, ``val``, ``trainval`` (``SegmentationClass``) and
    ``train_aug`` (SBD augmented labels in ``SegmentationClassAug``).
    """
    splits = ("train", "val", "trainval", "train_aug")
    _check_split("pascal_voc", split, splits)
    data_dir = _require_data_dir(data_dir, "pascal_voc")
    layout = PASCAL_VOC_LAYOUT
    root = _voc_root(data_dir, "pascal_voc", "2012", layout)
    require_dir(root / "JPEGImages", "pascal_voc", layout)
    if split == "train_aug":
        pairs = _train_aug_pairs(root)
    else:
        list_file = require_file(
            root / "ImageSets" / "Segmentation" / f"{split}.txt",
            "pascal_voc",
            layout,
        )
        label_dir = require_dir(
            root / "SegmentationClass", "pascal_voc", layout
        )
        pairs = pairs_from_ids(
            read_id_list(list_file),
            root / "JPEGImages",
            ".jpg",
            label_dir,
            ".png",
            f"listed in {list_file}",
        )
    return _known_spec("pascal_voc", split, pairs, root)


def _cityscapes_split(root: Path, split: str) -> list[tuple[str, str]]:
    layout = CITYSCAPES_LAYOUT
    image_root = require_dir(root / "leftImg8bit" / split, "cityscapes", layout)
    label_root = require_dir(root / "gtFine" / split, "cityscapes", layout)
    image_suffix = "_leftImg8bit.png"
    label_suffix = "_gtFine_labelIds.png"
    images = {
        str(p.relative_to(image_root))[: -len(image_suffix)]: p
        for p in image_root.glob(f"*/*{image_suffix}")
    }
    labels = {
        str(p.relative_to(label_root))[: -len(label_suffix)]: p
        for p in label_root.glob(f"*/*{label_suffix}")
    }
    lonely = [images[k] for k in sorted(images.keys() - labels.keys())]
    lonely += [labels[k] for k in sorted(labels.keys() - images.keys())]
    if lonely:
        raise ValueError(
            f"cityscapes: {len(lonely)} files have no partner (each "
            f"'<name>{image_suffix}' needs '<name>{label_suffix}' in the "
            f"same city folder of gtFine/{split}):\n{name_some(lonely)}"
        )
    return [(str(images[k]), str(labels[k])) for k in sorted(images)]


def cityscapes(
    data_dir: str | Path | None, split: str = "train"
) -> DatasetSpec:
    """Cityscapes fine annotations: 34 label ids -> 19 train ids.

    Splits: ``train``, ``val``, ``trainval`` (the test labels are not
    public).
    """
    _check_split("cityscapes", split, ("train", "val", "trainval"))
    data_dir = _require_data_dir(data_dir, "cityscapes")
    root = require_dir(data_dir, "cityscapes", CITYSCAPES_LAYOUT)
    parts = ("train", "val") if split == "trainval" else (split,)
    pairs = [pair for part in parts for pair in _cityscapes_split(root, part)]
    return _known_spec("cityscapes", split, pairs, root)


def _list_file_split(
    root: Path, split: str, dataset: str, layout: str
) -> list[tuple[str, str]]:
    parts = ("train", "val") if split == "trainval" else (split,)
    pairs = []
    for part in parts:
        list_file = root / f"{part}.txt"
        if not list_file.is_file():
            available = sorted(p.stem for p in root.glob("*.txt"))
            raise FileNotFoundError(
                f"{dataset}: split list {list_file} does not exist (lists "
                f"found: {available or 'none'}). Expected layout:\n{layout}"
            )
        pairs += read_pair_list(list_file, root)
    return pairs


def camvid(
    data_dir: str | Path | None, split: str = "train", name: str = "camvid"
) -> DatasetSpec:
    """CamVid, SegNet 11-class split (raw 11 "void" ignored).

    Splits: any ``<split>.txt`` in ``data_dir`` (``train``, ``val``,
    ``test``), and ``trainval``.
    """
    data_dir = _require_data_dir(data_dir, name)
    root = require_dir(data_dir, name, CAMVID_LAYOUT)
    pairs = _list_file_split(root, split, name, CAMVID_LAYOUT)
    return _known_spec(name, split, pairs, root, classes="camvid")


def sample(
    data_dir: str | Path | None = None, split: str = "train"
) -> DatasetSpec:
    """Bundled CamVid sample (20 train + 5 val images), CamVid classes.

    Splits: ``train``, ``val``. ``data_dir`` must be None.
    """
    if data_dir is not None:
        raise ValueError(
            "sample: the sample is bundled with the package; do not pass "
            "data_dir (use dataset 'camvid' for your own copy)."
        )
    _check_split("sample", split, ("train", "val", "trainval"))
    return camvid(SAMPLE_DIR, split, name="sample")


def _folder_pairs(
    data_dir: Path | None,
    split: str,
    image_dir: str | Path | None,
    label_dir: str | Path | None,
    list_file: str | Path | None,
    label_suffix: str,
    strict: bool,
) -> tuple[Path, list[tuple[str, str]]]:
    def resolve(path):
        path = Path(path).expanduser()
        return (
            path if data_dir is None or path.is_absolute() else data_dir / path
        )

    if list_file is not None:
        list_path = require_file(resolve(list_file), "folder", FOLDER_LAYOUT)
        base = data_dir if data_dir is not None else list_path.parent
        return base, read_pair_list(list_path, base)
    if (image_dir is None) != (label_dir is None):
        raise ValueError("folder: pass both image_dir and label_dir, or none.")
    if image_dir is None:
        if data_dir is None:
            raise ValueError(
                "folder: pass data_dir, image_dir + label_dir, or list_file. "
                f"Accepted layouts:\n{FOLDER_LAYOUT}"
            )
        require_dir(data_dir, "folder", FOLDER_LAYOUT)
        if (data_dir / f"{split}.txt").is_file():
            return data_dir, read_pair_list(data_dir / f"{split}.txt", data_dir)
        image_dir = data_dir / "images" / split
        label_dir = data_dir / "labels" / split
    images = require_dir(resolve(image_dir), "folder", FOLDER_LAYOUT)
    labels = require_dir(resolve(label_dir), "folder", FOLDER_LAYOUT)
    pairs = match_by_stem(images, labels, label_suffix, strict=strict)
    if not pairs:
        raise ValueError(
            f"folder: no image in {images} (extensions "
            f"{', '.join(IMAGE_EXTENSIONS)}) has a label "
            f"'<stem>{label_suffix}.png' in {labels}."
        )
    return data_dir if data_dir is not None else images.parent, pairs


def folder(
    data_dir: str | Path | None = None,
    split: str = "train",
    *,
    num_classes: int,
    ignore_label: int = 255,
    image_dir: str | Path | None = None,
    label_dir: str | Path | None = None,
    list_file: str | Path | None = None,
    label_suffix: str = "",
    class_names: tuple[str, ...] | None = None,
    palette: np.ndarray | None = None,
    strict: bool = False,
) -> DatasetSpec:
    """Your own data: labels already hold train ids.

    Args:
        data_dir: Root folder; relative ``image_dir`` / ``label_dir`` /
            ``list_file`` are under it.
        split: ``<data_dir>/<split>.txt`` or ``images/<split>`` +
            ``labels/<split>`` when no explicit folders or list are given.
        num_classes: Number of classes; label values ``0 .. num_classes - 1``.
        ignore_label: Label value of ignored pixels (``num_classes .. 255``).
        image_dir: Folder of images.
        label_dir: Folder of labels ``<image stem><label_suffix>.png``.
        list_file: File of ``image_path label_path`` lines.
        label_suffix: Label file stem suffix, e.g. ``"_mask"``.
        class_names: Optional class names (default ``class_0`` ...).
        palette: Optional ``(num_classes, 3)`` colours.
        strict: Raise on images without labels (and vice versa) instead of
            skipping them with a warning.
    """
    data_path = None if data_dir is None else Path(data_dir).expanduser()
    root, pairs = _folder_pairs(
        data_path, split, image_dir, label_dir, list_file, label_suffix, strict
    )
    if class_names is None:
        class_names = tuple(f"class_{i}" for i in range(num_classes))
    if palette is None:
        palette = palettes.default_palette(num_classes)
    return DatasetSpec(
        name="folder",
        split=split,
        num_classes=num_classes,
        class_names=tuple(class_names),
        palette=palette,
        pairs=tuple(pairs),
        label_lut=identity_lut(num_classes, ignore_label),
        ignore_label=ignore_label,
        root=str(root),
    )


_DATASETS: dict[str, Callable[..., DatasetSpec]] = {
    "ade20k": ade20k,
    "pascal_context": pascal_context,
    "pascal_voc": pascal_voc,
    "cityscapes": cityscapes,
    "camvid": camvid,
    "folder": folder,
    "sample": sample,
}

_TFDS_REFUSALS = {
    "ade20k": (
        "ade20k: TFDS 'scene_parse150' is not the same data: it downloads the "
        "ADE20K 2017 release with instance-level annotations, not the "
        "ADEChallengeData2016 semantic labels (150 classes, 0 = other) that "
        "FastFCN is trained and evaluated on. Download ADEChallengeData2016 "
        "(http://data.csail.mit.edu/places/ADEchallenge/"
        "ADEChallengeData2016.zip), unzip it and call load_dataset('ade20k', "
        "data_dir=<folder containing ADEChallengeData2016>)."
    ),
    "pascal_voc": (
        "pascal_voc: TFDS 'voc' has no segmentation masks (boxes only). "
        "Download VOC2012 (and SBD for train_aug) and pass data_dir."
    ),
}


_TFDS_BUILDERS = {"cityscapes": "cityscapes/semantic_segmentation"}
"""Datasets with a TFDS builder of the same labels (``source="tfds"``)."""
TFDS_PREFIX = "tfds:"


def list_datasets() -> list[str]:
    """Returns the names accepted by `load_dataset`."""
    return sorted(_DATASETS)


def dataset_argument(text: str) -> str:
    """argparse ``type`` of ``--dataset``: a `list_datasets()` name or
    ``tfds:BUILDER``."""
    import argparse

    if text in _DATASETS or text.startswith(TFDS_PREFIX):
        return text
    raise argparse.ArgumentTypeError(
        f"unknown dataset {text!r}; valid: {', '.join(list_datasets())}, "
        "or tfds:<builder> (e.g. tfds:oxford_iiit_pet)"
    )


def get_dataset_spec(name: str) -> DatasetSpec:
    """Classes, palette and label mapping of a dataset, without its files.

    For tools that only need ``class_names`` / ``palette`` (prediction
    overlays, reports). The returned spec has no pairs and an empty split.

    Args:
        name: A dataset with fixed classes (any of `list_datasets()` but
            ``folder``).

    Raises:
        ValueError: Unknown name, or ``folder`` (its classes are given to
            `load_dataset`).
    """
    if name.startswith(TFDS_PREFIX):
        from keras_fastfcn.data.tfds_source import tfds_classes

        return tfds_classes(name)
    if name == "folder":
        raise ValueError(
            "folder: the classes are yours; pass num_classes (and "
            "class_names, palette) to load_dataset('folder', ...)."
        )
    if name not in _DATASETS:
        raise ValueError(
            f"Unknown dataset {name!r}; valid names: "
            f"{', '.join(list_datasets())}."
        )
    return _known_spec(name, "", (), "")


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    split: str = "train",
    *,
    source: str = "files",
    data_format: str = "files",
    **kwargs,
) -> DatasetSpec:
    """Finds one split of a dataset and describes it.

    Args:
        name: One of `list_datasets()`: ``ade20k``, ``pascal_context``,
            ``pascal_voc``, ``cityscapes``, ``camvid``, ``folder``,
            ``sample``; or ``tfds:BUILDER[/CONFIG]`` with a TFDS recipe,
            e.g. ``tfds:oxford_iiit_pet``.
        data_dir: Folder the dataset was downloaded to (None for
            ``sample``).
        split: Split name, e.g. ``"train"`` or ``"val"``.
        source: ``"files"``, or ``"tfds"``: ``cityscapes`` is read from
            TFDS ``cityscapes/semantic_segmentation``; the other names are
            refused with an explanation (TFDS has no equivalent of their
            semantic labels). ``name="tfds:BUILDER"`` always reads TFDS
            (`keras_fastfcn.data.tfds_source.load_tfds`: ``data_dir`` is the
            TFDS data folder; options ``download``, ``recipe``).
        data_format: ``"files"`` (the downloaded layout) or ``"tfrecord"``:
            ``data_dir`` is a folder written by ``python -m
            keras_fastfcn.cli.to_tfrecord`` (local or ``gs://``); its
            shards are checked once (a corrupt one is named).
        **kwargs: Layout options, e.g. ``num_classes`` for ``folder``.

    Returns:
        A `DatasetSpec`.

    Raises:
        ValueError: Unknown name, split, option or source.
        FileNotFoundError: A folder or file of the layout is missing.
    """
    if source == "tfds" and not name.startswith(TFDS_PREFIX):
        if name in _TFDS_BUILDERS:
            name = TFDS_PREFIX + _TFDS_BUILDERS[name]
        else:
            raise ValueError(
                _TFDS_REFUSALS.get(
                    name,
                    f"{name}: no TFDS source is supported; pass data_dir "
                    "with the downloaded files.",
                )
            )
    elif source not in ("files", "tfds"):
        raise ValueError(f"Unknown source {source!r}; use 'files' or 'tfds'.")
    is_tfds = name.startswith(TFDS_PREFIX)
    if name not in _DATASETS and not is_tfds:
        raise ValueError(
            f"Unknown dataset {name!r}; valid names: "
            f"{', '.join(list_datasets())}, or tfds:<builder> (built-in "
            "recipes: keras_fastfcn.data.tfds_source.RECIPES)."
        )
    if is_tfds and data_format == "files":
        from keras_fastfcn.data.tfds_source import load_tfds

        return load_tfds(name, data_dir, split, **kwargs)
    if data_format == "tfrecord":
        if data_dir is None:
            raise ValueError(
                "data_format='tfrecord' needs data_dir: the folder written by "
                "fastfcn to-tfrecord."
            )
        if kwargs:
            raise ValueError(
                f"{name}: layout options {sorted(kwargs)} do not apply to "
                "TFRecords (the classes are stored with them)."
            )
        from keras_fastfcn.data.tfrecord import load_tfrecord_split

        return load_tfrecord_split(
            str(data_dir), split, name=None if name == "folder" else name
        )
    if data_format != "files":
        raise ValueError(
            f"Unknown data_format {data_format!r}; use 'files' or 'tfrecord'."
        )
    layout = _DATASETS[name]
    try:
        inspect.signature(layout).bind(data_dir, split, **kwargs)
    except TypeError as error:
        options = [
            p for p in inspect.signature(layout).parameters
            if p not in ("data_dir", "split", "name")
        ]  # fmt: skip
        raise ValueError(
            f"{name}: {error}. Options of this dataset: "
            f"{', '.join(options) or 'none'}."
        ) from None
    spec = layout(data_dir, split, **kwargs)
    if len(spec) == 0:
        raise ValueError(
            f"{name}: split {split!r} under {spec.root} has no examples."
        )
    return spec
