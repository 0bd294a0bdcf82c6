"""Exported graphs use the backend's direct convolutions, never the
CPU-only Winograd or cropped-tap paths, whatever `fast_paths` mode is
active."""

from collections import Counter

from keras_fastfcn.export.inference_model import inference_model
from keras_fastfcn.export.serving import logits_function
from keras_fastfcn.fast import fast_paths
from tests.export.tiny_models import tiny_model


def op_types(algorithm: str) -> Counter:
    model = inference_model(tiny_model("encnet"))
    with fast_paths(algorithm):
        function = logits_function(model, (64, 64), batch_size=1)
        graph = function.get_concrete_function().graph
    return Counter(op.type for op in graph.get_operations())


def test_export_graph_is_the_same_under_any_algorithm():
    direct = op_types("portable")
    assert direct["Conv2D"] > 0
    assert op_types("winograd") == direct
    assert op_types("cropped") == direct
