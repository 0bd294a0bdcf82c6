"""Bad command lines give one line on stderr, exit code 2, and change
nothing on disk: each case runs `fastfcn <tool>` (as `python -m
keras_fastfcn.cli <tool>`) in a fresh process (in pairs, to keep the
suite fast), in its own folder that holds a photo, an output folder with
a file in it, an existing plain file, a corrupt checkpoint, a text file
posing as one, YAML files with mistakes and a run whose checkpoint
broke."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# TensorFlow's C++ start-up log (absl / glog lines written at import,
# before any Python code can silence them) is not the tool's output.
NATIVE_LOG = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\)"
    r"|[IWE]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w.]+:\d+\]"
    r"|To enable the following instructions:)"
)

DEBUG = "--debug"
PREDICT = ["predict"]
CONVERT = ["convert"]
EXPORT = ["export"]
EVALUATE = ["evaluate"]
PHOTO = ["{d}/photo.png"]
SAVED = ["--format", "saved_model", "--output", "{d}/models"]
EVAL = ["--dataset", "sample", "--random-weights", "--model", "fcn"]
TRAIN = ["train", "--dataset", "sample", "--output-dir", "{d}/run"]

# id -> (module and arguments, fragments the one line must contain)
CASES = {
    "predict_missing_input": (
        PREDICT + ["{d}/nope.jpg", "--out", "{d}/out", "--random-weights"],
        ["nope.jpg does not exist"],
    ),
    "predict_out_is_a_file": (
        PREDICT + PHOTO + ["--out", "{d}/existing.txt", "--random-weights"],
        ["--out {d}/existing.txt is an existing file"],
    ),
    "predict_unknown_model": (
        PREDICT + PHOTO + ["--out", "{d}/out", "--model", "segformer"],
        ["--model: invalid choice: 'segformer'"],
    ),
    "predict_bad_size": (
        PREDICT + PHOTO + ["--out", "{d}/out", "--size", "12by5"],
        ["Cannot parse image size '12by5'"],
    ),
    "predict_missing_model_file": (
        PREDICT + PHOTO + ["--out", "{d}/out", "--model-file", "{d}/m.keras"],
        ["--model-file {d}/m.keras does not exist"],
    ),
    "predict_weights_not_h5": (
        PREDICT
        + PHOTO
        + ["--out", "{d}/out", "--weights", "{d}/fake.pth"]
        + ["--num-classes", "3"],
        ["--weights {d}/fake.pth is not a .weights.h5 file"],
    ),
    "predict_zero_classes": (
        PREDICT
        + PHOTO
        + ["--out", "{d}/out", "--random-weights", "--num-classes", "0"],
        ["--num-classes must be a positive integer, got 0"],
    ),
    "predict_negative_decoder_width": (
        PREDICT
        + PHOTO
        + ["--out", "{d}/out", "--random-weights", "--num-classes", "3"]
        + ["--decoder-width", "-2"],
        ["--decoder-width must be 0 (no decoder) or a positive integer"],
    ),
    "predict_needs_num_classes": (
        PREDICT + PHOTO + ["--out", "{d}/out", "--random-weights"],
        ["--random-weights needs --num-classes"],
    ),
    "predict_alpha_out_of_range": (
        PREDICT + PHOTO + ["--out", "{d}/out", "--alpha", "2"],
        ["--alpha must be in [0, 1], got 2.0"],
    ),
    "predict_not_a_saved_model": (
        PREDICT + PHOTO + ["--out", "{d}/out", "--saved-model", "{d}/out"],
        ["{d}/out holds no saved_model.pb"],
    ),
    "predict_without_out": (
        PREDICT + PHOTO + ["--random-weights"],
        ["the following arguments are required: --out"],
    ),
    "convert_corrupt_checkpoint": (
        CONVERT + ["{d}/corrupt.pth", "--out", "{d}/out/model.weights.h5"],
        ["Corrupt checkpoint {d}/corrupt.pth: CRC mismatch in member"],
    ),
    "convert_not_a_checkpoint": (
        CONVERT + ["{d}/fake.pth", "--out", "{d}/out/model.keras"],
        ["{d}/fake.pth is not a PyTorch checkpoint"],
    ),
    "convert_missing_checkpoint": (
        CONVERT + ["{d}/gone.pth", "--out", "{d}/out/model.keras"],
        ["Checkpoint {d}/gone.pth does not exist"],
    ),
    "convert_bad_output_name": (
        CONVERT + ["{d}/corrupt.pth", "--out", "{d}/out/model.h5"],
        ["must end with '.weights.h5'"],
    ),
    "convert_unknown_model": (
        CONVERT + ["{d}/corrupt.pth", "--out", "{d}/m.keras", "--model", "x"],
        ["--model: invalid choice: 'x'"],
    ),
    "export_input_size_for_saved_model": (
        EXPORT + SAVED + ["--random-weights", "--input-size", "64x64"],
        ["--input-size is for tflite / onnx"],
    ),
    "export_zero_max_image_size": (
        EXPORT + SAVED + ["--random-weights", "--max-image-size", "0"],
        ["--max-image-size must be a positive number of pixels, got 0"],
    ),
    "export_fast_paths_for_tflite": (
        EXPORT
        + ["--format", "tflite", "--output", "{d}/m.tflite"]
        + ["--random-weights", "--input-size", "64x64"]
        + ["--fast-paths", "cpu"],
        ["--fast-paths is for saved_model"],
    ),
    "export_tflite_without_input_size": (
        EXPORT
        + ["--format", "tflite", "--output", "{d}/m.tflite"]
        + ["--random-weights"],
        ["TFLite needs a fixed input size"],
    ),
    "export_output_is_a_file": (
        EXPORT
        + ["--format", "saved_model", "--output", "{d}/existing.txt"]
        + ["--random-weights", "--num-classes", "3"],
        ["--output {d}/existing.txt is an existing file"],
    ),
    "export_bad_input_size": (
        EXPORT
        + ["--format", "onnx", "--output", "{d}/m.onnx", "--random-weights"]
        + ["--input-size", "64y64"],
        ["Cannot parse input size '64y64'"],
    ),
    "evaluate_unknown_dataset": (
        EVALUATE + ["--dataset", "imagenet", "--random-weights"],
        ["--dataset: unknown dataset 'imagenet'"],
    ),
    "train_unknown_model": (
        TRAIN + ["--model", "segformer"],
        ["Unknown model name 'segformer'"],
    ),
    "train_zero_crop_size": (
        TRAIN + ["--crop-size", "0"],
        ["crop_size must be >= 1, got 0"],
    ),
    "train_missing_config": (
        TRAIN + ["--config", "{d}/nope.yaml"],
        ["Config file not found: {d}/nope.yaml"],
    ),
    "train_yaml_wrong_type": (
        TRAIN + ["--config", "{d}/wrong_type.yaml"],
        ["crop_size must be a whole number, got 'big'"],
    ),
    "train_yaml_quoted_false": (
        TRAIN + ["--config", "{d}/quoted_false.yaml"],
        ["aux must be true or false (unquoted), got 'false'"],
    ),
    "train_yaml_syntax": (
        TRAIN + ["--config", "{d}/broken.yaml"],
        ["broken.yaml: not valid YAML"],
    ),
    "train_missing_data_dir": (
        ["train", "--dataset", "camvid", "--data-dir", "{d}/nowhere"]
        + ["--output-dir", "{d}/run"],
        ["{d}/nowhere"],
    ),
    "train_batch_not_divisible": (
        TRAIN + ["--batch-size", "3", "--devices", "2"],
        ["batch_size 3 does not split evenly over 2 devices"],
    ),
    "train_reuses_a_run_folder": (
        ["train", "--dataset", "sample", "--output-dir", "{d}/done"],
        ["{d}/done already holds a run", "--resume", "--overwrite"],
    ),
    "train_resume_damaged_checkpoint": (
        ["train", "--dataset", "sample", "--output-dir", "{d}/done"]
        + ["--resume"],
        ["checkpoint {d}/done/checkpoints/epoch-0001.keras is damaged"],
    ),
    "train_resume_and_overwrite": (
        TRAIN + ["--resume", "--overwrite"],
        ["resume and overwrite contradict each other"],
    ),
    "evaluate_zero_crop_size": (
        EVALUATE + EVAL + ["--crop-size", "0"],
        ["--crop-size must be a positive integer, got 0"],
    ),
    "evaluate_output_dir_is_a_file": (
        EVALUATE + EVAL + ["--output-dir", "{d}/existing.txt"],
        ["--output-dir {d}/existing.txt is an existing file"],
    ),
    "evaluate_missing_data_dir": (
        EVALUATE + EVAL + ["--data-dir", "{d}/no_data"],
        ["--data-dir {d}/no_data is not a directory"],
    ),
    "evaluate_missing_tflite": (
        EVALUATE + ["--dataset", "sample", "--tflite", "{d}/m.tflite"],
        ["--tflite {d}/m.tflite does not exist"],
    ),
}


def make_case_folder(folder: Path, corrupt_checkpoint: bytes) -> None:
    """The files every case starts from."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(folder / "photo.png")
    (folder / "out").mkdir()
    (folder / "out" / "keep.txt").write_text("an earlier result\n")
    (folder / "out" / "model.weights.h5").write_bytes(b"earlier weights")
    (folder / "existing.txt").write_text("not a folder\n")
    (folder / "fake.pth").write_text("these are not weights\n")
    (folder / "corrupt.pth").write_bytes(corrupt_checkpoint)
    (folder / "wrong_type.yaml").write_text("crop_size: big\n")
    (folder / "quoted_false.yaml").write_text('aux: "false"\n')
    (folder / "broken.yaml").write_text("crop_size: [1,\n")
    done = folder / "done" / "checkpoints"  # a run whose checkpoint broke
    done.mkdir(parents=True)
    (done / "epoch-0001.keras").write_bytes(b"PK\x03\x04 truncated")
    (done / "state.json").write_text(
        '{"epoch": 1, "last": "epoch-0001.keras", "best_file": null}'
    )
    (folder / "done" / "config.json").write_text("{}\n")


def corrupt_checkpoint_bytes(folder: Path) -> bytes:
    """A real zip-format torch checkpoint with 4 KiB inverted mid-file."""
    torch = pytest.importorskip("torch")
    path = folder / "source.pth"
    generator = torch.Generator().manual_seed(0)
    torch.save(
        {"head.conv5.4.weight": torch.randn(64, 256, generator=generator)},
        path,
    )
    data = bytearray(path.read_bytes())
    middle = len(data) // 2 - 2048
    data[middle : middle + 4096] = bytes(255 - b for b in data[middle:][:4096])
    return bytes(data)


def snapshot(folder: Path) -> dict[str, str]:
    """`{relative path: sha256}` of every file under `folder`."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_tool(arguments: list[str], extra_env: dict | None = None):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_NUM_INTRAOP_THREADS": "1",
        "TF_NUM_INTEROP_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    env.pop("FASTFCN_DEBUG", None)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "keras_fastfcn.cli", *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=str(ROOT),
    )


def own_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's native start-up log lines."""
    return [
        line
        for line in stderr.splitlines()
        if line.strip() and not NATIVE_LOG.match(line)
    ]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """`{case: (folder, before, completed process, after)}`, two tools at a
    time."""
    root = tmp_path_factory.mktemp("cli_errors")
    corrupt = corrupt_checkpoint_bytes(root)

    def run_case(name):
        folder = root / name
        make_case_folder(folder, corrupt)
        before = snapshot(folder)
        module_and_arguments = [
            a.replace("{d}", str(folder)) for a in CASES[name][0]
        ]
        done = run_tool(module_and_arguments)
        return name, (folder, before, done, snapshot(folder))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(run_case, CASES))


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_command_line_is_one_line_and_changes_nothing(results, case):
    folder, before, done, after = results[case]
    lines = own_lines(done.stderr)
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert len(lines) == 1, lines
    tool = CASES[case][0][0]
    assert lines[0].startswith(f"fastfcn {tool}: error: "), lines[0]
    for fragment in CASES[case][1]:
        assert fragment.replace("{d}", str(folder)) in lines[0], lines[0]
    assert "Traceback" not in done.stderr
    assert after == before  # nothing written, nothing changed


def test_debug_shows_the_traceback(tmp_path):
    arguments = [*CONVERT, str(tmp_path / "gone.pth"), "--out", "m.keras"]
    for extra, env in (([DEBUG], None), ([], {"FASTFCN_DEBUG": "1"})):
        done = run_tool(arguments + extra, env)
        assert done.returncode == 1
        assert "Traceback (most recent call last)" in done.stderr
        assert "FileNotFoundError: Checkpoint" in done.stderr
