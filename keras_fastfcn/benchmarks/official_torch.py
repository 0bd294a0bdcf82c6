"""Time official PyTorch FastFCN models (run as a script by `benchmark`).

Runs in its own interpreter (any Python with torch and the official
`wuhuikai/FastFCN` checkout), so TensorFlow and PyTorch never share a
process or a thread pool. Prints one JSON object on stdout:
`{model_name: {"latency_s": [...], "params": int}}`.

Usage:
    python official_torch.py --official-dir PATH \
        --models encnet,encnet_jpu --backbone resnet50 --size 512 \
        --batch 1 --runs 10 --warmup 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import sys
import time

NECKS = {"": None, "jpu": "JPU", "jpux": "JPU_X"}


def build_official(name: str, backbone: str, num_classes: int):
    """Build the official model for a keras_fastfcn model name, random init."""
    import encoding.dilated as dilated
    from encoding.models import FCN
    from encoding.models import PSP
    from encoding.models import DeepLabV3
    from encoding.models import EncNet
    from encoding.nn import BatchNorm

    # BaseNet asks for ImageNet weights; no download is possible or wanted.
    for depth in ("resnet50", "resnet101", "resnet152"):
        constructor = getattr(dilated, depth)

        def no_download(pretrained=False, _constructor=constructor, **kwargs):
            return _constructor(pretrained=False, **kwargs)

        setattr(dilated, depth, no_download)

    head, _, neck = name.partition("_")
    classes = {"encnet": EncNet, "psp": PSP, "deeplabv3": DeepLabV3, "fcn": FCN}
    if head not in classes or neck not in NECKS:
        raise SystemExit(f"The official code has no model like {name!r}.")
    jpu = NECKS[neck]
    return classes[head](
        num_classes,
        backbone=backbone,
        aux=False,
        se_loss=False,
        jpu=jpu,
        dilated=jpu is None,
        lateral=False,
        norm_layer=BatchNorm,
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--official-dir", required=True)
    parser.add_argument("--models", required=True)
    parser.add_argument("--backbone", default="resnet50")
    parser.add_argument("--num-classes", type=int, default=150)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)

    sys.path.insert(0, args.official_dir)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results = {}
    for name in args.models.split(","):
        model = build_official(name, args.backbone, args.num_classes).eval()
        params = sum(p.numel() for p in model.parameters())
        params -= sum(p.numel() for p in model.pretrained.fc.parameters())
        x = torch.randn(args.batch, 3, args.size, args.size)
        times = []
        with torch.no_grad():
            for i in range(args.warmup + args.runs):
                start = time.perf_counter()
                model(x)
                if i >= args.warmup:
                    times.append(time.perf_counter() - start)
        results[name] = {"latency_s": times, "params": params}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
