"""Read PyTorch checkpoints safely into `{key: numpy array}` dicts.

`.pth` / `.pth.tar` / `.pt` files are read with
`torch.load(weights_only=True, map_location="cpu")`, which refuses to
unpickle anything but tensors, containers and plain Python values. The
few NumPy globals that training scripts leave in checkpoints (a NumPy
float `best_pred`) are allowed; they only rebuild scalars and arrays.
`.npz` files (a state dict saved with `numpy.savez`) need no torch.

Integrity: torch (since 1.6) and `numpy.savez` write zip archives, which
hold a CRC-32 of every member. `verify_checkpoint` reads every member and
checks its CRC before any tensor is used, so a damaged download is one
`CheckpointError` ("Corrupt checkpoint PATH: CRC mismatch in member X;
re-download it.") instead of silently wrong weights. Legacy (pre-1.6,
pickle) torch files carry no checksums: for them only the structure is
checked (the pickle must parse and every tensor's storage must be
complete, which `torch.load` verifies); flipped bits inside tensor data
cannot be detected.
"""

from __future__ import annotations

import os
import pickle
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np

TORCH_INSTALL_HINT = (
    "pip install 'keras-fastfcn[torch]' (on Linux, add --extra-index-url "
    "https://download.pytorch.org/whl/cpu to get the small CPU-only torch)"
)
WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
DATA_PARALLEL_PREFIX = "module."


class CheckpointError(ValueError):
    """A file is not a usable checkpoint (corrupt, truncated, wrong kind)."""


def _first_line(error: BaseException) -> str:
    """The first sentence of an error message (torch's run long)."""
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0].split(". ")[0].strip().rstrip(".")


def _check_header(path: Path) -> None:
    """Torch writes zip archives (`PK`) or, before 1.6, pickles (0x80)."""
    with open(path, "rb") as file:
        head = file.read(2)
    if not head:
        raise CheckpointError(f"{path} is empty, not a PyTorch checkpoint.")
    if head != b"PK" and head[0] != 0x80:
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint (neither a zip archive nor "
            "a pickle)."
        )


ZIP_CHUNK = 1 << 20
LEGACY_NOTE = (
    "legacy (pre-1.6) torch format: it has no checksums, so only its "
    "structure was checked (complete pickle and tensor storages)"
)


def _corrupt(path: Path, problem: str) -> CheckpointError:
    return CheckpointError(
        f"Corrupt checkpoint {path}: {problem}; re-download it."
    )


def _verify_zip(path: Path) -> int:
    """Read every member of the zip archive `path`, checking its CRC-32;
    returns the number of members. Raises `CheckpointError` naming the
    first damaged member."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise _corrupt(
            path,
            f"not a complete zip archive ({_first_line(error)}), it is "
            "truncated or corrupt",
        ) from None
    with archive:
        members = archive.infolist()
        for info in members:
            try:
                with archive.open(info) as member:
                    while member.read(ZIP_CHUNK):
                        pass
            except zipfile.BadZipFile as error:
                if "CRC" in str(error):
                    problem = f"CRC mismatch in member {info.filename}"
                else:
                    problem = (
                        f"member {info.filename} is damaged "
                        f"({_first_line(error)})"
                    )
                raise _corrupt(path, problem) from None
            except (
                EOFError,
                OSError,
                zlib.error,
                NotImplementedError,
                ValueError,
            ) as error:
                raise _corrupt(
                    path,
                    f"member {info.filename} cannot be read "
                    f"({type(error).__name__}: {_first_line(error)})",
                ) from None
    if not members:
        raise _corrupt(path, "the zip archive is empty")
    return len(members)


def integrity_note(path: str | os.PathLike) -> str:
    """What `verify_checkpoint` checks for the file at `path` (one line;
    reads only its header and zip directory)."""
    path = Path(path)
    with open(path, "rb") as file:
        zipped = file.read(2) == b"PK"
    if not zipped:
        return LEGACY_NOTE
    with zipfile.ZipFile(path) as archive:
        count = len(archive.infolist())
    return f"zip archive: CRC-32 of all {count} members verified"


def verify_checkpoint(path: str | os.PathLike) -> str:
    """Check the integrity of a checkpoint file before it is loaded.

    Zip archives (torch >= 1.6 `.pth`, `.npz`): every member is read and its
    CRC-32 compared. Legacy torch pickles have no checksums; only the
    header is checked here (`torch.load` then checks the structure).

    Args:
        path: a `.pth` / `.pth.tar` / `.pt` / `.npz` file.

    Returns:
        One line saying what was checked.

    Raises:
        FileNotFoundError: `path` does not exist.
        CheckpointError: empty, not a checkpoint, truncated, or a CRC
            mismatch (the message names the member).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Checkpoint {path} does not exist.")
    _check_header(path)
    with open(path, "rb") as file:
        zipped = file.read(2) == b"PK"
    if path.suffix == ".npz" and not zipped:
        raise _corrupt(path, "an .npz file must be a zip archive")
    if zipped:
        _verify_zip(path)
    return integrity_note(path)


def _numpy_safe_globals() -> list:
    """NumPy functions/classes that rebuild scalars and arrays, under the
    module names NumPy 1.x and 2.x pickle them with."""
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray

    allowed = [np.dtype, np.ndarray]
    for function in (multiarray.scalar, multiarray._reconstruct):
        for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            allowed.append((function, f"{module}.{function.__name__}"))
    allowed += [type(np.dtype(name)) for name in ("f2", "f4", "f8", "i4", "i8")]
    return allowed


def _import_torch():
    try:
        import torch
    except ImportError as error:
        raise ModuleNotFoundError(
            "Reading PyTorch .pth checkpoints needs torch, which is not "
            f"installed: {TORCH_INSTALL_HINT}. Or convert the state dict to "
            ".npz with numpy on a machine that has torch."
        ) from error
    return torch


def _load_torch_file(path: Path):
    torch = _import_torch()
    try:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as error:
        message = str(error)
        if "Unsupported global" in message or "weights_only" in message:
            detail = message.split("WeightsUnpickler error:")[-1]
            raise CheckpointError(
                f"{path} holds Python objects other than tensors "
                f"({_first_line(ValueError(detail))}); refusing to unpickle "
                "them. Re-save only the state dict: "
                "torch.save(model.state_dict(), 'clean.pth')."
            ) from None
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint ({_first_line(error)})."
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint: it is truncated "
            f"or corrupt ({_first_line(error)})."
        ) from None
    except Exception as error:  # torch raises many types on garbage input
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint "
            f"({type(error).__name__}: {_first_line(error)})."
        ) from None


def _load_npz_file(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"{path} is not a readable .npz state dict: it is truncated, "
            f"corrupt or holds Python objects ({_first_line(error)})."
        ) from None


def _unwrap(loaded, path: Path) -> Mapping:
    """The tensor mapping inside a training checkpoint dict."""
    if not isinstance(loaded, Mapping):
        raise CheckpointError(
            f"{path} holds a {type(loaded).__name__}, not a state dict "
            "(a mapping of parameter names to tensors)."
        )
    for key in WRAPPER_KEYS:
        inner = loaded.get(key)
        if isinstance(inner, Mapping) and inner:
            return inner
    return loaded


def _to_numpy(value, key: str, path: Path) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch.Tensor
        value = value.detach().cpu()
        if value.dtype.is_floating_point and value.dtype.itemsize < 4:
            value = value.float()  # bfloat16 has no NumPy dtype
        return value.numpy()
    if isinstance(value, np.ndarray):
        return value
    raise CheckpointError(
        f"{path}: entry {key!r} is a {type(value).__name__}, not a tensor; "
        "the file is not a state dict."
    )


def state_dict_from_mapping(
    loaded, source: str | os.PathLike = "<state dict>"
) -> dict[str, np.ndarray]:
    """Normalise a loaded checkpoint to `{key: numpy array}`.

    Unwraps `{"state_dict": ...}` training checkpoints and strips the
    `module.` prefix that `DataParallel` adds.

    Args:
        loaded: a mapping of names to tensors / arrays, or a dict holding
            one under `"state_dict"`.
        source: str, where it came from (for error messages).

    Returns:
        dict `{official key: numpy array}` in the checkpoint's order.

    Raises:
        CheckpointError: no tensors, or non-tensor entries.
    """
    path = Path(source)
    tensors = _unwrap(loaded, path)
    state = {}
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise CheckpointError(f"{path}: key {key!r} is not a string.")
        if key.startswith(DATA_PARALLEL_PREFIX):
            key = key[len(DATA_PARALLEL_PREFIX) :]
        state[key] = _to_numpy(value, key, path)
    if not state:
        raise CheckpointError(f"{path} holds no tensors.")
    return state


def read_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a PyTorch (`.pth`, `.pth.tar`, `.pt`) or `.npz` state dict.

    Args:
        path: the checkpoint file.

    Returns:
        dict `{official key: numpy array}` (unwrapped, `module.` stripped).

    Raises:
        FileNotFoundError: `path` does not exist.
        ModuleNotFoundError: a PyTorch file and no torch installed.
        CheckpointError: not a checkpoint, truncated, corrupt (a CRC
            mismatch, see `verify_checkpoint`), or holding Python objects
            other than tensors (a one-line message).
    """
    path = Path(path)
    verify_checkpoint(path)  # CRCs, before any tensor is used
    if path.suffix == ".npz":
        loaded = _load_npz_file(path)
    else:
        loaded = _load_torch_file(path)
    return state_dict_from_mapping(loaded, path)
