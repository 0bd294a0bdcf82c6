"""Call every signature of an exported SavedModel as a server would.

    python serving_check.py VERSION_DIR CASE_DIR

Runs in a fresh process that never imports keras_fastfcn. Reads
`CASE_DIR/inputs.npz` (`images` uint8, `float_images` float32) and the
encoded images named in `CASE_DIR/files.json`; calls the signatures
directly, through TF Serving's REST JSON rules (bodies built by
`examples/serving/rest_client.py`) and through gRPC protos (built by
`examples/serving/grpc_client.py`), and the bad inputs; writes
`CASE_DIR/results.npz` and `CASE_DIR/results.json`.
"""

import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "examples" / "serving"))
sys.path.insert(0, str(HERE))

import rest_client  # noqa: E402
import tf_serving_json  # noqa: E402


def input_dtypes(signature) -> dict:
    specs = signature.structured_input_signature[1]
    return {
        name: "string" if spec.dtype == tf.string else spec.dtype.name
        for name, spec in specs.items()
    }


def call(signature, inputs: dict) -> dict:
    outputs = signature(**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in outputs.items()}


def rest(model, body: dict) -> dict:
    """Serve a JSON body as TF Serving's REST predict API would."""
    text = json.dumps(body)  # what travels over HTTP
    name = json.loads(text).get("signature_name", "serving_default")
    signature = model.signatures[name]
    _, inputs = tf_serving_json.decode_request(text, input_dtypes(signature))
    return json.loads(tf_serving_json.encode_response(call(signature, inputs)))


def grpc(model, images: list) -> list:
    """Serve a gRPC PredictRequest as TF Serving would (protos go through
    their wire format)."""
    import grpc_client
    from tensorflow_serving.apis import predict_pb2

    request = grpc_client.build_predict_request(images)
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())
    signature = model.signatures[request.model_spec.signature_name]
    inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    response = predict_pb2.PredictResponse()
    for key, value in call(signature, inputs).items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value))
    response = predict_pb2.PredictResponse.FromString(
        response.SerializeToString()
    )
    return grpc_client.class_maps_from_response(response)


def error_of(signature, inputs: dict):
    try:
        signature(**inputs)
    except Exception as error:  # noqa: BLE001 - recorded for the test
        return {"type": type(error).__name__, "message": str(error)}
    return None


def main(version_dir: str, case_dir: str) -> None:
    case_dir = Path(case_dir)
    model = tf.saved_model.load(version_dir)
    cases = np.load(case_dir / "inputs.npz")
    files = json.loads((case_dir / "files.json").read_text())
    encoded = [(case_dir / f).read_bytes() for f in files]
    arrays, results = {}, {"signatures": sorted(model.signatures)}

    out = call(model.signatures["serving_default"], {"images": cases["images"]})
    arrays.update({f"default_{k}": v for k, v in out.items()})
    out = call(
        model.signatures["serve_logits"], {"images": cases["float_images"]}
    )
    arrays.update({f"logits_{k}": v for k, v in out.items()})
    out = call(
        model.signatures["serve_image_bytes"],
        {"image_bytes": np.array(encoded, dtype=object)},
    )
    arrays.update({f"bytes_{k}": v for k, v in out.items()})

    reply = rest(model, rest_client.build_request(encoded))
    for i, class_map in enumerate(rest_client.class_maps_from_response(reply)):
        arrays[f"rest_bytes_{i}"] = class_map
    reply = rest(model, rest_client.build_tensor_request(cases["images"]))
    arrays["rest_default_class_map"] = np.array(
        [p["class_map"] for p in reply["predictions"]]
    )
    try:
        for i, class_map in enumerate(grpc(model, encoded)):
            arrays[f"grpc_bytes_{i}"] = class_map
        results["grpc"] = "ran"
    except ImportError as error:
        results["grpc"] = f"skipped: {error}"

    uint8 = np.zeros((1, 32, 32, 3), np.uint8)
    bad = {
        "bytes_not_an_image": (
            "serve_image_bytes",
            {"image_bytes": tf.constant([encoded[0], b"hello world"])},
        ),
        "bytes_truncated": (
            "serve_image_bytes",
            {"image_bytes": tf.constant([encoded[0][:60]])},
        ),
        "bytes_empty_batch": (
            "serve_image_bytes",
            {"image_bytes": tf.constant([], tf.string)},
        ),
        "images_empty_batch": (
            "serving_default",
            {"images": tf.constant(np.zeros((0, 32, 32, 3), np.uint8))},
        ),
        "images_float": (
            "serving_default",
            {"images": tf.constant(uint8.astype(np.float32))},
        ),
        "images_rank_3": ("serving_default", {"images": tf.constant(uint8[0])}),
        "images_4_channels": (
            "serving_default",
            {"images": tf.constant(np.zeros((1, 32, 32, 4), np.uint8))},
        ),
        "logits_empty_batch": (
            "serve_logits",
            {"images": tf.zeros((0, 32, 32, 3))},
        ),
    }
    results["errors"] = {
        name: error_of(model.signatures[signature], inputs)
        for name, (signature, inputs) in bad.items()
    }
    results["keras_fastfcn_imported"] = sorted(
        m for m in sys.modules if m.startswith("keras_fastfcn")
    )
    np.savez(case_dir / "results.npz", **arrays)
    (case_dir / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
