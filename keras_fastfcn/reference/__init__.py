"""Helpers that run the official PyTorch FastFCN code for comparisons."""
