"""Pre-flight check of a dataset with PIL: every bad file, reported at once.

The tf.data pipeline stops at the first bad file; run this first (the
training CLI does) to list all of them. It applies the same rules as
`keras_fastfcn.data.decode`. Command line: `keras_fastfcn.cli.validate_data`.
"""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image
from PIL import UnidentifiedImageError
from tqdm import tqdm

from keras_fastfcn.data.decode import END_MARKER_WINDOW
from keras_fastfcn.data.labels import INVALID_LABEL
from keras_fastfcn.data.labels import colors_to_raw
from keras_fastfcn.data.labels import map_raw_labels
from keras_fastfcn.data.spec import DatasetSpec

_MAX_REPORTED = 20
_SINGLE_CHANNEL_MODES = ("L", "I;16", "I;16B", "I;16L", "I")


@dataclasses.dataclass(frozen=True)
class FileProblem:
    """One problem with one file."""

    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def _check_end_marker(path: str) -> None:
    """Raises OSError if a PNG/JPEG lacks its end marker (as tf.data does)."""
    with open(path, "rb") as file:
        head = file.read(8)
        file.seek(0, 2)
        file.seek(max(file.tell() - END_MARKER_WINDOW, 0))
        tail = file.read()
    markers = {b"\x89PNG\r\n\x1a\n": b"IEND", b"\xff\xd8\xff": b"\xff\xd9"}
    for signature, marker in markers.items():
        if head.startswith(signature) and marker not in tail:
            raise OSError(
                f"truncated: no end marker {marker!r} in the last "
                f"{END_MARKER_WINDOW} bytes"
            )


def _open_fully(path: str) -> Image.Image:
    """Opens and decodes the whole file (so truncation is detected)."""
    _check_end_marker(path)
    image = Image.open(path)
    image.load()
    return image


def _label_values(label: Image.Image, spec: DatasetSpec) -> np.ndarray:
    """Raw label values as TensorFlow decodes them; raises ValueError."""
    if label.format == "JPEG":
        raise ValueError(
            "label is a JPEG: lossy compression changes class indices; "
            "save labels as PNG"
        )
    if label.mode in _SINGLE_CHANNEL_MODES:
        return np.asarray(label).astype(np.int64)
    if label.mode in ("P", "RGB") and spec.label_color_codes is not None:
        rgb = np.asarray(label.convert("RGB"))
        return colors_to_raw(rgb, spec.label_color_codes).astype(np.int64)
    raise ValueError(
        f"label has PIL mode {label.mode!r}; labels must be single-channel "
        "PNGs of class indices"
        + (
            ""
            if spec.label_color_codes is not None
            else " (this dataset has no colour table for RGB or palette "
            "labels; convert them to grayscale class indices)"
        )
    )


def check_pair(
    spec: DatasetSpec, image_path: str, label_path: str
) -> list[FileProblem]:
    """Checks one image/label pair; returns its problems (empty if fine)."""
    problems = []
    image_size = label_size = None
    try:
        image_size = _open_fully(image_path).size
    except (OSError, UnidentifiedImageError, ValueError) as error:
        problems.append(FileProblem(image_path, f"unreadable image ({error})"))
    try:
        label = _open_fully(label_path)
        label_size = label.size
        raw = _label_values(label, spec)
        mapped = map_raw_labels(raw, spec.label_lut)
        bad = mapped == INVALID_LABEL
        if bad.any():
            values = np.unique(raw[bad])
            shown = ", ".join(str(v) for v in values[:10].tolist())
            problems.append(
                FileProblem(
                    label_path,
                    f"{int(bad.sum())} pixels have raw values that dataset "
                    f"'{spec.name}' does not define: {shown} (-1 = colour "
                    f"not in the colour table); valid raw values: "
                    f"{spec.valid_raw_values}",
                )
            )
    except (OSError, UnidentifiedImageError) as error:
        problems.append(FileProblem(label_path, f"unreadable label ({error})"))
    except ValueError as error:
        problems.append(FileProblem(label_path, str(error)))
    if image_size and label_size and image_size != label_size:
        problems.append(
            FileProblem(
                label_path,
                f"label is {label_size[1]}x{label_size[0]} (HxW) but its "
                f"image {image_path} is {image_size[1]}x{image_size[0]}",
            )
        )
    return problems


def validate_dataset(
    spec: DatasetSpec,
    max_files: int | None = None,
    progress: bool = True,
    num_threads: int = 4,
) -> list[FileProblem]:
    """Scans a dataset split with PIL and returns every problem found.

    Checks that each image decodes completely, each label is a
    single-channel (or, for datasets with a colour table, colour) PNG whose
    raw values the dataset defines, and both have the same size. TFRecord
    and TFDS splits (``spec.records``) are checked by decoding every
    example with the pipeline's decoder instead.

    Args:
        spec: The split to check.
        max_files: Check only the first ``max_files`` pairs.
        progress: Show a tqdm progress bar.
        num_threads: Files decoded in parallel.

    Returns:
        The problems, in file order (empty when the split is clean).
    """
    if spec.records:
        return _validate_records(spec, max_files, progress)
    pairs = spec.pairs if max_files is None else spec.pairs[:max_files]
    with ThreadPoolExecutor(max_workers=num_threads) as pool:
        results = pool.map(lambda pair: check_pair(spec, *pair), pairs)
        results = tqdm(
            results,
            total=len(pairs),
            desc=f"Checking {spec.name}/{spec.split}",
            unit="pair",
            disable=not progress,
        )
        return [problem for result in results for problem in result]


def _validate_records(
    spec: DatasetSpec, max_files: int | None, progress: bool
) -> list[FileProblem]:
    """Decodes every record (TFRecord or TFDS shards) with the pipeline's
    own decoder; one problem per example that fails, named by its position
    (``spec.pairs``) and described by the decoder's message."""
    import tensorflow as tf

    from keras_fastfcn.data.tfrecord import make_record_decoder

    decode = make_record_decoder(spec)
    count = len(spec) if max_files is None else min(max_files, len(spec))
    records = tf.data.TFRecordDataset(list(spec.records)).take(count)
    problems = []
    for index, record in enumerate(
        tqdm(
            records,
            total=count,
            desc=f"Checking {spec.name}/{spec.split}",
            unit="example",
            disable=not progress,
        )
    ):
        try:
            decode(record)
        except tf.errors.InvalidArgumentError as error:
            message = error.message.strip()
            # the assertion's own text, without TensorFlow's preamble
            _, found, data = message.partition("Summarized data: b")
            if found:
                message = data.strip("'\"")
            problems.append(FileProblem(spec.pairs[index][0], message))
    return problems


def check_dataset(
    spec: DatasetSpec, max_files: int | None = None, progress: bool = True
) -> None:
    """Runs `validate_dataset` and raises ValueError listing the problems."""
    problems = validate_dataset(spec, max_files, progress)
    if problems:
        lines = [f"  {problem}" for problem in problems[:_MAX_REPORTED]]
        if len(problems) > _MAX_REPORTED:
            lines.append(f"  ... and {len(problems) - _MAX_REPORTED} more")
        raise ValueError(
            f"{len(problems)} problems in {spec.name}/{spec.split} "
            f"({spec.root}):\n" + "\n".join(lines)
        )
