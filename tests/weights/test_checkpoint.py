"""Safe reading of `.pth` / `.npz` state dicts (`read_checkpoint`)."""

import io
import os
import sys
import zipfile

import numpy as np
import pytest

from keras_fastfcn.weights import CheckpointError
from keras_fastfcn.weights import read_checkpoint
from keras_fastfcn.weights import verify_checkpoint


def _torch():
    return pytest.importorskip("torch")


def assert_one_line(error, *fragments):
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


class RunsCode:
    """Unpickling this would create a directory (arbitrary code)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_bare_state_dict_becomes_numpy(tmp_path):
    torch = _torch()
    path = tmp_path / "bare.pth"
    torch.save({"conv.weight": torch.arange(6.0).reshape(1, 2, 3, 1)}, path)
    state = read_checkpoint(path)
    assert list(state) == ["conv.weight"]
    np.testing.assert_array_equal(
        state["conv.weight"], np.arange(6.0).reshape(1, 2, 3, 1)
    )
    assert state["conv.weight"].dtype == np.float32


def test_training_checkpoint_is_unwrapped_and_prefix_stripped(tmp_path):
    torch = _torch()
    path = tmp_path / "checkpoint.pth.tar"
    torch.save(
        {
            "epoch": 80,
            "state_dict": {
                "module.head.conv6.1.bias": torch.tensor([1.0, 2.0]),
                "module.head.conv6.1.weight": torch.ones(2, 3, 1, 1),
            },
            "optimizer": {"state": {}, "param_groups": [{"lr": 0.01}]},
            "best_pred": np.float64(0.61),  # as the official train.py
        },
        path,
    )
    state = read_checkpoint(path)
    assert list(state) == ["head.conv6.1.bias", "head.conv6.1.weight"]
    np.testing.assert_array_equal(state["head.conv6.1.bias"], [1.0, 2.0])


def test_legacy_format_with_numpy_1_scalars(tmp_path):
    # Checkpoints of the released models predate torch 1.6 (legacy, non-zip
    # format) and NumPy 2 (`numpy.core.multiarray.scalar` globals).
    torch = _torch()
    buffer = io.BytesIO()
    torch.save(
        {"state_dict": {"a.bias": torch.ones(3)}, "best_pred": np.float64(1)},
        buffer,
        _use_new_zipfile_serialization=False,
    )
    data = buffer.getvalue().replace(
        b"numpy._core.multiarray", b"numpy.core.multiarray"
    )
    assert b"numpy.core.multiarray\nscalar" in data
    path = tmp_path / "legacy.pth"
    path.write_bytes(data)
    np.testing.assert_array_equal(read_checkpoint(path)["a.bias"], [1, 1, 1])


def test_arbitrary_objects_are_refused_without_running_them(tmp_path):
    torch = _torch()
    marker = tmp_path / "created_by_unpickling"
    path = tmp_path / "evil.pth"
    torch.save({"a": torch.ones(1), "payload": RunsCode(str(marker))}, path)
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    assert_one_line(error, "evil.pth", "refusing to unpickle")
    assert not marker.exists()


def test_truncated_file_is_one_line_error(tmp_path):
    torch = _torch()
    path = tmp_path / "cut.pth"
    torch.save({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[:1500])
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    assert_one_line(error, "cut.pth", "truncated or corrupt")


@pytest.mark.parametrize(
    "content,problem",
    [
        (b"these are not weights\n", "neither a zip archive nor a pickle"),
        (b"", "is empty"),
    ],
)
def test_other_files_are_not_checkpoints(tmp_path, content, problem):
    path = tmp_path / "notes.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    assert_one_line(error, "notes.pth", problem)


def test_a_single_tensor_is_not_a_state_dict(tmp_path):
    torch = _torch()
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    assert_one_line(error, "tensor.pth", "holds a Tensor, not a state dict")


def test_without_torch_the_error_says_how_to_install(tmp_path, monkeypatch):
    path = tmp_path / "model.pth"
    with zipfile.ZipFile(path, "w") as archive:  # passes verify_checkpoint
        archive.writestr("model/data.pkl", b"\x80\x02}q\x00.")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails
    with pytest.raises(ModuleNotFoundError) as error:
        read_checkpoint(path)
    assert "pip install 'keras-fastfcn[torch]'" in str(error.value)


def test_npz_state_dict_needs_no_torch(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    path = tmp_path / "state.npz"
    np.savez(path, **{"module.bn.running_var": np.array([1.0, 2.0])})
    state = read_checkpoint(path)
    np.testing.assert_array_equal(state["bn.running_var"], [1.0, 2.0])


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    assert_one_line(error, "objects.npz")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pth"):
        read_checkpoint(tmp_path / "nothing.pth")


def invert_middle(path, size=4096):
    """Invert `size` bytes in the middle of `path`; returns the offset."""
    data = bytearray(path.read_bytes())
    start = len(data) // 2 - size // 2
    data[start : start + size] = bytes(
        255 - b for b in data[start : start + size]
    )
    path.write_bytes(bytes(data))
    return start


def member_at(path, offset):
    """Name of the zip member whose data holds byte `offset`."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            begin = info.header_offset + 30 + len(info.filename.encode())
            begin += len(info.extra)
            if begin <= offset < begin + info.compress_size:
                return info.filename
    raise AssertionError(f"no member data at {offset}")


def test_corrupt_zip_checkpoint_is_refused_before_torch_loads_it(
    tmp_path, monkeypatch
):
    torch = _torch()
    path = tmp_path / "encnet.pth"
    generator = torch.Generator().manual_seed(0)
    torch.save(
        {
            "state_dict": {
                "head.conv.weight": torch.randn(
                    64, 64, 3, 3, generator=generator
                ),
                "head.conv.bias": torch.randn(64, generator=generator),
            }
        },
        path,
    )
    assert "CRC-32 of all" in verify_checkpoint(path)
    offset = invert_middle(path)
    member = member_at(path, offset)
    assert "/data/" in member  # the inversion hit tensor bytes
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a))
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    assert str(error.value) == (
        f"Corrupt checkpoint {path}: CRC mismatch in member {member}; "
        "re-download it."
    )
    assert loads == []  # no tensor was read


def test_corrupt_npz_names_the_member(tmp_path):
    path = tmp_path / "state.npz"
    rng = np.random.default_rng(0)
    np.savez(path, a=rng.normal(size=20000), b=rng.normal(size=20000))
    member = member_at(path, invert_middle(path))
    with pytest.raises(CheckpointError) as error:
        read_checkpoint(path)
    assert_one_line(error, "state.npz", f"CRC mismatch in member {member}")


def test_legacy_files_say_what_is_checked(tmp_path):
    torch = _torch()
    path = tmp_path / "legacy.pth"
    torch.save({"w": torch.ones(3)}, path, _use_new_zipfile_serialization=False)
    note = verify_checkpoint(path)
    assert "no checksums" in note and "structure" in note
