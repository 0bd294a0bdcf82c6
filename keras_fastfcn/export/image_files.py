"""Finding and reading image files for prediction and calibration."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def list_image_files(sources: Iterable[str | os.PathLike]) -> list[Path]:
    """Image files named by `sources`, in order, without duplicates.

    Each source is an image file, a directory (its image files, sorted, not
    recursive) or a `.txt` list with one image path per line (the first
    field, relative to the list's directory, as in CamVid's
    `train.txt`).

    Raises:
        FileNotFoundError: a source does not exist or names no images.
    """
    files: list[Path] = []
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
        elif path.is_file() and path.suffix.lower() == ".txt":
            found = _files_from_list(path)
        elif path.is_file():
            found = [path]
        else:
            raise FileNotFoundError(
                f"{path} does not exist; pass image files, directories of "
                "images or .txt lists of images."
            )
        if not found:
            raise FileNotFoundError(
                f"{path} holds no images ({', '.join(IMAGE_SUFFIXES)} "
                "files); pass a directory with images in it."
            )
        files.extend(found)
    return list(dict.fromkeys(files))


def _files_from_list(list_file: Path) -> list[Path]:
    files = []
    for line in list_file.read_text().splitlines():
        fields = line.split()
        if not fields:
            continue
        path = Path(fields[0])
        path = path if path.is_absolute() else list_file.parent / path
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}, listed in {list_file}, does not exist; fix the "
                "list or the data directory."
            )
        files.append(path)
    return files


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 RGB `(height, width, 3)`."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError) as error:
        raise ValueError(
            f"Cannot read {path} as an image ({error}); pass JPEG or PNG files."
        ) from error
