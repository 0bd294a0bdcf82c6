"""TF Serving's REST JSON <-> tensor rules, for tests without the server.

Follows `tensorflow_serving/util/json_tensor.h` (the "row" / `instances`
format of the predict API): with one signature input each instance is
that input's value, otherwise an object keyed by input name; an object
`{"b64": "..."}` is a base64-encoded binary string; instances are stacked
along a new batch dimension; values take the signature's dtype (integer
inputs reject JSON floats). Replies are `{"predictions": [...]}`: per
instance the value of the only output, or an object of all outputs.
Imports neither TensorFlow nor keras_fastfcn.
"""

from __future__ import annotations

import base64
import json

import numpy as np


def _is_b64(value) -> bool:
    return isinstance(value, dict) and set(value) == {"b64"}


def _decode_value(value):
    if _is_b64(value):
        return base64.b64decode(value["b64"], validate=True)
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    if isinstance(value, dict):
        raise ValueError(f"Unexpected JSON object {sorted(value)} in a value")
    return value


def _to_array(values: list, dtype: str) -> np.ndarray:
    if dtype == "string":
        array = np.empty(len(values), dtype=object)
        array[:] = values
        if not all(isinstance(v, bytes) for v in values):
            raise ValueError("string inputs must be {'b64': ...} objects")
        return array
    array = np.asarray(values)
    if np.issubdtype(np.dtype(dtype), np.integer) and array.dtype.kind == "f":
        raise ValueError(f"JSON value is a float, the input is {dtype}")
    return array.astype(dtype)


def decode_request(body: str, input_dtypes: dict[str, str]) -> tuple:
    """`(signature_name, {input name: np.ndarray})` from a JSON body.

    Args:
        body: the HTTP request body.
        input_dtypes: `{input name: numpy dtype name or "string"}` of the
            signature the body names.
    """
    request = json.loads(body)
    signature = request.get("signature_name", "serving_default")
    instances = request["instances"]
    if not instances:
        raise ValueError("'instances' is empty")
    names = list(input_dtypes)
    rows = []
    for instance in instances:
        named = isinstance(instance, dict) and not _is_b64(instance)
        if len(names) == 1 and not named:
            instance = {names[0]: instance}
        if not isinstance(instance, dict) or set(instance) != set(names):
            raise ValueError(f"instance does not name the inputs {names}")
        rows.append({k: _decode_value(v) for k, v in instance.items()})
    return signature, {
        name: _to_array([row[name] for row in rows], input_dtypes[name])
        for name in names
    }


def _jsonable(value: np.ndarray):
    if value.dtype == object:
        return [{"b64": base64.b64encode(v).decode()} for v in value.ravel()]
    return value.tolist()


def encode_response(outputs: dict[str, np.ndarray]) -> str:
    """The JSON reply body for `{output name: array (batch, ...)}`."""
    batch = {len(v) for v in outputs.values()}
    if len(batch) != 1:
        raise ValueError("outputs differ in batch size")
    if len(outputs) == 1:
        ((name, value),) = outputs.items()
        predictions = [_jsonable(v) for v in value]
    else:
        predictions = [
            {name: _jsonable(value[i]) for name, value in outputs.items()}
            for i in range(batch.pop())
        ]
    return json.dumps({"predictions": predictions})
