"""Necks: how a backbone's stride-8/16/32 features become one stride-8
map for the head (`registry.py`)."""

from keras_fastfcn.necks.registry import NECKS
from keras_fastfcn.necks.registry import NeckSpec

__all__ = ["NECKS", "NeckSpec"]
