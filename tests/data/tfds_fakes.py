"""Prepared TFDS builders holding generated examples (no download).

`prepare_fake` subclasses the real TFDS builder class (same name, config,
version and feature spec), replaces only its download-and-generate step
with the given examples and prepares it in ``data_dir``. The result is what
``download_and_prepare`` leaves on disk: ``tfds.builder(name,
data_dir=data_dir)`` then reads it with the real builder.
"""

from pathlib import Path

import numpy as np
import tensorflow_datasets as tfds


def prepare_fake(
    name: str,
    data_dir: Path,
    splits: dict[str, list[dict]],
    num_shards: int = 1,
) -> Path:
    """Prepares builder ``name`` ("builder" or "builder/config") in
    ``data_dir`` with ``splits`` (split name -> feature dicts). Returns the
    builder's data folder."""
    builder_name, _, config = name.partition("/")
    real = tfds.builder(name, data_dir=str(data_dir))

    class Fake(type(real), skip_registration=True):
        def _split_generators(self, dl_manager):
            return {name: _generate(items) for name, items in splits.items()}

    Fake.name = builder_name
    kwargs = {"config": config} if config else {}
    builder = Fake(data_dir=str(data_dir), **kwargs)
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            try_download_gcs=False, num_shards=num_shards
        )
    )
    return Path(str(builder.data_dir))


def _generate(examples):
    for index, example in enumerate(examples):
        yield f"example_{index:05d}", example


def rng_image(height: int, width: int, seed: int) -> np.ndarray:
    """A random uint8 ``(height, width, 3)`` image."""
    return np.random.default_rng(seed).integers(
        0, 256, (height, width, 3), dtype=np.uint8
    )


def pet_example(index: int, trimap: np.ndarray) -> dict:
    """An oxford_iiit_pet example with the given ``(h, w)`` trimap."""
    height, width = trimap.shape
    return {
        "file_name": f"pet_{index}.jpg",
        "head_bbox": tfds.features.BBox(0.1, 0.1, 0.9, 0.9),
        "image": rng_image(height, width, index),
        "label": index % 37,
        "species": index % 2,
        "segmentation_mask": trimap.astype(np.uint8)[..., None],
    }


CITYSCAPES_SHAPE = (1024, 2048)
"""The builder's fixed image size."""


def cityscapes_example(index: int, label_ids: np.ndarray) -> dict:
    """A cityscapes/semantic_segmentation example: ``label_ids`` (any small
    ``(h, w)``) fill the top-left corner of a label image of road (7)."""
    label = np.full(CITYSCAPES_SHAPE, 7, np.uint8)
    label[: label_ids.shape[0], : label_ids.shape[1]] = label_ids
    image = np.zeros((*CITYSCAPES_SHAPE, 3), np.uint8)
    image[:64, :64] = rng_image(64, 64, index)
    return {
        "image_id": f"city_{index:06d}",
        "image_left": image,
        "segmentation_label": label[..., None],
    }


def panoptic_rgb(segment_ids: np.ndarray) -> np.ndarray:
    """Panoptic segment ids -> the COCO PNG colours (id = R + 256 G +
    65536 B)."""
    ids = np.asarray(segment_ids, np.int64)
    return np.stack(
        [ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1
    ).astype(np.uint8)


def coco_panoptic_example(
    index: int, segment_ids: np.ndarray, objects: list[dict]
) -> dict:
    """A coco/2017_panoptic example; ``objects``: dicts of ``id``,
    ``label`` (0..132) and ``is_crowd``."""
    height, width = segment_ids.shape
    return {
        "image": rng_image(height, width, index),
        "image/filename": f"{index:012d}.jpg",
        "image/id": index,
        "panoptic_image": panoptic_rgb(segment_ids),
        "panoptic_image/filename": f"{index:012d}.png",
        "panoptic_objects": [
            {
                "id": obj["id"],
                "area": int(np.sum(segment_ids == obj["id"])),
                "bbox": tfds.features.BBox(0.0, 0.0, 1.0, 1.0),
                "is_crowd": obj["is_crowd"],
                "label": obj["label"],
            }
            for obj in objects
        ],
    }
