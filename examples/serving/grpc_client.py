"""Segment images with a model served by TF Serving's gRPC API.

    pip install tensorflow-serving-api==2.21.0
    python examples/serving/grpc_client.py photo.jpg --server localhost:8500

sends the encoded files to the `serve_image_bytes` signature as a string
tensor and prints each class map's size and classes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

SIGNATURE = "serve_image_bytes"


def build_predict_request(
    images: list[bytes],
    model_name: str = "fastfcn",
    signature_name: str = SIGNATURE,
) -> predict_pb2.PredictRequest:
    """A `PredictRequest` with encoded JPEG / PNG files as `image_bytes`."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    request.inputs["image_bytes"].CopyFrom(
        tf.make_tensor_proto(images, dtype=tf.string, shape=[len(images)])
    )
    return request


def class_maps_from_response(response) -> list[np.ndarray]:
    """Each image's class map `(height, width)` from a `PredictResponse`."""
    class_map = tf.make_ndarray(response.outputs["class_map"])
    sizes = tf.make_ndarray(response.outputs["image_size"])
    return [m[:h, :w] for m, (h, w) in zip(class_map, sizes)]


def predict(server: str, request, timeout: float = 60.0):
    """Send `request` to TF Serving at `server` (`host:port`)."""
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    with grpc.insecure_channel(server) as channel:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        return stub.Predict(request, timeout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--server", default="localhost:8500")
    parser.add_argument("--model-name", default="fastfcn")
    args = parser.parse_args()
    request = build_predict_request(
        [path.read_bytes() for path in args.images], args.model_name
    )
    maps = class_maps_from_response(predict(args.server, request))
    for path, class_map in zip(args.images, maps):
        print(path, class_map.shape, "classes:", np.unique(class_map))


if __name__ == "__main__":
    main()
