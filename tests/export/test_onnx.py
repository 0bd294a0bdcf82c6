"""ONNX export through tf2onnx, run in onnxruntime."""

from types import SimpleNamespace

import numpy as np
import pytest

from keras_fastfcn.benchmarks.export_parity import compare_logits
from keras_fastfcn.export.onnx import export_onnx
from tests.export.tiny_models import NUM_CLASSES
from tests.export.tiny_models import tiny_model

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny dilated PSPNet with an auxiliary head (dropped), dynamic
    batch / height / width."""
    model = tiny_model("psp", aux=True)
    path = export_onnx(model, tmp_path_factory.mktemp("onnx") / "psp.onnx")
    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    return SimpleNamespace(model=model, path=path, session=session)


def test_graph_is_valid_opset_17_with_named_dimensions(exported):
    proto = onnx.load(str(exported.path))
    onnx.checker.check_model(proto)
    opsets = {o.domain: o.version for o in proto.opset_import}
    assert opsets[""] >= 17

    def dims(value):
        return [
            d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim
        ]

    assert [(v.name, dims(v)) for v in proto.graph.input] == [
        ("images", ["batch", "height", "width", 3])
    ]
    assert sorted((v.name, dims(v)) for v in proto.graph.output) == [
        ("class_map", ["batch", "height", "width"]),
        ("logits", ["batch", "height", "width", NUM_CLASSES]),
    ]


@pytest.mark.parametrize(
    "shape", [(1, 64, 96, 3), (2, 96, 64, 3), (1, 40, 56, 3)]
)
def test_parity_with_keras_at_any_size(exported, shape):
    images = np.random.default_rng(7).normal(size=shape).astype(np.float32)
    expected = np.asarray(exported.model(images, training=False)["logits"])
    logits, class_map = exported.session.run(
        ["logits", "class_map"], {"images": images}
    )
    max_abs, _, agreement = compare_logits(expected, logits)
    print(f"onnx {shape}: max abs diff {max_abs:.3g}, agreement {agreement}")
    assert max_abs < 1e-3
    assert agreement >= 0.9999
    np.testing.assert_array_equal(class_map, logits.argmax(-1))
    assert class_map.dtype == np.int32


def test_old_opset_is_refused(tmp_path):
    with pytest.raises(ValueError, match="opset=13 is too old"):
        export_onnx(tiny_model("fcn"), tmp_path / "m.onnx", opset=13)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("input_size", [None, (360, 480)])
def test_jpu_parity_where_feature_maps_are_odd(tmp_path, input_size):
    """At 360x480 (CamVid) the stride-8 map is 45x60 and the stride-16 one
    23x30: the JPU's dilated branches pad odd phases (a modulo that ONNX
    Runtime once truncated, cropping a row) and its resizes must give 45
    rows exactly (sizes, not float scales: 23 * (45 / 23) rounds to 44)."""
    model = tiny_model("encnet_jpu")
    path = export_onnx(model, tmp_path / "m.onnx", input_size=input_size)
    session = onnxruntime.InferenceSession(
        str(path), providers=["CPUExecutionProvider"]
    )
    sizes = [(360, 480)] if input_size else [(360, 480), (72, 88), (37, 53)]
    for height, width in sizes:
        shape = (1, height, width, 3)
        images = np.random.default_rng(3).normal(size=shape).astype("f4")
        expected = np.asarray(model(images, training=False))
        (logits,) = session.run(["logits"], {"images": images})
        max_abs, _, agreement = compare_logits(expected, logits)
        assert max_abs <= 1e-4 * np.abs(expected).max(), (height, width)
        assert agreement >= 0.9999
