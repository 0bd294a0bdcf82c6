"""Finding image/label file pairs: list files, id lists, stem matching.

Every function raises an error naming the files when an image has no label
or a label has no image; only `match_by_stem` (for loose folders) may skip
unmatched files, and it logs how many and which.
"""

import logging
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
LABEL_EXTENSIONS = (".png", ".bmp", ".gif")
_MAX_NAMED = 10

Pair = tuple[str, str]


def require_dir(path: Path, dataset: str, layout: str) -> Path:
    """Returns ``path`` or raises FileNotFoundError describing the layout."""
    if not path.is_dir():
        raise FileNotFoundError(
            f"{dataset}: folder {path} does not exist. Expected layout:\n"
            f"{layout}"
        )
    return path


def require_file(path: Path, dataset: str, layout: str) -> Path:
    """Returns ``path`` or raises FileNotFoundError describing the layout."""
    if not path.is_file():
        raise FileNotFoundError(
            f"{dataset}: file {path} does not exist. Expected layout:\n{layout}"
        )
    return path


def name_some(paths: Iterable[object], limit: int = _MAX_NAMED) -> str:
    """Formats up to ``limit`` paths, one per line, plus a count of the rest."""
    paths = [str(path) for path in paths]
    lines = [f"  {path}" for path in paths[:limit]]
    if len(paths) > limit:
        lines.append(f"  ... and {len(paths) - limit} more")
    return "\n".join(lines)


def read_id_list(list_file: Path) -> list[str]:
    """Reads one id per line (blank lines and ``#`` comments skipped)."""
    ids = []
    for line in list_file.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(line)
    return ids


def read_pair_list(list_file: Path, base_dir: Path | None = None) -> list[Pair]:
    """Reads ``image label`` lines; relative paths are under ``base_dir``.

    Args:
        list_file: Text file with one ``image_path label_path`` per line.
        base_dir: Folder relative paths start from; defaults to the list
            file's folder.

    Returns:
        ``(image_path, label_path)`` pairs, in file order.

    Raises:
        ValueError: A line does not hold exactly two paths.
        FileNotFoundError: Listed files are missing (all of them are named).
    """
    base_dir = list_file.parent if base_dir is None else base_dir
    pairs = []
    for number, line in enumerate(list_file.read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if len(fields) != 2:
            raise ValueError(
                f"{list_file}, line {number}: expected 'image_path "
                f"label_path', got {line.strip()!r}."
            )
        image, label = (base_dir / field for field in fields)
        pairs.append((str(image), str(label)))
    check_pairs_exist(pairs, f"listed in {list_file}")
    return pairs


def check_pairs_exist(pairs: Iterable[Pair], where: str) -> None:
    """Raises FileNotFoundError naming every missing image or label."""
    missing = [
        path for pair in pairs for path in pair if not Path(path).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} files {where} do not exist:\n{name_some(missing)}"
        )


def pairs_from_ids(
    ids: Iterable[str],
    image_dir: Path,
    image_ext: str,
    label_dir: Path,
    label_ext: str,
    where: str,
) -> list[Pair]:
    """Pairs ``image_dir/<id><image_ext>`` with ``label_dir/<id><label_ext>``.

    Raises:
        FileNotFoundError: Some images or labels are missing (all named).
    """
    pairs = [
        (str(image_dir / f"{i}{image_ext}"), str(label_dir / f"{i}{label_ext}"))
        for i in ids
    ]
    check_pairs_exist(pairs, where)
    return pairs


def files_by_stem(
    folder: Path, extensions: tuple[str, ...], suffix: str = ""
) -> dict[str, Path]:
    """Maps file stem (without ``suffix``) -> path for matching files.

    Args:
        folder: Folder searched (not recursively).
        extensions: Lower-case extensions accepted.
        suffix: Stem ending removed before matching (e.g. ``"_mask"``);
            files whose stem lacks it are not returned.

    Raises:
        ValueError: Two files share a stem (e.g. ``a.jpg`` and ``a.png``).
    """
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in extensions:
            continue
        stem = path.stem
        if suffix:
            if not stem.endswith(suffix):
                continue
            stem = stem[: -len(suffix)]
        if stem in found:
            raise ValueError(
                f"Files {found[stem]} and {path} have the same name stem; "
                f"keep one of them so the image/label pairing is unambiguous."
            )
        found[stem] = path
    return found


def match_by_stem(
    image_dir: Path,
    label_dir: Path,
    label_suffix: str = "",
    strict: bool = True,
) -> list[Pair]:
    """Pairs images and labels whose file stems are equal.

    Args:
        image_dir: Folder of images.
        label_dir: Folder of labels named ``<image stem><label_suffix>.png``.
        label_suffix: Stem suffix of label files.
        strict: Raise on unmatched files; otherwise skip them with a warning
            naming how many and the first few.

    Returns:
        Pairs sorted by stem.

    Raises:
        ValueError: ``strict`` and some files have no partner.
    """
    images = files_by_stem(image_dir, IMAGE_EXTENSIONS)
    labels = files_by_stem(label_dir, LABEL_EXTENSIONS, label_suffix)
    lonely_images = [images[s] for s in sorted(images.keys() - labels.keys())]
    lonely_labels = [labels[s] for s in sorted(labels.keys() - images.keys())]
    problems = []
    if lonely_images:
        problems.append(
            f"{len(lonely_images)} images in {image_dir} have no label "
            f"'<stem>{label_suffix}.png' in {label_dir}:\n"
            f"{name_some(lonely_images)}"
        )
    if lonely_labels:
        problems.append(
            f"{len(lonely_labels)} labels in {label_dir} have no image in "
            f"{image_dir}:\n{name_some(lonely_labels)}"
        )
    if problems and strict:
        raise ValueError(
            "\n".join(problems) + "\nAdd or remove those files so that every "
            "image has exactly one label."
        )
    for problem in problems:
        logger.warning("Skipping unmatched files: %s", problem)
    stems = sorted(images.keys() & labels.keys())
    return [(str(images[s]), str(labels[s])) for s in stems]
