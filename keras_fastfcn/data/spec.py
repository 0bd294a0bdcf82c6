"""`DatasetSpec`: everything the pipeline needs to know about one split."""

import dataclasses
from typing import Any

import numpy as np

from keras_fastfcn.data.labels import check_lut
from keras_fastfcn.data.labels import describe_valid_raw_values


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetSpec:
    """One split of a segmentation dataset: files plus label semantics.

    Attributes:
        name: Dataset name, e.g. ``"ade20k"``.
        split: Split name, e.g. ``"train"``.
        num_classes: Number of train ids (``0 .. num_classes - 1``).
        class_names: ``num_classes`` class names, indexed by train id.
        palette: ``(num_classes, 3)`` uint8 RGB display colour per train id.
        pairs: ``(image_path, label_path)`` string pairs of the split.
        label_lut: ``(256,)`` int32 raw label value -> train id, the ignore
            label, or ``labels.INVALID_LABEL`` (an error if it occurs).
        ignore_label: Value of ignored pixels in the mapped labels (what
            losses and metrics must skip).
        root: Dataset root folder the pairs were found in.
        label_color_codes: Optional ``(num_values, 3)`` uint8 colour of raw
            value ``i``, for datasets whose label files may be colour PNGs
            (PASCAL VOC palette PNGs, which TensorFlow decodes to RGB).
            ``None``: colour labels are rejected.
        records: TFRecord shard paths holding the examples (written by
            `keras_fastfcn.data.tfrecord.write_tfrecords`); empty when the
            examples are read from ``pairs``. With records, ``pairs`` holds
            the original file names in record order (for messages only).
        tfds_source: A `keras_fastfcn.data.tfds_source.TfdsSource` when
            ``records`` are the shards of a TFDS builder (parsed with its
            feature spec); ``pairs`` then name the examples by position.
    """

    name: str
    split: str
    num_classes: int
    class_names: tuple[str, ...]
    palette: np.ndarray
    pairs: tuple[tuple[str, str], ...]
    label_lut: np.ndarray
    ignore_label: int = 255
    root: str = ""
    label_color_codes: np.ndarray | None = None
    records: tuple[str, ...] = ()
    tfds_source: Any = None

    def __post_init__(self):
        if not 0 < self.num_classes <= 255:
            raise ValueError(
                f"num_classes must be in 1..255, got {self.num_classes}."
            )
        if not 0 <= self.ignore_label <= 255 or (
            self.ignore_label < self.num_classes
        ):
            raise ValueError(
                f"ignore_label must be in {self.num_classes}..255 (not a "
                f"train id), got {self.ignore_label}."
            )
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"Got {len(self.class_names)} class names for "
                f"{self.num_classes} classes."
            )
        palette = np.asarray(self.palette, dtype=np.uint8)
        if palette.shape != (self.num_classes, 3):
            raise ValueError(
                f"palette must have shape ({self.num_classes}, 3), got "
                f"{palette.shape}."
            )
        check_lut(self.label_lut, self.num_classes, self.ignore_label)
        lut = np.asarray(self.label_lut, dtype=np.int32)
        codes = self.label_color_codes
        if codes is not None:
            codes = np.asarray(codes, dtype=np.uint8)
            unique = np.unique(codes, axis=0)
            if (
                codes.ndim != 2
                or codes.shape[1] != 3
                or len(unique) != len(codes)
            ):
                raise ValueError(
                    "label_color_codes must be a (num_values, 3) array of "
                    "distinct RGB colours."
                )
            codes.setflags(write=False)
        palette.setflags(write=False)
        lut.setflags(write=False)
        pairs = tuple((str(image), str(label)) for image, label in self.pairs)
        object.__setattr__(self, "class_names", tuple(self.class_names))
        object.__setattr__(self, "palette", palette)
        object.__setattr__(self, "label_lut", lut)
        object.__setattr__(self, "label_color_codes", codes)
        object.__setattr__(self, "pairs", pairs)
        object.__setattr__(self, "records", tuple(map(str, self.records)))

    def __len__(self) -> int:
        return len(self.pairs)

    def __repr__(self) -> str:
        return (
            f"DatasetSpec(name={self.name!r}, split={self.split!r}, "
            f"num_classes={self.num_classes}, examples={len(self)}, "
            f"ignore_label={self.ignore_label}, root={self.root!r}"
            + (f", records={len(self.records)} shards" if self.records else "")
            + ")"
        )

    @property
    def image_paths(self) -> list[str]:
        """Image file paths, in split order."""
        return [image for image, _ in self.pairs]

    @property
    def label_paths(self) -> list[str]:
        """Label file paths, in split order."""
        return [label for _, label in self.pairs]

    @property
    def valid_raw_values(self) -> str:
        """Human-readable raw label values the files may contain."""
        return describe_valid_raw_values(self.label_lut)

    def take(self, count: int) -> "DatasetSpec":
        """Returns the same spec restricted to its first ``count`` pairs."""
        return dataclasses.replace(self, pairs=self.pairs[:count])
