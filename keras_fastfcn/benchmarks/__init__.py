"""Measurement, apart from the library: inference latency and FLOPs
(`inference.py`, `flops.py`), training throughput (`training.py`), the
speed goals (`goals.py`), the official PyTorch models' timing
(`official_torch.py`, run in a PyTorch environment), the input pipeline
(`input_pipeline.py`) and exported models' parity and speed
(`export_parity.py`). `fastfcn benchmark` runs `inference.py`."""
