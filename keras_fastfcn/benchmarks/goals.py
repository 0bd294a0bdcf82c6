"""The speed goals of the project and the benchmark suites that check them.

`fastfcn benchmark --suite cpu` measures every model a
goal names in one run and prints each goal as MET / NOT MET.
"""

from __future__ import annotations

import dataclasses

KINDS = ("speedup", "flop_efficiency", "vs_official", "images_per_s")


def dilated_model(name: str) -> str:
    """The dilated-backbone model `<head>` that `<head>_<neck>` is compared
    with (`name` itself for a dilated model)."""
    return name.partition("_")[0]


def speedup(row: dict, base: dict) -> float:
    """Latency of the dilated `base` row over that of `row`."""
    return base["median_s"] / row["median_s"]


def flop_ratio(row: dict, base: dict) -> float | None:
    """GFLOPs of `base` over those of `row` (`None` when not counted)."""
    if not (base["gflops_per_image"] and row["gflops_per_image"]):
        return None
    return base["gflops_per_image"] / row["gflops_per_image"]


@dataclasses.dataclass(frozen=True)
class Goal:
    """One target on one measured model.

    `kind`: `"speedup"` (latency of the dilated `<head>` model over this
    model's, at least `target`), `"flop_efficiency"` (that speedup divided
    by the FLOP ratio, at least `target`), `"vs_official"` (this model's
    latency over the official PyTorch model's, at most `target`),
    `"images_per_s"` (at least `target`).
    """

    kind: str
    model: str
    backbone: str
    target: float

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(
                f"Unknown goal kind {self.kind!r}; expected one of {KINDS}."
            )

    def describe(self) -> str:
        head = dilated_model(self.model)
        subject = f"{self.model} {self.backbone}"
        return {
            "speedup": f"{subject} faster than {head} by >= {self.target}x",
            "flop_efficiency": (
                f"{subject} speedup over {head} >= {self.target} x FLOP ratio"
            ),
            "vs_official": f"{subject} latency <= {self.target} x official",
            "images_per_s": f"{subject} >= {self.target:g} images/s",
        }[self.kind]

    def measure(self, row: dict, base: dict | None) -> float | None:
        """The measured value from this model's row and its dilated
        counterpart's (`None` when a needed number is missing)."""
        if self.kind == "images_per_s":
            return row["images_per_s"]
        if self.kind == "vs_official":
            official = row.get("official_median_s")
            return row["median_s"] / official if official else None
        if base is None:
            return None
        if self.kind == "speedup":
            return speedup(row, base)
        ratio = flop_ratio(row, base)
        return None if ratio is None else speedup(row, base) / ratio

    def met(self, value: float) -> bool:
        if self.kind == "vs_official":
            return value <= self.target
        return value >= self.target


SUITES = {
    # Issue "Speed": 512x512, batch 1, 2 threads, TensorFlow on the CPU.
    "cpu": {
        "models": [
            "encnet:resnet50",
            "encnet_jpu:resnet50",
            "encnet:resnet101",
            "encnet_jpu:resnet101",
            "psp:resnet50",
            "psp_jpu:resnet50",
            "deeplabv3:resnet50",
            "deeplabv3_jpu:resnet50",
        ],
        "size": 512,
        "batch": 1,
        "threads": 2,
        "train": ["encnet:resnet50", "encnet_jpu:resnet50"],
        # Winograd speeds up the dilated EncNet more than EncNet-JPU; the
        # EncNet ratios are also checked with direct convolutions.
        "also_direct": [
            "encnet:resnet50",
            "encnet_jpu:resnet50",
            "encnet:resnet101",
            "encnet_jpu:resnet101",
        ],
        "goals": [
            Goal("speedup", "encnet_jpu", "resnet50", 2.2),
            Goal("speedup", "encnet_jpu", "resnet101", 2.6),
            Goal("vs_official", "encnet_jpu", "resnet50", 0.6),
            Goal("flop_efficiency", "psp_jpu", "resnet50", 0.9),
            Goal("flop_efficiency", "deeplabv3_jpu", "resnet50", 0.9),
        ],
    },
    # GPU: Keras on JAX, bfloat16 compute, batch 16.
    "gpu": {
        "models": ["encnet:resnet50", "encnet_jpu:resnet50"],
        "size": 512,
        "batch": 16,
        "threads": 0,
        "dtype_policy": "mixed_bfloat16",
        "train": [],
        "goals": [
            Goal("images_per_s", "encnet_jpu", "resnet50", 2000),
            Goal("speedup", "encnet_jpu", "resnet50", 1.5),
        ],
    },
}
