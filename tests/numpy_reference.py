"""Independent NumPy reference implementations used by the numerical tests.

Written directly from the definitions (explicit loops over kernel taps,
output pixels and bins), sharing no code with the package.
"""

from __future__ import annotations

import math

import numpy as np


def conv2d(x, kernel, bias=None, dilation=1):
    """Stride-1 'same' convolution. x (B,H,W,I), kernel (kh,kw,I,O);
    dilation an int or (rows, cols)."""
    kh, kw, _, out = kernel.shape
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    pad_h, pad_w = dh * (kh - 1) // 2, dw * (kw - 1) // 2
    b, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (pad_h, pad_h), (pad_w, pad_w), (0, 0)))
    y = np.zeros((b, h, w, out), np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = padded[:, i * dh : i * dh + h, j * dw : j * dw + w]
            y += patch @ kernel[i, j]
    if bias is not None:
        y += bias
    return y


def depthwise_conv2d(x, kernel, dilation=1):
    """Stride-1 'same' depthwise convolution. kernel (kh,kw,C,1)."""
    kh, kw = kernel.shape[:2]
    pad_h, pad_w = dilation * (kh - 1) // 2, dilation * (kw - 1) // 2
    b, h, w, _ = x.shape
    padded = np.pad(x, ((0, 0), (pad_h, pad_h), (pad_w, pad_w), (0, 0)))
    y = np.zeros(x.shape, np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = padded[
                :,
                i * dilation : i * dilation + h,
                j * dilation : j * dilation + w,
            ]
            y += patch * kernel[i, j, :, 0]
    return y


def batch_norm(x, gamma, beta, mean, var, eps=1e-5, axis=-1):
    shape = [1] * x.ndim
    shape[axis] = -1
    r = lambda v: np.reshape(v, shape)  # noqa: E731
    return (x - r(mean)) / np.sqrt(r(var) + eps) * r(gamma) + r(beta)


def group_norm(x, groups, gamma, beta, eps=1e-5):
    b, h, w, c = x.shape
    g = x.reshape(b, h, w, groups, c // groups)
    mean = g.mean(axis=(1, 2, 4), keepdims=True)
    var = g.var(axis=(1, 2, 4), keepdims=True)
    g = (g - mean) / np.sqrt(var + eps)
    return g.reshape(b, h, w, c) * gamma + beta


def relu(x):
    return np.maximum(x, 0.0)


def resize_align_corners(x, out_h, out_w):
    """Bilinear resize with PyTorch align_corners=True, pixel by pixel."""
    b, h, w, c = x.shape
    y = np.zeros((b, out_h, out_w, c), np.float64)
    for oy in range(out_h):
        sy = oy * (h - 1) / (out_h - 1) if out_h > 1 else 0.0
        y0 = int(math.floor(sy))
        y1 = min(y0 + 1, h - 1)
        fy = sy - y0
        for ox in range(out_w):
            sx = ox * (w - 1) / (out_w - 1) if out_w > 1 else 0.0
            x0 = int(math.floor(sx))
            x1 = min(x0 + 1, w - 1)
            fx = sx - x0
            y[:, oy, ox] = (
                x[:, y0, x0] * (1 - fy) * (1 - fx)
                + x[:, y0, x1] * (1 - fy) * fx
                + x[:, y1, x0] * fy * (1 - fx)
                + x[:, y1, x1] * fy * fx
            )
    return y


def adaptive_avg_pool(x, bins):
    """PyTorch AdaptiveAvgPool2d semantics, bin by bin."""
    b, h, w, c = x.shape
    y = np.zeros((b, bins, bins, c), np.float64)
    for i in range(bins):
        h0, h1 = (i * h) // bins, -((-(i + 1) * h) // bins)
        for j in range(bins):
            w0, w1 = (j * w) // bins, -((-(j + 1) * w) // bins)
            y[:, i, j] = x[:, h0:h1, w0:w1].mean(axis=(1, 2))
    return y


def encoding(x, codewords, scale):
    """Encoding layer in its expanded (B, N, K, D) form."""
    b, h, w, d = x.shape
    xs = x.reshape(b, h * w, 1, d)
    residual = xs - codewords[None, None]  # (B,N,K,D)
    logits = scale * (residual**2).sum(-1)  # (B,N,K)
    logits -= logits.max(-1, keepdims=True)
    a = np.exp(logits)
    a /= a.sum(-1, keepdims=True)
    return (a[..., None] * residual).sum(1)  # (B,K,D)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))
