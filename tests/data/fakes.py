"""Tiny on-disk datasets in every supported layout, written with PIL."""

from pathlib import Path

import numpy as np
from PIL import Image

from keras_fastfcn.data.palettes import pascal_color_map


def write_image(path: Path, height: int = 6, width: int = 8, seed: int = 0):
    """Writes a random RGB image (format from the suffix); returns pixels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def write_label(path: Path, values: np.ndarray, mode: str = "L") -> None:
    """Writes a label PNG: mode "L" (8-bit), "I;16" or "P" (VOC palette)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    values = np.asarray(values)
    if mode == "I;16":
        Image.fromarray(values.astype(np.uint16)).save(path)
        return
    data = values.astype(np.uint8)
    if mode == "P":
        height, width = data.shape
        image = Image.frombytes("P", (width, height), data.tobytes())
        image.putpalette(pascal_color_map(256).ravel().tolist())
    else:
        image = Image.fromarray(data)
    image.save(path)


def label_with(values, height: int = 6, width: int = 8) -> np.ndarray:
    """A ``(height, width)`` label whose first pixels are ``values``."""
    label = np.full(height * width, values[0], dtype=np.int64)
    label[: len(values)] = values
    return label.reshape(height, width)


def make_ade20k(root: Path, raw_values) -> Path:
    """ADEChallengeData2016 with 2 training and 1 validation pair."""
    base = root / "ADEChallengeData2016"
    for split, count in (("training", 2), ("validation", 1)):
        for i in range(count):
            name = f"ADE_{split[:5]}_{i:08d}"
            write_image(base / "images" / split / f"{name}.jpg", seed=i)
            write_label(
                base / "annotations" / split / f"{name}.png",
                label_with(raw_values),
            )
    return root


def make_pascal_context(root: Path, raw_values) -> Path:
    """VOCdevkit/VOC2010 with the SegmentationContext lists."""
    base = root / "VOCdevkit" / "VOC2010"
    splits = {"train": ["2008_000002", "2008_000003"], "val": ["2008_000007"]}
    for split, ids in splits.items():
        for i, image_id in enumerate(ids):
            write_image(base / "JPEGImages" / f"{image_id}.jpg", seed=i)
            write_label(
                base / "SegmentationClassContext" / f"{image_id}.png",
                label_with(raw_values),
            )
        lists = base / "ImageSets" / "SegmentationContext"
        lists.mkdir(parents=True, exist_ok=True)
        (lists / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return root


def make_pascal_voc(root: Path, raw_values, aug_list_style: str = "ids"):
    """VOCdevkit/VOC2012 with palette labels and the SBD train_aug set."""
    base = root / "VOCdevkit" / "VOC2012"
    splits = {"train": ["2007_000032"], "val": ["2007_000033"]}
    lists = base / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True, exist_ok=True)
    for split, ids in splits.items():
        for image_id in ids:
            write_image(base / "JPEGImages" / f"{image_id}.jpg")
            write_label(
                base / "SegmentationClass" / f"{image_id}.png",
                label_with(raw_values),
                mode="P",
            )
        (lists / f"{split}.txt").write_text("\n".join(ids) + "\n")
    aug_ids = ["2007_000032", "2008_000123"]
    write_image(base / "JPEGImages" / "2008_000123.jpg", seed=3)
    for image_id in aug_ids:
        write_label(
            base / "SegmentationClassAug" / f"{image_id}.png",
            label_with(raw_values),
        )
    if aug_list_style == "ids":
        lines = aug_ids
    else:
        lines = [
            f"/JPEGImages/{i}.jpg /SegmentationClassAug/{i}.png"
            for i in aug_ids
        ]
    (lists / "train_aug.txt").write_text("\n".join(lines) + "\n")
    return root


def make_cityscapes(root: Path, raw_values) -> Path:
    """leftImg8bit + gtFine with two cities in train, one in val."""
    files = {
        "train": ["aachen/aachen_000000_000019", "bremen/bremen_000001_000019"],
        "val": ["frankfurt/frankfurt_000000_000294"],
    }
    for split, names in files.items():
        for i, name in enumerate(names):
            write_image(
                root / "leftImg8bit" / split / f"{name}_leftImg8bit.png",
                seed=i,
            )
            label_dir = root / "gtFine" / split
            write_label(
                label_dir / f"{name}_gtFine_labelIds.png",
                label_with(raw_values),
            )
            # Other gtFine files sit beside the labelIds and must be ignored.
            write_label(
                label_dir / f"{name}_gtFine_instanceIds.png",
                label_with([0]),
            )
    return root


def make_camvid(root: Path, raw_values, image_suffix: str = ".png") -> Path:
    """SegNet CamVid: train/, trainannot/, val/, valannot/ and the lists."""
    for split, count in (("train", 2), ("val", 1)):
        lines = []
        for i in range(count):
            name = f"0001TP_{i:06d}"
            image = f"{split}/{name}{image_suffix}"
            label = f"{split}annot/{name}.png"
            write_image(root / image, seed=i)
            write_label(root / label, label_with(raw_values))
            lines.append(f"{image} {label}")
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def make_folder(root: Path, raw_values, stems=("a", "b")) -> Path:
    """images/train/<stem>.jpg + labels/train/<stem>.png."""
    for i, stem in enumerate(stems):
        write_image(root / "images" / "train" / f"{stem}.jpg", seed=i)
        write_label(
            root / "labels" / "train" / f"{stem}.png", label_with(raw_values)
        )
    return root
