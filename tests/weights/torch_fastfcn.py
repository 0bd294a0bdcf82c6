"""A compact PyTorch FastFCN written for the tests, with official key names.

Written from the published description of the official code (module names,
concatenation orders, the dilated-ResNet quirks; see
`shared/reference/fastfcn-official.md`), sharing no code with it or with
the Keras package. Every width is a parameter, so the official architecture
can be instantiated with small channels: with `base_width=8, neck_width=64`
every width is the official one divided by 8 (JPU width = stage-2 channels,
JPU_X's second module reads the first one's `2 * width` channels exactly
as officially `1024 = 2 * 512`), and the state-dict keys are the official
ones. Outputs are NCHW.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def _upsample(x, size):
    return F.interpolate(x, size, mode="bilinear", align_corners=True)


def _conv(cin, cout, kernel=3, stride=1, dilation=1, bias=False, groups=1):
    padding = dilation * (kernel // 2)
    return nn.Conv2d(
        cin, cout, kernel, stride, padding, dilation, groups, bias=bias
    )


def _conv_bn_relu(cin, cout, kernel=3, dilation=1):
    return nn.Sequential(
        _conv(cin, cout, kernel, dilation=dilation),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    )


# --------------------------------------------------------------------------
# Backbone: ResNet with the deep stem (official) or the 7x7 stem
# (torchvision layout).


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride=1, dilation=1, downsample=None):
        super().__init__()
        self.conv1 = _conv(cin, planes, 1)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv(planes, planes * 4, 1)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=1, dilation=1, downsample=None):
        super().__init__()
        self.conv1 = _conv(cin, planes, 3, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv(planes, planes, 3)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet(nn.Module):
    """`layers` blocks per stage; `dilated` = output stride 8 with the
    official half dilation in the first block of stages 3 and 4."""

    def __init__(
        self,
        block=Bottleneck,
        layers=(3, 4, 6, 3),
        width=64,
        dilated=False,
        deep_stem=True,
        num_classes=1000,
    ):
        super().__init__()
        if deep_stem:
            self.conv1 = nn.Sequential(
                _conv(3, width, 3, stride=2),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                _conv(width, width, 3),
                nn.BatchNorm2d(width),
                nn.ReLU(),
                _conv(width, 2 * width, 3),
            )
            self.inplanes = 2 * width
        else:
            self.conv1 = _conv(3, width, 7, stride=2)
            self.inplanes = width
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        s3, d3, s4, d4 = (1, 2, 1, 4) if dilated else (2, 1, 2, 1)
        self.layer1 = self._stage(block, width, layers[0], 1, 1)
        self.layer2 = self._stage(block, 2 * width, layers[1], 2, 1)
        self.layer3 = self._stage(block, 4 * width, layers[2], s3, d3)
        self.layer4 = self._stage(block, 8 * width, layers[3], s4, d4)
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)

    def _stage(self, block, planes, blocks, stride, dilation):
        out = planes * block.expansion
        downsample = None
        if stride != 1 or self.inplanes != out:
            downsample = nn.Sequential(
                _conv(self.inplanes, out, 1, stride), nn.BatchNorm2d(out)
            )
        first = dilation // 2 if dilation > 1 else 1
        modules = [block(self.inplanes, planes, stride, first, downsample)]
        self.inplanes = out
        modules += [block(out, planes, 1, dilation) for _ in range(1, blocks)]
        return nn.Sequential(*modules)

    def forward(self, x):
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        c1 = self.layer1(x)
        c2 = self.layer2(c1)
        c3 = self.layer3(c2)
        c4 = self.layer4(c3)
        return c1, c2, c3, c4


# --------------------------------------------------------------------------
# Necks.


class SeparableConv2d(nn.Module):
    """Depthwise conv -> norm -> pointwise conv (no activation between)."""

    def __init__(self, cin, cout, dilation, norm):
        super().__init__()
        self.conv1 = _conv(cin, cin, 3, dilation=dilation, groups=cin)
        self.bn = norm(cin)
        self.pointwise = _conv(cin, cout, 1)

    def forward(self, x):
        return self.pointwise(self.bn(self.conv1(x)))


class JPU(nn.Module):
    def __init__(self, in_channels, width):
        super().__init__()
        c2, c3, c4 = in_channels
        self.conv5 = _conv_bn_relu(c4, width)
        self.conv4 = _conv_bn_relu(c3, width)
        self.conv3 = _conv_bn_relu(c2, width)
        for i, rate in enumerate((1, 2, 4, 8), start=1):
            branch = nn.Sequential(
                SeparableConv2d(3 * width, width, rate, nn.BatchNorm2d),
                nn.BatchNorm2d(width),
                nn.ReLU(),
            )
            setattr(self, f"dilation{i}", branch)

    def forward(self, c2, c3, c4):
        f3 = self.conv3(c2)
        size = f3.shape[2:]
        f5 = _upsample(self.conv5(c4), size)
        f4 = _upsample(self.conv4(c3), size)
        feat = torch.cat([f5, f4, f3], 1)
        branches = [getattr(self, f"dilation{i}") for i in range(1, 5)]
        return torch.cat([b(feat) for b in branches], 1)


class JUM(nn.Module):
    def __init__(self, high_channels, low_channels, width, dilation, groups):
        super().__init__()

        def group_norm(channels):
            return nn.GroupNorm(groups, channels)

        self.conv_l = _conv_bn_relu(low_channels, width)
        self.conv_h = _conv_bn_relu(high_channels, width)
        for i, rate in enumerate((1, 2, 4), start=1):
            branch = nn.Sequential(
                SeparableConv2d(2 * width, width, dilation * rate, group_norm),
                group_norm(width),
                nn.ReLU(),
            )
            setattr(self, f"dilation{i}", branch)

    def forward(self, low, high):
        high = self.conv_h(high)
        low = _upsample(self.conv_l(low), high.shape[2:])
        feat = torch.cat([low, high], 1)
        branches = [getattr(self, f"dilation{i}") for i in range(1, 4)]
        return torch.cat([low] + [b(feat) for b in branches], 1)


class JPUX(nn.Module):
    def __init__(self, in_channels, width, groups=32):
        super().__init__()
        c2, c3, c4 = in_channels
        self.jum_1 = JUM(c2, c3, width // 2, 1, groups)
        self.jum_2 = JUM(2 * width, c4, width, 2, groups)

    def forward(self, c2, c3, c4):
        return self.jum_2(c4, self.jum_1(c3, c2))


# --------------------------------------------------------------------------
# Heads.


class Encoding(nn.Module):
    """Residual encoding, in the expanded (B, N, K, D) reference form."""

    def __init__(self, channels, codes):
        super().__init__()
        self.codewords = nn.Parameter(torch.zeros(codes, channels))
        self.scale = nn.Parameter(torch.zeros(codes))

    def forward(self, x):
        batch, channels = x.shape[:2]
        pixels = x.reshape(batch, channels, -1).transpose(1, 2)
        residual = pixels[:, :, None, :] - self.codewords[None, None]
        logits = self.scale * residual.pow(2).sum(-1)
        assignment = torch.softmax(logits, dim=2)
        return (assignment[..., None] * residual).sum(1)


class MeanOverCodes(nn.Module):
    def forward(self, x):
        return x.mean(1)


class EncModule(nn.Module):
    def __init__(self, channels, num_classes, codes=32, se_loss=True):
        super().__init__()
        self.encoding = nn.Sequential(
            _conv(channels, channels, 1),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            Encoding(channels, codes),
            nn.BatchNorm1d(codes),
            nn.ReLU(),
            MeanOverCodes(),
        )
        self.fc = nn.Sequential(nn.Linear(channels, channels), nn.Sigmoid())
        self.selayer = nn.Linear(channels, num_classes) if se_loss else None

    def forward(self, x):
        encoded = self.encoding(x)
        gamma = self.fc(encoded)[:, :, None, None]
        out = F.relu(x + x * gamma)
        se = None if self.selayer is None else self.selayer(encoded)
        return out, se


class EncHead(nn.Module):
    def __init__(self, channels, num_classes, se_loss, jpu):
        super().__init__()
        width = channels // 4
        self.conv5 = _conv_bn_relu(channels, width, 1 if jpu else 3)
        self.encmodule = EncModule(width, num_classes, se_loss=se_loss)
        self.conv6 = nn.Sequential(
            nn.Dropout2d(0.1), _conv(width, num_classes, 1, bias=True)
        )

    def forward(self, x):
        out, se = self.encmodule(self.conv5(x))
        return self.conv6(out), se


class FCNHead(nn.Module):
    def __init__(self, channels, num_classes):
        super().__init__()
        width = channels // 4
        self.conv5 = nn.Sequential(
            _conv(channels, width, 3),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Dropout2d(0.1),
            _conv(width, num_classes, 1, bias=True),
        )

    def forward(self, x):
        return self.conv5(x), None


class PyramidPooling(nn.Module):
    def __init__(self, channels, bins=(1, 2, 3, 6)):
        super().__init__()
        self.bins = bins
        for i in range(1, len(bins) + 1):
            branch = _conv_bn_relu(channels, channels // 4, 1)
            setattr(self, f"conv{i}", branch)

    def forward(self, x):
        size = x.shape[2:]
        outputs = [x]
        for i, bins in enumerate(self.bins, start=1):
            pooled = F.adaptive_avg_pool2d(x, bins)
            branch = getattr(self, f"conv{i}")
            outputs.append(_upsample(branch(pooled), size))
        return torch.cat(outputs, 1)


class PSPHead(nn.Module):
    def __init__(self, channels, num_classes):
        super().__init__()
        width = channels // 4
        self.conv5 = nn.Sequential(
            PyramidPooling(channels),
            _conv(2 * channels, width, 3),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Dropout2d(0.1),
            _conv(width, num_classes, 1, bias=True),
        )

    def forward(self, x):
        return self.conv5(x), None


class ASPPPooling(nn.Module):
    def __init__(self, channels, width):
        super().__init__()
        self.gap = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            _conv(channels, width, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
        )

    def forward(self, x):
        return _upsample(self.gap(x), x.shape[2:])


class ASPP(nn.Module):
    def __init__(self, channels, rates):
        super().__init__()
        width = channels // 8
        self.b0 = _conv_bn_relu(channels, width, 1)
        self.b1 = _conv_bn_relu(channels, width, 3, rates[0])
        self.b2 = _conv_bn_relu(channels, width, 3, rates[1])
        self.b3 = _conv_bn_relu(channels, width, 3, rates[2])
        self.b4 = ASPPPooling(channels, width)
        self.project = nn.Sequential(
            _conv(5 * width, width, 1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Dropout2d(0.5),
        )

    def forward(self, x):
        branches = (self.b0, self.b1, self.b2, self.b3, self.b4)
        return self.project(torch.cat([b(x) for b in branches], 1))


class DeepLabV3Head(nn.Module):
    def __init__(self, channels, num_classes, rates=(12, 24, 36)):
        super().__init__()
        width = channels // 8
        self.aspp = ASPP(channels, rates)
        self.block = nn.Sequential(
            _conv(width, width, 3),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Dropout2d(0.1),
            _conv(width, num_classes, 1, bias=True),
        )

    def forward(self, x):
        return self.block(self.aspp(x)), None


# --------------------------------------------------------------------------
# Segmentation model.


class Segmenter(nn.Module):
    """`head` in `encnet | psp | deeplabv3 | fcn`, `jpu` in
    `None (dilated) | "JPU" | "JPU_X"`; the official attribute names
    `pretrained`, `jpu`, `head`, `auxlayer`."""

    def __init__(
        self,
        head,
        num_classes,
        jpu=None,
        layers=(3, 4, 6, 3),
        base_width=64,
        neck_width=512,
        aux=True,
        se_loss=True,
    ):
        super().__init__()
        self.pretrained = ResNet(
            Bottleneck, layers, base_width, dilated=jpu is None
        )
        channels = [base_width * 4 * 2**i for i in (1, 2, 3)]
        if jpu == "JPU":
            self.jpu = JPU(channels, neck_width)
        elif jpu == "JPU_X":
            self.jpu = JPUX(channels, neck_width)
        else:
            self.jpu = None
        feat = 4 * neck_width if self.jpu is not None else channels[2]
        if head == "encnet":
            self.head = EncHead(feat, num_classes, se_loss, jpu is not None)
        elif head == "psp":
            self.head = PSPHead(feat, num_classes)
        elif head == "deeplabv3":
            self.head = DeepLabV3Head(feat, num_classes)
        else:
            self.head = FCNHead(feat, num_classes)
        self.auxlayer = FCNHead(channels[1], num_classes) if aux else None

    def forward(self, x):
        size = x.shape[2:]
        _, c2, c3, c4 = self.pretrained(x)
        feat = c4 if self.jpu is None else self.jpu(c2, c3, c4)
        logits, se_logits = self.head(feat)
        outputs = {"logits": _upsample(logits, size)}
        if se_logits is not None:
            outputs["se_logits"] = se_logits
        if self.auxlayer is not None:
            outputs["aux_logits"] = _upsample(self.auxlayer(c3)[0], size)
        return outputs


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BN statistics (outputs of order 1), eval mode.

    Encoding scales are small so that the codeword softmax is not one-hot.
    """
    generator = torch.Generator().manual_seed(seed)

    def uniform(tensor, low, high):
        tensor.copy_(
            torch.rand(tensor.shape, generator=generator) * (high - low) + low
        )

    def normal(tensor, std):
        tensor.copy_(torch.randn(tensor.shape, generator=generator) * std)

    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, (nn.Conv2d, nn.Linear)):
                fan_in = layer.weight[0].numel()
                normal(layer.weight, np.sqrt(2.0 / fan_in))
                if layer.bias is not None:
                    normal(layer.bias, 0.1)
            elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
                uniform(layer.weight, 0.5, 1.5)
                normal(layer.bias, 0.1)
                normal(layer.running_mean, 0.1)
                uniform(layer.running_var, 0.5, 1.5)
            elif isinstance(layer, nn.GroupNorm):
                uniform(layer.weight, 0.5, 1.5)
                normal(layer.bias, 0.1)
            elif isinstance(layer, Encoding):
                normal(layer.codewords, 0.5)
                uniform(layer.scale, -0.05, -0.005)
    return module.eval()


def state_dict_numpy(module: nn.Module) -> dict[str, np.ndarray]:
    """`module.state_dict()` as NumPy arrays."""
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def run(module: nn.Module, images_nhwc: np.ndarray) -> dict[str, np.ndarray]:
    """Outputs for NHWC images, converted to NHWC (logits) / (B, C)."""
    x = torch.from_numpy(
        np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2))
    )
    with torch.no_grad():
        outputs = module(x)
    return {
        k: v.numpy().transpose(0, 2, 3, 1) if v.ndim == 4 else v.numpy()
        for k, v in outputs.items()
    }
