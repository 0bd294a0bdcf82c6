"""Segment images with a model served by TF Serving's REST API.

    python examples/serving/rest_client.py photo.jpg street.png \\
        --url http://localhost:8501/v1/models/fastfcn:predict --out maps/

sends the encoded files to the `serve_image_bytes` signature (base64 in
`{"b64": ...}` objects, as TF Serving expects for binary strings) and saves
each class map as a grayscale PNG of class ids. Needs only the standard
library, NumPy and Pillow; it does not import TensorFlow.
"""

from __future__ import annotations

import argparse
import base64
import json
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

SIGNATURE = "serve_image_bytes"


def build_request(images: list[bytes], signature_name: str = SIGNATURE) -> dict:
    """The JSON body for encoded JPEG / PNG files (row format): one
    `{"b64": ...}` instance per image."""
    return {
        "signature_name": signature_name,
        "instances": [
            {"b64": base64.b64encode(data).decode("ascii")} for data in images
        ],
    }


def build_tensor_request(images: np.ndarray) -> dict:
    """The JSON body for the `serving_default` signature: uint8 images
    `(batch, height, width, 3)` of one size as nested lists."""
    return {
        "signature_name": "serving_default",
        "instances": np.asarray(images, np.uint8).tolist(),
    }


def class_maps_from_response(response: dict) -> list[np.ndarray]:
    """Each image's class map `(height, width)` from a `serve_image_bytes`
    response (padding, marked -1, removed with `image_size`)."""
    maps = []
    for prediction in response["predictions"]:
        height, width = prediction["image_size"]
        class_map = np.asarray(prediction["class_map"], np.int32)
        maps.append(class_map[:height, :width])
    return maps


def predict(url: str, body: dict, timeout: float = 60.0) -> dict:
    """POST `body` to a TF Serving `:predict` URL; returns the JSON reply."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.load(reply)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument(
        "--url", default="http://localhost:8501/v1/models/fastfcn:predict"
    )
    parser.add_argument("--out", type=Path, default=Path("class_maps"))
    args = parser.parse_args()
    body = build_request([path.read_bytes() for path in args.images])
    maps = class_maps_from_response(predict(args.url, body))
    args.out.mkdir(parents=True, exist_ok=True)
    for path, class_map in zip(args.images, maps):
        target = args.out / f"{path.stem}_classes.png"
        Image.fromarray(class_map.astype(np.uint8)).save(target)
        print(f"{path} -> {target} {class_map.shape}")


if __name__ == "__main__":
    main()
