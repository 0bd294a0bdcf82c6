"""Files on any filesystem TensorFlow can write, written atomically.

Local paths use `os`; paths with a scheme (`gs://`, `s3://`, `hdfs://`,
TensorFlow's in-memory `ram://`) go through `tf.io.gfile`, imported only
then. `atomic_path` gives every writer a local temporary file and puts it
in place in one rename, so a reader never sees a half-written file (on
object stores whose rename is a copy, the final object appears whole).
Paths are kept as strings: `pathlib` would turn `gs://b/x` into `gs:/b/x`.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator


def is_remote(path: str | os.PathLike) -> bool:
    """Whether `path` has a scheme (`gs://...`) and needs `tf.io.gfile`."""
    return "://" in str(path)


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def join(path: str | os.PathLike, *parts: str) -> str:
    """`path / part / ...` as a string, keeping a scheme's `//`."""
    if is_remote(path):
        return posixpath.join(str(path), *parts)
    return os.path.join(os.fspath(path), *parts)


def exists(path: str | os.PathLike) -> bool:
    if is_remote(path):
        return _gfile().exists(str(path))
    return os.path.exists(path)


def isdir(path: str | os.PathLike) -> bool:
    if is_remote(path):
        return _gfile().isdir(str(path))
    return os.path.isdir(path)


def isfile(path: str | os.PathLike) -> bool:
    return exists(path) and not isdir(path)


def listdir(path: str | os.PathLike) -> list[str]:
    """Entry names of a folder (no trailing `/`)."""
    if is_remote(path):
        return [name.rstrip("/") for name in _gfile().listdir(str(path))]
    return os.listdir(path)


def makedirs(path: str | os.PathLike) -> None:
    if is_remote(path):
        _gfile().makedirs(str(path))
    else:
        os.makedirs(path, exist_ok=True)


def remove(path: str | os.PathLike) -> None:
    """Delete a file or a folder tree."""
    if is_remote(path):
        if _gfile().isdir(str(path)):
            _gfile().rmtree(str(path))
        else:
            _gfile().remove(str(path))
    elif os.path.isdir(path):
        shutil.rmtree(path)
    else:
        os.remove(path)


def open_read(path: str | os.PathLike):
    """A binary file object for reading (seekable, also remote)."""
    if is_remote(path):
        return _gfile().GFile(str(path), "rb")
    return open(path, "rb")


def read_bytes(path: str | os.PathLike) -> bytes:
    if is_remote(path):
        with _gfile().GFile(str(path), "rb") as handle:
            return handle.read()
    with open(path, "rb") as handle:
        return handle.read()


def read_text(path: str | os.PathLike) -> str:
    return read_bytes(path).decode("utf-8")


def copy(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy a file, atomically at `target`."""
    with atomic_path(target) as tmp:
        if is_remote(source):
            _gfile().copy(str(source), str(tmp), overwrite=True)
        else:
            shutil.copyfile(source, tmp)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a local temporary path to write to; when the block ends
    without error it replaces `path` in one step, otherwise it is deleted.
    The temporary name keeps `path`'s suffixes (`.keras`, `.weights.h5`,
    `.png`), which some writers check. For a remote `path` the file is
    written locally, copied beside `path` and renamed into place."""
    name = posixpath.basename(str(path)) if is_remote(path) else Path(path).name
    suffixes = Path(name).suffixes
    suffix = "".join(suffixes[-2:]) if suffixes else ""
    hidden = f".{name}.{uuid.uuid4().hex}.tmp{suffix}"
    if not is_remote(path):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / hidden
        try:
            yield tmp
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return
    gfile = _gfile()
    folder = posixpath.dirname(str(path))
    gfile.makedirs(folder)
    local = Path(tempfile.mkdtemp(prefix="keras_fastfcn-")) / hidden
    remote_tmp = posixpath.join(folder, hidden)
    try:
        yield local
        gfile.copy(str(local), remote_tmp, overwrite=True)
        gfile.rename(remote_tmp, str(path), overwrite=True)
    finally:
        shutil.rmtree(local.parent, ignore_errors=True)
        if gfile.exists(remote_tmp):
            gfile.remove(remote_tmp)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_path`)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Text version of `atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))
