"""`python -m keras_fastfcn.cli.convert` and the all-or-nothing checks.

Checkpoints are written by the compact PyTorch FastFCN of
`torch_fastfcn.py` (see `test_parity.py`) at 1/8 of the official widths.
"""

import stat

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keras  # noqa: E402

import keras_fastfcn  # noqa: E402
from keras_fastfcn.cli import convert  # noqa: E402
from keras_fastfcn.models.from_checkpoint import build_model_call  # noqa: E402
from keras_fastfcn.weights import WeightMismatchError  # noqa: E402
from keras_fastfcn.weights import infer_architecture  # noqa: E402
from keras_fastfcn.weights import load_official_weights  # noqa: E402
from tests.helpers import to_numpy  # noqa: E402
from tests.weights import torch_fastfcn  # noqa: E402

TINY = dict(base_width=8, neck_width=64)
BOUND = 1e-4


@pytest.fixture(scope="module")
def fcn_jpu():
    """A tiny official-layout FCN+JPU (aux) and its checkpoint file."""
    torch.manual_seed(0)
    net = torch_fastfcn.Segmenter("fcn", 5, "JPU", aux=True, **TINY)
    return torch_fastfcn.randomize(net, seed=5)


@pytest.fixture
def checkpoint(fcn_jpu, tmp_path):
    path = tmp_path / "fcn_jpu.pth.tar"
    state = {f"module.{k}": v for k, v in fcn_jpu.state_dict().items()}
    torch.save({"epoch": 1, "state_dict": state}, path)
    return path


def images():
    rng = np.random.default_rng(2)
    return rng.normal(size=(1, 64, 96, 3)).astype("float32")


def assert_close(got, want):
    error = np.abs(got - want).max() / np.abs(want).max()
    assert error <= BOUND, error


def test_cli_writes_weights_for_build_model(fcn_jpu, checkpoint, tmp_path):
    out = tmp_path / "fcn_jpu.weights.h5"
    argv = [str(checkpoint), "--model", "fcn_jpu", "--backbone", "resnet50"]
    assert convert.main(argv + ["--num-classes", "5", "--out", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [checkpoint.name, out.name]
    )
    plain = tmp_path / "plain.txt"  # permissions of an ordinary new file
    plain.write_text("")
    assert stat.S_IMODE(out.stat().st_mode) == stat.S_IMODE(
        plain.stat().st_mode
    )
    model = keras_fastfcn.build_model(
        "fcn_jpu", "resnet50", 5, aux=True, **TINY
    )
    model.load_weights(out)
    got = to_numpy(model(images(), training=False))
    want = torch_fastfcn.run(fcn_jpu, images())
    assert_close(got["logits"], want["logits"])
    assert_close(got["aux_logits"], want["aux_logits"])


def test_cli_writes_keras_model_without_aux(
    fcn_jpu, checkpoint, tmp_path, capsys
):
    out = tmp_path / "model.keras"
    assert convert.main([str(checkpoint), "--out", str(out), "--no-aux"]) == 0
    printed = capsys.readouterr().out
    assert "7 auxiliary-head tensors (model built with aux=False)" in printed
    assert "2 unused ImageNet classifier tensors" in printed
    model = keras.models.load_model(out)
    assert not model.aux
    got = to_numpy(model(images(), training=False))
    assert_close(got, torch_fastfcn.run(fcn_jpu, images())["logits"])


def test_cli_names_a_different_architecture_in_one_line(
    checkpoint, tmp_path, capsys
):
    out = tmp_path / "model.weights.h5"
    out.write_bytes(b"previous file")
    argv = [str(checkpoint), "--model", "psp_jpu", "--out", str(out)]
    assert convert.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert "holds fcn_jpu / resnet50, 5 classes, not psp_jpu" in error
    assert out.read_bytes() == b"previous file"  # untouched
    assert len(list(tmp_path.iterdir())) == 2  # no temporary files left


def test_cli_rejects_an_unknown_output_kind(checkpoint, tmp_path, capsys):
    assert convert.main([str(checkpoint), "--out", str(tmp_path / "w.h5")]) == 2
    assert ".weights.h5" in capsys.readouterr().err


@pytest.fixture(scope="module")
def keras_fcn_jpu():
    """The Keras model of `fcn_jpu` (failed loads leave it unchanged)."""
    return keras_fastfcn.build_model("fcn_jpu", "resnet50", 5, aux=True, **TINY)


def test_missing_unexpected_and_misshaped_are_all_listed(
    fcn_jpu, keras_fcn_jpu
):
    model = keras_fcn_jpu
    state = torch_fastfcn.state_dict_numpy(fcn_jpu)
    before = [to_numpy(v) for v in model.weights]
    del state["jpu.dilation2.0.bn.running_var"]
    state["head.conv5.9.weight"] = np.zeros((3, 3), "float32")
    state["head.conv5.4.weight"] = np.zeros((7, 16, 1, 1), "float32")
    with pytest.raises(WeightMismatchError) as info:
        load_official_weights(model, state)
    error = info.value
    assert error.missing == ["jpu.dilation2.0.bn.running_var"]
    assert error.unexpected == ["head.conv5.9.weight"]
    assert error.mismatched == [
        ("head.conv5.4.weight", (7, 16, 1, 1), (5, 64, 1, 1))
    ]
    message = str(error)
    assert "\n" not in message
    assert "1 missing [jpu.dilation2.0.bn.running_var]" in message
    assert "1 unexpected [head.conv5.9.weight]" in message
    assert "head.conv5.4.weight: (7, 16, 1, 1) in the checkpoint" in message
    for old, variable in zip(before, model.weights):
        np.testing.assert_array_equal(old, to_numpy(variable))


def test_aux_model_needs_the_aux_tensors(fcn_jpu, keras_fcn_jpu):
    state = torch_fastfcn.state_dict_numpy(fcn_jpu)
    state = {k: v for k, v in state.items() if not k.startswith("auxlayer.")}
    with pytest.raises(WeightMismatchError, match="7 missing .auxlayer"):
        load_official_weights(keras_fcn_jpu, state)


def test_cli_prints_the_build_model_call_of_a_narrow_checkpoint(
    fcn_jpu, checkpoint, tmp_path, capsys
):
    out = tmp_path / "narrow.weights.h5"
    assert convert.main([str(checkpoint), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"Checked {checkpoint}: zip archive: CRC-32 of all" in printed
    line = next(x for x in printed.splitlines() if x.startswith("Wrote"))
    call = line.split(": ", 1)[1]
    assert call == (
        "build_model('fcn_jpu', 'resnet50', 5, aux=True, se_loss=False, "
        "neck_width=64, base_width=8)"
    )
    # Following the printed call gives a model the weights load into.
    model = eval(call, {"build_model": keras_fastfcn.build_model})
    arch = infer_architecture(torch_fastfcn.state_dict_numpy(fcn_jpu))
    assert (model.neck_width, model.backbone.base_width) == (
        arch.neck_width,
        arch.base_width,
    )
    model.load_weights(out)
    got = to_numpy(model(images(), training=False))
    assert_close(got["logits"], torch_fastfcn.run(fcn_jpu, images())["logits"])


def test_build_model_call_names_non_default_stem_and_stride():
    model = keras_fastfcn.build_model(
        "fcn", "resnet18", 3, stem="standard", output_stride=16, base_width=8
    )
    assert build_model_call(model) == (
        "build_model('fcn', 'resnet18', 3, aux=False, se_loss=False, "
        "base_width=8, stem='standard', output_stride=16)"
    )


def test_cli_refuses_a_corrupt_checkpoint_and_writes_nothing(
    checkpoint, tmp_path, capsys
):
    data = bytearray(checkpoint.read_bytes())
    middle = len(data) // 2 - 2048
    data[middle : middle + 4096] = bytes(255 - b for b in data[middle:][:4096])
    checkpoint.write_bytes(bytes(data))
    before = sorted(tmp_path.iterdir())
    out = tmp_path / "model.keras"
    assert convert.main([str(checkpoint), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error
    assert error.startswith(
        f"fastfcn convert: error: Corrupt checkpoint {checkpoint}: CRC "
    )
    assert "mismatch in member fcn_jpu.pth/data/" in error
    assert error.endswith("; re-download it.")
    assert sorted(tmp_path.iterdir()) == before  # no output, no temp files


def test_cli_writes_a_preset_with_ade20k_class_names(tmp_path):
    torch.manual_seed(1)
    net = torch_fastfcn.randomize(
        torch_fastfcn.Segmenter("fcn", 150, "JPU", aux=False, **TINY), seed=3
    )
    source = tmp_path / "fcn_jpu_ade.pth"
    torch.save({"state_dict": net.state_dict()}, source)
    out = tmp_path / "presets" / "fcn_jpu_ade20k"
    assert convert.main([str(source), "--preset", "--out", str(out)]) == 0
    metadata = keras_fastfcn.load_preset_metadata(out)
    assert metadata.dataset == "ade20k" and metadata.num_classes == 150
    assert metadata.class_names[:3] == ("wall", "building", "sky")
    assert (metadata.base_size, metadata.crop_size) == (520, 480)
    assert metadata.training["checkpoint"] == "fcn_jpu_ade.pth"
    model = keras_fastfcn.from_preset(out)
    got = to_numpy(model(images(), training=False))
    assert_close(got, torch_fastfcn.run(net, images())["logits"])


def test_cli_preset_of_an_unknown_class_count_numbers_the_classes(
    checkpoint, tmp_path
):
    out = tmp_path / "preset"
    argv = [str(checkpoint), "--no-aux", "--preset", "--out", str(out)]
    assert convert.main(argv) == 0
    metadata = keras_fastfcn.load_preset_metadata(out)
    assert metadata.class_names == tuple(f"class_{i}" for i in range(5))
    assert metadata.dataset is None and metadata.base_size is None
    assert convert.main(argv) == 2  # an existing preset is not replaced
    bad = [str(checkpoint), "--preset", "--out", str(tmp_path / "m.keras")]
    assert convert.main(bad) == 2
    assert not (tmp_path / "m.keras").exists()
